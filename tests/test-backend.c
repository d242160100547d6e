/* SPDX-License-Identifier: MIT */
/* test-backend.c: the daemon never hangs on its CLI, never leaves one behind
 *
 * The in-process daemon of daemon-fixture.c runs the fake CLI with faults
 * switched on: silent from the start, wedged after the handshake, deaf to
 * SIGTERM, a wrong protocol version. Each case checks the named error a
 * client gets, that BackendState and GetStatus tell the same truth, and
 * that it all happens within a bound set by short timeouts in the config.
 * CLI processes are counted from /proc: they are this process's children.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "backend-pool.h"
#include "daemon-fixture.h"

/* ---- helpers ---- */

/* fake-cli children of this process, zombies included: a CLI that was
 * killed but not reaped still counts. */
static guint
count_cli_children (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  g_autofree char *me = g_strdup_printf ("%d", (int) getpid ());
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc", name, "stat", NULL);
      g_autofree char *stat = NULL;
      g_auto(GStrv) fields = NULL;
      const char *comm_end;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* "pid (comm) state ppid …"; comm may hold spaces. */
      comm_end = strrchr (stat, ')');
      if (comm_end == NULL || strstr (stat, "(fake-cli)") == NULL)
        continue;
      fields = g_strsplit (comm_end + 2, " ", 3);
      if (g_strv_length (fields) >= 2 && g_strcmp0 (fields[1], me) == 0)
        n++;
    }
  return n;
}

/* Iterates until at most @n fake-cli children are left (killed and
 * reaped), failing after @timeout_s. */
static void
wait_cli_children (guint n,
                   guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (count_cli_children () > n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%u fake-cli processes are still alive after %u s (expected %u)",
                 count_cli_children (), timeout_s, n);
      /* Reaping happens in the daemon's child watch: let it run. */
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
}

static void
on_properties_changed (GDBusConnection *conn,
                       const char      *sender,
                       const char      *path,
                       const char      *iface,
                       const char      *member,
                       GVariant        *params,
                       gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gboolean
on_flag_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits for BackendState to be @state, on PropertiesChanged. */
static void
wait_backend_state (Fixture    *fx,
                    const char *state,
                    guint       timeout_s)
{
  gboolean changed = FALSE;
  gboolean timed_out = FALSE;
  guint sub, timeout;

  sub = g_dbus_connection_signal_subscribe (fx->client, BUS_NAME, PROPERTIES_IFACE, "PropertiesChanged",
                                            ROOT_PATH, MANAGER_IFACE, G_DBUS_SIGNAL_FLAGS_NONE,
                                            on_properties_changed, &changed, NULL);
  timeout = g_timeout_add_seconds (timeout_s, on_flag_timeout, &timed_out);
  for (;;)
    {
      g_autofree char *now = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");

      if (g_strcmp0 (now, state) == 0)
        break;
      if (timed_out)
        g_error ("BackendState is '%s' after %u s, not '%s'", now, timeout_s, state);
      changed = FALSE;
      while (!changed && !timed_out)
        g_main_context_iteration (NULL, TRUE);
    }
  if (!timed_out)
    g_source_remove (timeout);
  g_dbus_connection_signal_unsubscribe (fx->client, sub);
}

/* GetStatus, answered within @max_ms; returns the a{sv}. */
static GVariant *
get_status (Fixture *fx,
            guint    max_ms)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GVariant) reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");

  g_assert_cmpint (g_get_monotonic_time () - start, <, (gint64) max_ms * 1000);
  return g_variant_get_child_value (reply, 0);
}

/* BackendState and GetStatus agree, and both say @state. */
static void
assert_state_agrees (Fixture    *fx,
                     const char *state)
{
  g_autoptr(GVariant) status = get_status (fx, 1000);
  g_autofree char *property = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  const char *said;

  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &said));
  g_assert_cmpstr (said, ==, state);
  g_assert_cmpstr (property, ==, state);
}

static GError *
create_session_error (Fixture *fx,
                      guint    max_ms)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                             g_variant_new ("(a{sv})", NULL), "(o)", &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, (gint64) max_ms * 1000);
  return error;
}

/* ---- GetStatus ---- */

