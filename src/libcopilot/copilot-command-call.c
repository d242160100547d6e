/* SPDX-License-Identifier: MIT */
/* copilot-command-call.c: one run of a slash command this app serves
 *
 * Wraps the pending CommandProvider.Execute (DESIGN.md §9). Answered
 * exactly once: by the app, or with an error when the last reference goes
 * away unanswered.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotCommandCall
{
  GObject parent_instance;

  GDBusMethodInvocation *invocation;  /* owned, NULL once answered */
  char *session_path;                 /* owned */
  char *request_id;                   /* owned */
  char *name;                         /* owned */
  char *args;                         /* owned */
  GVariant *context;                  /* owned: a{sv} */
};

/**
 * CopilotCommandCall:
 *
 * One run of a slash command the app added with
 * [method@Copilot.Client.add_command], handed to
 * [signal@Copilot.Client::handle-command]. Keep a reference to answer
 * later with [method@Copilot.CommandCall.return_success] or
 * [method@Copilot.CommandCall.return_error]; a call dropped unanswered
 * fails.
 */
G_DEFINE_FINAL_TYPE (CopilotCommandCall, copilot_command_call, G_TYPE_OBJECT)

static void
answer (CopilotCommandCall *self,
        const char         *failure)
{
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&self->invocation);
  GVariantDict results;

  g_variant_dict_init (&results, NULL);
  if (failure != NULL)
    g_variant_dict_insert (&results, "error", "s", failure);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", g_variant_dict_end (&results)));
}

CopilotCommandCall *
copilot_command_call_new_internal (GDBusMethodInvocation *invocation,
                                   const char            *session_path,
                                   const char            *request_id,
                                   const char            *name,
                                   const char            *args,
                                   GVariant              *context)
{
  CopilotCommandCall *self = g_object_new (COPILOT_TYPE_COMMAND_CALL, NULL);

  self->invocation = g_object_ref (invocation);
  self->session_path = g_strdup (session_path);
  self->request_id = g_strdup (request_id);
  self->name = g_strdup (name);
  self->args = g_strdup (args);
  self->context = g_variant_ref (context);
  return self;
}

static void
copilot_command_call_finalize (GObject *object)
{
  CopilotCommandCall *self = COPILOT_COMMAND_CALL (object);

  if (self->invocation != NULL)
    {
      g_autofree char *failure = g_strdup_printf ("/%s gave no result", self->name);

      answer (self, failure);
    }
  g_clear_pointer (&self->session_path, g_free);
  g_clear_pointer (&self->request_id, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->args, g_free);
  g_clear_pointer (&self->context, g_variant_unref);

  G_OBJECT_CLASS (copilot_command_call_parent_class)->finalize (object);
}

static void
copilot_command_call_class_init (CopilotCommandCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = copilot_command_call_finalize;
}

static void
copilot_command_call_init (CopilotCommandCall *self)
{
}

/**
 * copilot_command_call_get_session_path:
 * @self: a #CopilotCommandCall
 *
 * Returns: the object path of the session the user typed the command in
 */
const char *
copilot_command_call_get_session_path (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), NULL);
  return self->session_path;
}

/**
 * copilot_command_call_get_request_id:
 * @self: a #CopilotCommandCall
 *
 * Returns: the CLI's id of this run
 */
const char *
copilot_command_call_get_request_id (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), NULL);
  return self->request_id;
}

/**
 * copilot_command_call_get_name:
 * @self: a #CopilotCommandCall
 *
 * Returns: the command, as added with copilot_client_add_command()
 */
const char *
copilot_command_call_get_name (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), NULL);
  return self->name;
}

/**
 * copilot_command_call_get_args:
 * @self: a #CopilotCommandCall
 *
 * Returns: what the user typed after the command
 */
const char *
copilot_command_call_get_args (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), NULL);
  return self->args;
}

/**
 * copilot_command_call_get_context:
 * @self: a #CopilotCommandCall
 *
 * Returns: (transfer none): the `a{sv}` context the daemon passed along
 */
GVariant *
copilot_command_call_get_context (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), NULL);
  return self->context;
}

/**
 * copilot_command_call_is_answered:
 * @self: a #CopilotCommandCall
 *
 * Returns: whether the call has been answered
 */
gboolean
copilot_command_call_is_answered (CopilotCommandCall *self)
{
  g_return_val_if_fail (COPILOT_IS_COMMAND_CALL (self), FALSE);
  return self->invocation == NULL;
}

static void
return_once (CopilotCommandCall *self,
             const char         *failure)
{
  if (self->invocation == NULL)
    {
      g_critical ("copilot_command_call_return: /%s was answered already", self->name);
      return;
    }
  answer (self, failure);
}

/**
 * copilot_command_call_return_success:
 * @self: a #CopilotCommandCall
 *
 * Answers that the command worked, once, now or later.
 */
void
copilot_command_call_return_success (CopilotCommandCall *self)
{
  g_return_if_fail (COPILOT_IS_COMMAND_CALL (self));
  return_once (self, NULL);
}

/**
 * copilot_command_call_return_error:
 * @self: a #CopilotCommandCall
 * @message: why it failed, for the user
 *
 * Answers that the command failed, once, now or later.
 */
void
copilot_command_call_return_error (CopilotCommandCall *self,
                                   const char         *message)
{
  g_return_if_fail (COPILOT_IS_COMMAND_CALL (self));
  g_return_if_fail (message != NULL);
  return_once (self, message);
}
