/* SPDX-License-Identifier: MIT */
/* test-recovery.c: a session's calls wait while it is brought back
 *
 * The fake CLI crashes mid-turn (CRASH); copilotd restarts it and resumes
 * the session. Calls made right after the loss, without waiting for any
 * event, must not reach the new CLI before its session.resume was
 * answered (FAKE_CLI_DELAY makes that answer late, and the record shows
 * when it ran), then go out in the order they were made. A session the
 * CLI never persisted is created again with the same id. A CLI nobody
 * uses stops after backend-idle-timeout, unless a session holds it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon-fixture.h"

/* Where @method (or the delayed-run marker of @method) is in @frames,
 * from @from on, with sessionId @session_id when given; -1 if nowhere. */
static int
frame_index (GPtrArray  *frames,
             guint       from,
             const char *key,
             const char *method,
             const char *session_id)
{
  for (guint i = from; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonNode *params_node = json_object_get_member (frame, "params");
      JsonObject *params = params_node && JSON_NODE_HOLDS_OBJECT (params_node) ?
                           json_node_get_object (params_node) : NULL;

      if (g_strcmp0 (json_object_get_string_member_with_default (frame, key, NULL), method) != 0)
        continue;
      if (session_id != NULL &&
          g_strcmp0 (params ? json_object_get_string_member_with_default (params, "sessionId", NULL) : NULL,
                     session_id) != 0)
        continue;
      return (int) i;
    }
  return -1;
}

/* Index of the second CLI's connect: what the restarted CLI received
 * starts there. */
static guint
second_cli_start (GPtrArray *frames)
{
  int first = frame_index (frames, 0, "method", "connect", NULL);
  int second;

  g_assert_cmpint (first, >=, 0);
  second = frame_index (frames, first + 1, "method", "connect", NULL);
  g_assert_cmpint (second, >, first);
  return second;
}

/* SendAndWait "CRASH": answered BackendFailed once copilotd knows the CLI
 * is gone; nothing else is awaited. */
static void
crash_cli (Fixture    *fx,
           const char *path)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = call_sync_iterate (fx->client, path, SESSION_IFACE, "SendAndWait",
                             g_variant_new ("(sa{sv})", "CRASH", NULL), "(sa{sv})", &error);
  assert_dbus_error (error, "BackendFailed", NULL);
}

static void
test_calls_wait_for_resume (Fixture       *fx,
                            gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  g_autoptr(PendingCall) messages = NULL;
  g_autoptr(PendingCall) model = NULL;
  g_autoptr(PendingCall) send = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autofree char *content = NULL;
  int resume, resumed, get, switch_to, sent;
  guint start;

  fixture_allow_warnings (fx);
  g_setenv ("FAKE_CLI_DELAY", "session.resume:400", TRUE);
  path = create_session (fx->client, NULL);
  id = get_string_property (fx->client, path, SESSION_IFACE, "Id");
  g_variant_unref (call_ok (fx->client, path, SESSION_IFACE, "SendAndWait",
                            g_variant_new ("(sa{sv})", "persist me", NULL), "(sa{sv})"));
  crash_cli (fx, path);

  /* At once, in this order, while the CLI restarts. */
  messages = call_start (fx->client, path, SESSION_IFACE, "GetMessages",
                         g_variant_new ("(a{sv})", NULL), "(a(sa{sv}s))");
  model = call_start (fx->client, path, SESSION_IFACE, "SetModel",
                      g_variant_new ("(sa{sv})", "gpt-5-mini", NULL), "()");
  send = call_start (fx->client, path, SESSION_IFACE, "SendAndWait",
                     g_variant_new ("(sa{sv})", "after the crash", NULL), "(sa{sv})");
  pending_wait (messages, 20);
  pending_wait (model, 20);
  pending_wait (send, 20);
  g_assert_no_error (messages->error);
  g_assert_no_error (model->error);
  g_assert_no_error (send->error);
  g_variant_get_child (send->reply, 0, "s", &content);
  g_assert_cmpstr (content, ==, "Echo: after the crash");
  /* The history came back: the first turn is among the messages. */
  {
    g_autofree char *text = g_variant_print (messages->reply, FALSE);
    g_assert_nonnull (strstr (text, "persist me"));
  }

  frames = record_frames (fx);
  start = second_cli_start (frames);
  resume = frame_index (frames, start, "method", "session.resume", id);
  resumed = frame_index (frames, start, "fake-dispatched", "session.resume", NULL);
  get = frame_index (frames, start, "method", "session.getMessages", id);
  switch_to = frame_index (frames, start, "method", "session.model.switchTo", id);
  sent = frame_index (frames, start, "method", "session.send", id);
  g_assert_cmpint (resume, >, (int) start);
  /* Nothing reached the new CLI before it had answered the resume… */
  g_assert_cmpint (resumed, >, resume);
  g_assert_cmpint (get, >, resumed);
  /* …and then the calls went out in the order they were made. */
  g_assert_cmpint (switch_to, >, get);
  g_assert_cmpint (sent, >, switch_to);
  g_assert_cmpuint (record_count (fx, "session.resume"), ==, 1);
}

