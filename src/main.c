/* SPDX-License-Identifier: MIT */
/* main.c: options, the bus and the main loop */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

#include "daemon.h"

static GMainLoop *loop;
static int exit_status;

static gboolean
on_unix_signal (gpointer user_data)
{
  g_debug ("Signal received; shutting down");
  copilotd_daemon_shutdown (user_data, 0);
  return G_SOURCE_CONTINUE;
}

static void
on_quit (CopilotdDaemon *daemon,
         int             status,
         gpointer        user_data)
{
  exit_status = status;
  g_main_loop_quit (loop);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CopilotdConfig) config = NULL;
  g_autoptr(CopilotdDaemon) daemon = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autofree char *cli_path = NULL;
  g_autofree char *cli_url = NULL;
  g_autofree char *copilot_home = NULL;
  g_autofree char *config_file = NULL;
  gboolean use_session = FALSE, use_system = FALSE, replace = FALSE, verbose = FALSE, version = FALSE;
  int idle_exit = -1;
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &use_session, N_("Use the session bus (default)"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &use_system, N_("Use the system bus"), NULL },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, N_("Replace a running daemon"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print debug messages"), NULL },
    { "cli-path", 0, 0, G_OPTION_ARG_FILENAME, &cli_path, N_("The Copilot CLI to run"), N_("PATH") },
    { "cli-url", 0, 0, G_OPTION_ARG_STRING, &cli_url, N_("Connect to a running CLI server"), N_("HOST:PORT") },
    { "copilot-home", 0, 0, G_OPTION_ARG_FILENAME, &copilot_home, N_("The CLI's state directory"), N_("DIR") },
    { "idle-exit", 0, 0, G_OPTION_ARG_INT, &idle_exit, N_("Exit after this long with no session and no agent"), N_("SECONDS") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, N_("Read this configuration file"), N_("FILE") },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  /* Every log line goes to stderr (GLib sends debug and info to stdout). */
  g_log_writer_default_set_use_stderr (TRUE);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Publishes GitHub Copilot CLI sessions on D-Bus."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("copilotd: %s\n", error->message);
      return 1;
    }
  if (version)
    {
      g_print ("copilotd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (use_session && use_system)
    {
      g_printerr ("copilotd: %s\n", _("--session and --system are exclusive"));
      return 1;
    }
  /* Not through G_MESSAGES_DEBUG: the CLI inherits the environment. */
  if (verbose)
    g_log_set_debug_enabled (TRUE);

  config = copilotd_config_new ();
  if (config_file != NULL ? !copilotd_config_load_file (config, config_file, &error)
                          : !copilotd_config_load_default_files (config, &error))
    {
      g_printerr ("copilotd: %s\n", error->message);
      return 1;
    }
  if (cli_path != NULL)
    {
      g_free (config->cli_path);
      config->cli_path = g_steal_pointer (&cli_path);
    }
  if (cli_url != NULL)
    {
      g_free (config->cli_url);
      config->cli_url = g_steal_pointer (&cli_url);
    }
  if (copilot_home != NULL)
    {
      g_free (config->copilot_home);
      config->copilot_home = g_steal_pointer (&copilot_home);
    }
  if (idle_exit >= 0)
    config->idle_exit = (guint) idle_exit;
  config->system_bus = use_system;

  connection = g_bus_get_sync (use_system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (connection == NULL)
    {
      g_printerr ("copilotd: %s\n", error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  daemon = copilotd_daemon_new (g_steal_pointer (&config));
  g_signal_connect (daemon, "quit", G_CALLBACK (on_quit), NULL);
  if (!copilotd_daemon_start (daemon, connection, replace, &error))
    {
      g_printerr ("copilotd: %s\n", error->message);
      return 1;
    }
  g_unix_signal_add (SIGTERM, on_unix_signal, daemon);
  g_unix_signal_add (SIGINT, on_unix_signal, daemon);

  g_main_loop_run (loop);

  g_clear_object (&daemon);
  g_main_loop_unref (loop);
  return exit_status;
}
