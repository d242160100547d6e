/* SPDX-License-Identifier: MIT */
/* test-hostile.c: what the CLI side may send that the daemon must survive
 *
 * The fake CLI's `RAW: <file>` directive writes the lines of a file as
 * frames, byte for byte: text no well-behaved CLI writes, yet valid JSON
 * (lone surrogate escapes from Node-serialised tool output) or not
 * (invalid UTF-8). Every test asserts what a client sees on the bus.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "callers.h"
#include "daemon-fixture.h"
#include "peer-gate.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* A session.event notification; deltas are ephemeral like the CLI's. */
static char *
event_frame (const char *type,
             const char *id,
             const char *data_json)
{
  return g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{"
                          "\"sessionId\":\"@SESSION@\",\"event\":{\"type\":\"%s\",\"id\":\"%s\","
                          "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"parentId\":null,%s"
                          "\"data\":%s}}}", type, id,
                          g_str_has_suffix (type, "_delta") ? "\"ephemeral\":true," : "", data_json);
}

static char *
send_and_wait (GDBusConnection *conn,
               const char      *path,
               const char      *prompt)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "SendAndWait",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");
  char *content;

  g_variant_get_child (reply, 0, "s", &content);
  return content;
}

static JsonObject *
event_data_by_id (SignalLog  *log,
                  const char *type,
                  const char *id)
{
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      g_autoptr(GVariant) meta = NULL;
      const char *got;

      if (strcmp (logged_event_type (sig), type) != 0)
        continue;
      meta = g_variant_get_child_value (sig->params, 2);
      if (g_variant_lookup (meta, "id", "&s", &got) && strcmp (got, id) == 0)
        return logged_event_data (sig);
    }
  g_error ("No %s event with id %s reached the subscriber", type, id);
  return NULL;
}

/* Issue 8 "What was seen" 2: a lone surrogate escape and invalid UTF-8
 * became GLib-CRITICALs and "[Invalid UTF-8]"; one before a closing quote
 * lost the whole event. Now each is U+FFFD and nothing is lost. */
static void
test_encoding (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *delta = event_frame ("assistant.message_delta", "e-delta",
                                        "{\"messageId\":\"m-1\",\"deltaContent\":\"A\\udc00B\"}");
  g_autofree char *message = event_frame ("assistant.message", "e-message",
                                          "{\"messageId\":\"m-1\",\"content\":\"A\\udc00B\\ud800\"}");
  g_autofree char *tool = event_frame ("tool.execution_complete", "e-tool",
                                       "{\"toolCallId\":\"t-1\",\"success\":true,"
                                       "\"result\":{\"content\":\"x\\udc00\",\"pair\":\"\\ud83d\\ude00\","
                                       "\"high-low\":\"\\ud800\\u0041\",\"escaped\":\"\\\\udc00\","
                                       "\"malformed\":\"\\ud8zz\"}}");
  g_autofree char *bytes = event_frame ("session.info", "e-bytes",
                                        "{\"infoType\":\"x\",\"message\":\"bad \xff\xfe bytes \xed\xa0\x80.\"}");
  const char *lines[] = { delta, message, tool, bytes, NULL };
  g_autofree char *prompt = raw_prompt (fx, lines);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) tool_data = NULL;
  g_autoptr(JsonObject) info_data = NULL;
  g_autoptr(JsonObject) message_data = NULL;
  JsonObject *result;
  LoggedSignal *sig;
  const char *text;

  {
    /* The events of CreateSession are in before the reply to a
     * GetMessages (the CLI wrote them first; copilotd relays in order). */
    g_autoptr(GVariant) messages = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                            g_variant_new ("(a{sv})", NULL), NULL);
  }
  signal_log_clear (log);
  content = send_and_wait (fx->client, path, prompt);
  g_assert_cmpstr (content, ==, "A" REPLACEMENT "B" REPLACEMENT);

  sig = signal_log_get (log, signal_log_wait (log, 0, "Delta", NULL, 10));
  g_variant_get (sig->params, "(t&su&s)", NULL, NULL, NULL, &text);
  g_assert_cmpstr (text, ==, "A" REPLACEMENT "B");

  signal_log_wait (log, 0, "Event", "session.idle", 10);
  message_data = event_data_by_id (log, "assistant.message", "e-message");
  g_assert_cmpstr (json_object_get_string_member (message_data, "content"), ==,
                   "A" REPLACEMENT "B" REPLACEMENT);

  /* Lost before: the surrogate just before the closing quote. */
  tool_data = event_data_by_id (log, "tool.execution_complete", "e-tool");
  result = json_object_get_object_member (tool_data, "result");
  g_assert_cmpstr (json_object_get_string_member (result, "content"), ==, "x" REPLACEMENT);
  g_assert_cmpstr (json_object_get_string_member (result, "pair"), ==, "\xf0\x9f\x98\x80");
  g_assert_cmpstr (json_object_get_string_member (result, "high-low"), ==, REPLACEMENT "A");
  g_assert_cmpstr (json_object_get_string_member (result, "escaped"), ==, "\\udc00");
  /* json-glib reads a malformed escape into bytes that are not UTF-8. */
  g_assert_true (g_utf8_validate (json_object_get_string_member (result, "malformed"), -1, NULL));

  /* Lost before: json-glib rejects a frame that is not UTF-8. */
  info_data = event_data_by_id (log, "session.info", "e-bytes");
  text = json_object_get_string_member (info_data, "message");
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_true (g_str_has_prefix (text, "bad " REPLACEMENT));
  g_assert_true (g_str_has_suffix (text, " bytes " REPLACEMENT REPLACEMENT REPLACEMENT "."));
}

