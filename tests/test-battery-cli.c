/* SPDX-License-Identifier: MIT */
/* test-battery-cli.c: a faulty CLI, case by case
 *
 * The fake CLI's `RAW: <file>` directive writes frames the real CLI should
 * never write — bodies that are not JSON or not JSON-RPC, responses to ids
 * nobody used, broken Content-Length headers, a frame cut short by a
 * crash, a 10 MB frame — and `STDERR: <MiB>` floods its stderr. For each
 * case: the daemon keeps its bus connection, the turn that met the fault
 * ends with its answer (what is broken is skipped), or a named error (the
 * CLI connection was lost), the same session works again afterwards, and a
 * session of another client keeps working throughout. The lone surrogate
 * escape, invalid UTF-8, an event over max-message-size and a frame over
 * 64 MiB are the cases of test-hostile.c (daemon-hostile).
 */
#include "config.h"

#include <string.h>

#include "daemon-fixture.h"

#define EVENT(type, data) \
  "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"@SESSION@\"," \
  "\"event\":{\"type\":\"" type "\",\"id\":\"e-" type "\",\"timestamp\":\"2026-01-01T00:00:00.000Z\"," \
  "\"parentId\":null,\"data\":" data "}}}"
#define SURVIVED EVENT ("assistant.message", "{\"messageId\":\"m-9\",\"content\":\"survived\"}")

typedef struct {
  const char *name;
  const char *prompt;        /* nullable: RAW: of @lines */
  const char *lines[10];
  const char *answer;        /* the SendAndWait answer, or NULL: */
  const char *error;         /* its error */
} FaultCase;

static const FaultCase cases[] = {
  { "invalid-json", NULL,
    { "{not json at all", "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{",
      "\xff\xfe{}", SURVIVED }, "survived", NULL },
  { "not-an-object", NULL,
    { "42", "[1,2,3]", "\"text\"", "null", "[]", SURVIVED }, "survived", NULL },
  { "unknown-ids", NULL,
    { "{\"jsonrpc\":\"2.0\",\"id\":987654321,\"result\":{\"stray\":true}}",
      "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"result\":{}}",
      "{\"jsonrpc\":\"2.0\",\"id\":-1,\"error\":{\"code\":-32000,\"message\":\"stray\"}}",
      "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":null}",
      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"stray\"}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":\"not an object\"}",
      SURVIVED }, "survived", NULL },
  { "bad-notifications", NULL,
    { "{\"jsonrpc\":\"2.0\",\"method\":42}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":\"x\"}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"@SESSION@\",\"event\":\"x\"}}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"@SESSION@\",\"event\":{\"type\":42}}}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"no-such-session\",\"event\":{\"type\":\"assistant.message\",\"data\":{}}}}",
      EVENT ("assistant.message", "[1]"),
      EVENT ("assistant.message_delta", "{\"messageId\":7,\"deltaContent\":{}}"),
      "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"no.such.request\",\"params\":{}}",
      SURVIVED }, "survived", NULL },
  /* Framing a CLI cannot recover from: the connection is closed, the CLI
   * restarted and the session resumed; the turn is lost. */
  { "content-length-huge", NULL,
    { "!Content-Length: 99999999999\\r\\n\\r\\n", "=EXIT" }, NULL, "BackendFailed" },
  { "content-length-not-a-number", NULL,
    { "!Content-Length: banana\\r\\n\\r\\n{}", "=EXIT" }, NULL, "BackendFailed" },
  { "truncated-frame", NULL,
    { "!Content-Length: 500\\r\\n\\r\\n{\"jsonrpc\":\"2.0\",\"method\":\"session.ev", "=EXIT" },
    NULL, "BackendFailed" },
  { "stderr-flood", "STDERR: 8", { NULL }, "Flooded: 8", NULL },
};

static char *
send_and_wait (GDBusConnection  *conn,
               const char       *path,
               const char       *prompt,
               GError          **error)
{
  g_autoptr(GVariant) reply = call_sync_iterate (conn, path, SESSION_IFACE, "SendAndWait",
                                                 g_variant_new ("(sa{sv})", prompt, NULL),
                                                 "(sa{sv})", error);
  char *content = NULL;

  if (reply != NULL)
    g_variant_get_child (reply, 0, "s", &content);
  return content;
}

static void
assert_turn (GDBusConnection *conn,
             const char      *path,
             const char      *prompt)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *content = send_and_wait (conn, path, prompt, &error);
  g_autofree char *expected = g_strdup_printf ("Echo: %s", prompt);

  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, expected);
}

/* The daemon still owns its name on its own connection and answers. */
static void
assert_on_bus (Fixture *fx)
{
  g_autoptr(GVariant) owner = NULL;
  const char *name;

  g_assert_false (g_dbus_connection_is_closed (fx->daemon_conn));
  owner = test_call (fx->client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                     "GetNameOwner", g_variant_new ("(s)", BUS_NAME), "(s)", NULL);
  g_assert_nonnull (owner);
  g_variant_get (owner, "(&s)", &name);
  g_assert_cmpstr (name, ==, g_dbus_connection_get_unique_name (fx->daemon_conn));
}

