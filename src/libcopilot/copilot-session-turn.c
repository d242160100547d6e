/* SPDX-License-Identifier: MIT */
/* copilot-session-turn.c: turns and the plain members of a session
 *
 * Send and SendAndWait, whose GCancellable aborts the turn and which pass
 * the descriptors of `fd` attachments along, and the members every
 * session has since Contract 1 (Abort, Destroy, SetModel, GetMessages),
 * plus copilot_session_call_method() for any other. None carries a D-Bus
 * timeout.
 */
#include "config.h"

#include "copilot-private.h"

/* Calls Send or SendAndWait for @task, passing the descriptors of `fd`
 * attachments along; the task's cancellable aborts the turn. */
static void
start_turn (CopilotSession      *self,
            GTask               *task,
            const char          *method,
            const char          *prompt,
            GVariant            *options,
            const GVariantType  *reply_type,
            GAsyncReadyCallback  callback)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) passed = NULL;
  GError *error = NULL;

  passed = copilot_attachments_pass_fds (options, &fds, &error);
  if (passed == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_check_cancellable (task, FALSE);
  copilot_session_watch_turn (self, g_task_get_cancellable (task));
  copilot_client_call_with_fds (copilot_session_get_client (self), copilot_session_get_object_path (self),
                                COPILOT_IFACE_SESSION, method,
                                g_variant_new ("(s@a{sv})", prompt, passed), fds, reply_type,
                                COPILOT_TURN_TIMEOUT, NULL, callback, task);
}

static void
on_send_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotSession *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  char *message_id;

  reply = copilot_client_call_finish (copilot_session_get_client (self), result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      /* The turn was aborted (on_turn_cancelled). */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The turn was cancelled");
      return;
    }
  g_variant_get (reply, "(s)", &message_id);
  g_task_return_pointer (task, message_id, g_free);
}

/**
 * copilot_session_send:
 * @self: a #CopilotSession
 * @prompt: what to ask
 * @options: (nullable): `Send`'s `a{sv}` options (`attachments`, `mode`,
 *   `display-prompt`, …); a floating reference is consumed
 * @cancellable: (nullable): cancelling it aborts the turn, until the
 *   turn's #CopilotSession::idle
 * @callback: (scope async): called once the turn started
 * @user_data: data for @callback
 *
 * Starts a turn. The answer arrives through the #CopilotSession::delta,
 * #CopilotSession::message and #CopilotSession::idle signals. Finish with
 * copilot_session_send_finish().
 */
void
copilot_session_send (CopilotSession      *self,
                      const char          *prompt,
                      GVariant            *options,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);
  GTask *task;

  g_return_if_fail (COPILOT_IS_SESSION (self));
  g_return_if_fail (prompt != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_session_send);
  start_turn (self, task, "Send", prompt, sunk, G_VARIANT_TYPE ("(s)"), on_send_done);
}

/**
 * copilot_session_send_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the id of the message sent, or %NULL with
 *   @error set (%G_IO_ERROR_CANCELLED when it was cancelled)
 */
char *
copilot_session_send_finish (CopilotSession  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_send_and_wait_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotSession *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  char *content;

  reply = copilot_client_call_finish (copilot_session_get_client (self), result, &error);
  /* Cancelled: the reply (an aborted turn, or an error) came after Abort. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      g_clear_error (&error);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The turn was cancelled");
      return;
    }
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (reply, "(s@a{sv})", &content, NULL);
  g_task_return_pointer (task, content, g_free);
}

/**
 * copilot_session_send_and_wait:
 * @self: a #CopilotSession
 * @prompt: what to ask
 * @options: (nullable): `SendAndWait`'s `a{sv}` options; a floating
 *   reference is consumed. Without `timeout-ms` the turn may take as long
 *   as it takes (the daemon's default of 300 s does not apply)
 * @cancellable: (nullable): cancelling it aborts the turn (`Abort`); the
 *   call then finishes with %G_IO_ERROR_CANCELLED once the daemon ended it
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Runs a whole turn and gives its final answer. The call carries no D-Bus
 * timeout, and is asynchronous on purpose: prompts of the turn may come
 * to this very process's #CopilotAgent, which must be served meanwhile.
 * Signals of the turn are emitted as for copilot_session_send(). Finish
 * with copilot_session_send_and_wait_finish().
 */
void
copilot_session_send_and_wait (CopilotSession      *self,
                               const char          *prompt,
                               GVariant            *options,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);
  g_autoptr(GVariant) with_timeout = NULL;
  GTask *task;

  g_return_if_fail (COPILOT_IS_SESSION (self));
  g_return_if_fail (prompt != NULL);

  if (!g_variant_lookup (sunk, "timeout-ms", "u", NULL))
    {
      GVariantDict dict;

      g_variant_dict_init (&dict, sunk);
      g_variant_dict_insert (&dict, "timeout-ms", "u", 0);
      with_timeout = g_variant_ref_sink (g_variant_dict_end (&dict));
    }
  else
    with_timeout = g_variant_ref (sunk);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_session_send_and_wait);
  start_turn (self, task, "SendAndWait", prompt, with_timeout, G_VARIANT_TYPE ("(sa{sv})"),
              on_send_and_wait_done);
}