static void
test_status_does_not_start (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) pong = NULL;
  const char *s;
  guint32 u;

  /* A status query must not start a ~300 MB CLI. */
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &s));
  g_assert_cmpstr (s, ==, "stopped");
  g_assert_false (g_variant_lookup (status, "version", "&s", &s));
  g_assert_false (g_variant_lookup (status, "backend-error", "&s", &s));
  g_assert_true (g_variant_lookup (status, "daemon-version", "&s", &s));
  g_assert_cmpuint (count_cli_children (), ==, 0);
  g_assert_cmpuint (record_count (fx, "connect"), ==, 0);
  assert_state_agrees (fx, "stopped");

  /* Once something started it, GetStatus says what the handshake saw. */
  pong = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "hi"), "(a{sv})");
  g_clear_pointer (&status, g_variant_unref);
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "version", "&s", &s));
  g_assert_cmpstr (s, ==, "1.0.102-fake");
  g_assert_true (g_variant_lookup (status, "protocol-version", "u", &u));
  g_assert_cmpuint (u, ==, 3);
  assert_state_agrees (fx, "running");
  g_assert_cmpuint (record_count (fx, "status.get"), ==, 0);
}

/* ---- a CLI that never answers ---- */

static void
test_silent_cli (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = NULL;
  const char *s;

  fixture_allow_warnings (fx);
  g_setenv ("FAKE_CLI_WEDGE_AFTER", "0", TRUE);
  fx->config->handshake_timeout = 1;
  fx->config->restart_max_failures = 2;
  fx->config->stop_timeout = 1;

  /* The first handshake times out: the caller hears so at once … */
  error = create_session_error (fx, 4000);
  assert_dbus_error (error, "Timeout", "handshake");
  /* … and while the backend retries, GetStatus answers at once. */
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &s));
  g_assert_true (g_str_equal (s, "restarting") || g_str_equal (s, "starting") || g_str_equal (s, "failed"));

  /* The second attempt fails too: "failed", not "starting" forever. */
  wait_backend_state (fx, "failed", 10);
  g_clear_pointer (&status, g_variant_unref);
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "backend-error", "&s", &s));
  g_assert_nonnull (strstr (s, "handshake"));
  assert_state_agrees (fx, "failed");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  /* Neither silent CLI is left behind. */
  wait_cli_children (0, 5);
}

static void
test_wedged_cli (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(PendingCall) create = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GPtrArray) pings = NULL;
  g_autofree char *path = NULL;
  gboolean probed = FALSE;
  const char *s;
  gint64 start;

  fixture_allow_warnings (fx);
  /* connect is answered, then nothing: the CLI is alive and deaf. */
  g_setenv ("FAKE_CLI_WEDGE_AFTER", "1", TRUE);
  fx->config->call_timeout = 3;
  fx->config->stop_timeout = 1;

  start = g_get_monotonic_time ();
  create = call_start (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                       g_variant_new ("(a{sv})", NULL), "(o)");
  record_wait (fx, "session.create", 1, 10);
  /* While the call hangs, GetStatus does not wait on the CLI. */
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &s));
  g_assert_cmpstr (s, ==, "running");

  /* The next CLI is healthy. */
  g_unsetenv ("FAKE_CLI_WEDGE_AFTER");
  pending_wait (create, 10);
  /* Found wedged by an unanswered ping, before the call's own deadline. */
  assert_dbus_error (create->error, "BackendFailed", "wedged");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  pings = record_params (fx, "ping");
  for (guint i = 0; i < pings->len; i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (g_ptr_array_index (pings, i), "message", NULL),
                   "copilotd liveness") == 0)
      probed = TRUE;
  g_assert_true (probed);

  /* Restarted per DESIGN.md §7; the wedged CLI is gone. */
  wait_backend_state (fx, "running", 10);
  path = create_session (fx->client, NULL);
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  wait_cli_children (1, 5);
  g_assert_cmpuint (count_cli_children (), ==, 1);
}

/* A CLI that wedged while nothing was pending (no call to go unanswered,
 * so nobody pinged it) is found by the first call made of it: that call
 * goes unanswered, the CLI is pinged, the ping too, and the call fails
 * BackendFailed within call-timeout; the CLI is restarted and the session
 * resumed under its path (DESIGN.md §7). */