static void
test_unpersisted_is_created_again (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autofree char *crashing = NULL;
  g_autofree char *fresh = NULL;
  g_autofree char *fresh_id = NULL;
  g_autoptr(PendingCall) model = NULL;
  g_autoptr(PendingCall) send = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autoptr(SignalLog) log = NULL;
  g_autofree char *content = NULL;
  int resume, created, switch_to, sent;
  guint start;

  fixture_allow_warnings (fx);
  g_setenv ("FAKE_CLI_DELAY", "session.resume:200", TRUE);
  crashing = create_session (fx->client, NULL);
  /* No message: the CLI never wrote it to disk. */
  fresh = create_session (fx->client, NULL);
  fresh_id = get_string_property (fx->client, fresh, SESSION_IFACE, "Id");
  log = signal_log_new (fx->client, SESSION_IFACE, fresh);
  crash_cli (fx, crashing);

  model = call_start (fx->client, fresh, SESSION_IFACE, "SetModel",
                      g_variant_new ("(sa{sv})", "gpt-5-mini", NULL), "()");
  send = call_start (fx->client, fresh, SESSION_IFACE, "SendAndWait",
                     g_variant_new ("(sa{sv})", "first words", NULL), "(sa{sv})");
  pending_wait (model, 20);
  pending_wait (send, 20);
  g_assert_no_error (model->error);
  g_assert_no_error (send->error);
  g_variant_get_child (send->reply, 0, "s", &content);
  g_assert_cmpstr (content, ==, "Echo: first words");
  signal_log_wait (log, 0, "Event", "copilotd.backend_restarted", 10);
  g_assert_true (object_is_managed (fx->client, fresh));

  frames = record_frames (fx);
  start = second_cli_start (frames);
  resume = frame_index (frames, start, "method", "session.resume", fresh_id);
  created = frame_index (frames, start, "method", "session.create", fresh_id);
  switch_to = frame_index (frames, start, "method", "session.model.switchTo", fresh_id);
  sent = frame_index (frames, start, "method", "session.send", fresh_id);
  g_assert_cmpint (resume, >, (int) start);
  /* NotFound → session.create with the same id, before any call. */
  g_assert_cmpint (created, >, resume);
  g_assert_cmpint (switch_to, >, created);
  g_assert_cmpint (sent, >, switch_to);
}

/* ---- idle stop -------------------------------------------------------- */

/* Live fake CLI processes that are children of this test (the daemon runs
 * in this process). */
static guint
count_fake_clis (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc", name, "stat", NULL);
      g_autofree char *stat = NULL;
      const char *end;
      char state;
      int ppid;

      if (!g_ascii_isdigit (*name) || !g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      end = strrchr (stat, ')');
      if (end == NULL || sscanf (end + 2, "%c %d", &state, &ppid) != 2)
        continue;
      if (ppid == getpid () && state != 'Z' && strstr (stat, "(fake-cli)") != NULL)
        n++;
    }
  return n;
}

static gboolean
backend_is (gpointer data)
{
  gpointer *args = data;
  g_autofree char *state = get_string_property (args[0], ROOT_PATH, MANAGER_IFACE, "BackendState");

  return g_strcmp0 (state, args[1]) == 0;
}

static gboolean
no_fake_cli (gpointer data)
{
  return count_fake_clis () == 0;
}

static void
wait_backend (Fixture    *fx,
              const char *state)
{
  gpointer args[] = { fx->client, (gpointer) state };

  wait_until (backend_is, args, 15, state);
}

static void
test_idle_stop (Fixture       *fx,
                gconstpointer  data)
{
  fx->config->backend_idle_timeout = 1;
  g_variant_unref (call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetAuthStatus", NULL, "(a{sv})"));
  g_assert_cmpuint (count_fake_clis (), ==, 1);

  /* Nobody uses it: it stops, and its process exits. */
  wait_backend (fx, "stopped");
  wait_until (no_fake_cli, NULL, 15, "the idle CLI to exit");

  /* The next call starts a new one. */
  g_variant_unref (call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetAuthStatus", NULL, "(a{sv})"));
  g_assert_cmpuint (record_count (fx, "connect"), ==, 2);
  g_assert_cmpuint (count_fake_clis (), ==, 1);
}

static void
test_idle_session_holds (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *state = NULL;

  fx->config->backend_idle_timeout = 1;
  path = create_session (fx->client, NULL);
  /* Showing that nothing happens takes waiting past the idle time. */
  spin (2500);
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "running");
  g_assert_cmpuint (record_count (fx, "connect"), ==, 1);

  /* Without the session it is idle. */
  g_variant_unref (call_ok (fx->client, path, SESSION_IFACE, "Destroy",
                            g_variant_new ("(a{sv})", NULL), "()"));
  wait_backend (fx, "stopped");
  wait_until (no_fake_cli, NULL, 15, "the idle CLI to exit");
}

int
main (int    argc,
      char **argv)
{
  test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/recovery/calls-wait-for-resume", test_calls_wait_for_resume);
  ADD ("/recovery/unpersisted-created-again", test_unpersisted_is_created_again);
  ADD ("/backend/idle-stop", test_idle_stop);
  ADD ("/backend/idle-session-holds", test_idle_session_holds);
#undef ADD

  return g_test_run ();
}
