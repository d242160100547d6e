/* SPDX-License-Identifier: MIT */
/* test-session.c: the Session interface of copilotd against the fake CLI
 *
 * Turns, signals and their privacy, subscribers, replay, prompts through
 * agents, client tools, and the backend's failures, all as a client on the
 * bus sees them (tests/daemon-fixture.h).
 *
 * This file: turns and the backend's failures under them; the program's
 * other cases are in test-session-access.c and test-session-prompts.c,
 * over session-fixture.h.
 */
#include "config.h"

#include <string.h>

#include "session-fixture.h"

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
  session_add_access_tests ();
  session_add_prompts_tests ();
  ADD ("/backend/protocol-mismatch", test_backend_protocol_mismatch);
  ADD ("/backend/no-connect", test_backend_no_connect);
  ADD ("/backend/crash", test_backend_crash);
  ADD ("/backend/garbage", test_backend_garbage);
#undef ADD

  return g_test_run ();
}
