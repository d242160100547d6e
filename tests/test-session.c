/* SPDX-License-Identifier: MIT */
/* test-session.c: the Session interface of copilotd against the fake CLI
 *
 * Turns, signals and their privacy, subscribers, replay, prompts through
 * agents, client tools, and the backend's failures, all as a client on the
 * bus sees them (tests/daemon-fixture.h).
 */
#include "config.h"

#include <string.h>

#include "daemon-fixture.h"

#define AGENT_PATH "/test/agent"
#define TOOL_PATH "/test/tool"

static GVariant *
session_call (GDBusConnection *conn,
              const char      *path,
              const char      *method,
              GVariant        *params,
              const char      *reply_type,
              GError         **error)
{
  return call_sync_iterate (conn, path, SESSION_IFACE, method, params, reply_type, error);
}

static char *
send_ok (GDBusConnection *conn,
         const char      *path,
         const char      *prompt)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "Send",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(s)");
  char *id;

  g_variant_get (reply, "(s)", &id);
  return id;
}

static char *
send_and_wait_ok (GDBusConnection *conn,
                  const char      *path,
                  const char      *prompt,
                  gboolean        *out_aborted)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "SendAndWait",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");
  g_autoptr(GVariant) details = g_variant_get_child_value (reply, 1);
  const char *message_id;
  gboolean aborted;
  char *content;

  g_variant_get_child (reply, 0, "s", &content);
  g_assert_true (g_variant_lookup (details, "message-id", "&s", &message_id));
  g_assert_cmpstr (message_id, !=, "");
  g_assert_true (g_variant_lookup (details, "aborted", "b", &aborted));
  if (out_aborted != NULL)
    *out_aborted = aborted;
  else
    g_assert_false (aborted);
  return content;
}

/* Waits until the events of CreateSession have been relayed, so a log
 * cleared after this holds the next turn only: the CLI wrote them before
 * it read the session.getMessages of a GetMessages, and copilotd relays
 * the CLI's frames in order, so they reach the client before its reply. */
static void
settle (Fixture    *fx,
        const char *path)
{
  g_autoptr(GVariant) reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                       g_variant_new ("(a{sv})", NULL), NULL);
}

