/* SPDX-License-Identifier: MIT */
/* copilot-client-sessions.c: a client's CopilotSession objects
 *
 * Creating and resuming sessions, and handing each Session signal of the
 * connection to its CopilotSession by path. Signals of a session that is
 * being created or resumed are queued until its object exists, so that
 * nothing between CreateSession's reply and the session's first event is
 * missed.
 */
#include "config.h"

#include "copilot-private.h"

/* Past this many queued signals a session backfills with GetEvents. */
#define MAX_EARLY_SIGNALS 4096

struct _CopilotSessions
{
  GHashTable *by_path;           /* owned: path → CopilotSession* (unowned, weak) */
  guint n_attaching;             /* CreateSession/ResumeSession calls in flight */
  GHashTable *early_signals;     /* owned: path → GPtrArray of (member, params) */
};

CopilotSessions *
copilot_sessions_new (void)
{
  CopilotSessions *self = g_new0 (CopilotSessions, 1);

  self->by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->early_signals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_ptr_array_unref);
  return self;
}

void
copilot_sessions_free (CopilotSessions *self)
{
  g_hash_table_unref (self->by_path);
  g_hash_table_unref (self->early_signals);
  g_free (self);
}

void
copilot_sessions_handle_signal (CopilotSessions *self,
                                const char      *path,
                                const char      *member,
                                GVariant        *params)
{
  CopilotSession *session = g_hash_table_lookup (self->by_path, path);

  if (session != NULL)
    {
      copilot_session_handle_signal (session, member, params);
      return;
    }
  /* Signals of a session whose CreateSession/ResumeSession reply has not
   * been handled yet: keep them for its object. */
  if (self->n_attaching > 0)
    {
      GPtrArray *queue = g_hash_table_lookup (self->early_signals, path);

      if (queue == NULL)
        {
          queue = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
          g_hash_table_insert (self->early_signals, g_strdup (path), queue);
        }
      if (queue->len < MAX_EARLY_SIGNALS)
        g_ptr_array_add (queue, g_variant_ref_sink (g_variant_new ("(s@*)", member, params)));
    }
}

void
copilot_sessions_handle_properties (CopilotSessions *self,
                                    const char      *path,
                                    GVariant        *changed)
{
  CopilotSession *session = g_hash_table_lookup (self->by_path, path);

  if (session != NULL)
    copilot_session_handle_properties (session, changed);
}

void
copilot_sessions_daemon_vanished (CopilotSessions *self)
{
  GList *sessions = g_hash_table_get_values (self->by_path);

  /* Its live sessions went with it. */
  for (GList *l = sessions; l != NULL; l = l->next)
    g_object_ref (l->data);
  for (GList *l = sessions; l != NULL; l = l->next)
    copilot_session_daemon_vanished (l->data);
  g_list_free_full (sessions, g_object_unref);
}

void
copilot_client_forget_session (CopilotClient *self,
                               const char    *path)
{
  g_hash_table_remove (copilot_client_get_sessions (self)->by_path, path);
}

typedef struct {
  CopilotSession *session;  /* owned, nullable */
  char *path;               /* owned, nullable */
} AttachData;

static void
attach_data_free (AttachData *data)
{
  g_clear_object (&data->session);
  g_free (data->path);
  g_free (data);
}

static void
attach_done (CopilotSessions *self)
{
  g_assert (self->n_attaching > 0);
  if (--self->n_attaching == 0)
    g_hash_table_remove_all (self->early_signals);
}

static void
on_session_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotSession *session = COPILOT_SESSION (source);
  GError *error = NULL;

  if (!copilot_session_init_finish (session, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_object_ref (session), g_object_unref);
  /* Events queued so far go out once the caller had a chance to connect. */
  copilot_session_start_delivery (session);
}

