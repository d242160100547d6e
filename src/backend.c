/* backend.c: the CLI process (or TCP server): spawn, handshake, restart
 *
 * One backend drives one CLI. It starts lazily on the first call, answers
 * the handshake of PROTOCOL.md §1.6, and when the CLI exits or its stream
 * breaks it fails what was pending, says "lost", and restarts with an
 * exponential backoff. Too many failures in a short window leave it
 * "failed" until the next call tries again.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "copilotd-error.h"
#include "jsonrpc.h"

#define RESTART_BASE_DELAY_MS 500
#define RESTART_MAX_DELAY_MS 8000
#define STOP_GRACE_MS 3000

struct _CopilotdBackend
{
  GObject parent_instance;

  const CopilotdConfig *config;   /* unowned: outlives the backend */
  uid_t run_as;                   /* (uid_t) -1: the daemon's own user */
  CopilotdBackendState state;

  GSubprocess *process;           /* owned, nullable */
  GIOStream *socket;              /* owned, nullable: --cli-url */
  CopilotdJsonrpc *rpc;           /* owned, nullable */
  GCancellable *cancellable;      /* owned: the current connection attempt */

  char *version;                  /* owned, nullable */
  guint protocol_version;

  GQueue waiting;                 /* GTask* owned: calls waiting for the handshake */
  GArray *failures;               /* gint64: monotonic times of failures */
  guint restart_source;
  gboolean restart_pending;       /* the next handshake is a restart */
  gboolean single_attempt;        /* started from "failed": no backoff loop */
  gboolean stopping;
  GError *failure;                /* owned, nullable: why the state is failed */

  guint holds;                    /* copilotd_backend_hold(): sessions, agents */
  guint in_flight;                /* calls not answered yet */
  guint idle_source;              /* stops a CLI nobody uses */
};

G_DEFINE_FINAL_TYPE (CopilotdBackend, copilotd_backend, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_NOTIFICATION, SIGNAL_REQUEST, SIGNAL_READY, SIGNAL_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
  char *method;        /* owned */
  JsonNode *params;    /* owned, nullable */
  gboolean lost_unsent; /* its CLI was lost before the request was written */
} CallData;

static void
call_data_free (CallData *data)
{
  g_free (data->method);
  g_clear_pointer (&data->params, json_node_unref);
  g_free (data);
}

static void backend_start (CopilotdBackend *self);
static void update_idle (CopilotdBackend *self);
static void backend_lost (CopilotdBackend *self, const GError *reason);

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
  update_idle (self);
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

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  ((CallData *) g_task_get_task_data (task))->lost_unsent =
    node == NULL && !copilotd_jsonrpc_call_was_written (result) &&
    g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  if (node == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
}

static void
dispatch_call (CopilotdBackend *self,
               GTask           *task)
{
  CallData *data = g_task_get_task_data (task);

  copilotd_jsonrpc_call_async (self->rpc, data->method, data->params,
                               g_task_get_cancellable (task),
                               on_call_done, task);
}

static void
fail_waiting (CopilotdBackend *self,
              const GError    *error)
{
  GTask *task;

  while ((task = g_queue_pop_head (&self->waiting)) != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

static void
tear_down_connection (CopilotdBackend *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->rpc != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->rpc, self);
      copilotd_jsonrpc_close (self->rpc, NULL);
      g_clear_object (&self->rpc);
    }
  g_clear_object (&self->socket);

  if (self->process != NULL)
    {
      /* SIGTERM lets the CLI persist session.shutdown (PROTOCOL.md §1.7). */
      g_subprocess_send_signal (self->process, SIGTERM);
      g_clear_object (&self->process);
    }
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

/* A start attempt or a running CLI failed: retry with backoff, or give up. */
static void
backend_failed (CopilotdBackend *self,
                const GError    *error)
{
  guint n;
  guint delay;

  tear_down_connection (self);
  fail_waiting (self, error);

  if (self->stopping)
    {
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
      set_state (self, COPILOTD_BACKEND_FAILED);
      return;
    }

  delay = MIN (RESTART_BASE_DELAY_MS << MIN (n - 1, 8u), RESTART_MAX_DELAY_MS);
  g_debug ("Restarting the CLI in %u ms (failure %u): %s", delay, n, error->message);
  set_state (self, COPILOTD_BACKEND_RESTARTING);
  g_clear_handle_id (&self->restart_source, g_source_remove);
  self->restart_source = g_timeout_add (delay, restart_cb, self);
}

static void
backend_lost (CopilotdBackend *self,
              const GError    *reason)
{
  g_autoptr(GError) error = NULL;

  if (self->stopping)
    {
      tear_down_connection (self);
      set_state (self, COPILOTD_BACKEND_STOPPED);
      return;
    }

  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                       "The Copilot CLI was lost: %s", reason->message);
  g_warning ("%s", error->message);

  if (self->state == COPILOTD_BACKEND_RUNNING)
    {
      self->restart_pending = TRUE;
      /* Pending calls fail before anyone hears of the loss. */
      tear_down_connection (self);
      g_signal_emit (self, signals[SIGNAL_LOST], 0, error);
    }
  backend_failed (self, error);
}

