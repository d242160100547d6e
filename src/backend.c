/* SPDX-License-Identifier: MIT */
/* backend.c: one CLI's supervision: state, restart, idle stop, stop
 *
 * One backend drives one CLI. It starts lazily on the first call (the
 * start and the handshake of PROTOCOL.md §1.6 are backend-start.c's), and
 * when the CLI exits or its stream breaks it fails what was pending, says
 * "lost", and restarts with an exponential backoff. Too many failures in a short window leave it
 * "failed" until the next call tries again.
 *
 * Nothing waits on the CLI forever: the handshake and every call have a
 * deadline (handshake-timeout, call-timeout), and when calls go unanswered
 * the CLI is pinged; a CLI that does not answer that ping is wedged and is
 * treated as lost (backend-call.c). A CLI that nobody uses (no hold,
 * nothing pending) is stopped after backend-idle-timeout and started again
 * by the next call. The process itself is cli-process.c's.
 */
#include "config.h"

#include "backend-private.h"
#include "cli-process.h"
#include "copilotd-error.h"
#include "jsonrpc.h"

#define RESTART_BASE_DELAY_MS 500
#define RESTART_MAX_DELAY_MS 8000

G_DEFINE_FINAL_TYPE (CopilotdBackend, copilotd_backend, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *properties[N_PROPS];

guint backend_signals[BACKEND_N_SIGNALS];

static void maybe_finish_stop (CopilotdBackend *self);
static guint kill_grace_ms (CopilotdBackend *self);

const char *
copilotd_backend_state_to_string (CopilotdBackendState state)
{
  switch (state)
    {
    case COPILOTD_BACKEND_STOPPED: return "stopped";
    case COPILOTD_BACKEND_STARTING: return "starting";
    case COPILOTD_BACKEND_RUNNING: return "running";
    case COPILOTD_BACKEND_RESTARTING: return "restarting";
    case COPILOTD_BACKEND_FAILED: return "failed";
    default: return "failed";
    }
}

void
backend_set_state (CopilotdBackend      *self,
           CopilotdBackendState  state)
{
  if (self->state == state)
    return;
  g_debug ("Backend state '%s' → '%s'",
           copilotd_backend_state_to_string (self->state),
           copilotd_backend_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
on_process_terminated (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;

  copilotd_cli_process_terminate_finish (G_SUBPROCESS (source), result);
  g_ptr_array_remove (self->dying, source);
  maybe_finish_stop (self);
  if (self->restart_when_reaped && self->dying->len == 0)
    {
      self->restart_when_reaped = FALSE;
      backend_start (self);
    }
}

/* The connection and the process go; the process is reaped later (and
 * killed when it ignores SIGTERM), never left behind. */
static void
tear_down_connection_full (CopilotdBackend *self,
                           const GError    *reason)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->handshake_source, g_source_remove);
  g_clear_handle_id (&self->watchdog_source, g_source_remove);
  g_clear_handle_id (&self->probe_source, g_source_remove);
  g_clear_handle_id (&self->idle_source, g_source_remove);
  g_cancellable_cancel (self->probe);
  g_clear_object (&self->probe);

  if (self->rpc != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->rpc, self);
      copilotd_jsonrpc_set_delta_func (self->rpc, NULL, NULL);
      copilotd_jsonrpc_close (self->rpc, reason);
      g_clear_object (&self->rpc);
    }
  g_clear_object (&self->socket);

  if (self->process != NULL)
    {
      g_ptr_array_add (self->dying, g_object_ref (self->process));
      copilotd_cli_process_terminate_async (self->process, kill_grace_ms (self),
                                            on_process_terminated, g_object_ref (self));
      g_clear_object (&self->process);
    }
}

void
backend_tear_down (CopilotdBackend *self)
{
  tear_down_connection_full (self, NULL);
}

/* SIGTERM to SIGKILL: stop-timeout, but a daemon that is exiting spends
 * stop-timeout in all, runtime.shutdown included. */
static guint
kill_grace_ms (CopilotdBackend *self)
{
  gint64 left;

  if (self->stop_deadline == 0)
    return self->config->stop_timeout * 1000;
  left = (self->stop_deadline - g_get_monotonic_time ()) / 1000;
  return (guint) CLAMP (left, 0, (gint64) self->config->stop_timeout * 1000);
}

