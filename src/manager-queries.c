/* SPDX-License-Identifier: MIT */
/* manager-queries.c: the Manager methods that only ask the caller's CLI
 *
 * ListSessions, GetSessionMetadata, the foreground session, ListModels,
 * GetStatus, GetAuthStatus and Ping hold no state of the daemon's: each is
 * one call to the caller's CLI (from the backend pool) and a reply built
 * from its result. manager.c keeps the methods that create, resume and
 * delete sessions and the table of live ones.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "bounded.h"
#include "cli-schema.h"
#include "copilotd-error.h"
#include "manager-private.h"
#include "options.h"

typedef struct _CallContext CallContext;

/* Builds a method's reply (floating) from the CLI's result, which is NULL
 * when not an object; NULL with @error set when the result is a failure. */
typedef GVariant *(*ReplyBuilder) (CallContext *ctx,
                                   JsonObject  *result,
                                   GError     **error);

struct _CallContext {
  CopilotdManager *manager;             /* owned */
  GDBusMethodInvocation *invocation;    /* owned, nullable */
  CopilotdSession *session;             /* owned, nullable */
  CopilotdBackend *backend;             /* owned, nullable: the CLI asked */
  char *session_id;                     /* owned, nullable */
  ReplyBuilder build;
};

static CallContext *
call_context_new (CopilotdManager       *self,
                  GDBusMethodInvocation *invocation)
{
  CallContext *ctx = g_new0 (CallContext, 1);

  ctx->manager = g_object_ref (self);
  ctx->invocation = invocation ? g_object_ref (invocation) : NULL;
  return ctx;
}

static void
call_context_free (CallContext *ctx)
{
  g_object_unref (ctx->manager);
  g_clear_object (&ctx->invocation);
  g_clear_object (&ctx->session);
  g_clear_object (&ctx->backend);
  g_free (ctx->session_id);
  g_free (ctx);
}

static void
on_reply_built (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  CallContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  GVariant *reply = NULL;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (node != NULL)
    reply = ctx->build (ctx, JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL, &error);
  if (reply != NULL)
    copilotd_return_value_bounded (ctx->invocation, reply,
                                   copilotd_manager_get_config (ctx->manager)->max_message_size);
  else
    g_dbus_method_invocation_return_gerror (ctx->invocation, error);
  call_context_free (ctx);
}

/* Asks the caller's CLI; @build makes the reply. Takes @params (nullable). */
static void
call_backend (CopilotdManager       *self,
              GDBusMethodInvocation *invocation,
              const char            *method,
              JsonObject            *params,
              ReplyBuilder           build)
{
  g_autoptr(JsonNode) node = params ? copilotd_json_node_take_object (params) : copilotd_json_node_take_object (json_object_new ());
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error);
  CallContext *ctx;

  if (backend == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  ctx = call_context_new (self, invocation);
  ctx->backend = g_object_ref (backend);
  ctx->build = build;
  copilotd_backend_call_async (backend, method, node, NULL, on_reply_built, ctx);
}

/* ---- listing ------------------------------------------------------------ */

static void
add_string (GVariantBuilder *builder,
            const char      *key,
            JsonObject      *object,
            const char      *member)
{
  const char *value;

  if (object == NULL)
    return;
  value = copilotd_json_get_string (object, member, NULL);
  if (value != NULL)
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_string (value));
}

