/* SPDX-License-Identifier: MIT */
/* session-turn.c: Send and SendAndWait: a turn, and who waits for it
 *
 * Send answers with the messageId of session.send. SendAndWait keeps a
 * waiter for the turn, answered from the session's events (session.c
 * calls session_finish_waiters() on session.idle and session.error): with
 * the turn's last assistant message once its idle event went out, with
 * the turn's error, with Closed, or with Timeout after timeout-ms (the
 * turn goes on). The session is held while session.send is on its way, so
 * that the turn's first events reach clients after Send's reply.
 */
#include "config.h"

#include <string.h>

#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "send-options.h"
#include "session-private.h"

#define DEFAULT_SEND_AND_WAIT_TIMEOUT_MS 300000

typedef struct {
  CopilotdSession *session;             /* owned, held */
  GDBusMethodInvocation *invocation;    /* owned */
  Waiter *waiter;                       /* unowned, nullable: SendAndWait's */
} SendContext;

static void
send_context_free (SendContext *ctx)
{
  copilotd_session_release (ctx->session);
  g_object_unref (ctx->session);
  g_object_unref (ctx->invocation);
  g_free (ctx);
}

void
session_waiter_free (Waiter *waiter)
{
  g_clear_handle_id (&waiter->timeout_id, g_source_remove);
  g_clear_object (&waiter->invocation);
  g_free (waiter->message_id);
  g_object_unref (waiter->session);
  g_free (waiter);
}

/* ---- waiters --------------------------------------------------------- */

void
session_finish_waiters (CopilotdSession *self,
                        const GError    *error,
                        gboolean         aborted)
{
  GList *waiters = self->waiters;
  GList *keep = NULL;

  self->waiters = NULL;
  for (GList *l = waiters; l != NULL; l = l->next)
    {
      Waiter *waiter = l->data;

      /* A waiter whose send is still on its way belongs to a later turn,
       * whose send answers it; only closing answers it now, and then
       * on_send_done() frees it. */
      if (waiter->message_id == NULL)
        {
          if (self->closed && waiter->invocation != NULL)
            g_dbus_method_invocation_return_gerror (waiter->invocation, error);
          if (self->closed)
            g_clear_object (&waiter->invocation);
          keep = g_list_prepend (keep, waiter);
          continue;
        }
      /* After a failed turn, its own session.idle may come after the next
       * turn's session.send was answered: it must not answer that turn's
       * waiter, which has not started yet (its user.message is to come). */
      if (error == NULL && self->idle_owed && !waiter->started && !self->closed)
        {
          keep = g_list_prepend (keep, waiter);
          continue;
        }
      if (waiter->invocation == NULL)
        ;  /* it timed out already */
      else if (error != NULL)
        g_dbus_method_invocation_return_gerror (waiter->invocation, error);
      else
        {
          GVariantBuilder details;

          g_variant_builder_init (&details, G_VARIANT_TYPE_VARDICT);
          g_variant_builder_add (&details, "{sv}", "message-id", g_variant_new_string (waiter->message_id));
          g_variant_builder_add (&details, "{sv}", "aborted", g_variant_new_boolean (aborted));
          g_dbus_method_invocation_return_value (waiter->invocation,
                                                 g_variant_new ("(sa{sv})",
                                                                self->last_content ? self->last_content : "",
                                                                &details));
        }
      g_clear_object (&waiter->invocation);
      session_waiter_free (waiter);
    }
  g_list_free (waiters);
  self->waiters = g_list_reverse (keep);
}

/* ---- Send ------------------------------------------------------------ */

gboolean
copilotd_session_parse_send (CopilotdSession        *self,
                             GDBusMethodInvocation  *invocation,
                             const char             *prompt,
                             GVariant               *options,
                             JsonObject            **out_params,
                             GError                **error)
{
  g_autoptr(JsonObject) params = copilotd_session_params (self->id);
  g_autofree char *mode = NULL;
  g_autofree char *display = NULL;
  const char *cwd = NULL;

  if (*prompt == '\0')
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS, "The prompt is empty");
      return FALSE;
    }
  if (strlen (prompt) > self->ctx.config->max_prompt_bytes)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "The prompt is %zu bytes; the limit is %zu",
                   strlen (prompt), self->ctx.config->max_prompt_bytes);
      return FALSE;
    }
  json_object_set_string_member (params, "prompt", prompt);

  if (!copilotd_option_get_string (options, "mode", &mode, error) ||
      !copilotd_option_get_string (options, "display-prompt", &display, error))
    return FALSE;

  if (mode != NULL)
    {
      if (strcmp (mode, "enqueue") != 0 && strcmp (mode, "immediate") != 0)
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option 'mode' must be 'enqueue' or 'immediate', not '%s'", mode);
          return FALSE;
        }
      json_object_set_string_member (params, "mode", mode);
    }
  if (display != NULL)
    json_object_set_string_member (params, "displayPrompt", display);

  /* agent-mode, response-format, attachments (send-options.c). */
  cwd = self->working_directory;
  if (!copilotd_send_options_parse (options, invocation, cwd, params, error))
    return FALSE;

  *out_params = g_steal_pointer (&params);
  return TRUE;
}