static void
test_wedged_while_idle (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(SignalLog) log = NULL;
  g_autoptr(GVariant) messages = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  fixture_allow_warnings (fx);
  /* connect and session.create are answered, then nothing. */
  g_setenv ("FAKE_CLI_WEDGE_AFTER", "2", TRUE);
  fx->config->call_timeout = 3;
  fx->config->stop_timeout = 1;
  path = create_session (fx->client, NULL);
  log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_unsetenv ("FAKE_CLI_WEDGE_AFTER");

  /* Quiet for longer than the liveness ping's delay, with nothing
   * pending: a CLI nobody asks anything is not pinged. */
  spin (1500);
  g_assert_cmpuint (record_count (fx, "ping"), ==, 0);
  assert_state_agrees (fx, "running");

  start = g_get_monotonic_time ();
  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "GetMessages",
                             g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))", &error);
  g_assert_null (reply);
  /* Found wedged by the ping (BackendFailed), not by the call's own
   * deadline (that would be Timeout). */
  assert_dbus_error (error, "BackendFailed", "wedged");
  /* Within call-timeout plus the ping's own deadline at the most. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
  g_assert_cmpuint (record_count (fx, "ping"), ==, 1);

  /* Restarted, and the session is back under the same path. */
  signal_log_wait (log, 0, "Event", "copilotd.backend_restarted", 10);
  messages = call_ok (fx->client, path, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  g_assert_cmpuint (record_count (fx, "session.resume"), ==, 1);
  assert_state_agrees (fx, "running");
  wait_cli_children (1, 5);
}

static void
test_method_timeout (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  /* The CLI answers ping but never session.list: that call times out,
   * the CLI is not restarted. */
  g_setenv ("FAKE_CLI_HANG", "session.list", TRUE);
  fx->config->call_timeout = 2;

  start = g_get_monotonic_time ();
  reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "ListSessions",
                             g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))", &error);
  assert_dbus_error (error, "Timeout", "session.list");
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC - 100000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (record_count (fx, "ping"), >=, 1);
  assert_state_agrees (fx, "running");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 1);
}

/* ---- a CLI that ignores SIGTERM ---- */

static void
test_ignores_sigterm (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_allow_warnings (fx);
  /* Each CLI breaks its stream after connect (so it is restarted) and
   * then stays, deaf to SIGTERM and to stdin EOF. */
  g_setenv ("FAKE_CLI_IGNORE_SIGTERM", "1", TRUE);
  g_setenv ("FAKE_CLI_GARBAGE_AFTER", "1", TRUE);
  fx->config->stop_timeout = 1;
  fx->config->restart_max_failures = 4;

  error = create_session_error (fx, 5000);
  assert_dbus_error (error, "BackendFailed", NULL);
  /* Three restarts later the backend gives up … */
  wait_backend_state (fx, "failed", 20);
  g_assert_cmpuint (record_count (fx, "connect"), ==, 4);
  /* … and none of the four CLIs is left: each got SIGKILL and was reaped. */
  wait_cli_children (0, 3);
}

static void
test_daemon_exit_kills (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_allow_warnings (fx);
  /* Restarted CLIs that ignore SIGTERM are still in their grace period
   * when the daemon exits. */
  g_setenv ("FAKE_CLI_IGNORE_SIGTERM", "1", TRUE);
  g_setenv ("FAKE_CLI_GARBAGE_AFTER", "1", TRUE);
  fx->config->stop_timeout = 8;
  fx->config->restart_max_failures = 3;

  error = create_session_error (fx, 5000);
  assert_dbus_error (error, "BackendFailed", NULL);
  /* The CLI whose failure that was got SIGTERM in the same dispatch as
   * the reply, ignores it, and is in its 8 s grace period now; nothing
   * waits here for a later event, so no load can let the grace run out
   * first (waiting for 'failed' did, once). */
  g_assert_cmpuint (count_cli_children (), >=, 1);
  /* The teardown shuts the daemon down (a restart may be pending or a
   * later CLI running); teardown_no_cli counts none left. */
}

static void
teardown_no_cli (Fixture       *fx,
                 gconstpointer  data)
{
  fixture_teardown (fx, data);
  /* The daemon's shutdown finished only once its CLI was reaped. */
  g_assert_cmpuint (count_cli_children (), ==, 0);
}

/* ---- the protocol version, exactly ---- */

