/* SPDX-License-Identifier: MIT */
/* backend-call.c: calls to one CLI, each with a deadline, and the liveness
 * ping that finds a CLI that is alive but answers nothing
 *
 * A call goes out once the handshake is done (backend.c queues it before)
 * and fails with Timeout when its deadline passes; the CLI goes on. When
 * calls have gone unanswered for a third of call-timeout the CLI is sent a
 * ping; no answer to that within another third and the CLI is wedged: it
 * is treated as lost (backend_lost), which fails every pending call with
 * BackendFailed and restarts it.
 */
#include "config.h"

#include <string.h>

#include "backend-private.h"
#include "copilotd-error.h"

/* Without call-timeout, a liveness ping still goes out after this long. */
#define DEFAULT_PROBE_MS 10000

typedef struct {
  char *method;                   /* owned */
  JsonNode *params;               /* owned, nullable */
  guint timeout_ms;               /* 0: no deadline */
  GCancellable *rpc_cancellable;  /* owned, nullable: cancels the call in flight */
  GCancellable *caller;           /* owned, nullable: the caller's cancellable */
  gulong caller_id;
  GSource *deadline;              /* owned, nullable */
  gboolean timed_out;
  gboolean lost_unsent;           /* its CLI was lost before the request was written */
  gint64 sent_at;                 /* monotonic µs */
} CallData;

static void
call_data_clear_flight (CallData *data)
{
  if (data->deadline != NULL)
    {
      g_source_destroy (data->deadline);
      g_clear_pointer (&data->deadline, g_source_unref);
    }
  if (data->caller_id != 0)
    g_cancellable_disconnect (data->caller, data->caller_id);
  data->caller_id = 0;
  g_clear_object (&data->caller);
  g_clear_object (&data->rpc_cancellable);
}

static void
call_data_free (CallData *data)
{
  call_data_clear_flight (data);
  g_free (data->method);
  g_clear_pointer (&data->params, json_node_unref);
  g_free (data);
}

/* Errors the CLI sent back are turned into the project's domain here, once,
 * so that every D-Bus method maps them the same way. */
static void
translate_error (GError **error)
{
  GError *e;
  const char *message;
  const char *marker = " failed with message: ";
  const char *found;
  int code = COPILOTD_ERROR_FAILED;

  /* Callers that do not care about the error pass NULL. */
  if (error == NULL)
    return;
  e = *error;

  if (e == NULL || e->domain != COPILOTD_JSONRPC_ERROR)
    return;

  message = e->message;
  if (g_str_has_prefix (message, "Request ") && (found = strstr (message, marker)) != NULL)
    message = found + strlen (marker);

  if (strstr (message, "Session not found") != NULL)
    code = COPILOTD_ERROR_NOT_FOUND;
  else if (strstr (message, "is not available") != NULL ||
           strstr (message, "invalid") != NULL || strstr (message, "Invalid") != NULL)
    code = COPILOTD_ERROR_INVALID_ARGS;
  else
    code = copilotd_error_code_for_cli (message, NULL, 0, code);

  *error = g_error_new (COPILOTD_ERROR, code, "%s", message);
  g_error_free (e);
}


static guint
probe_ms (CopilotdBackend *self)
{
  /* A third of the call deadline, so that a wedged CLI is found (and its
   * calls fail BackendFailed) before any call times out. */
  if (self->config->call_timeout == 0)
    return DEFAULT_PROBE_MS;
  return MAX (self->config->call_timeout * 1000 / 3, 1);
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdBackend *self = g_task_get_source_object (task);
  CallData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  data->lost_unsent = node == NULL && !copilotd_jsonrpc_call_was_written (result) &&
                      g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  if (node != NULL || (error != NULL && error->domain == COPILOTD_JSONRPC_ERROR))
    self->last_heard = g_get_monotonic_time ();
  call_data_clear_flight (data);
  g_ptr_array_remove (self->in_flight, task);

  if (data->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&error);
      error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                           "The Copilot CLI did not answer %s within %u ms",
                           data->method, data->timeout_ms);
      g_debug ("%s", error->message);
    }
  if (node == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
  backend_update_idle (self);
}

