/* session-link.c: a session's link to its CLI
 *
 * Every call a session makes of its CLI goes through
 * copilotd_session_call_async(). While the session is not live in a CLI
 * (being started, or brought back after the CLI restarted) calls wait in
 * the session's queue, and go out in order once the CLI has the session
 * again: a restarted CLI never sees a call for a session it has not
 * resumed yet, so a live session never answers NotFound (DESIGN.md §7).
 */
#include "config.h"

#include "copilotd-error.h"
#include "options.h"
#include "session-private.h"

typedef struct {
  char *method;                /* owned */
  JsonNode *params;            /* owned: with sessionId */
  guint64 seq;
} SessionCall;

static void
session_call_free (SessionCall *call)
{
  g_free (call->method);
  json_node_unref (call->params);
  g_free (call);
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (node != NULL)
    {
      g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
      return;
    }
  /* Cancelled: the session closed under the call. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                               "Session %s was closed", self->id);
      return;
    }
  g_task_return_error (task, g_steal_pointer (&error));
}

static void
dispatch (CopilotdSession *self,
          GTask           *task)
{
  SessionCall *call = g_task_get_task_data (task);

  g_debug ("Session '%s': %s", self->id, call->method);
  copilotd_backend_call_async (self->ctx.backend, call->method, call->params,
                               self->cancellable, on_call_done, task);
}

static gint
compare_seq (gconstpointer a,
             gconstpointer b,
             gpointer      user_data)
{
  SessionCall *ca = g_task_get_task_data ((GTask *) a);
  SessionCall *cb = g_task_get_task_data ((GTask *) b);

  return ca->seq < cb->seq ? -1 : ca->seq > cb->seq;
}

/* Takes @task. */
static void
enqueue (CopilotdSession *self,
         GTask           *task)
{
  SessionCall *call = g_task_get_task_data (task);

  g_debug ("Session '%s': %s waits for the CLI to have the session", self->id, call->method);
  g_queue_insert_sorted (&self->calls, task, compare_seq, NULL);
}

/* The CLI has the session: what waited goes out, in order. */
static void
flush_calls (CopilotdSession *self)
{
  GTask *task;

  while (self->link == SESSION_LINK_LIVE && (task = g_queue_pop_head (&self->calls)) != NULL)
    dispatch (self, task);
}

/**
 * copilotd_session_call_async:
 * @method: a CLI method that takes a sessionId
 * @params: (transfer full) (nullable): its params; sessionId is added
 *
 * Calls the session's CLI. While the session is being started or brought
 * back into a restarted CLI the call waits; it goes out, in order, once the
 * CLI has the session. Calls made once the session closed, and calls in
 * flight when it closes, fail with COPILOTD_ERROR_CLOSED.
 */
void
copilotd_session_call_async (CopilotdSession     *self,
                             const char          *method,
                             JsonObject          *params,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SessionCall *call;

  g_return_if_fail (COPILOTD_IS_SESSION (self));
  g_return_if_fail (method != NULL);

  if (params == NULL)
    params = json_object_new ();
  json_object_set_string_member (params, "sessionId", self->id);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, copilotd_session_call_async);
  g_task_set_name (task, method);
  call = g_new0 (SessionCall, 1);
  call->method = g_strdup (method);
  call->params = copilotd_json_node_take_object (params);
  call->seq = self->next_call++;
  g_task_set_task_data (task, call, (GDestroyNotify) session_call_free);

  if (self->closed)
    g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                             "Session %s is closed", self->id);
  else if (self->link == SESSION_LINK_LIVE)
    dispatch (self, g_steal_pointer (&task));
  else
    enqueue (self, g_steal_pointer (&task));
}

/**
 * copilotd_session_call_finish:
 *
 * Returns: (transfer full): the CLI's result, or %NULL with @error set in
 *   COPILOTD_ERROR.
 */
JsonNode *
copilotd_session_call_finish (CopilotdSession  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the link's state ---------------------------------------------------- */

static void
set_link (CopilotdSession *self,
          SessionLink      link)
{
  static const char * const names[] = { "new", "starting", "live", "lost", "resuming" };

  if (self->link == link)
    return;
  g_debug ("Session '%s' link %s → %s", self->id, names[self->link], names[link]);
  self->link = link;
  flush_calls (self);
}

void
copilotd_session_set_live (CopilotdSession *self)
{
  if (!self->closed)
    set_link (self, SESSION_LINK_LIVE);
}

void
copilotd_session_set_lost (CopilotdSession *self)
{
  if (!self->closed && self->link == SESSION_LINK_LIVE)
    set_link (self, SESSION_LINK_LOST);
}

void
session_link_close (CopilotdSession *self,
                    const GError    *error)
{
  GTask *task;

  g_cancellable_cancel (self->cancellable);
  while ((task = g_queue_pop_head (&self->calls)) != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

void
session_link_init (CopilotdSession *self)
{
  self->link = SESSION_LINK_NEW;
  self->cancellable = g_cancellable_new ();
  g_queue_init (&self->calls);
}

void
session_link_dispose (CopilotdSession *self)
{
  g_autoptr(GError) error = NULL;

  if (self->cancellable == NULL)
    return;
  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "Session %s is gone", self->id);
  session_link_close (self, error);
  g_clear_object (&self->cancellable);
}