/* Whether a PropertiesChanged in @log announced Model @model. */
static gboolean
model_announced (SignalLog  *log,
                 const char *model)
{
  for (guint i = 0; i < log->signals->len; i++)
    {
      g_autoptr(GVariant) dict = g_variant_get_child_value (signal_log_get (log, i)->params, 1);
      const char *m;

      if (g_variant_lookup (dict, "Model", "&s", &m) && strcmp (m, model) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Whether an ObjectManager InterfacesRemoved in @log named @path. */
static gboolean
interfaces_removed (SignalLog  *log,
                    const char *path)
{
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      const char *removed_path;

      if (strcmp (sig->member, "InterfacesRemoved") != 0)
        continue;
      g_variant_get_child (sig->params, 0, "&o", &removed_path);
      if (strcmp (removed_path, path) == 0)
        return TRUE;
    }
  return FALSE;
}

static guint64
signal_serial (LoggedSignal *sig)
{
  guint64 serial;

  g_variant_get_child (sig->params, 0, "t", &serial);
  return serial;
}

static void
assert_closed_reason (SignalLog  *log,
                      const char *reason)
{
  guint index = signal_log_wait (log, 0, "Closed", NULL, 10);
  g_autoptr(GVariant) details = g_variant_get_child_value (signal_log_get (log, index)->params, 0);
  const char *got;

  g_assert_true (g_variant_lookup (details, "reason", "&s", &got));
  g_assert_cmpstr (got, ==, reason);
}

static void
assert_object_gone (GDBusConnection *conn,
                    const char      *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *remote = NULL;

  g_assert_false (object_is_managed (conn, path));
  reply = call_sync_iterate (conn, path, PROPERTIES_IFACE, "GetAll",
                             g_variant_new ("(s)", SESSION_IFACE), "(a{sv})", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  /* Gone sessions answer NotFound (object-manager.c). */
  g_assert_cmpstr (remote, ==, "io.github.copilotd.Copilot1.Error.NotFound");
}

static gboolean
is_noise (const char *type)
{
  return g_str_has_prefix (type, "model.") ||
         strcmp (type, "system.message") == 0 ||
         strcmp (type, "assistant.streaming_delta") == 0 ||
         strcmp (type, "session.background_tasks_changed") == 0 ||
         strcmp (type, "host.event") == 0 ||
         strcmp (type, "assistant.message_delta") == 0 ||
         strcmp (type, "assistant.reasoning_delta") == 0;
}

/* ---- turns ---- */

static void
test_send_order (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(PendingCall) call = NULL;
  g_autoptr(GString) deltas = g_string_new (NULL);
  g_autoptr(JsonObject) message = NULL;
  const char *message_id;
  const char *answer_id = NULL;
  guint64 last_serial = 0;
  guint idle, index;
  guint n_deltas = 0;

  settle (fx, path);
  signal_log_clear (log);
  call = call_start (fx->client, path, SESSION_IFACE, "Send",
                     g_variant_new ("(sa{sv})", "ordered", NULL), "(s)");
  pending_wait (call, 10);
  g_assert_no_error (call->error);
  g_variant_get (call->reply, "(&s)", &message_id);
  g_assert_true (g_uuid_string_is_valid (message_id));

  idle = signal_log_wait (log, 0, "Event", "session.idle", 10);
  g_assert_cmpuint (log->signals->len, >, 3);
  /* The reply came before every signal of the turn (the CLI sent
   * pending_messages.modified before its answer to session.send). */
  for (guint i = 0; i <= idle; i++)
    g_assert_cmpuint (signal_log_get (log, i)->seq, >, call->seq);

  index = signal_log_wait (log, 0, "Event", "assistant.message", 1);
  message = logged_event_data (signal_log_get (log, index));
  answer_id = json_object_get_string_member (message, "messageId");
  g_assert_cmpstr (json_object_get_string_member (message, "content"), ==, "Echo: ordered");

  for (guint i = 0; i <= idle; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      guint64 serial = signal_serial (sig);

      g_assert_cmpuint (serial, >, last_serial);
      last_serial = serial;
      if (strcmp (sig->member, "Delta") == 0)
        {
          const char *id, *text;
          guint32 stream;

          g_variant_get (sig->params, "(t&su&s)", NULL, &id, &stream, &text);
          g_assert_cmpuint (stream, ==, 0);
          g_assert_cmpstr (id, ==, answer_id);
          g_string_append (deltas, text);
          n_deltas++;
          /* Deltas come before the authoritative message. */
          g_assert_cmpuint (i, <, index);
        }
      else if (strcmp (sig->member, "Event") == 0)
        {
          const char *type = logged_event_type (sig);

          if (is_noise (type))
            g_error ("Noise event %s reached a default subscriber", type);
        }
    }
  g_assert_cmpuint (n_deltas, >=, 2);
  g_assert_cmpstr (deltas->str, ==, "Echo: ordered");
  g_assert_cmpint (signal_log_find (log, 0, "Event", "user.message"), >=, 0);
}

static void
test_subscriber_types (Fixture       *fx,
                       gconstpointer  data)
{
  GDBusConnection *sys_conn = fixture_connect (fx);
  GDBusConnection *asst_conn = fixture_connect (fx);
  GDBusConnection *delta_conn = fixture_connect (fx);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) sys_log = signal_log_new (sys_conn, SESSION_IFACE, path);
  g_autoptr(SignalLog) asst_log = signal_log_new (asst_conn, SESSION_IFACE, path);
  g_autoptr(SignalLog) delta_log = signal_log_new (delta_conn, SESSION_IFACE, path);
  g_autoptr(SignalLog) owner_log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) r1 = NULL, r2 = NULL, r3 = NULL;
  g_autofree char *content = NULL;
  const char *sys_types[] = { "system.message", NULL };
  const char *asst_types[] = { "assistant.*", NULL };
  const char *delta_types[] = { "assistant.message_delta", NULL };

  r1 = call_ok (sys_conn, path, SESSION_IFACE, "Subscribe",
                g_variant_new_parsed ("({'types': <%^as>},)", sys_types), "(t)");
  r2 = call_ok (asst_conn, path, SESSION_IFACE, "Subscribe",
                g_variant_new_parsed ("({'types': <%^as>},)", asst_types), "(t)");
  r3 = call_ok (delta_conn, path, SESSION_IFACE, "Subscribe",
                g_variant_new_parsed ("({'types': <%^as>},)", delta_types), "(t)");
  content = send_and_wait_ok (fx->client, path, "filtered", NULL);
  g_assert_cmpstr (content, ==, "Echo: filtered");
  signal_log_wait (owner_log, 0, "Event", "session.idle", 5);
  signal_log_wait (asst_log, 0, "Event", "assistant.message", 5);
  /* Whatever copilotd sent these clients before a round trip is in. */
  test_sync (sys_conn, BUS_NAME);
  test_sync (asst_conn, BUS_NAME);
  test_sync (delta_conn, BUS_NAME);

  /* system.message is noise, but asked for by name it comes as an Event. */
  g_assert_cmpuint (signal_log_count (sys_log, "Event", "system.message"), ==, 1);
  g_assert_cmpuint (signal_log_count (sys_log, "Event", NULL), ==, 1);
  g_assert_cmpuint (signal_log_count (sys_log, "Delta", NULL), ==, 0);
  g_assert_cmpuint (signal_log_count (owner_log, "Event", "system.message"), ==, 0);

  /* assistant.*: Deltas and assistant.* Events only, and no noise
   * such as assistant.streaming_delta. */
  g_assert_cmpuint (signal_log_count (asst_log, "Delta", NULL), >=, 2);
  g_assert_cmpuint (signal_log_count (asst_log, "Event", "assistant.message"), ==, 1);
  g_assert_cmpuint (signal_log_count (asst_log, "Event", "assistant.message_delta"), ==, 0);
  g_assert_cmpuint (signal_log_count (asst_log, "Event", "assistant.streaming_delta"), ==, 0);
  for (guint i = 0; i < asst_log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (asst_log, i);

      if (strcmp (sig->member, "Event") == 0)
        g_assert_true (g_str_has_prefix (logged_event_type (sig), "assistant."));
    }

  /* Named exactly, the delta type comes as an Event too. */
  g_assert_cmpuint (signal_log_count (delta_log, "Event", "assistant.message_delta"), >=, 2);
  g_assert_cmpuint (signal_log_count (delta_log, "Event", "assistant.message_delta"), ==,
                    signal_log_count (delta_log, "Delta", NULL));
  g_assert_cmpuint (signal_log_count (delta_log, "Event", "assistant.message"), ==, 0);
}

static void
test_send_and_wait (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "hello", NULL);
  g_autoptr(JsonObject) params = NULL;

  g_assert_cmpstr (content, ==, "Echo: hello");
  params = record_last (fx, "session.send");
  g_assert_cmpstr (json_object_get_string_member (params, "prompt"), ==, "hello");
}

