/* SPDX-License-Identifier: MIT */
/* session-providers.c: a session's hook and command providers
 *
 * The glue between a session and providers.c: hooks.invoke requests and
 * command.execute events of the session's CLI go to the providers its
 * apps bound (CreateSession/ResumeSession options hooks and commands), and
 * the answers go back to the CLI.
 */
#include "config.h"

#include "options.h"
#include "providers.h"
#include "session-private.h"


typedef struct {
  CopilotdSession *session;    /* owned */
  JsonNode *rpc_id;            /* owned, nullable */
} ProviderCall;

static void
provider_call_free (ProviderCall *call)
{
  g_object_unref (call->session);
  g_clear_pointer (&call->rpc_id, json_node_unref);
  g_free (call);
}

static guint
hook_timeout_ms (CopilotdSession *self)
{
  return MIN (self->ctx.config->hook_timeout, G_MAXUINT / 1000) * 1000;
}

static void
on_hooks_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ProviderCall *call = user_data;
  g_autoptr(JsonNode) answer = copilotd_hooks_invoke_finish (result, NULL);

  /* Withdrawn only when the session closed: its CLI no longer waits. */
  if (answer != NULL && !call->session->closed)
    copilotd_backend_reply (call->session->ctx.backend, call->rpc_id, answer);
  provider_call_free (call);
}

/* hooks.invoke is answered for every hook type once hooks:true was sent;
 * the types no provider named get no output at once. */
void
session_run_hooks (CopilotdSession *self,
           JsonObject      *params,
           JsonNode        *id)
{
  ProviderCall *call = g_new0 (ProviderCall, 1);

  call->session = g_object_ref (self);
  call->rpc_id = json_node_copy (id);
  copilotd_hooks_invoke_async (self->ctx.connection, self->ctx.callers, self->providers,
                               hook_timeout_ms (self), self->path,
                               copilotd_json_get_string (params, "hookType", ""),
                               json_object_get_member (params, "input"),
                               self->cancellable, on_hooks_done, call);
}

static void
on_command_answered (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    g_debug ("session.commands.handlePendingCommand failed: %s", error->message);
}

static void
on_command_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ProviderCall *call = user_data;
  JsonObject *answer = copilotd_command_execute_finish (result, NULL);

  if (answer != NULL && !call->session->closed)
    copilotd_session_call_async (call->session, "session.commands.handlePendingCommand", answer,
                                 on_command_answered, NULL);
  else if (answer != NULL)
    json_object_unref (answer);
  provider_call_free (call);
}

void
session_run_command (CopilotdSession *self,
             JsonObject      *data)
{
  ProviderCall *call;

  /* Another client of a shared CLI server may serve it. */
  if (self->providers == NULL || self->providers->len == 0)
    return;

  call = g_new0 (ProviderCall, 1);
  call->session = g_object_ref (self);
  copilotd_command_execute_async (self->ctx.connection, self->ctx.callers, self->providers,
                                  hook_timeout_ms (self), self->path, data,
                                  self->cancellable, on_command_done, call);
}

void
copilotd_session_set_providers (CopilotdSession *self,
                                GPtrArray       *providers)
{
  g_clear_pointer (&self->providers, g_ptr_array_unref);
  self->providers = providers;
}

gboolean
copilotd_session_join_providers (CopilotdSession *self,
                                 GPtrArray       *providers,
                                 JsonObject      *params,
                                 GError         **error)
{
  g_autoptr(GPtrArray) added = providers;

  if (!copilotd_providers_check_join (self->providers, added, error))
    return FALSE;
  if (self->providers == NULL)
    self->providers = g_ptr_array_new_with_free_func ((GDestroyNotify) copilotd_provider_free);
  copilotd_providers_join (self->providers, added);
  copilotd_providers_describe (self->providers, params);
  return TRUE;
}
