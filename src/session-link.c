/* SPDX-License-Identifier: MIT */
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

#include "auth-store.h"
#include "copilotd-error.h"
#include "options.h"
#include "session-control.h"
#include "providers.h"
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

static gboolean was_never_sent (GAsyncResult *result,
                                const GError *error);
static void set_link (CopilotdSession *self,
                      SessionLink      link);
static void enqueue (CopilotdSession *self,
                     GTask           *task);
static void detach (CopilotdSession *self);

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
  /* Never received by the CLI that was lost: it goes to the next one,
   * after the session was resumed there (DESIGN.md §7). */
  if (!self->closed && was_never_sent (result, error))
    {
      session_link_lost (self);
      if (self->link != SESSION_LINK_LIVE)
        {
          enqueue (self, g_steal_pointer (&task));
          return;
        }
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

/* Its CLI was lost: calls wait until the session was resumed. */
void
session_link_lost (CopilotdSession *self)
{
  if (self->link == SESSION_LINK_LIVE || self->link == SESSION_LINK_RESUMING)
    set_link (self, SESSION_LINK_LOST);
}

/* ---- start ---------------------------------------------------------------- */

/* A call that failed because the CLI went away before it was written was
 * never received: it may be sent again to the next CLI. */
static gboolean
was_never_sent (GAsyncResult *result,
                const GError *error)
{
  return g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED) &&
         copilotd_backend_call_was_unsent (result);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(CopilotdSession) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GTask) task = NULL;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (node == NULL && !self->closed && was_never_sent (result, error))
    {
      /* copilotd_session_backend_ready() sends it again to the new CLI. */
      g_debug ("Session '%s': %s never reached the CLI; waiting for it to restart",
               self->id, self->start_method);
      set_link (self, SESSION_LINK_LOST);
      return;
    }

  task = g_steal_pointer (&self->start_task);
  if (task == NULL)
    return;
  if (self->closed)
    g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                             "The session closed while starting");
  else if (node == NULL)
    {
      GTask *waiting;

      /* Not in any CLI: nothing that waited for it can go out. */
      set_link (self, SESSION_LINK_NEW);
      while ((waiting = g_queue_pop_head (&self->calls)) != NULL)
        {
          g_task_return_error (waiting, g_error_copy (error));
          g_object_unref (waiting);
        }
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    {
      if (JSON_NODE_HOLDS_OBJECT (node))
        copilotd_session_set_started (self, json_node_get_object (node));
      set_link (self, SESSION_LINK_LIVE);
      g_task_return_boolean (task, TRUE);
    }
}

static void
send_start (CopilotdSession *self,
            const char      *method)
{
  g_autoptr(JsonNode) params = copilotd_session_dup_resume_params (self);

  g_debug ("%s session '%s'", g_str_equal (method, "session.resume") ? "Resuming" : "Creating", self->id);
  set_link (self, SESSION_LINK_STARTING);
  copilotd_backend_call_async (self->ctx.backend, method, params, self->cancellable,
                               on_started, g_object_ref (self));
}

/**
 * copilotd_session_start_async:
 * @resume: session.resume an existing session, else session.create
 *
 * Brings the session into its CLI. The session's events are held from
 * now on: the caller replies to its client, then releases them with
 * copilotd_session_release(), also when the start failed.
 */
void
copilotd_session_start_async (CopilotdSession     *self,
                              gboolean             resume,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, copilotd_session_start_async);
  g_return_if_fail (self->start_task == NULL && self->link == SESSION_LINK_NEW);

  copilotd_session_hold (self);
  self->start_task = g_steal_pointer (&task);
  self->start_method = resume ? "session.resume" : "session.create";
  send_start (self, self->start_method);
}

