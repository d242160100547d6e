/* SPDX-License-Identifier: MIT */
/* session-commands.c: slash commands (DESIGN.md §8): ListCommands and
 * ExecuteCommand
 *
 * ListCommands is session.commands.list, built-ins, skills and client
 * commands together. ExecuteCommand runs a built-in command through
 * session.commands.invoke (a result that is an agent prompt is sent as the
 * next turn) and an app-defined one (§9) through session.commands.execute;
 * a command that fails is Failed with its message.
 */
#include "config.h"

#include <string.h>

#include "copilotd-error.h"
#include "options.h"
#include "session-control-private.h"

/* ---- Slash commands ---------------------------------------------------- */

static GVariant *
command_entry (JsonObject *command,
               gpointer    user_data)
{
  GVariantBuilder dict;
  const char *description = control_member_string (command, "description");

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  control_dict_add_string (&dict, "name", command, "name");
  g_variant_builder_add (&dict, "{sv}", "description", g_variant_new_string (description ? description : ""));
  g_variant_builder_add (&dict, "{sv}", "aliases", control_strings_of (command, "aliases", NULL));
  control_dict_add_string (&dict, "kind", command, "kind");
  g_variant_builder_add (&dict, "{sv}", "allowed-during-turn",
                         g_variant_new_boolean (control_member_bool (command, "allowDuringAgentExecution")));
  return g_variant_builder_end (&dict);
}

static GVariant *
reply_commands (Control  *ctl,
                JsonNode *result,
                GError  **error)
{
  return g_variant_new_tuple ((GVariant *[]) {
    copilotd_json_map_objects (control_node_object (result), "commands", "aa{sv}", command_entry, NULL) }, 1);
}

gboolean
session_handle_list_commands (CopilotdDbusSession   *iface,
                              GDBusMethodInvocation *invocation,
                              GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  params = json_object_new ();
  json_object_set_boolean_member (params, "includeBuiltins", TRUE);
  json_object_set_boolean_member (params, "includeSkills", TRUE);
  json_object_set_boolean_member (params, "includeClientCommands", TRUE);
  session_control_call (self, invocation, "session.commands.list", params, reply_commands);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
  CopilotdSession *session;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  char *name;                          /* owned, without the slash */
  char *args;                          /* owned */
  GVariantDict result;                 /* for agent-prompt: what invoke said */
} Command;

static void
command_free (Command *cmd)
{
  g_object_unref (cmd->session);
  g_object_unref (cmd->invocation);
  g_free (cmd->name);
  g_free (cmd->args);
  g_variant_dict_clear (&cmd->result);
  g_free (cmd);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Command, command_free)

static void
on_command_execute_done (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *failure;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }
  failure = control_member_string (control_node_object (node), "error");
  if (failure != NULL)
    {
      g_dbus_method_invocation_return_error (cmd->invocation, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                                             "/%s failed: %s", cmd->name, failure);
      return;
    }
  g_variant_dict_insert (&cmd->result, "kind", "s", "completed");
  session_control_reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

static void
on_command_prompt_sent (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *message_id;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }
  message_id = control_member_string (control_node_object (node), "messageId");
  if (message_id != NULL)
    g_variant_dict_insert (&cmd->result, "message-id", "s", message_id);
  session_control_reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

static void
on_command_invoke_done (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  const char *kind;
  static const char * const strings[] = { "text", "message", "mode", "prompt", "display-prompt", "notice", NULL };

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      /* Not a built-in: perhaps a command an app registered (§9). */
      if (error->message != NULL && strstr (error->message, "Unknown slash command") != NULL)
        {
          JsonObject *params = json_object_new ();

          json_object_set_string_member (params, "commandName", cmd->name);
          json_object_set_string_member (params, "args", cmd->args);
          CopilotdSession *session = cmd->session;

          copilotd_session_call_async (session, "session.commands.execute", params,
                                       on_command_execute_done, g_steal_pointer (&cmd));
          return;
        }
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }

  object = control_node_object (node);
  kind = control_member_string (object, "kind");
  g_variant_dict_insert (&cmd->result, "kind", "s", kind ? kind : "");
  for (guint i = 0; strings[i] != NULL; i++)
    {
      g_autofree char *camel = copilotd_dashed_to_camel (strings[i]);
      const char *value = control_member_string (object, camel);

      if (value != NULL)
        g_variant_dict_insert (&cmd->result, strings[i], "s", value);
    }

  /* The command's work is a turn: it is sent as the next one. */
  if (g_strcmp0 (kind, "agent-prompt") == 0 && control_member_string (object, "prompt") != NULL)
    {
      JsonObject *params = json_object_new ();
      const char *display = control_member_string (object, "displayPrompt");
      const char *mode = control_member_string (object, "mode");

      json_object_set_string_member (params, "prompt", control_member_string (object, "prompt"));
      if (display != NULL && *display != '\0')
        json_object_set_string_member (params, "displayPrompt", display);
      if (mode != NULL)
        json_object_set_string_member (params, "agentMode", mode);
      CopilotdSession *session = cmd->session;

      copilotd_session_call_async (session, "session.send", params,
                                   on_command_prompt_sent, g_steal_pointer (&cmd));
      return;
    }

  session_control_reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

gboolean
session_handle_execute_command (CopilotdDbusSession   *iface,
                                GDBusMethodInvocation *invocation,
                                const char            *name,
                                const char            *args,
                                GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;
  Command *cmd;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  while (*name == '/')
    name++;
  if (*name == '\0' || strpbrk (name, " \t\n") != NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                                     "The command name is empty or has blanks");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  /* A command may run a turn: its prompts go to the caller's agent. */
  copilotd_session_set_turn_sender (self, g_dbus_method_invocation_get_sender (invocation));
  cmd = g_new0 (Command, 1);
  cmd->session = g_object_ref (self);
  cmd->invocation = g_object_ref (invocation);
  cmd->name = g_strdup (name);
  cmd->args = g_strdup (args);
  g_variant_dict_init (&cmd->result, NULL);

  params = json_object_new ();
  json_object_set_string_member (params, "name", name);
  if (*args != '\0')
    json_object_set_string_member (params, "input", args);
  copilotd_session_call_async (self, "session.commands.invoke", params, on_command_invoke_done, cmd);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
