/* daemon-fixture.c: an in-process copilotd on a private bus, for tests */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "copilotd-dbus.h"
#include "daemon-fixture.h"

#ifndef FAKE_CLI_PATH
#error "FAKE_CLI_PATH must name the built fake CLI"
#endif

#define CALL_TIMEOUT_S 30

static const char * const fake_knobs[] = {
  "FAKE_CLI_PROTOCOL_VERSION", "FAKE_CLI_NO_CONNECT", "FAKE_CLI_EXIT_AT_START",
  "FAKE_CLI_GARBAGE_AFTER", "FAKE_CLI_HANG", "FAKE_CLI_RECORD", NULL
};

guint
next_seq (void)
{
  static guint seq;

  return ++seq;
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

void
spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
wait_flag (const gboolean *flag,
           guint           timeout_s,
           const char     *what)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, on_timeout_flag, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  if (timed_out)
    g_error ("Timed out after %u s waiting for %s", timeout_s, what);
}

void
fixture_allow_warnings (Fixture *fx)
{
  /* Backend loss and restarts are logged as warnings; criticals stay fatal. */
  fx->allow_warnings = TRUE;
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
}

static void
on_name_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static GDBusConnection *
connect_client (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *conn;

  conn = g_dbus_connection_new_for_address_sync (address,
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (conn, FALSE);
  return conn;
}

void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  const char *address;
  gboolean appeared = FALSE;
  guint watch;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  for (guint i = 0; fake_knobs[i] != NULL; i++)
    g_unsetenv (fake_knobs[i]);

  fx->home = g_dir_make_tmp ("copilotd-test-XXXXXX", &error);
  g_assert_no_error (error);
  fx->record_path = g_build_filename (fx->home, "record.jsonl", NULL);
  g_setenv ("COPILOT_HOME", fx->home, TRUE);
  g_setenv ("FAKE_CLI_RECORD", fx->record_path, TRUE);

  fx->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fx->bus);
  address = g_test_dbus_get_bus_address (fx->bus);

  fx->daemon_conn = connect_client (address);
  fx->client = connect_client (address);
  fx->extra_clients = g_ptr_array_new_with_free_func (g_object_unref);

  fx->config = copilotd_config_new ();
  fx->config->cli_path = g_strdup (FAKE_CLI_PATH);
  fx->config->copilot_home = g_strdup (fx->home);
  fx->daemon = copilotd_daemon_new (fx->config);
  g_assert_true (copilotd_daemon_start (fx->daemon, fx->daemon_conn, FALSE, &error));
  g_assert_no_error (error);

  watch = g_bus_watch_name_on_connection (fx->client, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_name_appeared, NULL, &appeared, NULL);
  wait_flag (&appeared, 10, "the daemon's bus name");
  g_bus_unwatch_name (watch);
}