static void
test_send_and_wait_timeout (Fixture       *fx,
                            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *state = NULL;
  gint64 start = g_get_monotonic_time ();
  guint index;

  reply = session_call (fx->client, path, "SendAndWait",
                        g_variant_new_parsed ("('SLOW: 20', {'timeout-ms': <uint32 200>})"), "(sa{sv})", &error);
  assert_dbus_error (error, "Timeout", NULL);
  /* Well before the 2 s turn could have ended. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1500 * 1000);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "busy");

  /* The turn goes on to its end. */
  index = signal_log_wait (log, 0, "Event", "session.idle", 10);
  g_assert_cmpint (signal_log_find (log, 0, "Event", "assistant.message"), <, (int) index);
  g_assert_cmpint (signal_log_find (log, 0, "Event", "assistant.message"), >=, 0);

  g_clear_error (&error);
  reply = session_call (fx->client, path, "SendAndWait",
                        g_variant_new_parsed ("('x', {'timeout-ms': <'soon'>})"), "(sa{sv})", &error);
  assert_dbus_error (error, "InvalidArgs", "timeout-ms");
}

static void
test_send_and_wait_error (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *content = NULL;

  reply = session_call (fx->client, path, "SendAndWait",
                        g_variant_new ("(sa{sv})", "ERROR: the model broke", NULL), "(sa{sv})", &error);
  assert_dbus_error (error, "Failed", "the model broke");
  /* The session is usable afterwards. */
  content = send_and_wait_ok (fx->client, path, "again", NULL);
  g_assert_cmpstr (content, ==, "Echo: again");
}

static void
test_abort (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(PendingCall) wait = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) details = NULL;
  g_autoptr(JsonObject) idle_data = NULL;
  gboolean aborted = FALSE;
  guint index;

  settle (fx, path);
  signal_log_clear (log);
  wait = call_start (fx->client, path, SESSION_IFACE, "SendAndWait",
                     g_variant_new ("(sa{sv})", "SLOW: 30", NULL), "(sa{sv})");
  signal_log_wait (log, 0, "Delta", NULL, 10);
  reply = call_ok (fx->client, path, SESSION_IFACE, "Abort", g_variant_new ("(a{sv})", NULL), "()");
  index = signal_log_wait (log, 0, "Event", "session.idle", 10);
  idle_data = logged_event_data (signal_log_get (log, index));
  g_assert_true (json_object_get_boolean_member_with_default (idle_data, "aborted", FALSE));
  g_assert_cmpint (signal_log_find (log, 0, "Event", "abort"), >=, 0);

  pending_wait (wait, 10);
  g_assert_no_error (wait->error);
  details = g_variant_get_child_value (wait->reply, 1);
  g_assert_true (g_variant_lookup (details, "aborted", "b", &aborted));
  g_assert_true (aborted);
  /* Far fewer than 30 ticks went out. */
  g_assert_cmpuint (signal_log_count (log, "Delta", NULL), <, 30);
  g_assert_cmpuint (record_count (fx, "session.abort"), ==, 1);
}

static void
test_destroy (Fixture       *fx,
              gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *remote = NULL;

  reply = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  assert_closed_reason (log, "destroyed");
  assert_object_gone (fx->client, path);
  g_assert_cmpuint (record_count (fx, "session.destroy"), ==, 1);

  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (fx->client, path, "Send", g_variant_new ("(sa{sv})", "x", NULL), "(s)", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, "io.github.copilotd.Copilot1.Error.NotFound");
}

static void
test_get_messages (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "history", NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) events = NULL;
  int user = -1, answer = -1, start = -1;

  reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");
  events = g_variant_get_child_value (reply, 0);
  for (gsize i = 0; i < g_variant_n_children (events); i++)
    {
      const char *type, *data_json;
      g_autoptr(GVariant) meta = NULL;
      const char *id;

      g_variant_get_child (events, i, "(&s@a{sv}&s)", &type, &meta, &data_json);
      g_assert_true (g_variant_lookup (meta, "id", "&s", &id));
      g_assert_true (g_variant_lookup (meta, "timestamp", "&s", &id));
      if (strcmp (type, "session.start") == 0)
        start = i;
      else if (strcmp (type, "user.message") == 0)
        user = i;
      else if (strcmp (type, "assistant.message") == 0)
        {
          g_autoptr(JsonObject) obj = parse_json_object (data_json);

          g_assert_cmpstr (json_object_get_string_member (obj, "content"), ==, "Echo: history");
          answer = i;
        }
    }
  g_assert_cmpint (start, ==, 0);
  g_assert_cmpint (user, >, start);
  g_assert_cmpint (answer, >, user);
}