static void
on_rpc_notification (CopilotdJsonrpc *rpc,
                     const char      *method,
                     JsonNode        *params,
                     gpointer         user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_NOTIFICATION], 0, method, params);
}

static gboolean
on_rpc_request (CopilotdJsonrpc *rpc,
                const char      *method,
                JsonNode        *params,
                JsonNode        *id,
                gpointer         user_data)
{
  gboolean handled = FALSE;

  g_signal_emit (user_data, signals[SIGNAL_REQUEST], 0, method, params, id, &handled);
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

static void
on_stderr_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GBytes) bytes = NULL;
  gsize len = 0;
  const char *text;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    return;
  text = g_bytes_get_data (bytes, &len);
  g_debug ("CLI stderr: %.*s", (int) len, text);
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 4096, G_PRIORITY_LOW,
                                   NULL, on_stderr_read, NULL);
}

static void
handshake_succeeded (CopilotdBackend *self,
                     JsonObject      *result)
{
  gboolean restarted = self->restart_pending;
  GTask *task;

  self->protocol_version = (guint) json_object_get_int_member_with_default (result, "protocolVersion", 0);
  if (json_object_has_member (result, "version"))
    {
      g_free (self->version);
      self->version = g_strdup (json_object_get_string_member_with_default (result, "version", NULL));
    }

  if (self->protocol_version != COPILOTD_REQUIRED_PROTOCOL_VERSION)
    {
      g_autoptr(GError) error = NULL;

      error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_PROTOCOL_MISMATCH,
                           "The Copilot CLI speaks protocol version %u; copilotd needs %u",
                           self->protocol_version, COPILOTD_REQUIRED_PROTOCOL_VERSION);
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
    dispatch_call (self, task);
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

/* Runs in the child between fork and exec: only async-signal-safe calls. */
typedef struct {
  uid_t uid;
  gid_t gid;
  const char *name;               /* unowned: the passwd entry's copy */
} DropPrivileges;

static void
drop_privileges (gpointer user_data)
{
  const DropPrivileges *user = user_data;

  if (initgroups (user->name, user->gid) != 0 ||
      setgid (user->gid) != 0 ||
      setuid (user->uid) != 0)
    _exit (126);
}

/* On the system bus each user's CLI runs as that user, in that user's
 * home, never as the daemon's own user (DESIGN.md §7). */
static gboolean
setup_user (CopilotdBackend      *self,
            GSubprocessLauncher  *launcher,
            DropPrivileges       *user,
            GError              **error)
{
  struct passwd *pw;
  g_autofree char *cache = NULL;
  g_autofree char *home = NULL;

  pw = getpwuid (self->run_as);
  if (pw == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                   "User %u has no passwd entry", (guint) self->run_as);
      return FALSE;
    }
  user->uid = pw->pw_uid;
  user->gid = pw->pw_gid;
  user->name = pw->pw_name;

  g_subprocess_launcher_setenv (launcher, "HOME", pw->pw_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "USER", pw->pw_name, TRUE);
  g_subprocess_launcher_setenv (launcher, "LOGNAME", pw->pw_name, TRUE);
  cache = g_build_filename (pw->pw_dir, ".cache", NULL);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "XDG_CONFIG_HOME");
  g_subprocess_launcher_unsetenv (launcher, "XDG_STATE_HOME");
  g_subprocess_launcher_unsetenv (launcher, "XDG_RUNTIME_DIR");
  if (self->config->copilot_home != NULL)
    {
      /* A shared state root: one private directory per user inside it. */
      home = g_strdup_printf ("%s/%u", self->config->copilot_home, (guint) pw->pw_uid);
      if (g_mkdir_with_parents (self->config->copilot_home, 0711) != 0 ||
          (g_mkdir (home, 0700) != 0 && errno != EEXIST) ||
          chown (home, pw->pw_uid, pw->pw_gid) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                       "Cannot prepare '%s' for user %u: %s",
                       home, (guint) pw->pw_uid, g_strerror (saved_errno));
          return FALSE;
        }
    }
  else
    home = g_build_filename (pw->pw_dir, ".copilot", NULL);
  g_subprocess_launcher_setenv (launcher, "COPILOT_HOME", home, TRUE);
  /* System users may have no home (/nonexistent). */
  g_subprocess_launcher_set_cwd (launcher, g_file_test (pw->pw_dir, G_FILE_TEST_IS_DIR) ? pw->pw_dir : "/");
  if (pw->pw_uid != geteuid ())
    g_subprocess_launcher_set_child_setup (launcher, drop_privileges, user, NULL);
  return TRUE;
}