static void
on_quit (CopilotdDaemon *daemon,
         int             status,
         gpointer        user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
close_connection (GDBusConnection *conn)
{
  if (!g_dbus_connection_is_closed (conn))
    g_dbus_connection_close_sync (conn, NULL, NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  gboolean quit = FALSE;
  gulong handler;

  handler = g_signal_connect (fx->daemon, "quit", G_CALLBACK (on_quit), &quit);
  copilotd_daemon_shutdown (fx->daemon, 0);
  wait_flag (&quit, 20, "the daemon to quit");
  g_signal_handler_disconnect (fx->daemon, handler);
  g_clear_object (&fx->daemon);

  for (guint i = 0; i < fx->extra_clients->len; i++)
    close_connection (g_ptr_array_index (fx->extra_clients, i));
  close_connection (fx->client);
  close_connection (fx->daemon_conn);
  /* Let the connections' last idles run before they go. */
  spin (20);
  g_clear_pointer (&fx->extra_clients, g_ptr_array_unref);
  g_clear_object (&fx->client);
  g_clear_object (&fx->daemon_conn);

  g_test_dbus_down (fx->bus);
  g_clear_object (&fx->bus);

  remove_tree (fx->home);
  g_clear_pointer (&fx->home, g_free);
  g_clear_pointer (&fx->record_path, g_free);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

GDBusConnection *
fixture_connect (Fixture *fx)
{
  GDBusConnection *conn = connect_client (g_test_dbus_get_bus_address (fx->bus));

  g_ptr_array_add (fx->extra_clients, conn);
  return conn;
}

/* ---- calls ---- */

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PendingCall *call = user_data;

  call->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call->error);
  call->seq = next_seq ();
  call->done = TRUE;
}

PendingCall *
call_start (GDBusConnection *conn,
            const char      *path,
            const char      *iface,
            const char      *method,
            GVariant        *params,
            const char      *reply_type)
{
  PendingCall *call = g_new0 (PendingCall, 1);

  g_dbus_connection_call (conn, BUS_NAME, path, iface, method, params,
                          reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_S * 1000, NULL,
                          on_call_done, call);
  return call;
}

void
pending_wait (PendingCall *call,
              guint        timeout_s)
{
  wait_flag (&call->done, timeout_s, "a D-Bus reply");
}

void
pending_free (PendingCall *call)
{
  /* A call still on its way would write into freed memory. */
  if (!call->done)
    pending_wait (call, CALL_TIMEOUT_S + 5);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
  g_free (call);
}

GVariant *
call_sync_iterate (GDBusConnection *conn,
                   const char      *path,
                   const char      *iface,
                   const char      *method,
                   GVariant        *params,
                   const char      *reply_type,
                   GError         **error)
{
  g_autoptr(PendingCall) call = call_start (conn, path, iface, method, params, reply_type);

  pending_wait (call, CALL_TIMEOUT_S + 5);
  if (call->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&call->error));
      return NULL;
    }
  return g_steal_pointer (&call->reply);
}

GVariant *
call_ok (GDBusConnection *conn,
         const char      *path,
         const char      *iface,
         const char      *method,
         GVariant        *params,
         const char      *reply_type)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call_sync_iterate (conn, path, iface, method, params, reply_type, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return reply;
}

void
assert_dbus_error_impl (const char   *loc,
                        const GError *error,
                        const char   *short_name,
                        const char   *message_part)
{
  g_autofree char *remote = NULL;
  g_autofree char *expected = NULL;

  if (error == NULL)
    g_error ("%s: expected the D-Bus error %s, got success", loc, short_name);
  remote = g_dbus_error_get_remote_error (error);
  expected = strchr (short_name, '.') ? g_strdup (short_name)
                                      : g_strconcat (BUS_NAME ".Error.", short_name, NULL);
  if (g_strcmp0 (remote, expected) != 0)
    g_error ("%s: expected the D-Bus error %s, got %s: %s", loc, expected,
             remote ? remote : "(none)", error->message);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("%s: the message of %s does not contain '%s': %s", loc, expected,
             message_part, error->message);
}

GVariant *
get_property (GDBusConnection *conn,
              const char      *path,
              const char      *iface,
              const char      *name)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, PROPERTIES_IFACE, "Get",
                                       g_variant_new ("(ss)", iface, name), "(v)");
  GVariant *value;

  g_variant_get (reply, "(v)", &value);
  return value;
}

char *
get_string_property (GDBusConnection *conn,
                     const char      *path,
                     const char      *iface,
                     const char      *name)
{
  g_autoptr(GVariant) value = get_property (conn, path, iface, name);

  g_assert_true (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING));
  return g_variant_dup_string (value, NULL);
}

char *
create_session (GDBusConnection *conn,
                GVariant        *options)
{
  g_autoptr(GVariant) reply = NULL;
  char *path;

  if (options == NULL)
    options = g_variant_new ("a{sv}", NULL);
  reply = call_ok (conn, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                   g_variant_new ("(@a{sv})", options), "(o)");
  g_variant_get (reply, "(o)", &path);
  g_assert_true (g_str_has_prefix (path, SESSION_PATH_PREFIX));
  return path;
}

char *
session_id_of (GDBusConnection *conn,
               const char      *path)
{
  return get_string_property (conn, path, SESSION_IFACE, "Id");
}

gboolean
object_is_managed (GDBusConnection *conn,
                   const char      *path)
{
  g_autoptr(GVariant) reply = call_ok (conn, ROOT_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects",
                                       NULL, "(a{oa{sa{sv}}})");
  g_autoptr(GVariant) objects = g_variant_get_child_value (reply, 0);
  g_autoptr(GVariant) entry = g_variant_lookup_value (objects, path, NULL);

  return entry != NULL;
}