static void
test_set_model (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) props = signal_log_new (fx->client, PROPERTIES_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *model = NULL;

  reply = call_ok (fx->client, path, SESSION_IFACE, "SetModel",
                   g_variant_new_parsed ("('gpt-5-mini', {'reasoning-effort': <'low'>})"), "()");
  model = get_string_property (fx->client, path, SESSION_IFACE, "Model");
  g_assert_cmpstr (model, ==, "gpt-5-mini");
  params = record_last (fx, "session.model.switchTo");
  g_assert_cmpstr (json_object_get_string_member (params, "modelId"), ==, "gpt-5-mini");
  g_assert_cmpstr (json_object_get_string_member (params, "reasoningEffort"), ==, "low");

  WAIT_FOR (model_announced (props, "gpt-5-mini"), 3);

  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (fx->client, path, "SetModel", g_variant_new ("(sa{sv})", "", NULL), "()", &error);
  assert_dbus_error (error, "InvalidArgs", NULL);
}

/* ---- access and subscribers ---- */

static void
test_subscribe (Fixture       *fx,
                gconstpointer  data)
{
  GDBusConnection *other = fixture_connect (fx);
  GDBusConnection *third = fixture_connect (fx);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (other, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  guint64 next_serial;

  fx->config->max_subscribers = 2;

  reply = session_call (other, path, "Send", g_variant_new ("(sa{sv})", "intruder", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = session_call (other, path, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 0);

  settle (fx, path);
  reply = call_ok (other, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  g_variant_get (reply, "(t)", &next_serial);
  g_assert_cmpuint (next_serial, >, 1);

  /* Owner + one subscriber is the limit here. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (third, path, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)", &error);
  assert_dbus_error (error, "LimitsExceeded", NULL);
  g_clear_error (&error);

  content = send_and_wait_ok (other, path, "member", NULL);
  g_assert_cmpstr (content, ==, "Echo: member");
  signal_log_wait (log, 0, "Event", "session.idle", 5);
  g_assert_cmpuint (signal_serial (signal_log_get (log, 0)), ==, next_serial);
  g_assert_cmpuint (signal_log_count (log, "Delta", NULL), >=, 2);

  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (other, path, SESSION_IFACE, "Unsubscribe", NULL, "()");
  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (other, path, "Send", g_variant_new ("(sa{sv})", "gone", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = session_call (other, path, "Unsubscribe", NULL, "()", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  /* Its slot is free again. */
  reply = call_ok (third, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
}

static void
test_get_events (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "replay", NULL);
  g_autoptr(GVariant) all = NULL, some = NULL, rest = NULL;
  g_autoptr(GVariant) events = NULL;
  guint64 next, next_some, next_rest, last = 0;
  gboolean truncated;
  gsize n_all;

  all = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0),
                 "(a(tsa{sv}s)tb)");
  g_variant_get (all, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  n_all = g_variant_n_children (events);
  g_assert_false (truncated);
  g_assert_cmpuint (n_all, >, 5);
  for (gsize i = 0; i < n_all; i++)
    {
      guint64 serial;
      const char *type;

      g_variant_get_child (events, i, "(t&s@a{sv}&s)", &serial, &type, NULL, NULL);
      g_assert_cmpuint (serial, >, last);
      last = serial;
      /* Noise is not kept for replay; deltas are (what was relayed). */
      if (is_noise (type) && strcmp (type, "assistant.message_delta") != 0)
        g_error ("Noise event %s in the replay ring", type);
    }
  g_assert_cmpuint (next, ==, last + 1);
  g_clear_pointer (&events, g_variant_unref);

  some = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 3),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (some, "(@a(tsa{sv}s)tb)", &events, &next_some, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 3);
  g_assert_true (truncated);
  g_clear_pointer (&events, g_variant_unref);

  rest = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", next_some, 0),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (rest, "(@a(tsa{sv}s)tb)", &events, &next_rest, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, n_all - 3);
  g_assert_false (truncated);
  g_assert_cmpuint (next_rest, ==, next);
  g_clear_pointer (&events, g_variant_unref);

  /* Nothing new: empty, next stays. */
  g_clear_pointer (&rest, g_variant_unref);
  rest = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", next, 0),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (rest, "(@a(tsa{sv}s)tb)", &events, &next_rest, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 0);
  g_assert_cmpuint (next_rest, ==, next);
  g_assert_false (truncated);
}

static void
test_get_events_ring (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) events = NULL;
  guint64 next, first;
  gboolean truncated;

  fx->config->ring_max_events = 5;
  path = create_session (fx->client, NULL);
  content = send_and_wait_ok (fx->client, path, "trim", NULL);
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0),
                   "(a(tsa{sv}s)tb)");
  g_variant_get (reply, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 5);
  g_assert_true (truncated);
  g_variant_get_child (events, 0, "(t&s@a{sv}&s)", &first, NULL, NULL, NULL);
  g_assert_cmpuint (first, >, 1);
  /* The newest are kept: the last one is the idle of the turn. */
  {
    const char *type;

    g_variant_get_child (events, 4, "(t&s@a{sv}&s)", NULL, &type, NULL, NULL);
    g_assert_cmpstr (type, ==, "session.idle");
  }
  g_clear_pointer (&events, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);
  /* From the first kept serial on, nothing is missing. */
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", first, 0),
                   "(a(tsa{sv}s)tb)");
  g_variant_get (reply, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  g_assert_false (truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 5);
}