#define BIG (40 * 1024 * 1024)

static gboolean
meta_truncated (GVariant *meta)
{
  gboolean truncated = FALSE;

  return g_variant_lookup (meta, "truncated", "b", &truncated) && truncated;
}

/* Issue 8 "What was seen" 1: a 40 MB event, or GetMessages of a 40 MB
 * history, was a D-Bus message over the bus's 32 MiB limit: the bus
 * disconnected the daemon. Now the large strings are cut to
 * max-message-size, marked `truncated`, and the history comes in pages. */
static void
test_size (Fixture       *fx,
           gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *big = g_strnfill (BIG, 'x');
  g_autofree char *delta_data = g_strdup_printf ("{\"messageId\":\"m-1\",\"deltaContent\":\"%s\"}", big);
  g_autofree char *tool_data = g_strdup_printf ("{\"toolCallId\":\"t-1\",\"success\":true,"
                                                "\"result\":{\"content\":\"%s\",\"small\":\"kept\"}}", big);
  /* Past max-message-size, and with the tool's 40 MB a history over the
   * bus's 32 MiB yet under the 64 MiB frame limit. */
  g_autofree char *message_data = g_strdup_printf ("{\"messageId\":\"m-1\",\"content\":\"%s\"}",
                                                   big + BIG - 10 * 1024 * 1024);
  g_autofree char *delta = event_frame ("assistant.message_delta", "e-delta", delta_data);
  g_autofree char *tool = event_frame ("tool.execution_complete", "e-tool", tool_data);
  g_autofree char *message = event_frame ("assistant.message", "e-message", message_data);
  const char *lines[] = { delta, tool, message, NULL };
  g_autofree char *prompt = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) tool_obj = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gsize max = fx->config->max_message_size;
  LoggedSignal *sig;
  const char *text;
  guint32 offset = 0;
  guint pages = 0;
  int index;

  g_assert_cmpuint (max, >=, 1024 * 1024);
  g_assert_cmpuint (max, <, 32 * 1024 * 1024);
  prompt = raw_prompt (fx, lines);
  g_clear_pointer (&delta_data, g_free);
  g_clear_pointer (&tool_data, g_free);
  g_clear_pointer (&message_data, g_free);
  g_clear_pointer (&big, g_free);

  {
    /* The events of CreateSession are in before the reply to a
     * GetMessages (the CLI wrote them first; copilotd relays in order). */
    g_autoptr(GVariant) messages = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                            g_variant_new ("(a{sv})", NULL), NULL);
  }
  signal_log_clear (log);
  content = send_and_wait (fx->client, path, prompt);
  g_assert_cmpuint (strlen (content), >, 1024 * 1024);
  g_assert_cmpuint (strlen (content), <=, max);
  g_assert_true (g_str_has_prefix (content, "xxxx"));

  sig = signal_log_get (log, signal_log_wait (log, 0, "Delta", NULL, 10));
  g_variant_get (sig->params, "(t&su&s)", NULL, NULL, NULL, &text);
  g_assert_cmpuint (strlen (text), >, 1024 * 1024);
  g_assert_cmpuint (g_variant_get_size (sig->params), <=, max);

  index = signal_log_wait (log, 0, "Event", "tool.execution_complete", 10);
  sig = signal_log_get (log, index);
  {
    g_autoptr(GVariant) meta = g_variant_get_child_value (sig->params, 2);

    g_assert_true (meta_truncated (meta));
  }
  g_assert_cmpuint (g_variant_get_size (sig->params), <=, max);
  tool_obj = logged_event_data (sig);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (tool_obj, "result"), "small"),
                   ==, "kept");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_object_get_object_member (tool_obj, "result"), "content"),
                                   "xxxx"));
  signal_log_wait (log, 0, "Event", "session.idle", 10);

  /* The history holds two 40 MB events: pages, each under the limit,
   * together every event once, in order. */
  for (;;)
    {
      g_autoptr(GVariant) events = NULL;
      GVariantBuilder options;
      gsize n;
      gboolean more = FALSE;

      g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&options, "{sv}", "offset", g_variant_new_uint32 (offset));
      g_clear_pointer (&reply, g_variant_unref);
      reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                       g_variant_new ("(a{sv})", &options), "(a(sa{sv}s))");
      g_assert_cmpuint (g_variant_get_size (reply), <=, max);
      events = g_variant_get_child_value (reply, 0);
      n = g_variant_n_children (events);
      g_assert_cmpuint (n, >, 0);
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) meta = NULL;
          const char *type, *data_json, *id;
          guint32 entry_offset;

          g_variant_get_child (events, i, "(&s@a{sv}&s)", &type, &meta, &data_json);
          g_assert_true (g_variant_lookup (meta, "offset", "u", &entry_offset));
          g_assert_cmpuint (entry_offset, ==, offset + i);
          g_assert_true (g_variant_lookup (meta, "id", "&s", &id));
          g_assert_false (g_hash_table_contains (seen, id));
          g_hash_table_add (seen, g_strdup (id));
          if (strcmp (id, "e-tool") == 0 || strcmp (id, "e-message") == 0)
            g_assert_true (meta_truncated (meta));
          g_clear_pointer (&meta, g_variant_unref);
          if (i == n - 1)
            {
              g_variant_get_child (events, i, "(&s@a{sv}&s)", NULL, &meta, NULL);
              g_variant_lookup (meta, "more", "b", &more);
            }
        }
      offset += n;
      pages++;
      g_assert_cmpuint (pages, <, 20);
      if (!more)
        break;
    }
  g_assert_cmpuint (pages, >=, 2);
  g_assert_true (g_hash_table_contains (seen, "e-tool"));
  g_assert_true (g_hash_table_contains (seen, "e-message"));

  /* max limits the count; past the end: nothing. */
  {
    g_autoptr(GVariant) one = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                       g_variant_new_parsed ("({'max': <@u 1>},)"), "(a(sa{sv}s))");
    g_autoptr(GVariant) none = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                        g_variant_new_parsed ("({'offset': <@u 100000>},)"), "(a(sa{sv}s))");
    g_autoptr(GVariant) one_events = g_variant_get_child_value (one, 0);
    g_autoptr(GVariant) no_events = g_variant_get_child_value (none, 0);

    g_assert_cmpuint (g_variant_n_children (one_events), ==, 1);
    g_assert_cmpuint (g_variant_n_children (no_events), ==, 0);
  }

  /* Still on the bus, still serving. */
  g_free (content);
  content = send_and_wait (fx->client, path, "after");
  g_assert_cmpstr (content, ==, "Echo: after");
}

