/* SPDX-License-Identifier: MIT */
/* backend.c: the CLI process (or TCP server): spawn, handshake, restart
 *
 * One backend drives one CLI. It starts lazily on the first call, answers
 * the handshake of PROTOCOL.md §1.6, and when the CLI exits or its stream
 * breaks it fails what was pending, says "lost", and restarts with an
 * exponential backoff. Too many failures in a short window leave it
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

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "backend-private.h"
#include "bounded.h"
#include "cli-process.h"
#include "copilotd-error.h"
#include "jsonrpc.h"

#define RESTART_BASE_DELAY_MS 500
#define RESTART_MAX_DELAY_MS 8000

G_DEFINE_FINAL_TYPE (CopilotdBackend, copilotd_backend, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_NOTIFICATION, SIGNAL_DELTA, SIGNAL_REQUEST, SIGNAL_READY, SIGNAL_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

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

static void
set_state (CopilotdBackend      *self,
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

/* The npm package installs .bin/copilot, a Node launcher that does not
 * forward signals (PROTOCOL.md §1.1): run the native binary beside it. */
static char *
resolve_npm_launcher (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *node_modules = NULL;
  g_autofree char *native = NULL;
  const char *arch;

#if defined(__x86_64__)
  arch = "x64";
#elif defined(__aarch64__)
  arch = "arm64";
#else
  arch = "unknown";
#endif

  if (g_strcmp0 (base, ".bin") == 0)
    node_modules = g_path_get_dirname (dir);
  else if (g_str_has_suffix (path, "npm-loader.js"))
    {
      /* node_modules/@github/copilot/npm-loader.js */
      g_autofree char *scope = g_path_get_dirname (dir);
      node_modules = g_path_get_dirname (scope);
    }
  else
    return g_strdup (path);

  native = g_strdup_printf ("%s/@github/copilot-linux-%s/copilot", node_modules, arch);
  if (g_file_test (native, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_debug ("Resolved npm launcher '%s' to '%s'", path, native);
      return g_steal_pointer (&native);
    }
  return g_strdup (path);
}

char *
copilotd_backend_find_cli (const CopilotdConfig  *config,
                           GError               **error)
{
  const char *env = g_getenv ("COPILOTD_CLI_PATH");
  g_autofree char *path = NULL;

  if (config->cli_path != NULL && *config->cli_path != '\0')
    path = g_strdup (config->cli_path);
  else if (env != NULL && *env != '\0')
    path = g_strdup (env);
  else
    path = g_find_program_in_path ("copilot");

  if (path == NULL)
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                           "The Copilot CLI was not found: set --cli-path, "
                           "COPILOTD_CLI_PATH or cli-path, or put copilot on PATH");
      return NULL;
    }
  if (!g_path_is_absolute (path))
    {
      g_autofree char *found = g_find_program_in_path (path);
      if (found != NULL)
        {
          g_free (path);
          path = g_steal_pointer (&found);
        }
    }
  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                   "The Copilot CLI '%s' is not an executable file", path);
      return NULL;
    }
  return resolve_npm_launcher (path);
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

static void
tear_down_connection (CopilotdBackend *self)
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
static void
backend_failed (CopilotdBackend *self,
                const GError    *error)
{
  guint n;
  guint delay;

  tear_down_connection (self);

  if (self->stopping)
    {
      backend_fail_waiting (self, error);
      set_state (self, COPILOTD_BACKEND_STOPPED);
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
      set_state (self, COPILOTD_BACKEND_FAILED);
      return;
    }

  delay = MIN (RESTART_BASE_DELAY_MS << MIN (n - 1, 8u), RESTART_MAX_DELAY_MS);
  g_debug ("Restarting the CLI in %u ms (failure %u): %s", delay, n, error->message);
  backend_fail_waiting (self, error);
  set_state (self, COPILOTD_BACKEND_RESTARTING);
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
      tear_down_connection (self);
      set_state (self, COPILOTD_BACKEND_STOPPED);
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
      g_signal_emit (self, signals[SIGNAL_LOST], 0, error);
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
  tear_down_connection (self);
  g_array_set_size (self->failures, 0);
  set_state (self, COPILOTD_BACKEND_STOPPED);
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

/* ---- the connection ----------------------------------------------------- */

static void
on_rpc_notification (CopilotdJsonrpc *rpc,
                     const char      *method,
                     JsonNode        *params,
                     gpointer         user_data)
{
  CopilotdBackend *self = user_data;

  self->last_heard = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_NOTIFICATION], 0, method, params);
}

/* A plain delta read without a tree: unhandled, it comes again as a
 * notification. */