static gboolean
on_call_deadline (gpointer user_data)
{
  GTask *task = user_data;
  CallData *data = g_task_get_task_data (task);

  /* on_call_done turns the cancellation into Timeout. */
  data->timed_out = TRUE;
  g_clear_pointer (&data->deadline, g_source_unref);
  g_cancellable_cancel (data->rpc_cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

void
backend_dispatch_call (CopilotdBackend *self,
               GTask           *task)
{
  CallData *data = g_task_get_task_data (task);
  GCancellable *caller = g_task_get_cancellable (task);

  data->rpc_cancellable = g_cancellable_new ();
  data->sent_at = g_get_monotonic_time ();
  if (caller != NULL)
    {
      data->caller = g_object_ref (caller);
      data->caller_id = g_cancellable_connect (caller, G_CALLBACK (on_caller_cancelled),
                                               data->rpc_cancellable, NULL);
    }
  if (data->timeout_ms > 0)
    {
      data->deadline = g_timeout_source_new (data->timeout_ms);
      g_source_set_static_name (data->deadline, "[copilotd] CLI call deadline");
      /* The task outlives the source: on_call_done destroys it. */
      g_source_set_callback (data->deadline, on_call_deadline, task, NULL);
      g_source_attach (data->deadline, g_task_get_context (task));
    }
  g_ptr_array_add (self->in_flight, g_object_ref (task));
  copilotd_jsonrpc_call_async (self->rpc, data->method, data->params,
                               data->rpc_cancellable, on_call_done, task);
  g_clear_handle_id (&self->idle_source, g_source_remove);
  backend_arm_watchdog (self);
}

void
backend_fail_waiting (CopilotdBackend *self,
              const GError    *error)
{
  GTask *task;

  while ((task = g_queue_pop_head (&self->waiting)) != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

/* ---- liveness: a CLI that went quiet with calls pending is pinged -------- */

static gboolean
on_probe_deadline (gpointer user_data)
{
  CopilotdBackend *self = user_data;
  g_autoptr(GError) error = NULL;

  self->probe_source = 0;
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "it answered nothing, not even ping, for %u ms (wedged)",
                       2 * probe_ms (self));
  backend_lost (self, error);
  return G_SOURCE_REMOVE;
}

static void
on_probe_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  if (COPILOTD_JSONRPC (source) != self->rpc || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* Any answer, even an error, shows that the CLI still reads and writes. */
  g_debug ("The CLI answered the liveness ping");
  self->last_heard = g_get_monotonic_time ();
  g_clear_handle_id (&self->probe_source, g_source_remove);
  g_clear_object (&self->probe);
  backend_arm_watchdog (self);
}

static gboolean
on_watchdog (gpointer user_data)
{
  CopilotdBackend *self = user_data;
  g_autoptr(JsonNode) params = NULL;
  gint64 quiet_since = self->last_heard;
  gint64 limit = (gint64) probe_ms (self) * 1000;
  gint64 now = g_get_monotonic_time ();
  CallData *oldest;

  self->watchdog_source = 0;
  if (self->in_flight->len == 0 || self->rpc == NULL)
    return G_SOURCE_REMOVE;

  /* Quiet since the last frame, or since the oldest call went out. */
  oldest = g_task_get_task_data (g_ptr_array_index (self->in_flight, 0));
  quiet_since = MAX (quiet_since, oldest->sent_at);
  if (now - quiet_since < limit)
    {
      self->watchdog_source = g_timeout_add (MAX ((limit - (now - quiet_since)) / 1000, 1),
                                             on_watchdog, self);
      return G_SOURCE_REMOVE;
    }

  g_debug ("No answer from the CLI for %u ms with %u calls pending; pinging it",
           probe_ms (self), self->in_flight->len);
  params = json_from_string ("{\"message\":\"copilotd liveness\"}", NULL);
  self->probe = g_cancellable_new ();
  self->probe_source = g_timeout_add (probe_ms (self), on_probe_deadline, self);
  copilotd_jsonrpc_call_async (self->rpc, "ping", params, self->probe,
                               on_probe_done, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

void
backend_arm_watchdog (CopilotdBackend *self)
{
  if (self->state != COPILOTD_BACKEND_RUNNING || self->in_flight->len == 0 ||
      self->probe != NULL || self->watchdog_source != 0)
    return;
  self->watchdog_source = g_timeout_add (probe_ms (self), on_watchdog, self);
}

GTask *
backend_call_task_new (CopilotdBackend     *self,
               const char          *method,
               JsonNode            *params,
               guint                timeout_ms,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  CallData *data = g_new0 (CallData, 1);

  g_task_set_source_tag (task, copilotd_backend_call_async);
  data->method = g_strdup (method);
  data->params = params ? json_node_copy (params) : NULL;
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) call_data_free);
  return task;
}

void
copilotd_backend_call_full_async (CopilotdBackend     *self,
                                  const char          *method,
                                  JsonNode            *params,
                                  guint                timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (COPILOTD_IS_BACKEND (self));
  g_return_if_fail (method != NULL);

  task = backend_call_task_new (self, method, params, timeout_ms, cancellable, callback, user_data);

  if (self->stopping)
    {
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
      return;
    }

  switch (self->state)
    {
    case COPILOTD_BACKEND_RUNNING:
      backend_dispatch_call (self, g_steal_pointer (&task));
      return;
    case COPILOTD_BACKEND_STARTING:
    case COPILOTD_BACKEND_RESTARTING:
      g_queue_push_tail (&self->waiting, g_steal_pointer (&task));
      return;
    case COPILOTD_BACKEND_FAILED:
      /* Failed is retried on the next call, once. */
      self->single_attempt = TRUE;
      g_queue_push_tail (&self->waiting, g_steal_pointer (&task));
      backend_start (self);
      return;
    case COPILOTD_BACKEND_STOPPED:
    default:
      g_array_set_size (self->failures, 0);
      g_queue_push_tail (&self->waiting, g_steal_pointer (&task));
      backend_start (self);
      return;
    }
}

void
copilotd_backend_call_async (CopilotdBackend     *self,
                             const char          *method,
                             JsonNode            *params,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  copilotd_backend_call_full_async (self, method, params, self->config->call_timeout * 1000,
                                    cancellable, callback, user_data);
}

JsonNode *
copilotd_backend_call_finish (CopilotdBackend  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  JsonNode *node;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  node = g_task_propagate_pointer (G_TASK (result), error);
  if (node == NULL)
    translate_error (error);
  return node;
}


gboolean
copilotd_backend_call_was_unsent (GAsyncResult *result)
{
  CallData *data = g_task_get_task_data (G_TASK (result));

  return data->lost_unsent;
}

void
copilotd_backend_reply (CopilotdBackend *self,
                        JsonNode        *id,
                        JsonNode        *result)
{
  if (self->rpc != NULL)
    copilotd_jsonrpc_reply (self->rpc, id, result);
}

void
copilotd_backend_reply_error (CopilotdBackend *self,
                              JsonNode        *id,
                              int              code,
                              const char      *message)
{
  if (self->rpc != NULL)
    copilotd_jsonrpc_reply_error (self->rpc, id, code, message);
}
