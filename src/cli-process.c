/* SPDX-License-Identifier: MIT */
/* cli-process.c: the CLI child: a clean environment, an end the kernel
 * enforces, SIGTERM then SIGKILL
 *
 * The daemon must never leave a CLI behind: one that ignores SIGTERM is
 * killed after a grace period and reaped, and the kernel kills every CLI
 * when the daemon dies, even by SIGKILL (PR_SET_PDEATHSIG).
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli-process.h"
#include "copilotd-error.h"

/* What the daemon's environment holds for the daemon alone: GLib's debug
 * switches (--verbose sets G_MESSAGES_DEBUG), how it was started (D-Bus
 * activation, systemd) and where its own CLI path came from. */
static const char * const daemon_only_env[] = {
  "G_MESSAGES_DEBUG", "G_MESSAGES_PREFIXED", "G_DEBUG",
  "DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE",
  "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
  "COPILOTD_CLI_PATH",
};

/* Filled before the fork; read in the child between fork and exec, where
 * only async-signal-safe calls are allowed. */
typedef struct {
  gboolean drop;                  /* switch to uid/gid first */
  uid_t uid;
  gid_t gid;
  const char *name;               /* unowned: the passwd entry's copy */
  pid_t parent;                   /* the daemon */
} ChildSetup;

static void
child_setup (gpointer user_data)
{
  const ChildSetup *setup = user_data;

  if (setup->drop &&
      (initgroups (setup->name, setup->gid) != 0 ||
       setgid (setup->gid) != 0 ||
       setuid (setup->uid) != 0))
    _exit (126);
  /* After setuid: changing credentials clears the parent-death signal. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
    _exit (126);
  /* The daemon died before prctl: nobody would send the signal. */
  if (getppid () != setup->parent)
    _exit (126);
}

/* On the system bus each user's CLI runs as that user, in that user's
 * home, never as the daemon's own user (DESIGN.md §7). */
static gboolean
setup_user (const CopilotdConfig  *config,
            uid_t                  run_as,
            GSubprocessLauncher   *launcher,
            ChildSetup            *setup,
            GError               **error)
{
  struct passwd *pw;
  g_autofree char *cache = NULL;
  g_autofree char *home = NULL;

  pw = getpwuid (run_as);
  if (pw == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                   "User %u has no passwd entry", (guint) run_as);
      return FALSE;
    }
  setup->drop = pw->pw_uid != geteuid ();
  setup->uid = pw->pw_uid;
  setup->gid = pw->pw_gid;
  setup->name = pw->pw_name;

  g_subprocess_launcher_setenv (launcher, "HOME", pw->pw_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "USER", pw->pw_name, TRUE);
  g_subprocess_launcher_setenv (launcher, "LOGNAME", pw->pw_name, TRUE);
  cache = g_build_filename (pw->pw_dir, ".cache", NULL);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "XDG_CONFIG_HOME");
  g_subprocess_launcher_unsetenv (launcher, "XDG_STATE_HOME");
  g_subprocess_launcher_unsetenv (launcher, "XDG_RUNTIME_DIR");
  if (config->copilot_home != NULL)
    {
      /* A shared state root: one private directory per user inside it. */
      home = g_strdup_printf ("%s/%u", config->copilot_home, (guint) pw->pw_uid);
      if (g_mkdir_with_parents (config->copilot_home, 0711) != 0 ||
          (g_mkdir (home, 0700) != 0 && errno != EEXIST) ||
          chown (home, pw->pw_uid, pw->pw_gid) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                       "Cannot prepare '%s' for user %u: %s",
                       home, (guint) pw->pw_uid, g_strerror (saved_errno));
          return FALSE;
        }
    }
  else
    home = g_build_filename (pw->pw_dir, ".copilot", NULL);
  g_subprocess_launcher_setenv (launcher, "COPILOT_HOME", home, TRUE);
  /* System users may have no home (/nonexistent). */
  g_subprocess_launcher_set_cwd (launcher, g_file_test (pw->pw_dir, G_FILE_TEST_IS_DIR) ? pw->pw_dir : "/");
  return TRUE;
}

GSubprocess *
copilotd_cli_process_spawn (const CopilotdConfig  *config,
                            uid_t                  run_as,
                            const char * const    *argv,
                            const char * const    *env,
                            GError               **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  ChildSetup setup = { .parent = getpid () };
  GSubprocess *process;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  for (gsize i = 0; i < G_N_ELEMENTS (daemon_only_env); i++)
    g_subprocess_launcher_unsetenv (launcher, daemon_only_env[i]);

  if (run_as != (uid_t) -1)
    {
      if (!setup_user (config, run_as, launcher, &setup, error))
        return NULL;
    }
  else if (config->copilot_home != NULL)
    g_subprocess_launcher_setenv (launcher, "COPILOT_HOME", config->copilot_home, TRUE);
  for (gsize i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) pair = g_strsplit (env[i], "=", 2);

      if (pair[0] != NULL && pair[1] != NULL)
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }
  /* The launcher only keeps the pointer: @setup outlives the spawn. */
  g_subprocess_launcher_set_child_setup (launcher, child_setup, &setup, NULL);

  g_debug ("Spawning '%s'", argv[0]);
  process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (process == NULL)
    {
      g_prefix_error (error, "Cannot start the Copilot CLI '%s': ", argv[0]);
      if ((*error)->domain != COPILOTD_ERROR)
        {
          GError *wrapped = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                                         "%s", (*error)->message);
          g_clear_error (error);
          *error = wrapped;
        }
    }
  return process;
}

typedef struct {
  GSource *kill_source;           /* owned, nullable */
} TerminateData;

static void
terminate_data_free (TerminateData *data)
{
  if (data->kill_source != NULL)
    {
      g_source_destroy (data->kill_source);
      g_source_unref (data->kill_source);
    }
  g_free (data);
}

static gboolean
on_grace_over (gpointer user_data)
{
  GTask *task = user_data;
  GSubprocess *process = g_task_get_source_object (task);

  g_debug ("The CLI %s did not exit after SIGTERM; killing it",
           g_subprocess_get_identifier (process) ?: "(gone)");
  g_subprocess_force_exit (process);
  return G_SOURCE_REMOVE;
}

static void
on_terminated (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TerminateData *data = g_task_get_task_data (task);

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  /* The kill source holds a reference on the task: drop it now. */
  if (data->kill_source != NULL)
    {
      g_source_destroy (data->kill_source);
      g_clear_pointer (&data->kill_source, g_source_unref);
    }
  g_task_return_boolean (task, TRUE);
}

void
copilotd_cli_process_terminate_async (GSubprocess         *process,
                                      guint                grace_ms,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (process, NULL, callback, user_data);
  TerminateData *data = g_new0 (TerminateData, 1);

  g_task_set_source_tag (task, copilotd_cli_process_terminate_async);
  g_task_set_task_data (task, data, (GDestroyNotify) terminate_data_free);

  /* SIGTERM lets the CLI persist session.shutdown (PROTOCOL.md §1.7). */
  g_subprocess_send_signal (process, SIGTERM);
  data->kill_source = g_timeout_source_new (grace_ms);
  g_task_attach_source (task, data->kill_source, on_grace_over);
  g_subprocess_wait_async (process, NULL, on_terminated, g_steal_pointer (&task));
}

void
copilotd_cli_process_terminate_finish (GSubprocess  *process,
                                       GAsyncResult *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}