static void
test_send_invalid (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *big = g_strnfill (65, 'x');
  g_autofree char *id = NULL;
  g_autoptr(JsonObject) params = NULL;
  JsonArray *attachments;
  JsonObject *first;

  fx->config->max_prompt_bytes = 64;
  reply = session_call (fx->client, path, "Send", g_variant_new ("(sa{sv})", "", NULL), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "empty");
  g_clear_error (&error);
  reply = session_call (fx->client, path, "Send", g_variant_new ("(sa{sv})", big, NULL), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "limit");
  g_clear_error (&error);
  reply = session_call (fx->client, path, "Send",
                        g_variant_new_parsed ("('x', {'mode': <'later'>})"), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "mode");
  g_clear_error (&error);
  reply = session_call (fx->client, path, "Send",
                        g_variant_new_parsed ("('x', {'mode': <1>})"), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "mode");
  g_clear_error (&error);
  reply = session_call (fx->client, path, "Send",
                        g_variant_new_parsed ("('x', {'attachments': <[{'type': <'hologram'>}]>})"), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "attachments");
  g_clear_error (&error);
  reply = session_call (fx->client, path, "Send",
                        g_variant_new_parsed ("('x', {'attachments': <[{'path': <'/tmp'>}]>})"), "(s)", &error);
  assert_dbus_error (error, "InvalidArgs", "attachments");
  g_clear_error (&error);
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 0);

  /* Valid options reach the CLI in its spelling. */
  reply = call_ok (fx->client, path, SESSION_IFACE, "Send",
                   g_variant_new_parsed ("('look', {'mode': <'enqueue'>, 'display-prompt': <'Look'>, "
                                         "'attachments': <[{'type': <'file'>, 'path': <'/etc/hostname'>, "
                                         "'display-name': <'hostname'>}]>})"), "(s)");
  g_variant_get (reply, "(s)", &id);
  params = record_last (fx, "session.send");
  g_assert_cmpstr (json_object_get_string_member (params, "mode"), ==, "enqueue");
  g_assert_cmpstr (json_object_get_string_member (params, "displayPrompt"), ==, "Look");
  attachments = json_object_get_array_member (params, "attachments");
  g_assert_cmpuint (json_array_get_length (attachments), ==, 1);
  first = json_array_get_object_element (attachments, 0);
  g_assert_cmpstr (json_object_get_string_member (first, "type"), ==, "file");
  g_assert_cmpstr (json_object_get_string_member (first, "path"), ==, "/etc/hostname");
  g_assert_cmpstr (json_object_get_string_member (first, "displayName"), ==, "hostname");
}

static void
test_privacy (Fixture       *fx,
              gconstpointer  data)
{
  GDBusConnection *snoop = fixture_connect (fx);
  g_autoptr(SignalLog) snoop_log = signal_log_new (snoop, SESSION_IFACE, NULL);
  g_autoptr(SignalLog) snoop_any = signal_log_new (snoop, NULL, NULL);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) owner_log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "secret", NULL);

  signal_log_wait (owner_log, 0, "Event", "session.idle", 5);
  /* Anything copilotd sent the snoop before a round trip is in. */
  test_sync (snoop, BUS_NAME);
  g_assert_cmpuint (signal_log_count (owner_log, "Event", NULL), >, 3);
  g_assert_cmpuint (snoop_log->signals->len, ==, 0);
  for (guint i = 0; i < snoop_any->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (snoop_any, i);
      g_autofree char *printed = g_variant_print (sig->params, FALSE);

      g_assert_cmpstr (sig->member, !=, "Event");
      g_assert_cmpstr (sig->member, !=, "Delta");
      g_assert_null (strstr (printed, "secret"));
    }
}