/* ---- signals ---- */

static void
logged_signal_free (LoggedSignal *sig)
{
  g_free (sig->member);
  g_free (sig->path);
  g_variant_unref (sig->params);
  g_free (sig);
}

static void
on_signal (GDBusConnection *connection,
           const char      *sender,
           const char      *path,
           const char      *iface,
           const char      *member,
           GVariant        *params,
           gpointer         user_data)
{
  SignalLog *log = user_data;
  LoggedSignal *sig = g_new0 (LoggedSignal, 1);

  sig->member = g_strdup (member);
  sig->path = g_strdup (path);
  sig->params = g_variant_ref (params);
  sig->seq = next_seq ();
  g_ptr_array_add (log->signals, sig);
}

SignalLog *
signal_log_new (GDBusConnection *conn,
                const char      *iface,
                const char      *path)
{
  SignalLog *log = g_new0 (SignalLog, 1);

  log->conn = g_object_ref (conn);
  log->signals = g_ptr_array_new_with_free_func ((GDestroyNotify) logged_signal_free);
  log->sub_id = g_dbus_connection_signal_subscribe (conn, NULL, iface, NULL, path, NULL,
                                                    G_DBUS_SIGNAL_FLAGS_NONE, on_signal, log, NULL);
  return log;
}

void
signal_log_free (SignalLog *log)
{
  g_dbus_connection_signal_unsubscribe (log->conn, log->sub_id);
  g_object_unref (log->conn);
  g_ptr_array_unref (log->signals);
  g_free (log);
}

void
signal_log_clear (SignalLog *log)
{
  g_ptr_array_set_size (log->signals, 0);
}

LoggedSignal *
signal_log_get (SignalLog *log,
                guint      index)
{
  g_assert_cmpuint (index, <, log->signals->len);
  return g_ptr_array_index (log->signals, index);
}

const char *
logged_event_type (LoggedSignal *sig)
{
  const char *type = "";

  if (strcmp (sig->member, "Event") == 0)
    g_variant_get_child (sig->params, 1, "&s", &type);
  return type;
}

JsonObject *
logged_event_data (LoggedSignal *sig)
{
  const char *data = NULL;

  g_assert_cmpstr (sig->member, ==, "Event");
  g_variant_get_child (sig->params, 3, "&s", &data);
  return parse_json_object (data);
}

int
signal_log_find (SignalLog  *log,
                 guint       from,
                 const char *member,
                 const char *event_type)
{
  for (guint i = from; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);

      if (strcmp (sig->member, member) != 0)
        continue;
      if (event_type != NULL && strcmp (logged_event_type (sig), event_type) != 0)
        continue;
      return (int) i;
    }
  return -1;
}

guint
signal_log_wait (SignalLog  *log,
                 guint       from,
                 const char *member,
                 const char *event_type,
                 guint       timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  int index;

  while ((index = signal_log_find (log, from, member, event_type)) < 0)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u s waiting for the signal %s %s", timeout_s,
                 member, event_type ? event_type : "");
      spin (10);
    }
  return (guint) index;
}

guint
signal_log_count (SignalLog  *log,
                  const char *member,
                  const char *event_type)
{
  guint n = 0;

  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);

      if (strcmp (sig->member, member) == 0 &&
          (event_type == NULL || strcmp (logged_event_type (sig), event_type) == 0))
        n++;
    }
  return n;
}

/* ---- the record ---- */

JsonObject *
parse_json_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

