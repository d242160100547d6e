/* SPDX-License-Identifier: MIT */
/* test-config.c: defaults and the GKeyFile config */
#include <locale.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* The build directory's generated config.h comes first on the include
 * path, so name the source header by its place. */
#include "daemon-config.h"
#include "test-util.h"

static char *
write_config (const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("copilotd-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_defaults (void)
{
  g_autoptr(CopilotdConfig) config = copilotd_config_new ();

  g_assert_null (config->cli_path);
  g_assert_cmpuint (config->permission_timeout, ==, 300);
  g_assert_cmpuint (config->tool_timeout, ==, 120);
  g_assert_cmpuint (config->max_sessions_per_uid, ==, 64);
  g_assert_cmpuint (config->max_agents_per_uid, ==, 16);
  g_assert_cmpuint (config->max_subscribers, ==, 16);
  g_assert_cmpuint (config->max_tools, ==, 128);
  g_assert_cmpuint (config->max_prompt_bytes, ==, 1024 * 1024);
  g_assert_cmpuint (config->ring_max_events, ==, 2000);
  g_assert_cmpuint (config->ring_max_bytes, ==, 4 * 1024 * 1024);
  g_assert_cmpuint (config->agent_max_in_flight, ==, 4);
  g_assert_cmpuint (config->restart_max_failures, ==, 5);
  g_assert_cmpuint (config->restart_window, ==, 60);
}

static void
test_load (void)
{
  g_autoptr(CopilotdConfig) config = copilotd_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_config ("[copilotd]\n"
                                        "cli-path=/opt/copilot\n"
                                        "permission-timeout=0\n"
                                        "max-agents-per-uid = 3\n"
                                        "ring-max-bytes=8388608\n"
                                        "unknown-key=whatever\n");

  g_assert_true (copilotd_config_load_file (config, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->cli_path, ==, "/opt/copilot");
  g_assert_cmpuint (config->permission_timeout, ==, 0);
  g_assert_cmpuint (config->max_agents_per_uid, ==, 3);
  g_assert_cmpuint (config->ring_max_bytes, ==, 8388608);
  /* Untouched keys keep their defaults. */
  g_assert_cmpuint (config->tool_timeout, ==, 120);
  g_unlink (path);
}

static void
test_bad_value (void)
{
  g_autoptr(CopilotdConfig) config = copilotd_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_config ("[copilotd]\n"
                                        "cli-path=/opt/copilot\n"
                                        "tool-timeout=-5\n");

  g_assert_false (copilotd_config_load_file (config, path, &error));
  g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "tool-timeout"));
  g_assert_nonnull (strstr (error->message, path));
  /* A bad file changes nothing. */
  g_assert_null (config->cli_path);
  g_assert_cmpuint (config->tool_timeout, ==, 120);
  g_unlink (path);
}

static void
test_default_files (void)
{
  g_autoptr(CopilotdConfig) config = copilotd_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "copilotd", NULL);
  g_autofree char *path = g_build_filename (dir, "copilotd.conf", NULL);

  /* main() pointed XDG_CONFIG_HOME at a fresh temp dir. */
  g_assert_true (copilotd_config_load_default_files (config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config->idle_exit, ==, 0);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, "[copilotd]\nidle-exit=30\n", -1, &error);
  g_assert_no_error (error);
  g_assert_true (copilotd_config_load_default_files (config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config->idle_exit, ==, 30);
}

int
main (int argc, char **argv)
{
  g_autofree char *config_home = NULL;
  int status;

  setlocale (LC_ALL, "");
  test_init (&argc, &argv);

  /* Not G_TEST_OPTION_ISOLATE_DIRS: GLib 2.74 leaks its strings, which
   * AddressSanitizer reports. Set before anything caches the user dirs. */
  config_home = g_dir_make_tmp ("copilotd-test-XXXXXX", NULL);
  g_assert_nonnull (config_home);
  g_setenv ("XDG_CONFIG_HOME", config_home, TRUE);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/load", test_load);
  g_test_add_func ("/config/bad-value", test_bad_value);
  g_test_add_func ("/config/default-files", test_default_files);

  status = g_test_run ();

  {
    g_autofree char *conf = g_build_filename (config_home, "copilotd", "copilotd.conf", NULL);
    g_autofree char *dir = g_build_filename (config_home, "copilotd", NULL);

    g_unlink (conf);
    g_rmdir (dir);
    g_rmdir (config_home);
  }

  return status;
}