static gboolean
on_rpc_delta (const CopilotdJsonDelta *delta,
              gpointer                 user_data)
{
  CopilotdBackend *self = user_data;
  gboolean handled = FALSE;

  self->last_heard = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_DELTA], 0, delta, &handled);
  return handled;
}

static gboolean
on_rpc_request (CopilotdJsonrpc *rpc,
                const char      *method,
                JsonNode        *params,
                JsonNode        *id,
                gpointer         user_data)
{
  CopilotdBackend *self = user_data;
  gboolean handled = FALSE;

  self->last_heard = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_REQUEST], 0, method, params, id, &handled);
  return handled;
}

static void
on_rpc_closed (CopilotdJsonrpc *rpc,
               const GError    *reason,
               gpointer         user_data)
{
  CopilotdBackend *self = user_data;

  if (rpc != self->rpc)
    return;
  backend_lost (self, reason);
}

typedef struct {
  CopilotdBackend *self;     /* owned */
  GSubprocess *process;      /* owned */
} ExitData;

static void
on_process_exited (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ExitData *data = user_data;
  CopilotdBackend *self = data->self;
  GSubprocess *process = G_SUBPROCESS (source);

  g_subprocess_wait_finish (process, result, NULL);
  if (process == self->process)
    {
      g_autoptr(GError) error = NULL;

      if (g_subprocess_get_if_signaled (process))
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                             "the CLI was killed by signal %d",
                             g_subprocess_get_term_sig (process));
      else
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                             "the CLI exited with status %d",
                             g_subprocess_get_exit_status (process));
      backend_lost (self, error);
    }
  g_object_unref (data->process);
  g_object_unref (data->self);
  g_free (data);
}

/* What the CLI writes on stderr is logged at debug level, at most
 * STDERR_LOG_BUDGET bytes per STDERR_LOG_WINDOW: a CLI that floods its
 * stderr must not flood the daemon's log (the journal) with it. */
#define STDERR_LOG_BUDGET (16 * 1024)
#define STDERR_LOG_WINDOW (10 * G_USEC_PER_SEC)

typedef struct {
  gint64 window_start;
  gsize logged;                 /* in this window */
  gsize skipped;                /* in this window, not logged */
} StderrLog;

static void
on_stderr_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  StderrLog *log = user_data;
  g_autoptr(GBytes) bytes = NULL;
  gint64 now = g_get_monotonic_time ();
  gsize len = 0;
  const char *text;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      if (log->skipped > 0)
        g_debug ("CLI stderr: %" G_GSIZE_FORMAT " more bytes not logged", log->skipped);
      g_free (log);
      return;
    }
  text = g_bytes_get_data (bytes, &len);
  if (now - log->window_start > STDERR_LOG_WINDOW)
    {
      if (log->skipped > 0)
        g_debug ("CLI stderr: %" G_GSIZE_FORMAT " more bytes not logged", log->skipped);
      log->window_start = now;
      log->logged = log->skipped = 0;
    }
  if (log->logged + len <= STDERR_LOG_BUDGET)
    {
      g_debug ("CLI stderr: %.*s", (int) len, text);
      log->logged += len;
    }
  else
    log->skipped += len;
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 4096, G_PRIORITY_LOW,
                                   NULL, on_stderr_read, log);
}

/* ---- the handshake ------------------------------------------------------ */

/* protocolVersion must be the JSON integer 3: not 3.0, not "3", not
 * 2^32 + 3 (which a 32-bit read would take for 3), not missing. */
static gboolean
read_protocol_version (JsonObject *result,
                       gint64     *out_version)
{
  JsonNode *node = json_object_get_member (result, "protocolVersion");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out_version = json_node_get_int (node);
  return TRUE;
}