static guint
count_recent_failures (CopilotdBackend *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 window = (gint64) self->config->restart_window * G_USEC_PER_SEC;
  guint i = 0;

  while (i < self->failures->len)
    {
      if (now - g_array_index (self->failures, gint64, i) > window)
        g_array_remove_index (self->failures, i);
      else
        i++;
    }
  return self->failures->len;
}

static gboolean
restart_cb (gpointer user_data)
{
  CopilotdBackend *self = user_data;

  self->restart_source = 0;
  backend_start (self);
  return G_SOURCE_REMOVE;
}

/* A start attempt or a running CLI failed: retry with backoff, or give up.
 * The waiting calls get the error first (a session being created hears
 * why, not that it was closed), then the state changes in the same main
 * loop dispatch, before any caller can read it. */
void
backend_failed (CopilotdBackend *self,
                const GError    *error)
{
  guint n;
  guint delay;

  backend_tear_down (self);

  if (self->stopping)
    {
      backend_fail_waiting (self, error);
      backend_set_state (self, COPILOTD_BACKEND_STOPPED);
      return;
    }

  g_array_append_val (self->failures, (gint64) { g_get_monotonic_time () });
  n = count_recent_failures (self);

  /* A call that found the backend failed gets one attempt: a CLI that
   * cannot start must not be spawned in a loop each time a client asks. */
  if (g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_PROTOCOL_MISMATCH) ||
      n >= self->config->restart_max_failures || self->single_attempt)
    {
      g_warning ("Backend failed (%u failures in %u s): %s",
                 n, self->config->restart_window, error->message);
      g_clear_error (&self->failure);
      self->failure = g_error_copy (error);
      /* Failed closes every session: a later start has none to resume. */
      self->restart_pending = FALSE;
      backend_fail_waiting (self, error);
      backend_set_state (self, COPILOTD_BACKEND_FAILED);
      return;
    }

  delay = MIN (RESTART_BASE_DELAY_MS << MIN (n - 1, 8u), RESTART_MAX_DELAY_MS);
  g_debug ("Restarting the CLI in %u ms (failure %u): %s", delay, n, error->message);
  backend_fail_waiting (self, error);
  backend_set_state (self, COPILOTD_BACKEND_RESTARTING);
  g_clear_handle_id (&self->restart_source, g_source_remove);
  self->restart_source = g_timeout_add (delay, restart_cb, self);
}

void
backend_lost (CopilotdBackend *self,
              const GError    *reason)
{
  g_autoptr(GError) error = NULL;

  if (self->stopping)
    {
      backend_tear_down (self);
      backend_set_state (self, COPILOTD_BACKEND_STOPPED);
      maybe_finish_stop (self);
      return;
    }

  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                       "The Copilot CLI was lost: %s", reason->message);
  g_warning ("%s", error->message);

  if (self->state == COPILOTD_BACKEND_RUNNING)
    {
      self->restart_pending = TRUE;
      /* Pending calls fail (saying why) before anyone hears of the loss. */
      tear_down_connection_full (self, error);
      g_signal_emit (self, backend_signals[SIGNAL_LOST], 0, error);
    }
  backend_failed (self, error);
}

/* ---- idle: a CLI nobody uses is stopped --------------------------------- */

static gboolean
on_idle_timeout (gpointer user_data)
{
  CopilotdBackend *self = user_data;

  self->idle_source = 0;
  g_debug ("The CLI was unused for %u s; stopping it", self->config->backend_idle_timeout);
  /* Closing stdin and SIGTERM both make the CLI persist and exit. */
  backend_tear_down (self);
  g_array_set_size (self->failures, 0);
  backend_set_state (self, COPILOTD_BACKEND_STOPPED);
  return G_SOURCE_REMOVE;
}

void
backend_update_idle (CopilotdBackend *self)
{
  gboolean idle = self->state == COPILOTD_BACKEND_RUNNING && !self->stopping &&
                  self->holds == 0 && self->in_flight->len == 0 &&
                  g_queue_is_empty (&self->waiting) &&
                  self->config->backend_idle_timeout > 0;

  if (!idle)
    g_clear_handle_id (&self->idle_source, g_source_remove);
  else if (self->idle_source == 0)
    self->idle_source = g_timeout_add_seconds (self->config->backend_idle_timeout,
                                               on_idle_timeout, self);
}