static void
on_send_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  SendContext *ctx = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  const char *message_id = NULL;

  node = copilotd_session_call_finish (ctx->session, result, &error);
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    message_id = copilotd_json_get_string (json_node_get_object (node), "messageId", NULL);
  if (error == NULL && message_id == NULL)
    error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                                 "The CLI answered session.send without a messageId");

  if (ctx->waiter != NULL)
    {
      Waiter *waiter = ctx->waiter;

      if (error != NULL)
        {
          ctx->session->waiters = g_list_remove (ctx->session->waiters, waiter);
          if (waiter->invocation != NULL)
            g_dbus_method_invocation_return_gerror (waiter->invocation, error);
          g_clear_object (&waiter->invocation);
          session_waiter_free (waiter);
        }
      else
        {
          waiter->message_id = g_strdup (message_id);
          waiter->started = g_strcmp0 (message_id, ctx->session->last_user_message) == 0;
        }
    }
  else if (error != NULL)
    g_dbus_method_invocation_return_gerror (ctx->invocation, error);
  else
    g_dbus_method_invocation_return_value (ctx->invocation, g_variant_new ("(s)", message_id));

  /* Releasing relays the turn's first events, after the reply. */
  send_context_free (ctx);
}

static gboolean
on_waiter_timeout (gpointer user_data)
{
  Waiter *waiter = user_data;
  CopilotdSession *self = waiter->session;

  waiter->timeout_id = 0;
  if (waiter->invocation != NULL)
    g_dbus_method_invocation_return_error (waiter->invocation, COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                                           "The turn did not finish in time; it goes on");
  g_clear_object (&waiter->invocation);
  if (waiter->message_id != NULL)
    {
      self->waiters = g_list_remove (self->waiters, waiter);
      session_waiter_free (waiter);
    }
  /* else on_send_done still points at it and frees it later. */
  return G_SOURCE_REMOVE;
}

static void
start_send (CopilotdSession       *self,
            GDBusMethodInvocation *invocation,
            const char            *prompt,
            GVariant              *options,
            gboolean               wait)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  SendContext *ctx;
  guint timeout_ms = DEFAULT_SEND_AND_WAIT_TIMEOUT_MS;

  if (!copilotd_session_check_caller (self, invocation))
    return;
  if (!copilotd_session_parse_send (self, invocation, prompt, options, &params, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (wait)
    {
      g_autoptr(GVariant) timeout = NULL;

      if (!copilotd_option_lookup (options, "timeout-ms", G_VARIANT_TYPE_UINT32, &timeout, &error))
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return;
        }
      if (timeout != NULL)
        timeout_ms = g_variant_get_uint32 (timeout);
    }

  copilotd_session_set_turn_sender (self, g_dbus_method_invocation_get_sender (invocation));

  ctx = g_new0 (SendContext, 1);
  ctx->session = g_object_ref (self);
  ctx->invocation = g_object_ref (invocation);
  if (wait)
    {
      Waiter *waiter = g_new0 (Waiter, 1);

      waiter->session = g_object_ref (self);
      waiter->invocation = g_object_ref (invocation);
      if (timeout_ms > 0)
        waiter->timeout_id = g_timeout_add (timeout_ms, on_waiter_timeout, waiter);
      self->waiters = g_list_append (self->waiters, waiter);
      ctx->waiter = waiter;
      g_clear_pointer (&self->last_content, g_free);
    }

  /* The turn's first events wait for session.send's reply. */
  copilotd_session_hold (self);
  copilotd_session_call_async (self, "session.send", g_steal_pointer (&params), on_send_done, ctx);
}

gboolean
session_handle_send (CopilotdDbusSession   *iface,
                     GDBusMethodInvocation *invocation,
                     const char            *prompt,
                     GVariant              *options)
{
  start_send (COPILOTD_SESSION (iface), invocation, prompt, options, FALSE);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
session_handle_send_and_wait (CopilotdDbusSession   *iface,
                              GDBusMethodInvocation *invocation,
                              const char            *prompt,
                              GVariant              *options)
{
  start_send (COPILOTD_SESSION (iface), invocation, prompt, options, TRUE);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