static void
handshake_succeeded (CopilotdBackend *self,
                     JsonObject      *result)
{
  gboolean restarted = self->restart_pending;
  gint64 version = -1;
  gboolean has_version;
  GTask *task;

  g_clear_handle_id (&self->handshake_source, g_source_remove);
  self->last_heard = g_get_monotonic_time ();
  has_version = read_protocol_version (result, &version);
  self->protocol_version = has_version && version > 0 && version <= G_MAXUINT32 ? (guint) version : 0;
  if (json_object_has_member (result, "version"))
    {
      const char *version_text = copilotd_json_get_string (result, "version", NULL);

      /* BackendVersion reaches every peer: no CLI text makes it large. */
      g_free (self->version);
      self->version = version_text ? copilotd_utf8_strdup_bounded (version_text, COPILOTD_META_STRING_MAX, NULL)
                                   : NULL;
    }

  if (!has_version || version != COPILOTD_REQUIRED_PROTOCOL_VERSION)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *seen = has_version ? g_strdup_printf ("protocol version %" G_GINT64_FORMAT, version)
                                          : g_strdup ("no protocol version");

      error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_PROTOCOL_MISMATCH,
                           "The Copilot CLI speaks %s; copilotd needs %d",
                           seen, COPILOTD_REQUIRED_PROTOCOL_VERSION);
      backend_failed (self, error);
      return;
    }

  g_debug ("Connected to Copilot CLI '%s', protocol %u",
           self->version ? self->version : "?", self->protocol_version);
  self->restart_pending = FALSE;
  if (self->single_attempt)
    {
      /* It works again: later crashes get the whole backoff. */
      self->single_attempt = FALSE;
      g_array_set_size (self->failures, 0);
    }
  g_clear_error (&self->failure);
  set_state (self, COPILOTD_BACKEND_RUNNING);
  g_signal_emit (self, signals[SIGNAL_READY], 0, restarted);

  while (self->state == COPILOTD_BACKEND_RUNNING &&
         (task = g_queue_pop_head (&self->waiting)) != NULL)
    backend_dispatch_call (self, task);
  backend_update_idle (self);
}

/* The reply to connect or to ping: the server's description, or why the
 * handshake failed. Takes @error. */
static void
handshake_reply (CopilotdBackend *self,
                 const char      *method,
                 JsonNode        *node,
                 GError          *error)
{
  if (error == NULL && node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      handshake_succeeded (self, json_node_get_object (node));
      return;
    }
  if (error == NULL)
    error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_PROTOCOL_MISMATCH,
                         "The Copilot CLI answered %s with no object", method);
  else if (error->domain != COPILOTD_ERROR)
    {
      GError *wrapped = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED, "%s", error->message);

      g_error_free (error);
      error = wrapped;
    }
  g_prefix_error (&error, "Handshake failed: ");
  backend_failed (self, error);
  g_error_free (error);
}

static void
on_ping_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  if (COPILOTD_JSONRPC (source) == self->rpc)
    handshake_reply (self, "ping", node, g_steal_pointer (&error));
}

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  if (COPILOTD_JSONRPC (source) != self->rpc)
    return;

  if (error != NULL && error->domain == COPILOTD_JSONRPC_ERROR &&
      (error->code == -32601 || strstr (error->message, "Unhandled method connect") != NULL))
    {
      /* Older servers: fall back to ping (PROTOCOL.md §1.6). */
      g_autoptr(JsonNode) params = json_from_string ("{\"message\":\"copilotd\"}", NULL);

      copilotd_jsonrpc_call_async (self->rpc, "ping", params, self->cancellable,
                                   on_ping_done, g_object_ref (self));
      return;
    }
  handshake_reply (self, "connect", node, g_steal_pointer (&error));
}

static void
begin_handshake (CopilotdBackend *self,
                 GInputStream    *input,
                 GOutputStream   *output)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) params = NULL;
  const char *token = g_getenv ("COPILOT_CONNECTION_TOKEN");

  self->rpc = copilotd_jsonrpc_new (input, output);
  g_signal_connect (self->rpc, "notification", G_CALLBACK (on_rpc_notification), self);
  g_signal_connect (self->rpc, "request", G_CALLBACK (on_rpc_request), self);
  copilotd_jsonrpc_set_delta_func (self->rpc, on_rpc_delta, self);
  g_signal_connect (self->rpc, "closed", G_CALLBACK (on_rpc_closed), self);
  copilotd_jsonrpc_start (self->rpc);

  json_builder_begin_object (builder);
  if (token != NULL && self->socket != NULL)
    {
      json_builder_set_member_name (builder, "token");
      json_builder_add_string_value (builder, token);
    }
  json_builder_set_member_name (builder, "clientInfo");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "extensionName");
  json_builder_add_string_value (builder, "copilotd");
  json_builder_set_member_name (builder, "extensionVersion");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  params = json_builder_get_root (builder);

  copilotd_jsonrpc_call_async (self->rpc, "connect", params, self->cancellable,
                               on_connect_done, g_object_ref (self));
}

static void
on_socket_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(CopilotdBackend) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (connection == NULL)
    {
      g_autoptr(GError) wrapped = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                                               "Cannot connect to the CLI server '%s': %s",
                                               self->config->cli_url, error->message);
      backend_failed (self, wrapped);
      return;
    }
  self->socket = G_IO_STREAM (g_steal_pointer (&connection));
  begin_handshake (self,
                   g_io_stream_get_input_stream (self->socket),
                   g_io_stream_get_output_stream (self->socket));
}

