/* SPDX-License-Identifier: MIT */
/* copilot-session-control.c: the session control surface of Contract 2
 *
 * Modes, plans, names, info, compaction, rewind, slash commands and Call
 * (DESIGN.md §8): thin asynchronous wrappers of the Session members, each
 * without a D-Bus timeout.
 */
#include "config.h"

#include "copilot-private.h"

/**
 * copilot_session_set_mode:
 * @self: a #CopilotSession
 * @mode: the mode
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Switches the session's mode (`interactive`, `plan`, `autopilot`):
 * `SetMode`. An unknown mode is %COPILOT_ERROR_INVALID_ARGS. Finish with
 * copilot_session_set_mode_finish().
 */
void
copilot_session_set_mode (CopilotSession      *self,
                          const char          *mode,
                          GVariant            *options,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_set_mode, "SetMode",
                                 g_variant_new ("(s@a{sv})", mode, sunk),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_set_mode_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the mode was set
 */
gboolean
copilot_session_set_mode_finish (CopilotSession  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_set_mode, error);
}

/**
 * copilot_session_get_plan:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the session's plan: `GetPlan`. Finish with
 * copilot_session_get_plan_finish().
 */
void
copilot_session_get_plan (CopilotSession      *self,
                          GVariant            *options,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_get_plan, "GetPlan",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(sa{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_get_plan_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @info: (out) (optional) (transfer full): the `a{sv}` info: `exists`, `path`
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the plan's text (empty when there is
 *   none), or %NULL with @error set
 */
char *
copilot_session_get_plan_finish (CopilotSession  *self,
                                 GAsyncResult    *result,
                                 GVariant       **info,
                                 GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_get_plan, error);
  char *content = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s@a{sv})", &content, info);
  return content;
}

/**
 * copilot_session_set_plan:
 * @self: a #CopilotSession
 * @content: the plan's new text
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Replaces the session's plan: `SetPlan`. Finish with
 * copilot_session_set_plan_finish().
 */
void
copilot_session_set_plan (CopilotSession      *self,
                          const char          *content,
                          GVariant            *options,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_set_plan, "SetPlan",
                                 g_variant_new ("(s@a{sv})", content, sunk),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_set_plan_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the plan was written
 */
gboolean
copilot_session_set_plan_finish (CopilotSession  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_set_plan, error);
}

/**
 * copilot_session_delete_plan:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Deletes the session's plan: `DeletePlan`. Finish with
 * copilot_session_delete_plan_finish().
 */
void
copilot_session_delete_plan (CopilotSession      *self,
                             GVariant            *options,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_delete_plan, "DeletePlan",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_delete_plan_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the plan was deleted
 */
gboolean
copilot_session_delete_plan_finish (CopilotSession  *self,
                                    GAsyncResult    *result,
                                    GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_delete_plan, error);
}

/**
 * copilot_session_set_name:
 * @self: a #CopilotSession
 * @name: the new name
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Names the session: `SetName`. The name is chat content: read it back with
 * copilot_session_get_info(), never from a property. Finish with
 * copilot_session_set_name_finish().
 */
void
copilot_session_set_name (CopilotSession      *self,
                          const char          *name,
                          GVariant            *options,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_set_name, "SetName",
                                 g_variant_new ("(s@a{sv})", name, sunk),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_set_name_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the name was set
 */
gboolean
copilot_session_set_name_finish (CopilotSession  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_set_name, error);
}

/**
 * copilot_session_get_info:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * The session's `GetInfo`: `name`, `mode`, `model`, `reasoning-effort`,
 * `working-directory`, `workspace-path`; options `usage` and `context` add
 * usage and context figures. Finish with copilot_session_get_info_finish().
 */