gboolean
copilotd_session_start_finish (CopilotdSession  *self,
                               GAsyncResult     *result,
                               GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- recovery ------------------------------------------------------------ */

static void
on_resumed (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(CopilotdSession) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (self->closed)
    ;  /* nothing to bring back */
  else if (node == NULL && g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED))
    {
      /* The new CLI was lost too: its next "ready" resumes the session
       * again, and "failed" closes it. */
      g_debug ("Resuming session '%s' was cut short: %s", self->id, error->message);
      set_link (self, SESSION_LINK_LOST);
    }
  else if (node == NULL && !self->resume_recreates &&
           g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND))
    {
      g_autoptr(JsonNode) params = copilotd_session_dup_resume_params (self);

      /* The CLI writes a session to disk with its first message: one that
       * had none has no history to lose and is created again, same id. */
      g_debug ("Session '%s' was never persisted; creating it again", self->id);
      self->resume_recreates = TRUE;
      copilotd_backend_call_async (self->ctx.backend, "session.create", params, self->cancellable,
                                   on_resumed, g_object_ref (self));
      return;
    }
  else if (node == NULL)
    {
      g_warning ("Cannot resume session '%s' after the CLI restarted: %s", self->id, error->message);
      copilotd_session_close (self, "backend-failed");
    }
  else
    {
      copilotd_session_backend_restarted (self);
      /* Only now may the calls that waited reach the new CLI. */
      set_link (self, SESSION_LINK_LIVE);
    }
  copilotd_session_release (self);
}

/**
 * copilotd_session_backend_ready:
 *
 * The session's CLI (re)started. A session that was live in the lost CLI
 * is resumed under the same object path, with the same tools and flags
 * (they are not persisted); one whose start never reached the lost CLI is
 * started again. Its calls wait until that has been answered.
 */
void
copilotd_session_backend_ready (CopilotdSession *self)
{
  g_autoptr(JsonNode) params = NULL;

  if (self->closed || self->link != SESSION_LINK_LOST)
    return;
  if (self->start_task != NULL)
    {
      send_start (self, self->start_method);
      return;
    }

  params = copilotd_session_dup_resume_params (self);
  g_debug ("Resuming session '%s' in the restarted CLI", self->id);
  set_link (self, SESSION_LINK_RESUMING);
  self->resume_recreates = FALSE;
  copilotd_session_hold (self);
  copilotd_backend_call_async (self->ctx.backend, "session.resume", params, self->cancellable,
                               on_resumed, g_object_ref (self));
}

/* ---- the CLI lost and back ---------------------------------------------- */

/* A waiter whose session.send was answered: its turn ran in the CLI. */
static gboolean
has_running_turn (CopilotdSession *self)
{
  for (GList *l = self->waiters; l != NULL; l = l->next)
    if (((Waiter *) l->data)->message_id != NULL)
      return TRUE;
  return FALSE;
}

void
copilotd_session_backend_lost (CopilotdSession *self)
{
  g_autoptr(GError) error = NULL;

  if (self->closed)
    return;
  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "The Copilot CLI was lost; the running turn cannot continue");
  copilotd_prompts_cancel_all (self->prompts);
  if (self->busy || copilotd_prompts_get_n_waiting (self->prompts) > 0 || has_running_turn (self))
    {
      JsonObject *data = json_object_new ();
      JsonObject *idle = json_object_new ();

      json_object_set_string_member (data, "errorType", "backend_lost");
      json_object_set_string_member (data, "message", error->message);
      session_relay_synthetic (self, "session.error", data);
      json_object_set_boolean_member (idle, "aborted", TRUE);
      session_relay_synthetic (self, "session.idle", idle);
    }
  session_finish_waiters (self, error, TRUE);
  self->busy = FALSE;
  session_update_state (self);
  session_link_lost (self);
}

void
copilotd_session_backend_restarted (CopilotdSession *self)
{
  if (self->closed)
    return;
  session_relay_synthetic (self, "copilotd.backend_restarted", json_object_new ());
}

void
copilotd_session_set_params (CopilotdSession *self,
                             JsonNode        *params,
                             GPtrArray       *tools)
{
  JsonObject *object = params && JSON_NODE_HOLDS_OBJECT (params) ? json_node_get_object (params) : NULL;

  g_clear_pointer (&self->params, g_free);
  g_clear_pointer (&self->client_name, g_free);
  g_clear_pointer (&self->working_directory, g_free);
  if (object != NULL)
    {
      self->params = json_to_string (params, FALSE);
      self->client_name = g_strdup (copilotd_json_get_string (object, "clientName", NULL));
      self->working_directory = g_strdup (copilotd_json_get_string (object, "workingDirectory", NULL));
    }
  g_clear_pointer (&self->tools, g_ptr_array_unref);
  self->tools = tools;
}