static gboolean
on_handshake_deadline (gpointer user_data)
{
  CopilotdBackend *self = user_data;
  g_autoptr(GError) error = NULL;

  self->handshake_source = 0;
  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                       "The Copilot CLI did not answer the handshake within %u s",
                       self->config->handshake_timeout);
  g_warning ("%s", error->message);
  backend_failed (self, error);
  return G_SOURCE_REMOVE;
}

static gboolean
spawn_cli (CopilotdBackend  *self,
           GError          **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cli = NULL;
  ExitData *exit_data;

  cli = copilotd_backend_find_cli (self->config, error);
  if (cli == NULL)
    return FALSE;

  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--headless"));
  g_ptr_array_add (argv, g_strdup ("--no-auto-update"));
  g_ptr_array_add (argv, g_strdup ("--log-level"));
  g_ptr_array_add (argv, g_strdup ("info"));
  /* The CLI reads a token only from the variable this flag names. */
  if (g_getenv ("COPILOT_SDK_AUTH_TOKEN") != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--auth-token-env"));
      g_ptr_array_add (argv, g_strdup ("COPILOT_SDK_AUTH_TOKEN"));
    }
  g_ptr_array_add (argv, g_strdup ("--stdio"));
  g_ptr_array_add (argv, NULL);

  self->process = copilotd_cli_process_spawn (self->config, self->run_as,
                                              (const char * const *) argv->pdata,
                                              (const char * const *) self->cli_env, error);
  if (self->process == NULL)
    return FALSE;

  exit_data = g_new0 (ExitData, 1);
  exit_data->self = g_object_ref (self);
  exit_data->process = g_object_ref (self->process);
  g_subprocess_wait_async (self->process, NULL, on_process_exited, exit_data);

  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (self->process), 4096,
                                   G_PRIORITY_LOW, NULL, on_stderr_read, g_new0 (StderrLog, 1));

  begin_handshake (self,
                   g_subprocess_get_stdout_pipe (self->process),
                   g_subprocess_get_stdin_pipe (self->process));
  return TRUE;
}

void
backend_start (CopilotdBackend *self)
{
  g_autoptr(GError) error = NULL;

  if (self->stopping)
    return;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  tear_down_connection (self);
  self->cancellable = g_cancellable_new ();
  set_state (self, self->restart_pending ? COPILOTD_BACKEND_RESTARTING : COPILOTD_BACKEND_STARTING);
  /* A CLI (or server) that never answers must not keep "starting". */
  if (self->config->handshake_timeout > 0)
    self->handshake_source = g_timeout_add_seconds (self->config->handshake_timeout,
                                                    on_handshake_deadline, self);

  if (self->config->cli_url != NULL && *self->config->cli_url != '\0')
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();

      g_debug ("Connecting to CLI server '%s'", self->config->cli_url);
      g_socket_client_connect_to_host_async (client, self->config->cli_url, 0,
                                             self->cancellable, on_socket_connected,
                                             g_object_ref (self));
      return;
    }

  if (!spawn_cli (self, &error))
    backend_failed (self, error);
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
  g_signal_emit (self, signals[SIGNAL_LOST], 0, error);
  set_state (self, COPILOTD_BACKEND_RESTARTING);
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
  tear_down_connection (self);
  set_state (self, COPILOTD_BACKEND_STOPPED);
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
  tear_down_connection (self);
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
  signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, copilotd_marshal_VOID__STRING_BOXED, G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (signals[SIGNAL_NOTIFICATION], G_TYPE_FROM_CLASS (klass),
                              copilotd_marshal_VOID__STRING_BOXEDv);
  /* Emitted for each plain delta, read without a tree, before it would be
   * emitted as "notification": a handler returns TRUE when it did exactly
   * what the notification would have made it do. */
  signals[SIGNAL_DELTA] =
    g_signal_new ("delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, copilotd_marshal_BOOLEAN__POINTER,
                  G_TYPE_BOOLEAN, 1, G_TYPE_POINTER);
  g_signal_set_va_marshaller (signals[SIGNAL_DELTA], G_TYPE_FROM_CLASS (klass),
                              copilotd_marshal_BOOLEAN__POINTERv);
  signals[SIGNAL_REQUEST] =
    g_signal_new ("request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 3, G_TYPE_STRING, JSON_TYPE_NODE, JSON_TYPE_NODE);
  signals[SIGNAL_READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_LOST] =
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