void
copilot_session_get_info (CopilotSession      *self,
                          GVariant            *options,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_get_info, "GetInfo",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(a{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_get_info_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): an `a{sv}` of what the session is,
 *   or %NULL with @error set
 */
GVariant *
copilot_session_get_info_finish (CopilotSession  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_get_info, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_compact:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Compacts the history (`Compact`). Finish with
 * copilot_session_compact_finish().
 */
void
copilot_session_compact (CopilotSession      *self,
                         GVariant            *options,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_compact, "Compact",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(a{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_compact_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the `a{sv}` result, or %NULL with
 *   @error set
 */
GVariant *
copilot_session_compact_finish (CopilotSession  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_compact, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_list_rewind_points:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * The points the session can be rewound to: `ListRewindPoints`. Finish with
 * copilot_session_list_rewind_points_finish().
 */
void
copilot_session_list_rewind_points (CopilotSession      *self,
                                    GVariant            *options,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_list_rewind_points, "ListRewindPoints",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(aa{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_list_rewind_points_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): an `aa{sv}`: `event-id`, `prompt`,
 *   `timestamp`, `can-restore-files`, `file-count` per point, or %NULL with
 *   @error set
 */
GVariant *
copilot_session_list_rewind_points_finish (CopilotSession  *self,
                                           GAsyncResult    *result,
                                           GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_list_rewind_points, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_rewind:
 * @self: a #CopilotSession
 * @event_id: a rewind point's `event-id`
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Rewinds the session to before @event_id (that turn and all after it are
 * discarded): `Rewind`; options `restore-files`, `preview`. Finish with
 * copilot_session_rewind_finish().
 */
void
copilot_session_rewind (CopilotSession      *self,
                        const char          *event_id,
                        GVariant            *options,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_rewind, "Rewind",
                                 g_variant_new ("(s@a{sv})", event_id, sunk),
                                 G_VARIANT_TYPE ("(a{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_rewind_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the `a{sv}` result: `outcome`,
 *   `events-removed`, `restored-files`, `skipped-files`, or %NULL with
 *   @error set
 */
GVariant *
copilot_session_rewind_finish (CopilotSession  *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_rewind, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_list_commands:
 * @self: a #CopilotSession
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * The slash commands the session offers: `ListCommands`. Finish with
 * copilot_session_list_commands_finish().
 */
void
copilot_session_list_commands (CopilotSession      *self,
                               GVariant            *options,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_list_commands, "ListCommands",
                                 g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(aa{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_list_commands_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): an `aa{sv}`: `name`, `description`,
 *   `aliases`, `kind`, `allowed-during-turn` per command, or %NULL with
 *   @error set
 */
GVariant *
copilot_session_list_commands_finish (CopilotSession  *self,
                                      GAsyncResult    *result,
                                      GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_list_commands, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_execute_command:
 * @self: a #CopilotSession
 * @name: the command's name
 * @args: its arguments, as typed
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Runs a slash command: `ExecuteCommand`. Finish with
 * copilot_session_execute_command_finish().
 */
void
copilot_session_execute_command (CopilotSession      *self,
                                 const char          *name,
                                 const char          *args,
                                 GVariant            *options,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_execute_command, "ExecuteCommand",
                                 g_variant_new ("(ss@a{sv})", name, args, sunk),
                                 G_VARIANT_TYPE ("(a{sv})"), cancellable, callback, user_data);
}

/**
 * copilot_session_execute_command_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the `a{sv}` result: `kind`, `text`,
 *   …, or %NULL with @error set
 */
GVariant *
copilot_session_execute_command_finish (CopilotSession  *self,
                                        GAsyncResult    *result,
                                        GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_execute_command, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_call:
 * @self: a #CopilotSession
 * @method: the CLI method, e.g. `session.usage.getMetrics`
 * @params_json: its params, a JSON object (without `sessionId`)
 * @options: (nullable): the member's `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Calls a `session.*` method of the CLI that has no member of its own
 * (`Call`, the long tail of DESIGN.md §8): the daemon adds `sessionId` and
 * refuses the methods that would bypass a gate. Finish with
 * copilot_session_call_finish().
 */
void
copilot_session_call (CopilotSession      *self,
                      const char          *method,
                      const char          *params_json,
                      GVariant            *options,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_call, "Call",
                                 g_variant_new ("(ss@a{sv})", method, params_json, sunk),
                                 G_VARIANT_TYPE ("(s)"), cancellable, callback, user_data);
}

/**
 * copilot_session_call_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the CLI's result, JSON text, or
 *   %NULL with @error set
 */
char *
copilot_session_call_finish (CopilotSession  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_call, error);
  char *text = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(s)", &text);
  return text;
}