static gboolean
spawn_cli (CopilotdBackend  *self,
           GError          **error)
{
  DropPrivileges user = { 0 };
  g_autoptr(GSubprocessLauncher) launcher = NULL;
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

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (self->run_as != (uid_t) -1)
    {
      if (!setup_user (self, launcher, &user, error))
        return FALSE;
    }
  else if (self->config->copilot_home != NULL)
    g_subprocess_launcher_setenv (launcher, "COPILOT_HOME", self->config->copilot_home, TRUE);

  g_debug ("Spawning '%s'", cli);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (self->process == NULL)
    {
      g_prefix_error (error, "Cannot start the Copilot CLI '%s': ", cli);
      if (*error != NULL && (*error)->domain != COPILOTD_ERROR)
        {
          GError *wrapped = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                                         "%s", (*error)->message);
          g_clear_error (error);
          *error = wrapped;
        }
      return FALSE;
    }

  exit_data = g_new0 (ExitData, 1);
  exit_data->self = g_object_ref (self);
  exit_data->process = g_object_ref (self->process);
  g_subprocess_wait_async (self->process, NULL, on_process_exited, exit_data);

  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (self->process), 4096,
                                   G_PRIORITY_LOW, NULL, on_stderr_read, NULL);

  begin_handshake (self,
                   g_subprocess_get_stdout_pipe (self->process),
                   g_subprocess_get_stdin_pipe (self->process));
  return TRUE;
}