GPtrArray *
record_frames (Fixture *fx)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (fx->record_path, &contents, NULL, NULL))
    return frames;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (*lines[i] == '\0')
        continue;
      /* The last line can be half written. */
      if (!json_parser_load_from_data (parser, lines[i], -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      g_ptr_array_add (frames, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return frames;
}

GPtrArray *
record_params (Fixture    *fx,
               const char *method)
{
  g_autoptr(GPtrArray) frames = record_frames (fx);
  GPtrArray *params = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  for (guint i = 0; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonNode *p = json_object_get_member (frame, "params");

      if (g_strcmp0 (json_object_get_string_member_with_default (frame, "method", NULL), method) != 0)
        continue;
      g_ptr_array_add (params, p && JSON_NODE_HOLDS_OBJECT (p) ? json_object_ref (json_node_get_object (p))
                                                              : json_object_new ());
    }
  return params;
}

guint
record_count (Fixture    *fx,
              const char *method)
{
  g_autoptr(GPtrArray) params = record_params (fx, method);

  return params->len;
}

void
record_wait (Fixture    *fx,
             const char *method,
             guint       n,
             guint       timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (record_count (fx, method) < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u s waiting for the fake CLI to receive %s ×%u (got %u)",
                 timeout_s, method, n, record_count (fx, method));
      spin (20);
    }
}

JsonObject *
record_last (Fixture    *fx,
             const char *method)
{
  g_autoptr(GPtrArray) params = record_params (fx, method);

  if (params->len == 0)
    g_error ("The fake CLI never received %s", method);
  return json_object_ref (g_ptr_array_index (params, params->len - 1));
}

/* ---- agent ---- */

typedef struct {
  TestAgent *agent;
  GDBusMethodInvocation *invocation;
} DelayedAnswer;

static void
agent_reply (TestAgent             *agent,
             GDBusMethodInvocation *invocation)
{
  GVariantBuilder results;

  g_variant_builder_init (&results, G_VARIANT_TYPE_VARDICT);
  if (strcmp (g_dbus_method_invocation_get_method_name (invocation), "RequestPermission") == 0)
    {
      if (agent->feedback != NULL)
        g_variant_builder_add (&results, "{sv}", "feedback", g_variant_new_string (agent->feedback));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ua{sv})", agent->decision, &results));
    }
  else
    {
      if (agent->answer != NULL)
        {
          g_variant_builder_add (&results, "{sv}", "answer", g_variant_new_string (agent->answer));
          g_variant_builder_add (&results, "{sv}", "was-freeform", g_variant_new_boolean (TRUE));
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ua{sv})", agent->response, &results));
    }
}

static gboolean
on_delayed_answer (gpointer user_data)
{
  DelayedAnswer *delayed = user_data;

  if (g_ptr_array_remove (delayed->agent->held, delayed->invocation))
    agent_reply (delayed->agent, delayed->invocation);
  g_free (delayed);
  return G_SOURCE_REMOVE;
}

static void
agent_method_call (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *path,
                   const char            *iface,
                   const char            *method,
                   GVariant              *params,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  TestAgent *agent = user_data;

  if (strcmp (method, "Cancel") == 0)
    {
      const char *request_id;

      g_variant_get (params, "(&s)", &request_id);
      g_ptr_array_add (agent->cancels, g_strdup (request_id));
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  if (strcmp (method, "Release") == 0)
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }

  g_clear_pointer (&agent->last_request, g_variant_unref);
  g_clear_pointer (&agent->last_request_id, g_free);
  g_clear_pointer (&agent->last_request_json, g_free);
  agent->last_request = g_variant_get_child_value (params, 2);
  g_variant_get_child (params, 1, "s", &agent->last_request_id);
  if (strcmp (method, "RequestPermission") == 0)
    {
      agent->n_permission++;
      g_variant_get_child (params, 3, "s", &agent->last_request_json);
    }
  else
    agent->n_input++;

  if (agent->delay_ms == 0)
    {
      agent_reply (agent, invocation);
      return;
    }
  g_ptr_array_add (agent->held, g_object_ref (invocation));
  if (agent->delay_ms != AGENT_HOLD)
    {
      DelayedAnswer *delayed = g_new0 (DelayedAnswer, 1);

      delayed->agent = agent;
      delayed->invocation = invocation;
      g_timeout_add (agent->delay_ms, on_delayed_answer, delayed);
    }
}

static const GDBusInterfaceVTable agent_vtable = { agent_method_call, NULL, NULL, { 0 } };

TestAgent *
test_agent_new (GDBusConnection *conn,
                const char      *path)
{
  TestAgent *agent = g_new0 (TestAgent, 1);
  g_autoptr(GError) error = NULL;

  agent->conn = g_object_ref (conn);
  agent->path = g_strdup (path);
  agent->decision = 1;
  agent->cancels = g_ptr_array_new_with_free_func (g_free);
  agent->held = g_ptr_array_new_with_free_func (g_object_unref);
  agent->reg_id = g_dbus_connection_register_object (conn, path, copilotd_dbus_agent_interface_info (),
                                                     &agent_vtable, agent, NULL, &error);
  g_assert_no_error (error);
  return agent;
}