static JsonObject *
object_member (JsonObject *object,
               const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static GVariant *
session_entry (JsonObject *entry,
               gpointer    user_data)
{
  CopilotdManager *self = user_data;
  GVariantBuilder builder;
  JsonObject *context = object_member (entry, "context");
  const char *id = copilotd_json_get_string (entry, "sessionId", NULL);
  CopilotdSession *live = id ? manager_lookup_session (self, id) : NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  add_string (&builder, "session-id", entry, "sessionId");
  if (live != NULL)
    g_variant_builder_add (&builder, "{sv}", "object",
                           g_variant_new_object_path (copilotd_session_get_path (live)));
  add_string (&builder, "start-time", entry, "startTime");
  add_string (&builder, "modified-time", entry, "modifiedTime");
  add_string (&builder, "summary", entry, "summary");
  add_string (&builder, "name", entry, "name");
  add_string (&builder, "client-name", entry, "clientName");
  add_string (&builder, "cwd", context, "cwd");
  add_string (&builder, "git-root", context, "gitRoot");
  add_string (&builder, "repository", context, "repository");
  add_string (&builder, "branch", context, "branch");
  if (json_object_has_member (entry, "isRemote"))
    g_variant_builder_add (&builder, "{sv}", "is-remote",
                           g_variant_new_boolean (copilotd_json_get_boolean (entry, "isRemote", FALSE)));
  return g_variant_builder_end (&builder);
}

static GVariant *
build_session_list (CallContext  *ctx,
                    JsonObject   *result,
                    GError      **error)
{
  return g_variant_new_tuple ((GVariant *[]) {
    copilotd_json_map_objects (result, "sessions", "aa{sv}", session_entry, ctx->manager) }, 1);
}

static gboolean
handle_list_sessions (CopilotdDbusManager   *iface,
                      GDBusMethodInvocation *invocation,
                      GVariant              *filter)
{
  static const char * const keys[] = { "cwd", "git-root", "repository", "branch", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) filter_object = json_object_new ();
  JsonObject *params;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *value = NULL;
      g_autofree char *camel = NULL;

      if (!copilotd_option_get_string (filter, keys[i], &value, &error))
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
      camel = copilotd_dashed_to_camel (keys[i]);
      if (value != NULL)
        json_object_set_string_member (filter_object, camel, value);
    }
  params = json_object_new ();
  if (json_object_get_size (filter_object) > 0)
    json_object_set_object_member (params, "filter", g_steal_pointer (&filter_object));

  call_backend (COPILOTD_MANAGER (iface), invocation, "session.list", params, build_session_list);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The session id a method was called with. */
static const char *
invocation_session_id (CallContext *ctx)
{
  const char *id = NULL;

  g_variant_get_child (g_dbus_method_invocation_get_parameters (ctx->invocation), 0, "&s", &id);
  return id;
}

static GVariant *
build_metadata (CallContext  *ctx,
                JsonObject   *result,
                GError      **error)
{
  JsonObject *session = object_member (result, "session");

  /* The CLI answers {} for a session it does not know. */
  if (session == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                   "No session %s", invocation_session_id (ctx));
      return NULL;
    }
  return g_variant_new_tuple ((GVariant *[]) { session_entry (session, ctx->manager) }, 1);
}