static void
backend_start (CopilotdBackend *self)
{
  g_autoptr(GError) error = NULL;

  if (self->stopping)
    return;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  tear_down_connection (self);
  self->cancellable = g_cancellable_new ();
  set_state (self, self->restart_pending ? COPILOTD_BACKEND_RESTARTING : COPILOTD_BACKEND_STARTING);

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

/* ---- idle stop ------------------------------------------------------------ */

static gboolean
on_idle_timeout (gpointer user_data)
{
  CopilotdBackend *self = user_data;

  self->idle_source = 0;
  g_debug ("The CLI was not used for %u s; stopping it", self->config->backend_idle_timeout);
  /* Nothing is pending and no session lives in it: no "lost", no
   * restart; the next call starts a new one. */
  tear_down_connection (self);
  g_array_set_size (self->failures, 0);
  set_state (self, COPILOTD_BACKEND_STOPPED);
  return G_SOURCE_REMOVE;
}

/* A running CLI with no session, no agent and no call in flight is
 * stopped after backend-idle-timeout seconds (DESIGN.md §8 "Resources"). */
static void
update_idle (CopilotdBackend *self)
{
  gboolean idle = self->state == COPILOTD_BACKEND_RUNNING && !self->stopping &&
                  self->holds == 0 && self->in_flight == 0 &&
                  self->config->backend_idle_timeout > 0;

  if (!idle)
    g_clear_handle_id (&self->idle_source, g_source_remove);
  else if (self->idle_source == 0)
    self->idle_source = g_timeout_add_seconds (self->config->backend_idle_timeout, on_idle_timeout, self);
}

static void
on_call_completed (GTask      *task,
                   GParamSpec *pspec,
                   gpointer    user_data)
{
  CopilotdBackend *self = user_data;

  g_return_if_fail (self->in_flight > 0);
  self->in_flight--;
  update_idle (self);
}

void
copilotd_backend_hold (CopilotdBackend *self)
{
  self->holds++;
  update_idle (self);
}

void
copilotd_backend_release (CopilotdBackend *self)
{
  g_return_if_fail (self->holds > 0);
  self->holds--;
  update_idle (self);
}

void
copilotd_backend_call_async (CopilotdBackend     *self,
                             const char          *method,
                             JsonNode            *params,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  CallData *data;

  g_return_if_fail (COPILOTD_IS_BACKEND (self));
  g_return_if_fail (method != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilotd_backend_call_async);
  /* A CLI with a call in flight is in use, whichever way it ends. */
  self->in_flight++;
  update_idle (self);
  g_signal_connect_object (task, "notify::completed", G_CALLBACK (on_call_completed), self, 0);
  data = g_new0 (CallData, 1);
  data->method = g_strdup (method);
  data->params = params ? json_node_copy (params) : NULL;
  g_task_set_task_data (task, data, (GDestroyNotify) call_data_free);

  if (self->stopping)
    {
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
      return;
    }

  switch (self->state)
    {
    case COPILOTD_BACKEND_RUNNING:
      dispatch_call (self, g_steal_pointer (&task));
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

typedef struct {
  gboolean done;
  GSource *timeout;               /* owned, nullable */
} StopData;

static void
stop_data_free (StopData *data)
{
  /* Normally gone already: the source holds a reference on the task. */
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_source_unref (data->timeout);
    }
  g_free (data);
}

static void
stop_finish_task (GTask *task)
{
  CopilotdBackend *self = g_task_get_source_object (task);
  StopData *data = g_task_get_task_data (task);

  if (data->done)
    return;
  data->done = TRUE;
  /* The timeout holds a reference on the task: drop it now. */
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_clear_pointer (&data->timeout, g_source_unref);
    }
  tear_down_connection (self);
  set_state (self, COPILOTD_BACKEND_STOPPED);
  g_task_return_boolean (task, TRUE);
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  GTask *task = user_data;
  CopilotdBackend *self = g_task_get_source_object (task);

  if (self->process != NULL)
    {
      g_debug ("The CLI did not exit in time; killing it");
      g_subprocess_force_exit (self->process);
    }
  stop_finish_task (task);
  return G_SOURCE_REMOVE;
}

static void
on_stop_waited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  stop_finish_task (task);
}

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdBackend *self = g_task_get_source_object (task);
  StopData *data = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, NULL);
  if (data->done)
    return;
  if (self->process != NULL)
    {
      /* Closing stdin makes the CLI exit too (PROTOCOL.md §1.7). */
      if (self->rpc != NULL)
        {
          g_signal_handlers_disconnect_by_data (self->rpc, self);
          copilotd_jsonrpc_close (self->rpc, NULL);
        }
      g_subprocess_wait_async (self->process, NULL, on_stop_waited, g_object_ref (task));
      return;
    }
  stop_finish_task (task);
}

void
copilotd_backend_stop_async (CopilotdBackend     *self,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  StopData *data = g_new0 (StopData, 1);

  g_task_set_source_tag (task, copilotd_backend_stop_async);
  g_task_set_task_data (task, data, (GDestroyNotify) stop_data_free);
  self->stopping = TRUE;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  g_clear_handle_id (&self->idle_source, g_source_remove);

  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
  fail_waiting (self, error);

  /* A CLI server reached with --cli-url is not ours to shut down: its
   * other clients go on; closing the connection is all. */
  if (self->rpc != NULL && self->state == COPILOTD_BACKEND_RUNNING && self->process != NULL)
    {
      /* The whole stop is bounded: a CLI that hangs (or is stopped) and
       * never answers runtime.shutdown is killed, so that the daemon
       * always exits. */
      data->timeout = g_timeout_source_new (STOP_GRACE_MS);
      g_task_attach_source (task, data->timeout, on_stop_timeout);
      copilotd_jsonrpc_call_async (self->rpc, "runtime.shutdown", NULL, NULL,
                                   on_shutdown_done, g_steal_pointer (&task));
      return;
    }
  stop_finish_task (task);
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

static void
copilotd_backend_dispose (GObject *object)
{
  CopilotdBackend *self = COPILOTD_BACKEND (object);
  g_autoptr(GError) error = NULL;

  self->stopping = TRUE;
  g_clear_handle_id (&self->restart_source, g_source_remove);
  error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                               "copilotd is shutting down");
  fail_waiting (self, error);
  tear_down_connection (self);
  g_clear_handle_id (&self->idle_source, g_source_remove);

  G_OBJECT_CLASS (copilotd_backend_parent_class)->dispose (object);
}

static void
copilotd_backend_finalize (GObject *object)
{
  CopilotdBackend *self = COPILOTD_BACKEND (object);

  g_free (self->version);
  g_array_unref (self->failures);
  g_clear_error (&self->failure);

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

  signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_NODE);
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