/* Issue 8 "What was seen" 3: a connection of the same UID that was neither
 * owner nor subscriber erased a live session's history with DeleteSession. */
static void
test_delete_stranger (Fixture       *fx,
                      gconstpointer  data)
{
  GDBusConnection *stranger = fixture_connect (fx);
  GDBusConnection *member = fixture_connect (fx);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autofree char *content = send_and_wait (fx->client, path, "keep me");
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = call_sync_iterate (stranger, ROOT_PATH, MANAGER_IFACE, "DeleteSession",
                             g_variant_new ("(s)", id), "()", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_assert_cmpuint (record_count (fx, "session.delete"), ==, 0);
  g_assert_true (object_is_managed (fx->client, path));
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");

  /* A subscriber may, as it may every Session member. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (member, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (member, ROOT_PATH, MANAGER_IFACE, "DeleteSession", g_variant_new ("(s)", id), "()");
  g_assert_cmpuint (record_count (fx, "session.delete"), ==, 1);
}

static GVariant *
types_option (guint n,
              gsize len)
{
  GVariantBuilder options;
  GVariantBuilder types;

  g_variant_builder_init (&types, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *pattern = g_strnfill (len, 'a' + i % 26);

      pattern[0] = '*';
      g_variant_builder_add (&types, "s", pattern);
    }
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "types", g_variant_builder_end (&types));
  return g_variant_new ("(a{sv})", &options);
}

/* Issue 8 "What was seen" 6: 100 000 patterns in `types` stalled every
 * client for seconds per turn. */
static void
test_subscribe_types_bounded (Fixture       *fx,
                              gconstpointer  data)
{
  GDBusConnection *member = fixture_connect (fx);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  reply = call_sync_iterate (member, path, SESSION_IFACE, "Subscribe", types_option (100000, 8), "(t)", &error);
  assert_dbus_error (error, "LimitsExceeded", "64");
  g_clear_error (&error);
  reply = call_sync_iterate (member, path, SESSION_IFACE, "Subscribe", types_option (65, 8), "(t)", &error);
  assert_dbus_error (error, "LimitsExceeded", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (member, path, SESSION_IFACE, "Subscribe", types_option (1, 257), "(t)", &error);
  assert_dbus_error (error, "LimitsExceeded", "256");
  g_clear_error (&error);

  /* Refused: not a subscriber. At the bounds: one. */
  reply = call_sync_iterate (member, path, SESSION_IFACE, "Send",
                             g_variant_new ("(sa{sv})", "hello", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_ok (member, path, SESSION_IFACE, "Subscribe", types_option (64, 256), "(t)");
  content = send_and_wait (member, path, "bounded");
  g_assert_cmpstr (content, ==, "Echo: bounded");
}

/* Issue 8 "What was seen" 7: calls on a destroyed session got
 * org.freedesktop.DBus.Error.UnknownMethod; now the project's NotFound. */
static void
test_gone_session (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *live = create_session (fx->client, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GError) error = NULL;
  const char *xml;

  reply = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "Send",
                             g_variant_new ("(sa{sv})", "late", NULL), "(s)", &error);
  assert_dbus_error (error, "NotFound", "closed");
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, SESSION_PATH_PREFIX "never_was", SESSION_IFACE, "GetMessages",
                             g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  g_clear_pointer (&props, g_variant_unref);
  props = call_sync_iterate (fx->client, path, PROPERTIES_IFACE, "GetAll",
                             g_variant_new ("(s)", SESSION_IFACE), "(a{sv})", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);

  /* Live sessions keep their methods, properties and introspection. */
  reply = call_ok (fx->client, live, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");
  props = call_ok (fx->client, live, PROPERTIES_IFACE, "GetAll", g_variant_new ("(s)", SESSION_IFACE), "(a{sv})");
  {
    g_autoptr(GVariant) dict = g_variant_get_child_value (props, 0);

    g_assert_cmpuint (g_variant_n_children (dict), >=, 4);
  }
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, live, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, "(s)");
  g_variant_get (reply, "(&s)", &xml);
  g_assert_nonnull (strstr (xml, SESSION_IFACE));
  g_assert_nonnull (strstr (xml, "SendAndWait"));
}

/* A frame over the 64 MiB copilotd reads from the CLI closed the CLI's
 * connection: every session of the user restarted. Now it is skipped as
 * it streams: the event is lost (logged), the call it answered fails with
 * LimitsExceeded, and the same CLI goes on. */
static void
test_oversized_frame (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *huge = g_strnfill (66 * 1024 * 1024, 'y');
  g_autofree char *tool_data = g_strdup_printf ("{\"toolCallId\":\"t-1\",\"success\":true,"
                                                "\"result\":{\"content\":\"%s\"}}", huge);
  g_autofree char *tool = event_frame ("tool.execution_complete", "e-huge", tool_data);
  g_autofree char *message = event_frame ("assistant.message", "e-done",
                                          "{\"messageId\":\"m-2\",\"content\":\"done\"}");
  const char *lines[] = { tool, message, NULL };
  g_autofree char *prompt = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  fixture_allow_warnings (fx);
  prompt = raw_prompt (fx, lines);
  g_clear_pointer (&tool_data, g_free);
  g_clear_pointer (&tool, g_free);
  g_clear_pointer (&huge, g_free);

  content = send_and_wait (fx->client, path, prompt);
  g_assert_cmpstr (content, ==, "done");

  /* The history now holds the 66 MB event: its answer is too large. */
  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "GetMessages",
                             g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))", &error);
  assert_dbus_error (error, "LimitsExceeded", "MiB");

  g_free (content);
  content = send_and_wait (fx->client, path, "after");
  g_assert_cmpstr (content, ==, "Echo: after");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 1);
}

/* Issue 8 "What was seen" 4: on a session bus that admits another UID,
 * that UID used this user's CLI. The gate is set here to a UID that is not
 * the test's, which is what the daemon sees from such a peer. */
static void
test_session_bus_other_uid (Fixture       *fx,
                            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(CopilotdCallers) callers = copilotd_callers_new (fx->daemon_conn);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  copilotd_peer_gate_set (callers, getuid () + 1);

  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "ListSessions",
                             g_variant_new ("(a{sv})", NULL), NULL, &error);
  assert_dbus_error (error, "AccessDenied", "UID");
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                             g_variant_new ("(a{sv})", NULL), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, ROOT_PATH, AGENT_MANAGER_IFACE, "RegisterAgent",
                             g_variant_new ("(oa{sv})", "/test/agent", NULL), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "Send",
                             g_variant_new ("(sa{sv})", "intruder", NULL), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "GetMessages",
                             g_variant_new ("(a{sv})", NULL), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, path, PROPERTIES_IFACE, "Get",
                             g_variant_new ("(ss)", SESSION_IFACE, "Model"), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  /* Nor does it see the session (object-manager.c). */
  reply = call_sync_iterate (fx->client, path, PROPERTIES_IFACE, "GetAll",
                             g_variant_new ("(s)", SESSION_IFACE), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = call_sync_iterate (fx->client, ROOT_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects",
                             NULL, NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 0);

  /* The daemon's own UID is served as before. */
  copilotd_peer_gate_set (callers, getuid ());
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");
  copilotd_peer_gate_set (NULL, 0);
}

int
main (int   argc,
      char *argv[])
{
  test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/hostile/cli/encoding", test_encoding);
  ADD ("/hostile/cli/size", test_size);
  ADD ("/hostile/cli/oversized-frame", test_oversized_frame);
  ADD ("/hostile/bus/delete-stranger", test_delete_stranger);
  ADD ("/hostile/bus/subscribe-types", test_subscribe_types_bounded);
  ADD ("/hostile/bus/gone-session", test_gone_session);
  ADD ("/hostile/bus/session-bus-other-uid", test_session_bus_other_uid);
#undef ADD

  return g_test_run ();
}
