/* SPDX-License-Identifier: MIT */
/* test-app-info.c: naming the app behind a process ID from a fake /proc */
#include <locale.h>
#include <unistd.h>

#include "app-info.h"

static char *
make_proc (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("copilotd-proc-XXXXXX", &error);

  g_assert_no_error (error);
  return root;
}

static void
write_file (const char *root,
            const char *relative,
            const char *contents)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autofree char *quoted = g_shell_quote (path);
  g_autofree char *command = g_strdup_printf ("rm -rf %s", quoted);

  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
}

static void
test_flatpak (void)
{
  g_autofree char *root = make_proc ();
  g_autofree char *name = NULL;

  write_file (root, "42/root/.flatpak-info", "[Application]\nname=org.example.Writer\nruntime=x\n");
  write_file (root, "42/cgroup", "0::/user.slice/app-flatpak-org.example.Writer-1.scope\n");
  write_file (root, "42/comm", "writer\n");
  name = copilotd_app_name_for_pid (root, 42);
  g_assert_cmpstr (name, ==, "org.example.Writer");
  remove_tree (root);
}

static void
test_snap (void)
{
  g_autofree char *root = make_proc ();
  g_autofree char *name = NULL;

  write_file (root, "7/cgroup",
              "0::/user.slice/user-1000.slice/user@1000.service/app.slice/snap.firefox.firefox-0b1c.scope\n");
  write_file (root, "7/comm", "firefox-bin\n");
  name = copilotd_app_name_for_pid (root, 7);
  g_assert_cmpstr (name, ==, "firefox");
  remove_tree (root);
}

static void
test_executable (void)
{
  g_autofree char *root = make_proc ();
  g_autofree char *exe = g_build_filename (root, "9", "exe", NULL);
  g_autofree char *name = NULL;
  g_autofree char *comm_only = NULL;
  g_autofree char *self = NULL;

  write_file (root, "9/cgroup", "0::/user.slice/session-2.scope\n");
  write_file (root, "9/comm", "short\n");
  g_assert_cmpint (symlink ("/usr/bin/gnome-text-editor (deleted)", exe), ==, 0);
  name = copilotd_app_name_for_pid (root, 9);
  g_assert_cmpstr (name, ==, "gnome-text-editor");

  /* No readable exe link (another user's process): its comm. */
  write_file (root, "10/comm", "short\n");
  comm_only = copilotd_app_name_for_pid (root, 10);
  g_assert_cmpstr (comm_only, ==, "short");

  /* Gone, or no process at all. */
  g_assert_null (copilotd_app_name_for_pid (root, 11));
  g_assert_null (copilotd_app_name_for_pid (root, 0));

  /* The real /proc: this test names itself. */
  self = copilotd_app_name_for_pid (NULL, getpid ());
  g_assert_cmpstr (self, ==, "test-app-info");
  remove_tree (root);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app-info/flatpak", test_flatpak);
  g_test_add_func ("/app-info/snap", test_snap);
  g_test_add_func ("/app-info/executable", test_executable);

  return g_test_run ();
}