static void
test_owner_vanished (Fixture       *fx,
                     gconstpointer  data)
{
  GDBusConnection *owner = fixture_connect (fx);
  g_autoptr(SignalLog) om_log = signal_log_new (fx->client, OBJECT_MANAGER_IFACE, ROOT_PATH);
  g_autofree char *path = create_session (owner, NULL);
  g_autofree char *id = session_id_of (owner, path);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (object_is_managed (fx->client, path));
  /* A subscriber of the same user hears why it closed. */
  reply = call_ok (fx->client, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  g_dbus_connection_close_sync (owner, NULL, NULL);
  assert_closed_reason (log, "owner-vanished");

  WAIT_FOR (interfaces_removed (om_log, path), 5);
  assert_object_gone (fx->client, path);
  record_wait (fx, "session.destroy", 1, 5);
  {
    g_autoptr(JsonObject) params = record_last (fx, "session.destroy");

    g_assert_cmpstr (json_object_get_string_member (params, "sessionId"), ==, id);
  }
}

static void
test_persistent (Fixture       *fx,
                 gconstpointer  data)
{
  GDBusConnection *owner = fixture_connect (fx);
  g_autofree char *path = create_session (owner, g_variant_new_parsed ("{'persist': <true>}"));
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* Not yet a subscriber: no access. */
  reply = session_call (fx->client, path, "Send", g_variant_new ("(sa{sv})", "x", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);

  g_dbus_connection_close_sync (owner, NULL, NULL);
  spin (500);
  g_assert_true (object_is_managed (fx->client, path));
  g_assert_cmpuint (record_count (fx, "session.destroy"), ==, 0);

  reply = call_ok (fx->client, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  content = send_and_wait_ok (fx->client, path, "adopted", NULL);
  g_assert_cmpstr (content, ==, "Echo: adopted");

  /* The new owner may destroy it. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  assert_object_gone (fx->client, path);
}

/* ---- state and prompts ---- */

static gboolean
state_seen (SignalLog  *log,
            const char *state,
            guint       from,
            guint      *at)
{
  for (guint i = from; i < log->signals->len; i++)
    {
      g_autoptr(GVariant) dict = g_variant_get_child_value (signal_log_get (log, i)->params, 1);
      const char *s;

      if (g_variant_lookup (dict, "State", "&s", &s) && strcmp (s, state) == 0)
        {
          *at = i;
          return TRUE;
        }
    }
  return FALSE;
}

static void
test_state (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) props = signal_log_new (fx->client, PROPERTIES_IFACE, path);
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autoptr(PendingCall) wait = NULL;
  g_autofree char *state = NULL;
  g_autofree char *content = NULL;
  guint busy_at, idle_at, waiting_at;

  /* A turn long enough that busy is not coalesced with idle. */
  content = send_and_wait_ok (fx->client, path, "SLOW: 3", NULL);
  g_assert_true (state_seen (props, "busy", 0, &busy_at));
  WAIT_FOR (state_seen (props, "idle", busy_at + 1, &idle_at), 5);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "idle");

  /* "waiting" while an agent holds a permission prompt. */
  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  signal_log_clear (props);
  wait = call_start (fx->client, path, SESSION_IFACE, "SendAndWait",
                     g_variant_new ("(sa{sv})", "PERMISSION: ls", NULL), "(sa{sv})");
  WAIT_FOR (agent->n_permission > 0, 10);
  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_free (state);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "waiting");

  test_agent_answer_held (agent);
  pending_wait (wait, 10);
  g_assert_no_error (wait->error);
  g_assert_true (state_seen (props, "waiting", 0, &waiting_at));
  WAIT_FOR (state_seen (props, "idle", waiting_at + 1, &idle_at), 5);
  g_free (state);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "idle");
}

static JsonObject *
last_permission_result (Fixture *fx)
{
  g_autoptr(JsonObject) params = record_last (fx, "session.permissions.handlePendingPermissionRequest");

  return json_object_ref (json_object_get_object_member (params, "result"));
}

static void
test_permission_no_agent (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "PERMISSION: rm -rf /", NULL);
  g_autoptr(JsonObject) result = last_permission_result (fx);

  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "user-not-available");
  g_assert_cmpstr (content, ==, "Permission: denied-no-approval-rule-and-could-not-request-from-user");
}

/* A prompt a hook already decided is not the user's to answer: no agent
 * is asked and no answer goes to the CLI. */
static void
test_permission_resolved_by_hook (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(GPtrArray) answers = NULL;

  agent->decision = 0;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION-HOOK: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (agent->n_permission, ==, 0);
  answers = record_params (fx, "session.permissions.handlePendingPermissionRequest");
  g_assert_cmpuint (answers->len, ==, 0);
}

static void
test_permission_approve_once (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(JsonObject) request_json = NULL;
  const char *s;

  agent->decision = 1;
  agent->delay_ms = 100;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "approve-once");

  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_assert_true (g_variant_lookup (agent->last_request, "kind", "&s", &s));
  g_assert_cmpstr (s, ==, "shell");
  g_assert_true (g_variant_lookup (agent->last_request, "command", "&s", &s));
  g_assert_cmpstr (s, ==, "ls");
  request_json = parse_json_object (agent->last_request_json);
  g_assert_cmpstr (json_object_get_string_member (request_json, "fullCommandText"), ==, "ls");
}

static void
test_permission_reject (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;

  agent->decision = 0;
  agent->feedback = g_strdup ("use git status instead");
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: denied-interactively-by-user");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "reject");
  g_assert_cmpstr (json_object_get_string_member (result, "feedback"), ==, "use git status instead");
}

static void
test_permission_approve_session (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  JsonObject *approval;
  JsonArray *identifiers;

  agent->decision = 2;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved-for-session");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "approve-for-session");
  approval = json_object_get_object_member (result, "approval");
  g_assert_nonnull (approval);
  g_assert_cmpstr (json_object_get_string_member (approval, "kind"), ==, "commands");
  identifiers = json_object_get_array_member (approval, "commandIdentifiers");
  g_assert_cmpuint (json_array_get_length (identifiers), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (identifiers, 0), ==, "ls");
}

static void
test_permission_abort_cancels (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *id = NULL;

  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  settle (fx, path);
  signal_log_clear (log);
  id = send_ok (fx->client, path, "PERMISSION: ls");
  WAIT_FOR (agent->n_permission > 0, 10);
  g_assert_cmpuint (agent->n_permission, ==, 1);

  reply = call_ok (fx->client, path, SESSION_IFACE, "Abort", g_variant_new ("(a{sv})", NULL), "()");
  WAIT_FOR (agent->cancels->len > 0, 5);
  g_assert_cmpuint (agent->cancels->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (agent->cancels, 0), ==, agent->last_request_id);
  signal_log_wait (log, 0, "Event", "session.idle", 10);

  /* A late answer is dropped: no approval reaches the CLI. */
  test_agent_answer_held (agent);
  spin (200);
  {
    g_autoptr(GPtrArray) answers = record_params (fx, "session.permissions.handlePendingPermissionRequest");

    for (guint i = 0; i < answers->len; i++)
      {
        JsonObject *result = json_object_get_object_member (g_ptr_array_index (answers, i), "result");

        g_assert_cmpstr (json_object_get_string_member (result, "kind"), !=, "approve-once");
      }
  }
}