static gboolean
handle_get_session_metadata (CopilotdDbusManager   *iface,
                             GDBusMethodInvocation *invocation,
                             const char            *session_id)
{
  if (manager_check_session_id (invocation, session_id))
    call_backend (COPILOTD_MANAGER (iface), invocation, "session.getMetadata",
                  copilotd_session_params (session_id), build_metadata);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* {"sessionId": …} or {} → (s) */
static GVariant *
build_session_id (CallContext  *ctx,
                  JsonObject   *result,
                  GError      **error)
{
  const char *id = result ? copilotd_json_get_string (result, "sessionId", NULL) : NULL;

  return g_variant_new ("(s)", id ? id : "");
}

static gboolean
handle_get_last_session_id (CopilotdDbusManager   *iface,
                            GDBusMethodInvocation *invocation)
{
  call_backend (COPILOTD_MANAGER (iface), invocation, "session.getLastId", NULL, build_session_id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_foreground_session (CopilotdDbusManager   *iface,
                               GDBusMethodInvocation *invocation)
{
  call_backend (COPILOTD_MANAGER (iface), invocation, "session.getForeground", NULL, build_session_id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* For methods that report failure as {"success":false,"error":…}. */
static GVariant *
build_success (CallContext  *ctx,
               JsonObject   *result,
               GError      **error)
{
  const char *message;

  if (result == NULL || copilotd_json_get_boolean (result, "success", TRUE))
    return g_variant_new ("()");

  message = copilotd_json_get_string (result, "error", NULL);
  g_set_error (error, COPILOTD_ERROR,
               message == NULL || strstr (message, "not found") != NULL
                 ? COPILOTD_ERROR_NOT_FOUND : COPILOTD_ERROR_FAILED,
               "%s", message ? message : "No such session");
  return NULL;
}

static gboolean
handle_set_foreground_session (CopilotdDbusManager   *iface,
                               GDBusMethodInvocation *invocation,
                               const char            *session_id)
{
  if (manager_check_session_id (invocation, session_id))
    call_backend (COPILOTD_MANAGER (iface), invocation, "session.setForeground",
                  copilotd_session_params (session_id), build_success);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- models, status, auth, ping ---------------------------------------- */

static GVariant *
model_entry (JsonObject *model,
             gpointer    user_data)
{
  GVariantBuilder builder;
  JsonNode *caps_node = json_object_get_member (model, "capabilities");
  JsonObject *caps = object_member (model, "capabilities");
  JsonObject *supports = object_member (caps, "supports");
  JsonObject *limits = object_member (caps, "limits");

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  add_string (&builder, "id", model, "id");
  add_string (&builder, "name", model, "name");
  add_string (&builder, "vendor", model, "vendor");
  if (supports != NULL)
    {
      gboolean effort = copilotd_json_get_boolean (supports, "reasoningEffort", FALSE);

      if (json_object_has_member (model, "supportedReasoningEfforts"))
        effort = TRUE;
      g_variant_builder_add (&builder, "{sv}", "supports-vision",
                             g_variant_new_boolean (copilotd_json_get_boolean (supports, "vision", FALSE)));
      g_variant_builder_add (&builder, "{sv}", "supports-reasoning-effort", g_variant_new_boolean (effort));
    }
  if (limits != NULL && json_object_has_member (limits, "max_context_window_tokens"))
    g_variant_builder_add (&builder, "{sv}", "max-context-tokens",
                           g_variant_new_uint32 ((guint32) copilotd_json_get_int (limits, "max_context_window_tokens", 0)));
  if (caps_node != NULL)
    g_variant_builder_add (&builder, "{sv}", "capabilities-json",
                           g_variant_new_take_string (json_to_string (caps_node, FALSE)));
  return g_variant_builder_end (&builder);
}

static GVariant *
build_models (CallContext  *ctx,
              JsonObject   *result,
              GError      **error)
{
  GVariant *models = copilotd_json_map_objects (result, "models", "aa{sv}", model_entry, NULL);

  copilotd_backend_pool_set_models (copilotd_manager_get_pool (ctx->manager), ctx->backend, models);
  return g_variant_new_tuple (&models, 1);
}

static gboolean
handle_list_models (CopilotdDbusManager   *iface,
                    GDBusMethodInvocation *invocation,
                    GVariant              *options)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error);
  GVariant *cache;

  if (backend == NULL)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else if ((cache = copilotd_backend_pool_get_models (copilotd_manager_get_pool (self), backend)) != NULL)
    g_dbus_method_invocation_return_value (invocation, g_variant_new_tuple (&cache, 1));
  else
    call_backend (self, invocation, "models.list", NULL, build_models);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
add_protocol_version (GVariantBuilder *builder,
                      JsonObject      *object)
{
  if (object != NULL && json_object_has_member (object, "protocolVersion"))
    g_variant_builder_add (builder, "{sv}", "protocol-version",
                           g_variant_new_uint32 ((guint32) copilotd_json_get_int (object, "protocolVersion", 0)));
}

/* GetStatus never starts the CLI and never waits on it: it answers at
 * once from what is known (the state, the CLI seen last in a handshake,
 * why it failed), even when the CLI is stopped, starting or wedged. */
static gboolean
handle_get_status (CopilotdDbusManager   *iface,
                   GDBusMethodInvocation *invocation)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error);
  const GError *failure;
  GVariantBuilder builder;
  uid_t uid = getuid ();

  if (backend == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  if (copilotd_backend_get_version (backend) != NULL)
    g_variant_builder_add (&builder, "{sv}", "version", g_variant_new_string (copilotd_backend_get_version (backend)));
  if (copilotd_backend_get_protocol_version (backend) != 0)
    g_variant_builder_add (&builder, "{sv}", "protocol-version",
                           g_variant_new_uint32 (copilotd_backend_get_protocol_version (backend)));
  g_variant_builder_add (&builder, "{sv}", "daemon-version", g_variant_new_string (PACKAGE_VERSION));
  g_variant_builder_add (&builder, "{sv}", "backend-state",
                         g_variant_new_string (copilotd_backend_state_to_string (copilotd_backend_get_state (backend))));
  if ((failure = copilotd_backend_get_failure (backend)) != NULL)
    g_variant_builder_add (&builder, "{sv}", "backend-error", g_variant_new_string (failure->message));
  copilotd_callers_get_uid (manager_get_callers (self), g_dbus_method_invocation_get_sender (invocation), &uid, NULL);
  copilotd_cli_schema_add_status (&builder, copilotd_backend_get_version (backend), uid);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a{sv})", &builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
build_auth (CallContext  *ctx,
            JsonObject   *result,
            GError      **error)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "authenticated",
                         g_variant_new_boolean (result && copilotd_json_get_boolean (result, "isAuthenticated", FALSE)));
  add_string (&builder, "auth-type", result, "authType");
  add_string (&builder, "login", result, "login");
  add_string (&builder, "host", result, "host");
  add_string (&builder, "status-message", result, "statusMessage");
  return g_variant_new ("(a{sv})", &builder);
}

static gboolean
handle_get_auth_status (CopilotdDbusManager   *iface,
                        GDBusMethodInvocation *invocation)
{
  call_backend (COPILOTD_MANAGER (iface), invocation, "auth.getStatus", NULL, build_auth);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
build_ping (CallContext  *ctx,
            JsonObject   *result,
            GError      **error)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  add_string (&builder, "message", result, "message");
  add_string (&builder, "timestamp", result, "timestamp");
  add_protocol_version (&builder, result);
  return g_variant_new ("(a{sv})", &builder);
}

static gboolean
handle_ping (CopilotdDbusManager   *iface,
             GDBusMethodInvocation *invocation,
             const char            *message)
{
  JsonObject *params = json_object_new ();

  json_object_set_string_member (params, "message", message);
  call_backend (COPILOTD_MANAGER (iface), invocation, "ping", params, build_ping);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* session.delete in the caller's CLI: DeleteSession after the live
 * session, if any, was closed. */
void
manager_delete_in_cli (CopilotdManager       *self,
                       GDBusMethodInvocation *invocation,
                       const char            *session_id)
{
  call_backend (self, invocation, "session.delete", copilotd_session_params (session_id), build_success);
}

void
manager_queries_iface_init (CopilotdDbusManagerIface *iface)
{
  iface->handle_list_sessions = handle_list_sessions;
  iface->handle_get_session_metadata = handle_get_session_metadata;
  iface->handle_get_last_session_id = handle_get_last_session_id;
  iface->handle_list_models = handle_list_models;
  iface->handle_get_status = handle_get_status;
  iface->handle_get_auth_status = handle_get_auth_status;
  iface->handle_ping = handle_ping;
  iface->handle_get_foreground_session = handle_get_foreground_session;
  iface->handle_set_foreground_session = handle_set_foreground_session;
}