/* The params kept by copilotd_session_set_params(), a new tree: {} when none. */
JsonNode *
copilotd_session_dup_params (CopilotdSession *self)
{
  JsonNode *node = self->params ? json_from_string (self->params, NULL) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_clear_pointer (&node, json_node_unref);
      node = copilotd_json_node_take_object (json_object_new ());
    }
  return node;
}

JsonNode *
copilotd_session_dup_resume_params (CopilotdSession *self)
{
  JsonNode *node;
  JsonObject *object;

  node = copilotd_session_dup_params (self);
  object = json_node_get_object (node);
  json_object_set_string_member (object, "sessionId", self->id);
  /* A token kept by SignIn where no keychain serves the CLI (auth-store.c). */
  copilotd_auth_store_apply (self->ctx.backend, object);
  /* A restart is not a new conversation: no resume event in the history. */
  return node;
}

void
copilotd_session_set_started (CopilotdSession *self,
                              JsonObject      *result)
{
  JsonNode *model_state = json_object_get_member (result, "modelState");
  const char *start = copilotd_json_get_string (result, "startTime", NULL);

  if (start != NULL)
    copilotd_session_set_cli_property (self, "start-time", start);
  copilotd_session_control_started (self, result);
  if (model_state != NULL && JSON_NODE_HOLDS_OBJECT (model_state))
    {
      const char *model = copilotd_json_get_string (json_node_get_object (model_state),
                                                                      "modelId", NULL);
      if (model != NULL)
        copilotd_session_set_cli_property (self, "model", model);
    }
}

/* ---- ending -------------------------------------------------------------- */

static void
on_forgotten (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autofree char *id = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (node == NULL)
    g_debug ("session.destroy '%s' failed: %s", id, error->message);
}

/* A session that closed on the daemon's side still lives in its CLI: the
 * CLI is told, unless it is gone (a new one never loaded the session). */
void
session_link_forget (CopilotdSession *self)
{
  g_autoptr(JsonNode) params = NULL;

  if (self->link != SESSION_LINK_LIVE ||
      copilotd_backend_get_state (self->ctx.backend) != COPILOTD_BACKEND_RUNNING)
    return;
  params = copilotd_json_node_take_object (copilotd_session_params (self->id));
  copilotd_backend_call_async (self->ctx.backend, "session.destroy", params, NULL,
                               on_forgotten, g_strdup (self->id));
}

static void
on_destroyed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  /* {"success":false} means the CLI no longer had it: closed all the same. */
  node = copilotd_session_call_finish (self, result, &error);
  if (node == NULL && !self->closed &&
      !g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  copilotd_session_close (self, "destroyed");
  g_task_return_boolean (task, TRUE);
}

/**
 * copilotd_session_destroy_async:
 *
 * session.destroy (after a resume in progress, like every call), then
 * closes the session with "destroyed". Fails, leaving the session open,
 * only when the CLI refused.
 */
void
copilotd_session_destroy_async (CopilotdSession     *self,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, copilotd_session_destroy_async);
  if (self->closed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  copilotd_session_call_async (self, "session.destroy", NULL, on_destroyed, g_steal_pointer (&task));
}

gboolean
copilotd_session_destroy_finish (CopilotdSession  *self,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_destroy_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GDBusMethodInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;

  if (copilotd_session_destroy_finish (COPILOTD_SESSION (source), result, &error))
    g_dbus_method_invocation_return_value (invocation, NULL);
  else
    g_dbus_method_invocation_return_gerror (invocation, error);
}