void
copilotd_backend_hold (CopilotdBackend *self)
{
  g_return_if_fail (COPILOTD_IS_BACKEND (self));

  self->holds++;
  backend_update_idle (self);
}

void
copilotd_backend_release (CopilotdBackend *self)
{
  g_return_if_fail (COPILOTD_IS_BACKEND (self));
  g_return_if_fail (self->holds > 0);

  self->holds--;
  backend_update_idle (self);
}

/* ---- restart on request -------------------------------------------------- */

void
copilotd_backend_set_cli_env (CopilotdBackend *self,
                              const char      *name,
                              const char      *value)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *prefix = g_strconcat (name, "=", NULL);

  for (guint i = 0; self->cli_env != NULL && self->cli_env[i] != NULL; i++)
    if (!g_str_has_prefix (self->cli_env[i], prefix))
      g_strv_builder_add (builder, self->cli_env[i]);
  if (value != NULL)
    {
      g_autofree char *pair = g_strconcat (prefix, value, NULL);

      g_strv_builder_add (builder, pair);
    }
  g_strfreev (self->cli_env);
  self->cli_env = g_strv_builder_end (builder);
}

void
copilotd_backend_restart (CopilotdBackend *self)
{
  g_autoptr(GError) error = NULL;

  if (self->stopping || self->state != COPILOTD_BACKEND_RUNNING || self->process == NULL)
    return;
  g_debug ("Restarting the CLI on request");
  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "The Copilot CLI was restarted");
  self->restart_pending = TRUE;
  /* Pending calls fail (saying why) before anyone hears of the loss. */
  tear_down_connection_full (self, error);
  g_signal_emit (self, backend_signals[SIGNAL_LOST], 0, error);
  backend_set_state (self, COPILOTD_BACKEND_RESTARTING);
  /* The old CLI writes its sessions out as it exits: the new one resumes
   * them only after that. */
  if (self->dying->len > 0)
    self->restart_when_reaped = TRUE;
  else
    backend_start (self);
}

/* ---- stop: runtime.shutdown, then every process is reaped ---------------- */

static void
maybe_finish_stop (CopilotdBackend *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->stop_task == NULL || self->process != NULL || self->rpc != NULL || self->dying->len > 0)
    return;
  task = g_steal_pointer (&self->stop_task);
  g_task_return_boolean (task, TRUE);
}

static void
stop_terminate (CopilotdBackend *self)
{
  backend_tear_down (self);
  backend_set_state (self, COPILOTD_BACKEND_STOPPED);
  maybe_finish_stop (self);
}

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;
  g_autoptr(JsonNode) node = NULL;

  node = g_task_propagate_pointer (G_TASK (result), NULL);
  /* Answered, timed out or lost: closing stdin and SIGTERM make the CLI
   * exit; SIGKILL follows when it does not. */
  stop_terminate (self);
}

void
copilotd_backend_stop_async (CopilotdBackend     *self,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, copilotd_backend_stop_async);
  if (self->stop_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "Already stopping");
      return;
    }
  self->stop_task = g_steal_pointer (&task);
  self->stopping = TRUE;
  self->stop_deadline = g_get_monotonic_time () + (gint64) self->config->stop_timeout * G_USEC_PER_SEC;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  g_clear_handle_id (&self->idle_source, g_source_remove);

  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
  backend_fail_waiting (self, error);

  /* A CLI server reached with --cli-url is not ours to shut down: its
   * other clients go on; closing the connection is all. */
  if (self->rpc != NULL && self->state == COPILOTD_BACKEND_RUNNING && self->process != NULL)
    {
      /* Bounded: a CLI that hangs (or is stopped) and never answers
       * runtime.shutdown is terminated all the same. */
      backend_dispatch_call (self, backend_call_task_new (self, "runtime.shutdown", NULL,
                                          self->config->stop_timeout * 1000, NULL,
                                          on_shutdown_done, g_object_ref (self)));
      return;
    }
  stop_terminate (self);
}