static void
on_attach_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotClient *client = g_task_get_source_object (task);
  CopilotSessions *self = copilot_client_get_sessions (client);
  AttachData *data = g_task_get_task_data (task);
  gboolean resumed = g_task_get_source_tag (task) == copilot_client_resume_session;
  g_autoptr(GVariant) reply = NULL;
  CopilotSession *session;
  GPtrArray *queue;
  GError *error = NULL;

  reply = copilot_client_call_finish (client, result, &error);
  if (reply == NULL)
    {
      attach_done (self);
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (reply, "(o)", &data->path);

  session = g_hash_table_lookup (self->by_path, data->path);
  if (session != NULL)
    data->session = g_object_ref (session);
  else
    {
      /* A created session relays from serial 1 to its owner; a resumed
       * one is joined where it stands (its history is GetMessages'). */
      data->session = copilot_session_new_internal (client, data->path, resumed ? 0 : 1);
      g_hash_table_insert (self->by_path, g_strdup (data->path), data->session);
      queue = g_hash_table_lookup (self->early_signals, data->path);
      for (guint i = 0; queue != NULL && i < queue->len; i++)
        {
          const char *member;
          g_autoptr(GVariant) params = NULL;

          g_variant_get (g_ptr_array_index (queue, i), "(&s@*)", &member, &params);
          copilot_session_handle_signal (data->session, member, params);
        }
      g_hash_table_remove (self->early_signals, data->path);
    }
  attach_done (self);
  copilot_session_init_async (data->session, g_task_get_cancellable (task),
                              on_session_ready, g_object_ref (task));
}

static void
attach (CopilotClient       *self,
        gpointer             source_tag,
        const char          *session_id,
        GVariant            *options,
        GCancellable        *cancellable,
        GAsyncReadyCallback  callback,
        gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GVariant) sunk = copilot_sink_options (options);
  g_autoptr(GVariant) with_tools = copilot_providers_add_options (copilot_client_get_providers (self), sunk);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, g_new0 (AttachData, 1), (GDestroyNotify) attach_data_free);
  copilot_client_get_sessions (self)->n_attaching++;
  /* Starting the CLI and creating the session can take a while. */
  if (session_id == NULL)
    copilot_client_call (self, COPILOT_OBJECT_PATH, COPILOT_IFACE_MANAGER, "CreateSession",
                         g_variant_new ("(@a{sv})", with_tools), G_VARIANT_TYPE ("(o)"),
                         COPILOT_TURN_TIMEOUT, cancellable, on_attach_done, g_steal_pointer (&task));
  else
    copilot_client_call (self, COPILOT_OBJECT_PATH, COPILOT_IFACE_MANAGER, "ResumeSession",
                         g_variant_new ("(s@a{sv})", session_id, with_tools), G_VARIANT_TYPE ("(o)"),
                         COPILOT_TURN_TIMEOUT, cancellable, on_attach_done, g_steal_pointer (&task));
}

/**
 * copilot_client_create_session:
 * @self: a #CopilotClient
 * @options: (nullable): `CreateSession`'s `a{sv}` options (`model`,
 *   `working-directory`, `system-message`, `persist`, …); a floating
 *   reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the session
 * @user_data: data for @callback
 *
 * Creates a session owned by this connection. The tools added with
 * copilot_client_add_tool() are offered to it (after any in @options'
 * `tools`). The session's events are delivered from the main loop
 * iteration after @callback returns, so connect to its signals in
 * @callback. Finish with copilot_client_create_session_finish().
 */
void
copilot_client_create_session (CopilotClient       *self,
                               GVariant            *options,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  attach (self, copilot_client_create_session, NULL, options, cancellable, callback, user_data);
}

/**
 * copilot_client_create_session_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the new session, or %NULL with @error set
 */
CopilotSession *
copilot_client_create_session_finish (CopilotClient  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * copilot_client_resume_session:
 * @self: a #CopilotClient
 * @session_id: a CLI session id (from copilot_client_list_sessions())
 * @options: (nullable): `ResumeSession`'s `a{sv}` options; a floating
 *   reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the session
 * @user_data: data for @callback
 *
 * Brings a stored session back (or joins the live one) and subscribes to
 * it. Events are delivered from the point it was joined; its history is
 * copilot_session_get_messages(). Finish with
 * copilot_client_resume_session_finish().
 */
void
copilot_client_resume_session (CopilotClient       *self,
                               const char          *session_id,
                               GVariant            *options,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (session_id != NULL);
  attach (self, copilot_client_resume_session, session_id, options, cancellable, callback, user_data);
}

/**
 * copilot_client_resume_session_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the session, or %NULL with @error set
 */
CopilotSession *
copilot_client_resume_session_finish (CopilotClient  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