static void
run_case (Fixture       *fx,
          gconstpointer  data)
{
  const FaultCase *c = data;
  GDBusConnection *other = fixture_connect (fx);
  g_autofree char *other_path = NULL;
  g_autofree char *path = NULL;
  g_autofree char *prompt = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GError) error = NULL;

  fixture_allow_warnings (fx);
  other_path = create_session (other, NULL);
  path = create_session (fx->client, NULL);
  assert_turn (other, other_path, "before");

  prompt = c->prompt ? g_strdup (c->prompt) : raw_prompt (fx, c->lines);
  content = send_and_wait (fx->client, path, prompt, &error);
  if (c->answer != NULL)
    {
      g_assert_no_error (error);
      g_assert_cmpstr (content, ==, c->answer);
    }
  else
    assert_dbus_error (error, c->error, NULL);

  assert_on_bus (fx);
  /* The same session, and another client's, go on (after a restart the
   * calls wait until their session is resumed). */
  assert_turn (fx->client, path, "again");
  assert_turn (other, other_path, "after");
  assert_on_bus (fx);
}

/* A 10 MB frame (over max-message-size, under the 64 MiB frame limit):
 * relayed cut to fit, marked, and the answer of SendAndWait and of Ask
 * cut the same way (Ask's was not: a 40 MB answer was a reply the bus
 * refuses, and it disconnects the daemon). */
static void
test_ten_megabyte_frame (Fixture       *fx,
                         gconstpointer  data)
{
  GDBusConnection *other = fixture_connect (fx);
  g_autofree char *other_path = create_session (other, NULL);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *big = g_strnfill (10 * 1000 * 1000, 'x');
  g_autofree char *tool = g_strdup_printf (EVENT ("tool.execution_complete", "{\"toolCallId\":\"t-1\",\"success\":true,"
                                                  "\"result\":{\"content\":\"%s\"}}"), big);
  g_autofree char *message = g_strdup_printf (EVENT ("assistant.message", "{\"messageId\":\"m-1\",\"content\":\"%s\"}"), big);
  const char *lines[] = { tool, message, NULL };
  g_autofree char *prompt = raw_prompt (fx, lines);
  g_autofree char *content = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) meta = NULL;
  gboolean truncated = FALSE;
  LoggedSignal *sig;

  g_clear_pointer (&big, g_free);
  content = send_and_wait (fx->client, path, prompt, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (content, "xxxx"));
  g_assert_cmpuint (strlen (content), <, 10 * 1000 * 1000);
  g_assert_cmpuint (strlen (content), <=, fx->config->max_message_size);

  sig = signal_log_get (log, signal_log_wait (log, 0, "Event", "tool.execution_complete", 10));
  meta = g_variant_get_child_value (sig->params, 2);
  g_assert_true (g_variant_lookup (meta, "truncated", "b", &truncated));
  g_assert_true (truncated);
  g_assert_cmpuint (g_variant_get_size (sig->params), <=, fx->config->max_message_size);

  /* Ask answers with the same text: cut the same way. */
  {
    g_autoptr(GVariant) reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ask",
                                         g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");
    const char *answer;

    g_variant_get (reply, "(&s@a{sv})", &answer, NULL);
    g_assert_true (g_str_has_prefix (answer, "xxxx"));
    g_assert_cmpuint (strlen (answer), <=, fx->config->max_message_size);
    g_assert_cmpuint (g_variant_get_size (reply), <=, fx->config->max_message_size);
  }

  assert_on_bus (fx);
  assert_turn (fx->client, path, "again");
  assert_turn (other, other_path, "after");
}

/* Properties reach every peer (PropertiesChanged, GetManagedObjects): a
 * model name of a megabyte from the CLI is cut, not broadcast whole. */
static void
test_huge_model_name (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *big = g_strnfill (1024 * 1024, 'm');
  g_autofree char *change = g_strdup_printf (EVENT ("session.model_change", "{\"newModel\":\"%s\"}"), big);
  const char *lines[] = { change, SURVIVED, NULL };
  g_autofree char *prompt = raw_prompt (fx, lines);
  g_autofree char *content = NULL;
  g_autofree char *model = NULL;
  g_autoptr(GError) error = NULL;

  content = send_and_wait (fx->client, path, prompt, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "survived");
  model = get_string_property (fx->client, path, SESSION_IFACE, "Model");
  g_assert_true (g_str_has_prefix (model, "mmmm"));
  g_assert_cmpuint (strlen (model), <=, 4096);
  assert_on_bus (fx);
  assert_turn (fx->client, path, "again");
}

/* SessionLifecycle reaches every peer of the owner's UID (every peer on
 * the session bus): the times the CLI names are cut, and a notification
 * that names no session is dropped. */