/* Session.Destroy */
gboolean
session_handle_destroy (CopilotdDbusSession   *iface,
                        GDBusMethodInvocation *invocation,
                        GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    copilotd_session_destroy_async (self, on_destroy_done, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

void
copilotd_session_peer_vanished (CopilotdSession *self,
                                const char      *name)
{
  copilotd_event_relay_unsubscribe (self->relay, name);
  copilotd_providers_drop_sender (self->providers, name);
  if (g_strcmp0 (self->owner, name) != 0)
    return;

  g_clear_pointer (&self->owner, g_free);
  if (!self->persist)
    copilotd_session_close (self, "owner-vanished");
  else
    g_debug ("Owner of persistent session '%s' left; waiting for a subscriber", self->id);
}

/* ---- destroying them all (daemon exit) ---------------------------------- */

typedef struct {
  GPtrArray *sessions;         /* owned: CopilotdSession* (owned) */
  guint pending;
  gboolean done;
  GSource *timeout;            /* owned, nullable */
} DestroyAll;

static void
destroy_all_free (DestroyAll *data)
{
  /* Normally gone already: the source holds a reference on the task. */
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_source_unref (data->timeout);
    }
  g_ptr_array_unref (data->sessions);
  g_free (data);
}

static void
destroy_all_done (GTask *task)
{
  DestroyAll *data = g_task_get_task_data (task);

  if (data->done)
    return;
  data->done = TRUE;
  /* The timeout holds a reference on the task: drop it now. */
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_clear_pointer (&data->timeout, g_source_unref);
    }
  /* Those whose CLI did not answer in time. */
  for (guint i = 0; i < data->sessions->len; i++)
    copilotd_session_close (g_ptr_array_index (data->sessions, i), "destroyed");
  g_task_return_boolean (task, TRUE);
}

static gboolean
on_destroy_all_timeout (gpointer user_data)
{
  g_debug ("session.destroy was not answered in time; closing the sessions");
  destroy_all_done (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_one_destroyed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DestroyAll *data = g_task_get_task_data (task);

  copilotd_session_destroy_finish (COPILOTD_SESSION (source), result, NULL);
  if (--data->pending == 0)
    destroy_all_done (task);
}

/**
 * copilotd_sessions_destroy_all_async:
 *
 * session.destroy for each of @sessions whose CLI runs (the others are
 * closed at once), each closed with "destroyed"; after @timeout_ms those
 * not answered yet are closed all the same.
 */
void
copilotd_sessions_destroy_all_async (GPtrArray           *sessions,
                                     guint                timeout_ms,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  DestroyAll *data = g_new0 (DestroyAll, 1);

  g_task_set_source_tag (task, copilotd_sessions_destroy_all_async);
  data->sessions = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < sessions->len; i++)
    g_ptr_array_add (data->sessions, g_object_ref (g_ptr_array_index (sessions, i)));
  g_task_set_task_data (task, data, (GDestroyNotify) destroy_all_free);
  data->pending = 1;
  data->timeout = g_timeout_source_new (timeout_ms);
  g_task_attach_source (task, data->timeout, on_destroy_all_timeout);

  for (guint i = 0; i < data->sessions->len; i++)
    {
      CopilotdSession *session = g_ptr_array_index (data->sessions, i);

      if (copilotd_backend_get_state (session->ctx.backend) == COPILOTD_BACKEND_RUNNING)
        {
          data->pending++;
          copilotd_session_destroy_async (session, on_one_destroyed, g_object_ref (task));
        }
      else
        copilotd_session_close (session, "destroyed");
    }
  if (--data->pending == 0)
    destroy_all_done (task);
}

void
copilotd_sessions_destroy_all_finish (GAsyncResult *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

void
session_link_close (CopilotdSession *self,
                    const GError    *error)
{
  GTask *task;

  g_cancellable_cancel (self->cancellable);
  detach (self);
  if (self->start_task != NULL)
    {
      task = g_steal_pointer (&self->start_task);
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
  while ((task = g_queue_pop_head (&self->calls)) != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

void
session_link_attach (CopilotdSession *self)
{
  self->held_backend = g_object_ref (self->ctx.backend);
  copilotd_backend_hold (self->held_backend);
}

static void
detach (CopilotdSession *self)
{
  g_autoptr(CopilotdBackend) backend = g_steal_pointer (&self->held_backend);

  if (backend != NULL)
    copilotd_backend_release (backend);
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

  detach (self);
  if (self->cancellable == NULL)
    return;
  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "Session %s is gone", self->id);
  session_link_close (self, error);
  g_clear_object (&self->cancellable);
}
