/* SPDX-License-Identifier: MIT */
/* agent-command.c: `copilotctl agent`, the terminal agent as a command
 *
 * Registers the terminal agent (agent.c) for every session of the user
 * that has no agent of its own, like pkttyagent, until Ctrl-C. It follows
 * the daemon's bus name: when copilotd stops (releasing its agents), is
 * replaced or is activated again, the agent is registered with the new
 * one, so a person who relies on it never silently loses it.
 */
#include "config.h"

#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "agent-private.h"

typedef struct {
  Ctl *ctl;                  /* unowned */
  CtlAgent *agent;           /* unowned */
  gboolean fallback;
  gboolean make_default;
  char *registered_with;     /* owned, nullable: the daemon's unique name */
  int status;
} AgentCommand;

/* The daemon drops its agents as it shuts down: this one is registered
 * again with the next daemon (daemon_appeared_cb). */
static void
agent_released_cb (gpointer user_data)
{
  ctl_printerr ("%s", _("copilotd released this agent"));
}

static gboolean
agent_stop_cb (gpointer user_data)
{
  AgentCommand *command = user_data;

  command->status = CTL_EXIT_OK;
  g_main_loop_quit (command->ctl->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
agent_interrupt_cb (gpointer user_data)
{
  AgentCommand *command = user_data;

  command->status = CTL_EXIT_INTERRUPTED;
  g_main_loop_quit (command->ctl->loop);
  return G_SOURCE_CONTINUE;
}

/* AgentManager.RequestDefaultAgent: newest on the user's default stack. */
static gboolean
request_default (Ctl     *ctl,
                 GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (ctl->bus, CTL_BUS_NAME, CTL_ROOT_PATH,
                                       "io.github.copilotd.Copilot1.AgentManager", "RequestDefaultAgent",
                                       g_variant_new ("(o)", CTL_AGENT_PATH), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, CTL_CALL_TIMEOUT_MS, NULL, error);
  return reply != NULL;
}

static gboolean
register_agent (AgentCommand *command,
                GError      **error)
{
  return ctl_agent_register (command->agent, command->fallback, error) &&
         (!command->make_default || request_default (command->ctl, error));
}

static void
print_ready (AgentCommand *command)
{
  /* Scripts learn when requests start reaching this agent. */
  g_autoptr(JsonNode) ready = json_from_string ("{\"type\":\"ready\"}", NULL);

  ctl_json_print (ready);
}

/* Also called when the name changes hands at once (copilotd --replace):
 * vanished, then appeared. */
static void
daemon_vanished_cb (GDBusConnection *bus,
                    const char      *name,
                    gpointer         user_data)
{
  AgentCommand *command = user_data;

  if (command->registered_with == NULL)
    return;
  g_clear_pointer (&command->registered_with, g_free);
  /* A call of the daemon that left is no longer the daemon's. */
  g_clear_pointer (&command->ctl->daemon_owner, g_free);
  ctl_printerr ("%s", _("copilotd left the bus; waiting for it to come back"));
  /* Their answers would reach nobody. */
  ctl_agent_withdraw_all (command->agent);
}

static void
daemon_appeared_cb (GDBusConnection *bus,
                    const char      *name,
                    const char      *name_owner,
                    gpointer         user_data)
{
  AgentCommand *command = user_data;
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (command->registered_with, name_owner) == 0)
    return;
  if (!register_agent (command, &error))
    {
      ctl_printerr (_("copilotd is back, but registering this agent again failed: %s"), error->message);
      command->status = CTL_EXIT_FAILURE;
      g_main_loop_quit (command->ctl->loop);
      return;
    }
  g_free (command->registered_with);
  command->registered_with = g_strdup (name_owner);
  ctl_printerr ("%s", _("copilotd is back: this agent is registered again"));
  if (command->ctl->json)
    print_ready (command);
}

/* `copilotctl agent`: like pkttyagent, answers prompts of every session of
 * this user that has no agent of its own, until Ctrl-C. */
int
ctl_cmd_agent (Ctl   *ctl,
               int    argc,
               char **argv)
{
  /* Like pkttyagent: asked when the session's own client has no agent. */
  gboolean fallback = TRUE, yes = FALSE, no = FALSE, make_default = FALSE;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CtlAgent) agent = NULL;
  AgentCommand command = { ctl, NULL, FALSE, FALSE, NULL, CTL_EXIT_OK };
  const char *owner;
  guint sigint, sigterm, watch;
  const GOptionEntry entries[] = {
    { "no-fallback", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &fallback,
      N_("Be asked before other agents of your user, not only when no other agent is there"), NULL },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Approve every permission request without asking"), NULL },
    { "no", 'n', 0, G_OPTION_ARG_NONE, &no, N_("Reject every permission request without asking"), NULL },
    { "default", 'd', 0, G_OPTION_ARG_NONE, &make_default,
      N_("Be your user's default agent: asked before other agents of sessions that have none of their own"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    _("Answer the permission requests and questions of all your sessions on this terminal, until Ctrl-C."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      ctl_usage_error ("agent", "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      ctl_usage_error ("agent", _("unexpected argument: %s"), argv[1]);
      return CTL_EXIT_USAGE;
    }
  if (yes && no)
    {
      ctl_usage_error ("agent", "%s", _("--yes and --no cannot be used together"));
      return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;

  /* Fallback agents are asked after every other one, default or not: the
   * default agent is an ordinary agent on top of the user's stack. */
  command.fallback = make_default ? FALSE : fallback;
  command.make_default = make_default;
  agent = ctl_agent_new (ctl, yes ? CTL_ANSWER_YES : no ? CTL_ANSWER_NO : CTL_ANSWER_ASK,
                         TRUE, &error);
  command.agent = agent;
  if (agent == NULL || !register_agent (&command, &error) ||
      (owner = ctl_daemon_owner (ctl, &error)) == NULL)
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }
  command.registered_with = g_strdup (owner);
  ctl_agent_set_release_func (agent, G_CALLBACK (agent_released_cb), &command);
  sigint = g_unix_signal_add (SIGINT, agent_interrupt_cb, &command);
  sigterm = g_unix_signal_add (SIGTERM, agent_stop_cb, &command);

  if (ctl->json)
    print_ready (&command);
  else
    {
      if (agent->mode == CTL_ANSWER_ASK && agent->term == NULL)
        ctl_printerr ("%s", _("no terminal: every request will be rejected (use --yes to approve)"));
      else if (isatty (STDERR_FILENO))
        fprintf (stderr, "%s\n", _("Waiting for requests; press Ctrl-C to stop."));
    }

  watch = g_bus_watch_name_on_connection (ctl->bus, CTL_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          daemon_appeared_cb, daemon_vanished_cb, &command, NULL);
  g_main_loop_run (ctl->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_bus_unwatch_name (watch);
  g_free (command.registered_with);
  return command.status;
}
