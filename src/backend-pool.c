/* SPDX-License-Identifier: MIT */
/* backend-pool.c: the per-user CLIs, their model lists, stopping them all
 *
 * On the session bus the daemon runs one CLI; on the system bus every user
 * gets a CLI of their own, running as that user, so that sessions, history
 * and credentials never mix (DESIGN.md §7). The pool creates them on first
 * use, holds a user's CLI from idling out while that user (and only that
 * user) has an agent registered, keeps each one's ListModels answer while
 * that CLI process runs, and stops them all when the daemon exits.
 */
#include "config.h"

#include <unistd.h>

#include "backend-pool.h"
#include "copilotd-error.h"
#include "users.h"

#define MODELS_KEY "copilotd-models"

struct _CopilotdBackendPool
{
  GObject parent_instance;

  const CopilotdConfig *config;      /* unowned */
  CopilotdCallers *callers;          /* owned */
  CopilotdBackend *backend;          /* owned, nullable: the session bus's CLI */
  GHashTable *user_backends;         /* owned: uid → CopilotdBackend* (owned), system bus */
  CopilotdBackendPoolHoldFunc hold_func; /* nullable */
  gpointer hold_data;
  GHashTable *held;                  /* owned: CopilotdBackend* the pool holds (unowned) */
};

G_DEFINE_FINAL_TYPE (CopilotdBackendPool, copilotd_backend_pool, G_TYPE_OBJECT)

enum { SIGNAL_BACKEND_ADDED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* A new CLI is a new model list: a restarted one may have been updated,
 * and one started after an idle stop too. So the list goes as soon as the
 * CLI that gave it is no longer running. */
static void
on_backend_state (CopilotdBackend *backend,
                  GParamSpec      *pspec,
                  gpointer         user_data)
{
  if (copilotd_backend_get_state (backend) != COPILOTD_BACKEND_RUNNING)
    g_object_set_data (G_OBJECT (backend), MODELS_KEY, NULL);
}

/* Holds or releases @backend as its user's needs say. */
static void
update_hold (CopilotdBackendPool *self,
             CopilotdBackend     *backend)
{
  uid_t uid = copilotd_backend_get_user (backend);
  gboolean want;

  /* The session bus's CLI runs as the daemon's user, whose agents alone
   * reach the daemon. */
  if (uid == (uid_t) -1)
    uid = getuid ();
  want = self->hold_func != NULL && self->hold_func (uid, self->hold_data);
  if (want == g_hash_table_contains (self->held, backend))
    return;
  if (want)
    {
      g_hash_table_add (self->held, backend);
      copilotd_backend_hold (backend);
    }
  else
    {
      g_hash_table_remove (self->held, backend);
      copilotd_backend_release (backend);
    }
}

static CopilotdBackend *
add_backend (CopilotdBackendPool *self,
             CopilotdBackend     *backend)
{
  g_signal_connect_object (backend, "notify::state", G_CALLBACK (on_backend_state), self, 0);
  update_hold (self, backend);
  g_signal_emit (self, signals[SIGNAL_BACKEND_ADDED], 0, backend);
  return backend;
}

CopilotdBackend *
copilotd_backend_pool_get (CopilotdBackendPool *self,
                           uid_t                uid)
{
  CopilotdBackend *backend;

  if (!self->config->system_bus)
    {
      if (self->backend == NULL)
        self->backend = add_backend (self, copilotd_backend_new (self->config));
      return self->backend;
    }
  backend = g_hash_table_lookup (self->user_backends, GUINT_TO_POINTER (uid));
  if (backend == NULL)
    {
      backend = copilotd_backend_new_for_user (self->config, uid);
      g_hash_table_insert (self->user_backends, GUINT_TO_POINTER (uid), backend);
      add_backend (self, backend);
    }
  return backend;
}

CopilotdBackend *
copilotd_backend_pool_for_caller (CopilotdBackendPool   *self,
                                  GDBusMethodInvocation *invocation,
                                  GError               **error)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) local_error = NULL;
  uid_t uid = 0;

  if (!self->config->system_bus)
    return copilotd_backend_pool_get (self, 0);
  if (sender == NULL)
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED, "Unknown caller");
      return NULL;
    }
  if (!copilotd_callers_get_uid (self->callers, sender, &uid, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!copilotd_user_check (uid, error))
    return NULL;
  return copilotd_backend_pool_get (self, uid);
}

