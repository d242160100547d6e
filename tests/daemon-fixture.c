/* SPDX-License-Identifier: MIT */
/* daemon-fixture.c: an in-process copilotd on a private bus, for tests */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-fixture.h"

#ifndef FAKE_CLI_PATH
#error "FAKE_CLI_PATH must name the built fake CLI"
#endif

static const char * const fake_knobs[] = {
  "FAKE_CLI_PROTOCOL_VERSION", "FAKE_CLI_NO_CONNECT", "FAKE_CLI_EXIT_AT_START",
  "FAKE_CLI_GARBAGE_AFTER", "FAKE_CLI_HANG", "FAKE_CLI_RECORD", "FAKE_CLI_DELAY",
  "FAKE_CLI_WEDGE_AFTER", "FAKE_CLI_IGNORE_SIGTERM", "FAKE_CLI_VERSION", NULL
};

/* A case that hangs would end as meson's TIMEOUT of the whole program,
 * which names no case; CASE_LIMIT_S after its setup it fails naming
 * itself instead. No case comes near it (the slowest takes ~10 s). */
#define CASE_LIMIT_S 120
static char running_case[256];

static void
on_case_limit (int signum)
{
  static const char head[] = "Bail out! still running after " G_STRINGIFY (CASE_LIMIT_S) " s: ";

  /* Only async-signal-safe calls here. */
  (void) !write (STDOUT_FILENO, head, sizeof head - 1);
  (void) !write (STDOUT_FILENO, running_case, strlen (running_case));
  (void) !write (STDOUT_FILENO, "\n", 1);
  abort ();
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

/* A daemon of a fresh configuration on fx->daemon_conn. */
static void
start_daemon (Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  fx->config = copilotd_config_new ();
  fx->config->cli_path = g_strdup (FAKE_CLI_PATH);
  fx->config->copilot_home = g_strdup (fx->home);
  fx->daemon = copilotd_daemon_new (fx->config);
  g_assert_true (copilotd_daemon_start (fx->daemon, fx->daemon_conn, FALSE, &error));
  g_assert_no_error (error);
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
  g_strlcpy (running_case, g_test_get_path (), sizeof running_case);
  signal (SIGALRM, on_case_limit);
  alarm (CASE_LIMIT_S);

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

  fx->daemon_conn = test_connect (address);
  fx->client = test_connect (address);
  fx->extra_clients = g_ptr_array_new_with_free_func (g_object_unref);

  start_daemon (fx);

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

static void
stop_daemon (Fixture *fx)
{
  gboolean quit = FALSE;
  gulong handler;

  handler = g_signal_connect (fx->daemon, "quit", G_CALLBACK (on_quit), &quit);
  copilotd_daemon_shutdown (fx->daemon, 0);
  wait_flag (&quit, 20, "the daemon to quit");
  g_signal_handler_disconnect (fx->daemon, handler);
  g_clear_object (&fx->daemon);
}

void
fixture_restart_daemon (Fixture *fx)
{
  stop_daemon (fx);
  close_connection (fx->daemon_conn);
  g_ptr_array_add (fx->extra_clients, g_steal_pointer (&fx->daemon_conn));
  fx->daemon_conn = test_connect (g_test_dbus_get_bus_address (fx->bus));
  start_daemon (fx);
}

void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  stop_daemon (fx);

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
  alarm (0);
}

GDBusConnection *
fixture_connect (Fixture *fx)
{
  GDBusConnection *conn = test_connect (g_test_dbus_get_bus_address (fx->bus));

  g_ptr_array_add (fx->extra_clients, conn);
  return conn;
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

/* ---- the record ---- */

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

char *
raw_prompt (Fixture            *fx,
            const char * const *lines)
{
  g_autofree char *path = g_build_filename (fx->home, "raw-frames.jsonl", NULL);
  g_autofree char *text = g_strjoinv ("\n", (char **) lines);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("RAW: %s", path);
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

typedef struct {
  Fixture *fx;
  const char *method;
  guint n;
} RecordWait;

static gboolean
record_has (gpointer data)
{
  RecordWait *wait = data;

  return record_count (wait->fx, wait->method) >= wait->n;
}

void
record_wait (Fixture    *fx,
             const char *method,
             guint       n,
             guint       timeout_s)
{
  RecordWait wait = { fx, method, n };
  g_autofree char *what = g_strdup_printf ("the fake CLI to receive %s ×%u", method, n);

  wait_until (record_has, &wait, timeout_s, what);
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