void
test_agent_register (TestAgent *agent)
{
  g_autoptr(GVariant) reply = call_ok (agent->conn, ROOT_PATH, AGENT_MANAGER_IFACE, "RegisterAgent",
                                       g_variant_new ("(oa{sv})", agent->path, NULL), "()");
}

void
test_agent_answer_held (TestAgent *agent)
{
  while (agent->held->len > 0)
    {
      GDBusMethodInvocation *invocation = g_ptr_array_steal_index (agent->held, 0);

      agent_reply (agent, invocation);
      g_object_unref (invocation);
    }
}

void
test_agent_free (TestAgent *agent)
{
  /* Pending delayed answers must not outlive the agent. */
  test_agent_answer_held (agent);
  spin (agent->delay_ms != 0 && agent->delay_ms != AGENT_HOLD ? agent->delay_ms + 20 : 0);
  g_dbus_connection_unregister_object (agent->conn, agent->reg_id);
  g_object_unref (agent->conn);
  g_free (agent->path);
  g_free (agent->feedback);
  g_free (agent->answer);
  g_clear_pointer (&agent->last_request, g_variant_unref);
  g_free (agent->last_request_json);
  g_free (agent->last_request_id);
  g_ptr_array_unref (agent->cancels);
  g_ptr_array_unref (agent->held);
  g_free (agent);
}

/* ---- tool provider ---- */

static void
tool_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *path,
                  const char            *iface,
                  const char            *method,
                  GVariant              *params,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  TestTool *tool = user_data;
  GVariantBuilder extra;

  if (strcmp (method, "Cancel") == 0)
    {
      const char *call_id;

      g_variant_get (params, "(&s)", &call_id);
      g_ptr_array_add (tool->cancels, g_strdup (call_id));
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  tool->n_invoke++;
  g_clear_pointer (&tool->last_session, g_free);
  g_clear_pointer (&tool->last_tool, g_free);
  g_clear_pointer (&tool->last_args, g_free);
  g_variant_get (params, "(osss@a{sv})", &tool->last_session, NULL, &tool->last_tool,
                 &tool->last_args, NULL);
  if (tool->hold)
    {
      g_ptr_array_add (tool->held, g_object_ref (invocation));
      return;
    }
  g_variant_builder_init (&extra, G_VARIANT_TYPE_VARDICT);
  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(usa{sv})", 0, tool->result_text, &extra));
}

static const GDBusInterfaceVTable tool_vtable = { tool_method_call, NULL, NULL, { 0 } };

TestTool *
test_tool_new (GDBusConnection *conn,
               const char      *path,
               const char      *result_text)
{
  TestTool *tool = g_new0 (TestTool, 1);
  g_autoptr(GError) error = NULL;

  tool->conn = g_object_ref (conn);
  tool->path = g_strdup (path);
  tool->result_text = g_strdup (result_text);
  tool->held = g_ptr_array_new_with_free_func (g_object_unref);
  tool->cancels = g_ptr_array_new_with_free_func (g_free);
  tool->reg_id = g_dbus_connection_register_object (conn, path, copilotd_dbus_tool_provider_interface_info (),
                                                    &tool_vtable, tool, NULL, &error);
  g_assert_no_error (error);
  return tool;
}

void
test_tool_free (TestTool *tool)
{
  for (guint i = 0; i < tool->held->len; i++)
    g_dbus_method_invocation_return_dbus_error (g_ptr_array_index (tool->held, i),
                                                "org.freedesktop.DBus.Error.Failed", "gone");
  g_ptr_array_unref (tool->held);
  g_ptr_array_unref (tool->cancels);
  g_dbus_connection_unregister_object (tool->conn, tool->reg_id);
  g_object_unref (tool->conn);
  g_free (tool->path);
  g_free (tool->result_text);
  g_free (tool->last_tool);
  g_free (tool->last_args);
  g_free (tool->last_session);
  g_free (tool);
}