static void
test_permission_timeout (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  gint64 start;

  fx->config->permission_timeout = 1;
  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  start = g_get_monotonic_time ();
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpstr (content, ==, "Permission: denied-no-approval-rule-and-could-not-request-from-user");
  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_assert_cmpuint (agent->cancels->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (agent->cancels, 0), ==, agent->last_request_id);
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "user-not-available");
}

static void
test_ask_answered (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(GVariant) choices = NULL;
  const char *question;

  agent->response = 0;
  agent->answer = g_strdup ("blue");
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "ASK: Which colour? | red | blue", NULL);
  g_assert_cmpstr (content, ==, "Answer: blue");
  g_assert_cmpuint (agent->n_input, ==, 1);
  g_assert_true (g_variant_lookup (agent->last_request, "question", "&s", &question));
  g_assert_cmpstr (question, ==, "Which colour?");
  choices = g_variant_lookup_value (agent->last_request, "choices", G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (choices);
  g_assert_cmpuint (g_variant_n_children (choices), ==, 2);
}

static void
test_ask_no_agent (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "ASK: Anyone there?", NULL);

  /* Answered with an error: the turn goes on and says so. */
  g_assert_true (g_str_has_prefix (content, "Answer: "));
  g_assert_cmpstr (content, !=, "Answer: ");
}

static void
test_tool (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(TestTool) tool = test_tool_new (fx->client, TOOL_PATH, "42 apples");
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(JsonObject) args = NULL;
  JsonArray *tools;
  JsonObject *def;

  path = create_session (fx->client,
                         g_variant_new_parsed ("{'tools': <[{'name': <'count_apples'>, "
                                               "'description': <'Counts apples'>, "
                                               "'parameters': <'{\"type\":\"object\",\"properties\":{\"tree\":{\"type\":\"string\"}}}'>, "
                                               "'provider': <objectpath '" TOOL_PATH "'>}]>}"));
  params = record_last (fx, "session.create");
  tools = json_object_get_array_member (params, "tools");
  g_assert_cmpuint (json_array_get_length (tools), ==, 1);
  def = json_array_get_object_element (tools, 0);
  g_assert_cmpstr (json_object_get_string_member (def, "name"), ==, "count_apples");
  g_assert_cmpstr (json_object_get_string_member (def, "description"), ==, "Counts apples");

  content = send_and_wait_ok (fx->client, path, "TOOL: count_apples {\"tree\":\"oak\"}", NULL);
  g_assert_cmpuint (tool->n_invoke, ==, 1);
  g_assert_cmpstr (tool->last_tool, ==, "count_apples");
  g_assert_cmpstr (tool->last_session, ==, path);
  args = parse_json_object (tool->last_args);
  g_assert_cmpstr (json_object_get_string_member (args, "tree"), ==, "oak");
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "42 apples"));
}

static void
test_tool_timeout (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(TestTool) tool = test_tool_new (fx->client, TOOL_PATH, "never");
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *result;
  gint64 start;

  fx->config->tool_timeout = 1;
  tool->hold = TRUE;
  path = create_session (fx->client,
                         g_variant_new_parsed ("{'tools': <[{'name': <'slow_tool'>, "
                                               "'description': <'Never answers'>, "
                                               "'provider': <objectpath '" TOOL_PATH "'>}]>}"));
  start = g_get_monotonic_time ();
  content = send_and_wait_ok (fx->client, path, "TOOL: slow_tool {}", NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpuint (tool->n_invoke, ==, 1);
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  answer = record_last (fx, "session.tools.handlePendingToolCall");
  result = json_object_get_object_member (answer, "result");
  g_assert_cmpstr (json_object_get_string_member (result, "resultType"), ==, "timeout");
  /* The provider hears that the call was given up. */
  {
    WAIT_FOR (tool->cancels->len > 0, 3);
  }
  g_assert_cmpuint (tool->cancels->len, ==, 1);
}

static void
test_hook (Fixture       *fx,
           gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "HOOK:", NULL);
  g_autoptr(GPtrArray) frames = record_frames (fx);
  guint n_unsupported = 0;

  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=error -32601 systemMessage.transform=error -32601");
  for (guint i = 0; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonNode *error = json_object_get_member (frame, "error");

      if (!json_object_has_member (frame, "method") && error != NULL && JSON_NODE_HOLDS_OBJECT (error) &&
          json_object_get_int_member (json_node_get_object (error), "code") == -32601)
        n_unsupported++;
    }
  g_assert_cmpuint (n_unsupported, ==, 2);
}

/* ---- backend ---- */

static void
test_backend_protocol_mismatch (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *state = NULL;

  fixture_allow_warnings (fx);
  g_setenv ("FAKE_CLI_PROTOCOL_VERSION", "2", TRUE);
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                             g_variant_new ("(a{sv})", NULL), "(o)", &error);
  assert_dbus_error (error, "ProtocolMismatch", NULL);
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "failed");
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels",
                             g_variant_new ("(a{sv})", NULL), "(aa{sv})", &error);
  assert_dbus_error (error, "ProtocolMismatch", NULL);
}