/**
 * copilot_session_send_and_wait_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the final answer, or %NULL with @error set
 *   (%G_IO_ERROR_CANCELLED when cancelled, %COPILOT_ERROR_FAILED with the
 *   CLI's message when the turn failed)
 */
char *
copilot_session_send_and_wait_finish (CopilotSession  *self,
                                      GAsyncResult    *result,
                                      GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
copilot_session_call_internal (CopilotSession      *self,
                               gpointer             source_tag,
                               const char          *method,
                               GVariant            *params,
                               const GVariantType  *reply_type,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  copilot_client_call (copilot_session_get_client (self), copilot_session_get_object_path (self),
                       COPILOT_IFACE_SESSION, method, params, reply_type, COPILOT_TURN_TIMEOUT,
                       cancellable, copilot_client_call_return_reply, task);
}

GVariant *
copilot_session_call_internal_finish (CopilotSession  *self,
                                      GAsyncResult    *result,
                                      gpointer         source_tag,
                                      GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
copilot_session_call_internal_finish_ok (CopilotSession  *self,
                                         GAsyncResult    *result,
                                         gpointer         source_tag,
                                         GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, source_tag, error);

  return reply != NULL;
}

/**
 * copilot_session_abort:
 * @self: a #CopilotSession
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Aborts the current turn, its pending prompts and tool calls. Finish
 * with copilot_session_abort_finish().
 */
void
copilot_session_abort (CopilotSession      *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_abort, "Abort", g_variant_new_parsed ("(@a{sv} {},)"),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_abort_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the daemon took the abort
 */
gboolean
copilot_session_abort_finish (CopilotSession  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_abort, error);
}

/**
 * copilot_session_destroy:
 * @self: a #CopilotSession
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Ends the live session; it stays on disk, and
 * copilot_client_resume_session() brings it back. #CopilotSession::closed
 * is emitted. Finish with copilot_session_destroy_finish().
 */
void
copilot_session_destroy (CopilotSession      *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_destroy, "Destroy", g_variant_new_parsed ("(@a{sv} {},)"),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_destroy_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the session was ended
 */
gboolean
copilot_session_destroy_finish (CopilotSession  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_destroy, error);
}

/**
 * copilot_session_set_model:
 * @self: a #CopilotSession
 * @model: a model id (from copilot_client_list_models())
 * @options: (nullable): `SetModel`'s `a{sv}` options
 *   (`reasoning-effort`); a floating reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Switches the model from the next turn on. Finish with
 * copilot_session_set_model_finish().
 */
void
copilot_session_set_model (CopilotSession      *self,
                           const char          *model,
                           GVariant            *options,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_set_model, "SetModel", g_variant_new ("(s@a{sv})", model, sunk),
                                 G_VARIANT_TYPE ("()"), cancellable, callback, user_data);
}

/**
 * copilot_session_set_model_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the model was set
 */
gboolean
copilot_session_set_model_finish (CopilotSession  *self,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  return copilot_session_call_internal_finish_ok (self, result, copilot_session_set_model, error);
}

/**
 * copilot_session_get_messages:
 * @self: a #CopilotSession
 * @options: (nullable): `GetMessages`' `a{sv}` options; a floating
 *   reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the history
 * @user_data: data for @callback
 *
 * The session's persisted history. Finish with
 * copilot_session_get_messages_finish().
 */
void
copilot_session_get_messages (CopilotSession      *self,
                              GVariant            *options,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_SESSION (self));
  copilot_session_call_internal (self, copilot_session_get_messages, "GetMessages", g_variant_new ("(@a{sv})", sunk),
                                 G_VARIANT_TYPE ("(a(sa{sv}s))"), cancellable, callback, user_data);
}

/**
 * copilot_session_get_messages_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): an `a(sa{sv}s)`: (type, meta, data_json) per
 *   event
 */
GVariant *
copilot_session_get_messages_finish (CopilotSession  *self,
                                     GAsyncResult    *result,
                                     GError         **error)
{
  g_autoptr(GVariant) reply = copilot_session_call_internal_finish (self, result, copilot_session_get_messages, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * copilot_session_call_method:
 * @self: a #CopilotSession
 * @method: a member of the `io.github.copilotd.Copilot1.Session`
 *   interface, e.g. `GetInfo`
 * @parameters: (nullable): its parameters, a tuple; a floating reference
 *   is consumed
 * @reply_type: (nullable): the reply's type, or %NULL for any
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the reply
 * @user_data: data for @callback
 *
 * Calls any member of the session without a D-Bus timeout: the way to
 * members this version of the library has no function for. Finish with
 * copilot_session_call_method_finish().
 */
void
copilot_session_call_method (CopilotSession      *self,
                             const char          *method,
                             GVariant            *parameters,
                             const GVariantType  *reply_type,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_SESSION (self));
  g_return_if_fail (method != NULL);
  copilot_session_call_internal (self, copilot_session_call_method, method, parameters, reply_type,
                                 cancellable, callback, user_data);
}

/**
 * copilot_session_call_method_finish:
 * @self: a #CopilotSession
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the reply tuple, or %NULL with @error set
 */
GVariant *
copilot_session_call_method_finish (CopilotSession  *self,
                                    GAsyncResult    *result,
                                    GError         **error)
{
  return copilot_session_call_internal_finish (self, result, copilot_session_call_method, error);
}