static void
test_protocol_version (Fixture       *fx,
                       gconstpointer  data)
{
  const char *version = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = NULL;
  const char *s;

  fixture_allow_warnings (fx);
  g_setenv ("FAKE_CLI_PROTOCOL_VERSION", version, TRUE);

  error = create_session_error (fx, 5000);
  assert_dbus_error (error, "ProtocolMismatch", NULL);
  assert_state_agrees (fx, "failed");
  status = get_status (fx, 1000);
  g_assert_true (g_variant_lookup (status, "backend-error", "&s", &s));
  if (g_str_equal (version, "none"))
    g_assert_nonnull (strstr (s, "no protocol version"));
  else
    g_assert_nonnull (strstr (s, version));
  /* Failed stays failed for the status query: it starts nothing. */
  g_assert_cmpuint (record_count (fx, "connect"), ==, 1);
  wait_cli_children (0, 10);
}

/* ---- idle ---- */

static void
test_idle_stop (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *again = NULL;
  g_autofree char *state = NULL;
  g_autoptr(GVariant) destroyed = NULL;

  fx->config->backend_idle_timeout = 1;
  path = create_session (fx->client, NULL);
  g_assert_cmpuint (count_cli_children (), ==, 1);
  /* A live session holds the CLI. */
  spin (1500);
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "running");

  destroyed = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), NULL);
  /* Nothing holds it any more: it stops, and its process goes. */
  wait_backend_state (fx, "stopped", 5);
  assert_state_agrees (fx, "stopped");
  wait_cli_children (0, 5);

  /* The next call starts it again. */
  again = create_session (fx->client, NULL);
  assert_state_agrees (fx, "running");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  g_assert_cmpuint (count_cli_children (), ==, 1);
}

static void
test_idle_agent_holds (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, "/test/agent");
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GVariant) unregistered = NULL;
  g_autofree char *state = NULL;

  fx->config->backend_idle_timeout = 1;
  test_agent_register (agent);
  pong = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "hi"), "(a{sv})");
  /* A registered agent holds its user's CLI. */
  spin (1500);
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "running");

  unregistered = call_ok (fx->client, ROOT_PATH, AGENT_MANAGER_IFACE, "UnregisterAgent",
                          g_variant_new ("(o)", "/test/agent"), "()");
  wait_backend_state (fx, "stopped", 5);
  wait_cli_children (0, 5);
}

/* The CLI's answer to ListModels belongs to that CLI: one started after an
 * idle stop is asked again (it may have been updated, or signed in as
 * someone else). */
static void
test_idle_models_from_new_cli (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(GVariant) models = NULL;
  g_autoptr(GVariant) cached = NULL;
  g_autoptr(GVariant) again = NULL;

  fx->config->backend_idle_timeout = 1;
  models = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  cached = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  /* While that CLI runs, its list is kept. */
  g_assert_cmpuint (record_count (fx, "models.list"), ==, 1);

  wait_backend_state (fx, "stopped", 5);
  wait_cli_children (0, 5);
  again = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  g_assert_true (g_variant_equal (models, again));
  /* A new CLI was started and asked. */
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  g_assert_cmpuint (record_count (fx, "models.list"), ==, 2);
  assert_state_agrees (fx, "running");
}

/* ---- the pool: an agent holds its own user's CLI, no other ---- */

typedef struct {
  uid_t agents_of;              /* the user who has an agent registered */
} Holds;

static gboolean
user_has_agent (uid_t    uid,
                gpointer user_data)
{
  return uid == ((Holds *) user_data)->agents_of;
}

static void
on_pinged (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);

  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static void
ping_backend (CopilotdBackend *backend)
{
  g_autoptr(JsonNode) params = json_from_string ("{\"message\":\"test\"}", NULL);
  gboolean done = FALSE;

  copilotd_backend_call_async (backend, "ping", params, NULL, on_pinged, &done);
  wait_flag (&done, 10, "the ping's answer");
  g_assert_cmpint (copilotd_backend_get_state (backend), ==, COPILOTD_BACKEND_RUNNING);
}

static gboolean
backend_is_stopped (gpointer data)
{
  return copilotd_backend_get_state (data) == COPILOTD_BACKEND_STOPPED;
}

static void
on_pool_stopped (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  copilotd_backend_pool_stop_finish (COPILOTD_BACKEND_POOL (source), result);
  *(gboolean *) user_data = TRUE;
}