static void
test_backend_no_connect (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;

  g_setenv ("FAKE_CLI_NO_CONNECT", "1", TRUE);
  path = create_session (fx->client, NULL);
  content = send_and_wait_ok (fx->client, path, "fallback", NULL);
  g_assert_cmpstr (content, ==, "Echo: fallback");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 1);
  g_assert_cmpuint (record_count (fx, "ping"), >=, 1);
}

static void
test_backend_crash (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(SignalLog) log = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  g_autofree char *state = NULL;
  guint error_at, restarted_at;

  fixture_allow_warnings (fx);
  path = create_session (fx->client, g_variant_new_parsed ("{'model': <'gpt-5-mini'>, 'streaming': <false>}"));
  log = signal_log_new (fx->client, SESSION_IFACE, path);
  settle (fx, path);
  signal_log_clear (log);

  reply = session_call (fx->client, path, "SendAndWait", g_variant_new ("(sa{sv})", "CRASH", NULL),
                        "(sa{sv})", &error);
  assert_dbus_error (error, "BackendFailed", NULL);

  error_at = signal_log_wait (log, 0, "Event", "session.error", 10);
  restarted_at = signal_log_wait (log, 0, "Event", "copilotd.backend_restarted", 15);
  g_assert_cmpuint (error_at, <, restarted_at);
  {
    g_autoptr(JsonObject) data_obj = logged_event_data (signal_log_get (log, error_at));

    g_assert_true (json_object_has_member (data_obj, "message"));
    g_assert_true (json_object_has_member (data_obj, "errorType"));
  }
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "running");
  g_assert_true (object_is_managed (fx->client, path));
  g_assert_cmpuint (record_count (fx, "session.resume"), ==, 1);
  {
    /* The restarted CLI gets the same options again (they are not persisted). */
    g_autoptr(JsonObject) resume = record_last (fx, "session.resume");

    g_assert_cmpstr (json_object_get_string_member (resume, "model"), ==, "gpt-5-mini");
    g_assert_false (json_object_get_boolean_member (resume, "streaming"));
    g_assert_true (json_object_get_boolean_member (resume, "requestPermission"));
    g_assert_true (json_object_get_boolean_member (resume, "requestUserInput"));
  }

  content = send_and_wait_ok (fx->client, path, "after the crash", NULL);
  g_assert_cmpstr (content, ==, "Echo: after the crash");
  /* One restart, not a loop of them. */
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
}

static void
test_backend_garbage (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;

  fixture_allow_warnings (fx);
  /* connect is answered, then the stream breaks. */
  g_setenv ("FAKE_CLI_GARBAGE_AFTER", "1", TRUE);
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                             g_variant_new ("(a{sv})", NULL), "(o)", &error);
  assert_dbus_error (error, "BackendFailed", NULL);
  /* The next CLI, started after the backoff, is healthy. */
  g_unsetenv ("FAKE_CLI_GARBAGE_AFTER");
  path = create_session (fx->client, NULL);
  content = send_and_wait_ok (fx->client, path, "healthy", NULL);
  g_assert_cmpstr (content, ==, "Echo: healthy");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/session/send/order", test_send_order);
  ADD ("/session/send/subscriber-types", test_subscriber_types);
  ADD ("/session/send/invalid", test_send_invalid);
  ADD ("/session/send-and-wait/content", test_send_and_wait);
  ADD ("/session/send-and-wait/timeout", test_send_and_wait_timeout);
  ADD ("/session/send-and-wait/error", test_send_and_wait_error);
  ADD ("/session/abort", test_abort);
  ADD ("/session/destroy", test_destroy);
  ADD ("/session/get-messages", test_get_messages);
  ADD ("/session/set-model", test_set_model);
  ADD ("/session/subscribe", test_subscribe);
  ADD ("/session/get-events/replay", test_get_events);
  ADD ("/session/get-events/ring", test_get_events_ring);
  ADD ("/session/privacy", test_privacy);
  ADD ("/session/owner-vanished", test_owner_vanished);
  ADD ("/session/persistent", test_persistent);
  ADD ("/session/state", test_state);
  ADD ("/session/permission/no-agent", test_permission_no_agent);
  ADD ("/session/permission/approve-once", test_permission_approve_once);
  ADD ("/session/permission/resolved-by-hook", test_permission_resolved_by_hook);
  ADD ("/session/permission/reject", test_permission_reject);
  ADD ("/session/permission/approve-for-session", test_permission_approve_session);
  ADD ("/session/permission/abort-cancels", test_permission_abort_cancels);
  ADD ("/session/permission/timeout", test_permission_timeout);
  ADD ("/session/ask/answered", test_ask_answered);
  ADD ("/session/ask/no-agent", test_ask_no_agent);
  ADD ("/session/tool", test_tool);
  ADD ("/session/tool-timeout", test_tool_timeout);
  ADD ("/session/hook", test_hook);
  ADD ("/backend/protocol-mismatch", test_backend_protocol_mismatch);
  ADD ("/backend/no-connect", test_backend_no_connect);
  ADD ("/backend/crash", test_backend_crash);
  ADD ("/backend/garbage", test_backend_garbage);
#undef ADD

  return g_test_run ();
}