static void
test_huge_lifecycle (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, MANAGER_IFACE, ROOT_PATH);
  g_autofree char *big = g_strnfill (1024 * 1024, 't');
  g_autofree char *times = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.lifecycle\",\"params\":"
                                            "{\"type\":\"session.background\",\"sessionId\":\"@SESSION@\","
                                            "\"metadata\":{\"startTime\":\"%s\",\"modifiedTime\":\"%s\"}}}",
                                            big, big);
  g_autofree char *bad_id = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.lifecycle\",\"params\":"
                                             "{\"type\":\"session.foreground\",\"sessionId\":\"%s\"}}", big);
  const char *lines[] = { bad_id, times, SURVIVED, NULL };
  g_autofree char *prompt = raw_prompt (fx, lines);
  g_autofree char *content = NULL;
  g_autoptr(GError) error = NULL;
  guint seen = 0;

  content = send_and_wait (fx->client, path, prompt, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "survived");
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      g_autoptr(GVariant) metadata = NULL;
      const char *type, *sid, *time;

      g_variant_get (sig->params, "(&s&s@a{sv})", &type, &sid, &metadata);
      g_assert_cmpuint (g_variant_get_size (sig->params), <=, 3 * 4096);
      g_assert_cmpstr (type, !=, "foreground");
      if (strcmp (type, "background") != 0)
        continue;
      g_assert_cmpstr (sid, ==, id);
      g_assert_true (g_variant_lookup (metadata, "modified-time", "&s", &time));
      g_assert_true (g_str_has_prefix (time, "tttt"));
      g_assert_cmpuint (strlen (time), <=, 4096);
      seen++;
    }
  g_assert_cmpuint (seen, ==, 1);
  assert_on_bus (fx);
  assert_turn (fx->client, path, "again");
}

/* BackendVersion reaches every peer: a CLI version of 100 KB is cut. */
static void
test_huge_version (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *big = g_strnfill (100 * 1000, 'v');
  g_autofree char *path = NULL;
  g_autofree char *version = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) dict = NULL;
  const char *reported;

  g_setenv ("FAKE_CLI_VERSION", big, TRUE);
  path = create_session (fx->client, NULL);
  version = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendVersion");
  g_assert_true (g_str_has_prefix (version, "vvvv"));
  g_assert_cmpuint (strlen (version), <=, 4096);
  status = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");
  g_variant_get (status, "(@a{sv})", &dict);
  g_assert_true (g_variant_lookup (dict, "version", "&s", &reported));
  g_assert_cmpuint (strlen (reported), <=, 4096);
  assert_turn (fx->client, path, "versioned");
  g_unsetenv ("FAKE_CLI_VERSION");
}

/* GetAccount's quota is whatever the CLI sends: 10 MB of it is
 * LimitsExceeded, not a reply the bus refuses (which disconnects the
 * daemon); without the quota the account is answered. */
static void
test_huge_quota (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) account = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autofree char *path = NULL;
  GVariantBuilder options;
  const char *login;

  g_setenv ("FAKE_CLI_QUOTA_BYTES", "10000000", TRUE);
  path = create_session (fx->client, NULL);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "quota", g_variant_new_boolean (TRUE));
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "GetAccount",
                             g_variant_new ("(a{sv})", &options), "(a{sv})", &error);
  g_assert_null (reply);
  assert_dbus_error (error, "LimitsExceeded", "GetAccount");
  assert_on_bus (fx);

  account = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetAccount",
                     g_variant_new_parsed ("(@a{sv} {},)"), "(a{sv})");
  dict = g_variant_get_child_value (account, 0);
  g_assert_true (g_variant_lookup (dict, "login", "&s", &login));
  g_assert_cmpstr (login, ==, "fake-user");
  assert_turn (fx->client, path, "accounted");
  g_unsetenv ("FAKE_CLI_QUOTA_BYTES");
}

int
main (int   argc,
      char *argv[])
{
  test_init (&argc, &argv);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/battery/cli/%s", cases[i].name);

      g_test_add (name, Fixture, &cases[i], fixture_setup, run_case, fixture_teardown);
    }
  g_test_add ("/battery/cli/ten-megabyte-frame", Fixture, NULL, fixture_setup,
              test_ten_megabyte_frame, fixture_teardown);
  g_test_add ("/battery/cli/huge-model-name", Fixture, NULL, fixture_setup,
              test_huge_model_name, fixture_teardown);
  g_test_add ("/battery/cli/huge-lifecycle", Fixture, NULL, fixture_setup,
              test_huge_lifecycle, fixture_teardown);
  g_test_add ("/battery/cli/huge-quota", Fixture, NULL, fixture_setup,
              test_huge_quota, fixture_teardown);
  g_test_add ("/battery/cli/huge-version", Fixture, NULL, fixture_setup,
              test_huge_version, fixture_teardown);

  return g_test_run ();
}
