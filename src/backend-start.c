/* SPDX-License-Identifier: MIT */
/* backend-start.c: bringing a CLI up: find it, spawn it (or connect to a
 * CLI server), and the handshake
 *
 * backend_start() spawns the CLI (cli-process.c) or connects to --cli-url,
 * then sends connect, falling back to ping (PROTOCOL.md §1.6), under the
 * handshake-timeout deadline. The protocol version must be exactly
 * COPILOTD_REQUIRED_PROTOCOL_VERSION. A failed start goes to
 * backend_failed() (backend.c), which decides between a restart with
 * backoff and "failed"; a CLI that exits or whose stream closes goes to
 * backend_lost(). Calls that waited for the handshake go out once it has
 * answered (backend-call.c).
 */
#include "config.h"

#include <string.h>

#include "backend-private.h"
#include "bounded.h"
#include "cli-process.h"
#include "copilotd-error.h"
#include "jsonrpc.h"
#include "options.h"

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

/* ---- the connection ----------------------------------------------------- */

static void
on_rpc_notification (CopilotdJsonrpc *rpc,
                     const char      *method,
                     JsonNode        *params,
                     gpointer         user_data)
{
  CopilotdBackend *self = user_data;

  self->last_heard = g_get_monotonic_time ();
  g_signal_emit (self, backend_signals[SIGNAL_NOTIFICATION], 0, method, params);
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
  g_signal_emit (self, backend_signals[SIGNAL_DELTA], 0, delta, &handled);
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
  g_signal_emit (self, backend_signals[SIGNAL_REQUEST], 0, method, params, id, &handled);
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
  backend_set_state (self, COPILOTD_BACKEND_RUNNING);
  g_signal_emit (self, backend_signals[SIGNAL_READY], 0, restarted);

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
  backend_tear_down (self);
  self->cancellable = g_cancellable_new ();
  backend_set_state (self, self->restart_pending ? COPILOTD_BACKEND_RESTARTING : COPILOTD_BACKEND_STARTING);
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