/* On the system bus each user's CLI is held by that user's agents only:
 * user A's agent must not keep user B's ~300 MB CLI running. Two users
 * cannot call one test bus, so the pool is driven directly, as the daemon
 * drives it: the hold function is the agent registry's answer. */
static void
test_idle_agent_holds_own_user (Fixture       *fx,
                                gconstpointer  data)
{
  g_autoptr(CopilotdConfig) config = copilotd_config_new ();
  g_autoptr(CopilotdCallers) callers = copilotd_callers_new (fx->daemon_conn);
  g_autoptr(CopilotdBackendPool) pool = NULL;
  Holds holds = { .agents_of = getuid () + 4242 };
  CopilotdBackend *mine;
  gboolean stopped = FALSE;

  config->system_bus = TRUE;
  config->cli_path = g_strdup (FAKE_CLI_PATH);
  config->copilot_home = g_strdup (fx->home);
  config->backend_idle_timeout = 1;
  pool = copilotd_backend_pool_new (config, callers);
  copilotd_backend_pool_set_hold_func (pool, user_has_agent, &holds);

  /* Another user has an agent: this user's CLI still idles out. */
  mine = copilotd_backend_pool_get (pool, getuid ());
  ping_backend (mine);
  wait_until (backend_is_stopped, mine, 5, "the CLI of a user without an agent to stop");
  wait_cli_children (0, 5);

  /* This user's own agent holds it … */
  holds.agents_of = getuid ();
  copilotd_backend_pool_update_holds (pool);
  ping_backend (mine);
  spin (1500);
  g_assert_cmpint (copilotd_backend_get_state (mine), ==, COPILOTD_BACKEND_RUNNING);

  /* … until it goes. */
  holds.agents_of = getuid () + 4242;
  copilotd_backend_pool_update_holds (pool);
  wait_until (backend_is_stopped, mine, 5, "the CLI to stop once its user's agent went");
  wait_cli_children (0, 5);

  copilotd_backend_pool_stop_async (pool, on_pool_stopped, &stopped);
  wait_flag (&stopped, 10, "the pool to stop");
}

static void
test_session_idle_timeout (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(SignalLog) log = NULL;
  g_autoptr(GVariant) details = NULL;
  const char *reason;
  guint closed_at;

  fx->config->session_idle_timeout = 1;
  path = create_session (fx->client, NULL);
  log = signal_log_new (fx->client, SESSION_IFACE, path);

  /* Nobody calls it, the CLI says nothing: closed, and gone from the CLI. */
  closed_at = signal_log_wait (log, 0, "Closed", NULL, 10);
  details = g_variant_get_child_value (signal_log_get (log, closed_at)->params, 0);
  g_assert_true (g_variant_lookup (details, "reason", "&s", &reason));
  g_assert_cmpstr (reason, ==, "idle-timeout");
  record_wait (fx, "session.destroy", 1, 5);
  g_assert_false (object_is_managed (fx->client, path));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/backend/status/does-not-start", test_status_does_not_start);
  ADD ("/backend/liveness/silent", test_silent_cli);
  ADD ("/backend/liveness/wedged", test_wedged_cli);
  ADD ("/backend/liveness/wedged-while-idle", test_wedged_while_idle);
  ADD ("/backend/liveness/method-timeout", test_method_timeout);
  ADD ("/backend/hygiene/ignores-sigterm", test_ignores_sigterm);
  g_test_add ("/backend/hygiene/daemon-exit", Fixture, NULL, fixture_setup,
              test_daemon_exit_kills, teardown_no_cli);
  g_test_add ("/backend/protocol/2", Fixture, "2", fixture_setup,
              test_protocol_version, fixture_teardown);
  g_test_add ("/backend/protocol/missing", Fixture, "none", fixture_setup,
              test_protocol_version, fixture_teardown);
  g_test_add ("/backend/protocol/2-pow-32-plus-3", Fixture, "4294967299", fixture_setup,
              test_protocol_version, fixture_teardown);
  ADD ("/backend/idle/stop-and-restart", test_idle_stop);
  ADD ("/backend/idle/agent-holds", test_idle_agent_holds);
  ADD ("/backend/idle/agent-holds-own-user-only", test_idle_agent_holds_own_user);
  ADD ("/backend/idle/models-from-new-cli", test_idle_models_from_new_cli);
  ADD ("/backend/idle/session-idle-timeout", test_session_idle_timeout);
#undef ADD

  return g_test_run ();
}