gboolean
copilotd_backend_stop_finish (CopilotdBackend  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

CopilotdBackendState
copilotd_backend_get_state (CopilotdBackend *self)
{
  return self->state;
}

const char *
copilotd_backend_get_version (CopilotdBackend *self)
{
  return self->version;
}

guint
copilotd_backend_get_protocol_version (CopilotdBackend *self)
{
  return self->protocol_version;
}

uid_t
copilotd_backend_get_user (CopilotdBackend *self)
{
  return self->run_as;
}

const GError *
copilotd_backend_get_failure (CopilotdBackend *self)
{
  return self->state == COPILOTD_BACKEND_FAILED ? self->failure : NULL;
}

static void
copilotd_backend_dispose (GObject *object)
{
  CopilotdBackend *self = COPILOTD_BACKEND (object);
  g_autoptr(GError) error = NULL;

  self->stopping = TRUE;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
  backend_fail_waiting (self, error);
  backend_tear_down (self);
  /* Nobody waits any more: no grace. Reaping is left to the child watch. */
  for (guint i = 0; i < self->dying->len; i++)
    g_subprocess_force_exit (g_ptr_array_index (self->dying, i));

  G_OBJECT_CLASS (copilotd_backend_parent_class)->dispose (object);
}

static void
copilotd_backend_finalize (GObject *object)
{
  CopilotdBackend *self = COPILOTD_BACKEND (object);

  g_free (self->version);
  g_array_unref (self->failures);
  g_ptr_array_unref (self->in_flight);
  g_ptr_array_unref (self->dying);
  g_strfreev (self->cli_env);
  g_clear_error (&self->failure);
  g_clear_object (&self->stop_task);

  G_OBJECT_CLASS (copilotd_backend_parent_class)->finalize (object);
}

static void
copilotd_backend_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CopilotdBackend *self = COPILOTD_BACKEND (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilotd_backend_class_init (CopilotdBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_backend_dispose;
  object_class->finalize = copilotd_backend_finalize;
  object_class->get_property = copilotd_backend_get_property;

  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      COPILOTD_BACKEND_STOPPED, COPILOTD_BACKEND_FAILED,
                      COPILOTD_BACKEND_STOPPED,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* As CopilotdJsonrpc::notification: valid during the emission only. */
  backend_signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, copilotd_marshal_VOID__STRING_BOXED, G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (backend_signals[SIGNAL_NOTIFICATION], G_TYPE_FROM_CLASS (klass),
                              copilotd_marshal_VOID__STRING_BOXEDv);
  /* Emitted for each plain delta, read without a tree, before it would be
   * emitted as "notification": a handler returns TRUE when it did exactly
   * what the notification would have made it do. */
  backend_signals[SIGNAL_DELTA] =
    g_signal_new ("delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, copilotd_marshal_BOOLEAN__POINTER,
                  G_TYPE_BOOLEAN, 1, G_TYPE_POINTER);
  g_signal_set_va_marshaller (backend_signals[SIGNAL_DELTA], G_TYPE_FROM_CLASS (klass),
                              copilotd_marshal_BOOLEAN__POINTERv);
  backend_signals[SIGNAL_REQUEST] =
    g_signal_new ("request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 3, G_TYPE_STRING, JSON_TYPE_NODE, JSON_TYPE_NODE);
  backend_signals[SIGNAL_READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  backend_signals[SIGNAL_LOST] =
    g_signal_new ("lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
copilotd_backend_init (CopilotdBackend *self)
{
  g_queue_init (&self->waiting);
  self->failures = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->in_flight = g_ptr_array_new_with_free_func (g_object_unref);
  self->dying = g_ptr_array_new_with_free_func (g_object_unref);
}

CopilotdBackend *
copilotd_backend_new (const CopilotdConfig *config)
{
  CopilotdBackend *self = g_object_new (COPILOTD_TYPE_BACKEND, NULL);

  self->config = config;
  self->run_as = (uid_t) -1;
  return self;
}

CopilotdBackend *
copilotd_backend_new_for_user (const CopilotdConfig *config,
                               uid_t                 uid)
{
  CopilotdBackend *self = copilotd_backend_new (config);

  self->run_as = uid;
  return self;
}