GPtrArray *
copilotd_backend_pool_list (CopilotdBackendPool *self)
{
  GPtrArray *backends = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  if (self->backend != NULL)
    g_ptr_array_add (backends, self->backend);
  g_hash_table_iter_init (&iter, self->user_backends);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (backends, value);
  return backends;
}

void
copilotd_backend_pool_set_hold_func (CopilotdBackendPool        *self,
                                     CopilotdBackendPoolHoldFunc func,
                                     gpointer                    user_data)
{
  self->hold_func = func;
  self->hold_data = user_data;
  copilotd_backend_pool_update_holds (self);
}

void
copilotd_backend_pool_update_holds (CopilotdBackendPool *self)
{
  g_autoptr(GPtrArray) backends = copilotd_backend_pool_list (self);

  for (guint i = 0; i < backends->len; i++)
    update_hold (self, g_ptr_array_index (backends, i));
}

gboolean
copilotd_backend_pool_is_starting (CopilotdBackendPool *self)
{
  g_autoptr(GPtrArray) backends = copilotd_backend_pool_list (self);

  for (guint i = 0; i < backends->len; i++)
    {
      CopilotdBackendState state = copilotd_backend_get_state (g_ptr_array_index (backends, i));

      if (state == COPILOTD_BACKEND_STARTING || state == COPILOTD_BACKEND_RESTARTING)
        return TRUE;
    }
  return FALSE;
}

GVariant *
copilotd_backend_pool_get_models (CopilotdBackendPool *self,
                                  CopilotdBackend     *backend)
{
  return g_object_get_data (G_OBJECT (backend), MODELS_KEY);
}

void
copilotd_backend_pool_set_models (CopilotdBackendPool *self,
                                  CopilotdBackend     *backend,
                                  GVariant            *models)
{
  g_object_set_data_full (G_OBJECT (backend), MODELS_KEY, g_variant_ref_sink (models),
                          (GDestroyNotify) g_variant_unref);
}

/* ---- stopping ------------------------------------------------------------ */

static void
on_backend_stopped (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  guint *stopping = g_task_get_task_data (task);

  copilotd_backend_stop_finish (COPILOTD_BACKEND (source), result, NULL);
  g_object_set_data (source, MODELS_KEY, NULL);
  if (--*stopping == 0)
    g_task_return_boolean (task, TRUE);
}

void
copilotd_backend_pool_stop_async (CopilotdBackendPool *self,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr(GPtrArray) backends = copilotd_backend_pool_list (self);
  guint *stopping = g_new0 (guint, 1);

  g_task_set_source_tag (task, copilotd_backend_pool_stop_async);
  g_task_set_task_data (task, stopping, g_free);
  *stopping = backends->len;
  if (backends->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  for (guint i = 0; i < backends->len; i++)
    copilotd_backend_stop_async (g_ptr_array_index (backends, i), on_backend_stopped, g_object_ref (task));
}

void
copilotd_backend_pool_stop_finish (CopilotdBackendPool *self,
                                   GAsyncResult        *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

/* ---- object -------------------------------------------------------------- */

static void
copilotd_backend_pool_dispose (GObject *object)
{
  CopilotdBackendPool *self = COPILOTD_BACKEND_POOL (object);

  g_hash_table_remove_all (self->held);
  g_clear_object (&self->backend);
  if (self->user_backends != NULL)
    g_hash_table_remove_all (self->user_backends);
  g_clear_object (&self->callers);

  G_OBJECT_CLASS (copilotd_backend_pool_parent_class)->dispose (object);
}

static void
copilotd_backend_pool_finalize (GObject *object)
{
  CopilotdBackendPool *self = COPILOTD_BACKEND_POOL (object);

  g_hash_table_unref (self->user_backends);
  g_hash_table_unref (self->held);

  G_OBJECT_CLASS (copilotd_backend_pool_parent_class)->finalize (object);
}

static void
copilotd_backend_pool_class_init (CopilotdBackendPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_backend_pool_dispose;
  object_class->finalize = copilotd_backend_pool_finalize;

  signals[SIGNAL_BACKEND_ADDED] =
    g_signal_new ("backend-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOTD_TYPE_BACKEND);
}

static void
copilotd_backend_pool_init (CopilotdBackendPool *self)
{
  self->user_backends = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->held = g_hash_table_new (NULL, NULL);
}

CopilotdBackendPool *
copilotd_backend_pool_new (const CopilotdConfig *config,
                           CopilotdCallers      *callers)
{
  CopilotdBackendPool *self = g_object_new (COPILOTD_TYPE_BACKEND_POOL, NULL);

  self->config = config;
  self->callers = g_object_ref (callers);
  return self;
}
