/* SPDX-License-Identifier: MIT */
/* manager.c: the root object: Manager, sessions and the ObjectManager
 *
 * The manager maps D-Bus calls at /io/github/copilotd/Copilot1 to the
 * caller's CLI (from the backend pool), owns the table of live
 * CopilotdSession objects (served by object-manager.c, which shows each
 * only to its owner's UID), and routes each CLI's notifications,
 * requests, loss and restart to its sessions, which bring themselves back.
 */
#include "config.h"

#include <string.h>

#include <unistd.h>

#include "app-info.h"
#include "cli-schema.h"
#include "copilotd-error.h"
#include "event-relay.h"
#include "jsonrpc.h"
#include "lifecycle.h"
#include "manager-private.h"
#include "manager-account.h"
#include "object-manager.h"
#include "ask.h"
#include "options.h"
#include "polkit.h"
#include "providers.h"
#include "session-control.h"
#include "session-options.h"
#include "session.h"
#include "users.h"
#include "peer-gate.h"

#define API_VERSION 2

struct _CopilotdManager
{
  CopilotdDbusManagerSkeleton parent_instance;

  GDBusConnection *connection;          /* owned */
  const CopilotdConfig *config;         /* unowned */
  CopilotdCallers *callers;             /* owned */
  CopilotdBackendPool *pool;            /* owned: the CLIs */
  CopilotdAgentRegistry *agents;        /* owned, nullable */
  CopilotdToolRouter *tools;            /* owned, nullable */
  CopilotdObjectManager *objects;       /* owned: ObjectManager, session paths */

  GHashTable *sessions;                 /* owned: id → CopilotdSession* (owned) */
  CopilotdLifecycle *lifecycle;         /* owned: SessionLifecycle, coalesced */
};

static void copilotd_manager_iface_init (CopilotdDbusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CopilotdManager, copilotd_manager, COPILOTD_DBUS_TYPE_MANAGER_SKELETON,
                               G_IMPLEMENT_INTERFACE (COPILOTD_DBUS_TYPE_MANAGER, copilotd_manager_iface_init))

static JsonObject *
result_object (JsonNode *node)
{
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}


/* ---- sessions ------------------------------------------------------------ */


CopilotdCallers *
manager_get_callers (CopilotdManager *self)
{
  return self->callers;
}

CopilotdSession *
manager_lookup_session (CopilotdManager *self,
                        const char      *session_id)
{
  return g_hash_table_lookup (self->sessions, session_id);
}

gboolean
manager_check_session_id (GDBusMethodInvocation *invocation,
                          const char            *session_id)
{
  if (g_uuid_string_is_valid (session_id))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                         "'%s' is not a session id", session_id);
  return FALSE;
}

static guint
count_sessions_of (CopilotdManager *self,
                   uid_t            uid)
{
  GHashTableIter iter;
  CopilotdSession *session;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    if (copilotd_session_get_uid (session) == uid)
      n++;
  return n;
}

static void
on_session_closed (CopilotdSession *session,
                   const char      *reason,
                   gpointer         user_data)
{
  CopilotdManager *self = user_data;
  const char *id = copilotd_dbus_session_get_id (COPILOTD_DBUS_SESSION (session));
  g_autofree char *session_id = g_strdup (id);

  g_signal_handlers_disconnect_by_data (session, self);
  copilotd_object_manager_unexport (self->objects, copilotd_session_get_path (session));
  g_hash_table_remove (self->sessions, session_id);
}

static void
export_session (CopilotdManager *self,
                CopilotdSession *session)
{
  copilotd_object_manager_export (self->objects, G_DBUS_INTERFACE_SKELETON (session),
                                  copilotd_session_get_path (session),
                                  copilotd_session_get_uid (session));
}

/* What a start (create, resume, or live resume) is about. */
typedef struct {
  CopilotdSession *session;             /* owned, nullable until created */
  char *session_id;                     /* owned */
  gboolean was_live;
} StartData;

static void
start_data_free (StartData *data)
{
  g_clear_object (&data->session);
  g_free (data->session_id);
  g_free (data);
}

static void
on_session_started (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdManager *self = g_task_get_source_object (task);
  StartData *data = g_task_get_task_data (task);
  CopilotdSession *session = data->session;
  g_autoptr(GError) error = NULL;

  if (!copilotd_session_start_finish (session, result, &error) || copilotd_session_is_closed (session))
    {
      if (error == NULL)
        error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "The session closed while starting");
      if (g_hash_table_lookup (self->sessions, data->session_id) == session)
        {
          g_signal_handlers_disconnect_by_data (session, self);
          g_hash_table_remove (self->sessions, data->session_id);
        }
      copilotd_session_release (session);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  export_session (self, session);
  /* The caller replies, then releases the session's first events. */
  g_task_return_pointer (task, g_object_ref (session), g_object_unref);
}

static void
on_live_resumed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!copilotd_session_resume_live_finish (COPILOTD_SESSION (source), result, &error))
    g_task_return_error (task, error);
  else
    {
      copilotd_session_hold (COPILOTD_SESSION (source));
      g_task_return_pointer (task, g_object_ref (source), g_object_unref);
    }
}

/*
 * copilotd_manager_start_session_async:
 * @invocation: the caller (its sender and UID); not answered here.
 * @resume_id: (nullable): resume that session instead of creating one.
 *
 * CreateSession and ResumeSession without their reply. A live session is
 * resumed the way a second SDK client resumes it (session-control.c).
 * The session comes back held: release it once the caller has replied.
 */
void
copilotd_manager_start_session_async (CopilotdManager       *self,
                                      GDBusMethodInvocation *invocation,
                                      const char            *resume_id,
                                      GVariant              *options,
                                      GAsyncReadyCallback    callback,
                                      gpointer               user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GPtrArray) tools = NULL;
  g_autoptr(GPtrArray) providers = NULL;
  g_autofree char *session_id = NULL;
  g_autoptr(JsonNode) node = NULL;
  CopilotdSessionContext context;
  CopilotdSession *session;
  StartData *data;
  gboolean persist = FALSE;
  uid_t uid = 0;

  g_task_set_source_tag (task, copilotd_manager_start_session_async);
  if (sender != NULL && !copilotd_callers_get_uid (self->callers, sender, &uid, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->config->system_bus && !copilotd_user_check (uid, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!copilotd_session_options_parse (options, sender, self->config->max_tools,
                                       &params, &tools, &persist, &session_id, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  providers = copilotd_providers_parse (options, sender, params, &error);
  if (providers == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* An app that gives no client-name is named by its process: prompts say
   * who is asking, and ListSessions which app made a session (§9). */
  if (!json_object_has_member (params, "clientName") && sender != NULL)
    {
      g_autofree char *app = copilotd_app_name_for_pid (NULL, copilotd_callers_get_pid (self->callers, sender));

      if (app != NULL)
        json_object_set_string_member (params, "clientName", app);
    }

  data = g_new0 (StartData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) start_data_free);

  if (resume_id != NULL)
    {
      if (!g_uuid_string_is_valid (resume_id))
        {
          g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                   "'%s' is not a session id", resume_id);
          return;
        }
      g_free (session_id);
      session_id = g_strdup (resume_id);
      session = g_hash_table_lookup (self->sessions, session_id);
      if (session != NULL)
        {
          if (copilotd_session_get_uid (session) != uid)
            {
              g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                       "Session %s belongs to another user", session_id);
              return;
            }
          if (!copilotd_session_join_providers (session, g_steal_pointer (&providers), params, &error))
            {
              g_task_return_error (task, g_steal_pointer (&error));
              return;
            }
          data->was_live = TRUE;
          data->session_id = g_strdup (session_id);
          copilotd_session_resume_live_async (session, sender, g_steal_pointer (&params),
                                              g_steal_pointer (&tools), on_live_resumed,
                                              g_steal_pointer (&task));
          return;
        }
    }
  else if (session_id == NULL)
    session_id = g_uuid_string_random ();

  if (g_hash_table_contains (self->sessions, session_id))
    {
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_ALREADY_EXISTS,
                               "Session %s is already live; use ResumeSession", session_id);
      return;
    }
  if (count_sessions_of (self, uid) >= self->config->max_sessions_per_uid)
    {
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                               "At most %u live sessions per user", self->config->max_sessions_per_uid);
      return;
    }

  context.connection = self->connection;
  context.backend = copilotd_backend_pool_get (self->pool, uid);
  context.callers = self->callers;
  context.agents = self->agents;
  context.tools = self->tools;
  context.config = self->config;
  session = copilotd_session_new (&context, session_id, sender, uid, persist);
  node = copilotd_json_node_take_object (json_object_ref (params));
  copilotd_session_set_params (session, node, g_steal_pointer (&tools));
  copilotd_session_set_providers (session, g_steal_pointer (&providers));
  if (sender != NULL)
    copilotd_callers_watch (self->callers, sender);

  /* Registered before the CLI answers: its events can come first
   * (PROTOCOL.md §2.2); they wait in the session until the reply is out. */
  g_hash_table_insert (self->sessions, g_strdup (session_id), session);
  g_signal_connect (session, "session-closed", G_CALLBACK (on_session_closed), self);

  data->session = g_object_ref (session);
  data->session_id = g_strdup (session_id);
  g_debug ("%s session '%s' for '%s'", resume_id ? "Resuming" : "Creating", session_id, sender);
  copilotd_session_start_async (session, resume_id != NULL, on_session_started, g_steal_pointer (&task));
}

CopilotdSession *
copilotd_manager_start_session_finish (CopilotdManager  *self,
                                       GAsyncResult     *result,
                                       gboolean         *out_was_live,
                                       GError          **error)
{
  StartData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  data = g_task_get_task_data (G_TASK (result));
  if (out_was_live != NULL)
    *out_was_live = data != NULL && data->was_live;
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_start_replied (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GDBusMethodInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CopilotdSession) session = NULL;

  session = copilotd_manager_start_session_finish (COPILOTD_MANAGER (source), result, NULL, &error);
  if (session == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", copilotd_session_get_path (session)));
  /* The session's first events go out after the reply. */
  copilotd_session_release (session);
}

static void
start_session (CopilotdManager       *self,
               GDBusMethodInvocation *invocation,
               const char            *resume_id,
               GVariant              *options)
{
  copilotd_manager_start_session_async (self, invocation, resume_id, options, on_start_replied,
                                        g_object_ref (invocation));
}

/* CreateSession (a{sv}) and ResumeSession (sa{sv}), once polkit agreed. */
static void
start_session_authorized (GObject               *object,
                          GDBusMethodInvocation *invocation)
{
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  const char *resume_id = NULL;
  g_autoptr(GVariant) options = NULL;

  if (g_variant_n_children (parameters) == 2)
    g_variant_get (parameters, "(&s@a{sv})", &resume_id, &options);
  else
    g_variant_get (parameters, "(@a{sv})", &options);
  start_session (COPILOTD_MANAGER (object), invocation, resume_id, options);
}

static gboolean
handle_create_session (CopilotdDbusManager   *iface,
                       GDBusMethodInvocation *invocation,
                       GVariant              *options)
{
  copilotd_polkit_authorize (COPILOTD_MANAGER (iface)->config->system_bus, G_OBJECT (iface),
                             invocation, start_session_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_resume_session (CopilotdDbusManager   *iface,
                       GDBusMethodInvocation *invocation,
                       const char            *session_id,
                       GVariant              *options)
{
  copilotd_polkit_authorize (COPILOTD_MANAGER (iface)->config->system_bus, G_OBJECT (iface),
                             invocation, start_session_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_session (CopilotdDbusManager   *iface,
                       GDBusMethodInvocation *invocation,
                       const char            *session_id)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  CopilotdSession *live;

  if (!manager_check_session_id (invocation, session_id))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  live = g_hash_table_lookup (self->sessions, session_id);
  if (live != NULL)
    {
      /* Erasing a live session's history is for those who may call it. */
      if (!copilotd_session_check_caller (live, invocation))
        return G_DBUS_METHOD_INVOCATION_HANDLED;
      copilotd_session_close (live, "deleted");
    }

  manager_delete_in_cli (self, invocation, session_id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
copilotd_manager_iface_init (CopilotdDbusManagerIface *iface)
{
  iface->handle_create_session = handle_create_session;
  iface->handle_resume_session = handle_resume_session;
  iface->handle_delete_session = handle_delete_session;
  manager_queries_iface_init (iface);
  copilotd_manager_account_iface_init (iface);
  iface->handle_ask = copilotd_manager_handle_ask;
}

/* ---- CLI traffic --------------------------------------------------------- */

static void
on_backend_notification (CopilotdBackend *backend,
                         const char      *method,
                         JsonNode        *params,
                         gpointer         user_data)
{
  CopilotdManager *self = user_data;
  JsonObject *object = result_object (params);

  if (object == NULL)
    return;

  if (strcmp (method, "session.event") == 0)
    {
      const char *id = copilotd_json_get_string (object, "sessionId", NULL);
      JsonNode *event = json_object_get_member (object, "event");
      CopilotdSession *session = id ? g_hash_table_lookup (self->sessions, id) : NULL;

      if (session != NULL && event != NULL && JSON_NODE_HOLDS_OBJECT (event))
        copilotd_session_handle_event (session, json_node_get_object (event));
    }
  else if (strcmp (method, "session.lifecycle") == 0)
    copilotd_lifecycle_handle (self->lifecycle, copilotd_backend_get_user (backend), object);
}

/* A plain delta read without a tree: what on_backend_notification() does
 * with it, when the session can do it without the tree. */
static gboolean
on_backend_delta (CopilotdBackend         *backend,
                  const CopilotdJsonDelta *delta,
                  gpointer                 user_data)
{
  CopilotdManager *self = user_data;
  CopilotdSession *session = g_hash_table_lookup (self->sessions, delta->session_id);

  return session == NULL || copilotd_session_handle_delta (session, delta);
}

static gboolean
on_backend_request (CopilotdBackend *backend,
                    const char      *method,
                    JsonNode        *params,
                    JsonNode        *id,
                    gpointer         user_data)
{
  CopilotdManager *self = user_data;
  JsonObject *object = result_object (params);
  const char *session_id;
  CopilotdSession *session;

  if (object == NULL)
    return FALSE;
  session_id = copilotd_json_get_string (object, "sessionId", NULL);
  session = session_id ? g_hash_table_lookup (self->sessions, session_id) : NULL;
  if (session == NULL)
    return FALSE;
  return copilotd_session_handle_request (session, method, object, id);
}

/* Live sessions, all of them or those of one backend's CLI. */
static GPtrArray *
list_sessions_of (CopilotdManager *self,
                  CopilotdBackend *backend)
{
  GPtrArray *sessions = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (backend == NULL || copilotd_session_get_backend (value) == backend)
      g_ptr_array_add (sessions, g_object_ref (value));
  return sessions;
}

static GPtrArray *
list_sessions (CopilotdManager *self)
{
  return list_sessions_of (self, NULL);
}

static void
on_backend_lost (CopilotdBackend *backend,
                 const GError    *reason,
                 gpointer         user_data)
{
  CopilotdManager *self = user_data;
  g_autoptr(GPtrArray) sessions = list_sessions_of (self, backend);

  for (guint i = 0; i < sessions->len; i++)
    copilotd_session_backend_lost (g_ptr_array_index (sessions, i));
}

static void
on_backend_ready (CopilotdBackend *backend,
                  gboolean         restarted,
                  gpointer         user_data)
{
  CopilotdManager *self = user_data;
  CopilotdDbusManager *iface = COPILOTD_DBUS_MANAGER (self);
  g_autoptr(GPtrArray) sessions = NULL;

  copilotd_dbus_manager_set_backend_version (iface, copilotd_backend_get_version (backend) ?: "");
  copilotd_dbus_manager_set_protocol_version (iface, copilotd_backend_get_protocol_version (backend));

  /* Each session that lost its CLI brings itself back. */
  sessions = list_sessions_of (self, backend);
  for (guint i = 0; i < sessions->len; i++)
    copilotd_session_backend_ready (g_ptr_array_index (sessions, i));
}

static void
on_backend_state (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  CopilotdManager *self = user_data;
  CopilotdBackend *backend = COPILOTD_BACKEND (object);
  CopilotdBackendState state = copilotd_backend_get_state (backend);

  /* On the system bus, where every user has a CLI, the property follows
   * the one that changed last; GetStatus tells each caller about its own. */
  copilotd_dbus_manager_set_backend_state (COPILOTD_DBUS_MANAGER (self),
                                           copilotd_backend_state_to_string (state));
  if (state == COPILOTD_BACKEND_FAILED)
    {
      g_autoptr(GPtrArray) sessions = list_sessions_of (self, backend);

      for (guint i = 0; i < sessions->len; i++)
        copilotd_session_close (g_ptr_array_index (sessions, i), "backend-failed");
    }
}

static void
on_caller_vanished (CopilotdCallers *callers,
                    const char      *name,
                    gpointer         user_data)
{
  CopilotdManager *self = user_data;
  g_autoptr(GPtrArray) sessions = list_sessions (self);

  for (guint i = 0; i < sessions->len; i++)
    copilotd_session_peer_vanished (g_ptr_array_index (sessions, i), name);
}

static void
on_backend_added (CopilotdBackendPool *pool,
                  CopilotdBackend     *backend,
                  gpointer             user_data)
{
  CopilotdManager *self = user_data;

  g_signal_connect_object (backend, "notification", G_CALLBACK (on_backend_notification), self, 0);
  g_signal_connect_object (backend, "delta", G_CALLBACK (on_backend_delta), self, 0);
  g_signal_connect_object (backend, "request", G_CALLBACK (on_backend_request), self, 0);
  g_signal_connect_object (backend, "lost", G_CALLBACK (on_backend_lost), self, 0);
  g_signal_connect_object (backend, "ready", G_CALLBACK (on_backend_ready), self, 0);
  g_signal_connect_object (backend, "notify::state", G_CALLBACK (on_backend_state), self, 0);
}

/* ---- shutdown ------------------------------------------------------------ */

/* How long the CLIs get to answer session.destroy before they are stopped. */
#define SHUTDOWN_DESTROY_TIMEOUT_MS 2000

static void
on_pool_stopped (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  copilotd_backend_pool_stop_finish (COPILOTD_BACKEND_POOL (source), result);
  g_task_return_boolean (task, TRUE);
}

static void
on_sessions_destroyed (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdManager *self = g_task_get_source_object (task);

  copilotd_sessions_destroy_all_finish (result);
  copilotd_backend_pool_stop_async (self->pool, on_pool_stopped, g_steal_pointer (&task));
}

/* Every session is destroyed in its CLI (a CLI that does not answer in
 * time must not keep the daemon from exiting), then every CLI stops. */
void
copilotd_manager_shutdown_async (CopilotdManager     *self,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr(GPtrArray) sessions = list_sessions (self);

  g_task_set_source_tag (task, copilotd_manager_shutdown_async);
  copilotd_sessions_destroy_all_async (sessions, SHUTDOWN_DESTROY_TIMEOUT_MS,
                                       on_sessions_destroyed, g_steal_pointer (&task));
}

void
copilotd_manager_shutdown_finish (CopilotdManager *self,
                                  GAsyncResult    *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

/* ---- object -------------------------------------------------------------- */

gboolean
copilotd_manager_export (CopilotdManager  *self,
                         GError          **error)
{
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self), self->connection,
                                         COPILOTD_ROOT_PATH, error))
    return FALSE;
  return copilotd_object_manager_register (self->objects, error);
}

const CopilotdConfig *
copilotd_manager_get_config (CopilotdManager *self)
{
  return self->config;
}

CopilotdBackendPool *
copilotd_manager_get_pool (CopilotdManager *self)
{
  return self->pool;
}

GPtrArray *
copilotd_manager_list_sessions (CopilotdManager *self)
{
  return list_sessions (self);
}

guint
copilotd_manager_get_n_sessions (CopilotdManager *self)
{
  return g_hash_table_size (self->sessions);
}

static void
copilotd_manager_dispose (GObject *object)
{
  CopilotdManager *self = COPILOTD_MANAGER (object);

  g_clear_pointer (&self->lifecycle, copilotd_lifecycle_free);
  if (self->pool != NULL)
    {
      g_autoptr(GPtrArray) backends = copilotd_backend_pool_list (self->pool);

      for (guint i = 0; i < backends->len; i++)
        g_signal_handlers_disconnect_by_data (g_ptr_array_index (backends, i), self);
      g_signal_handlers_disconnect_by_data (self->pool, self);
    }
  if (self->callers != NULL)
    g_signal_handlers_disconnect_by_data (self->callers, self);
  if (self->sessions != NULL)
    {
      g_autoptr(GPtrArray) sessions = list_sessions (self);
      for (guint i = 0; i < sessions->len; i++)
        g_signal_handlers_disconnect_by_data (g_ptr_array_index (sessions, i), self);
      g_hash_table_remove_all (self->sessions);
    }
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self));
  g_clear_pointer (&self->objects, copilotd_object_manager_free);
  g_clear_object (&self->agents);
  g_clear_object (&self->tools);
  g_clear_object (&self->pool);
  g_clear_object (&self->callers);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (copilotd_manager_parent_class)->dispose (object);
}

static void
copilotd_manager_finalize (GObject *object)
{
  CopilotdManager *self = COPILOTD_MANAGER (object);

  g_hash_table_unref (self->sessions);

  G_OBJECT_CLASS (copilotd_manager_parent_class)->finalize (object);
}

static void
copilotd_manager_class_init (CopilotdManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  /* --session: callers of another UID get AccessDenied (peer-gate.c). */
  copilotd_peer_gate_install (G_DBUS_INTERFACE_SKELETON_CLASS (klass));

  object_class->dispose = copilotd_manager_dispose;
  object_class->finalize = copilotd_manager_finalize;
}

static void
copilotd_manager_init (CopilotdManager *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

CopilotdManager *
copilotd_manager_new (GDBusConnection       *connection,
                      const CopilotdConfig  *config,
                      CopilotdCallers       *callers,
                      CopilotdBackendPool   *pool,
                      CopilotdAgentRegistry *agents,
                      CopilotdToolRouter    *tools)
{
  CopilotdManager *self = g_object_new (COPILOTD_TYPE_MANAGER, NULL);
  CopilotdDbusManager *iface = COPILOTD_DBUS_MANAGER (self);

  self->connection = g_object_ref (connection);
  self->config = config;
  self->callers = g_object_ref (callers);
  self->pool = g_object_ref (pool);
  self->agents = agents ? g_object_ref (agents) : NULL;
  self->tools = tools ? g_object_ref (tools) : NULL;
  self->objects = copilotd_object_manager_new (connection, callers, config->system_bus);
  self->lifecycle = copilotd_lifecycle_new (self->objects);

  copilotd_dbus_manager_set_version (iface, PACKAGE_VERSION);
  copilotd_dbus_manager_set_api_version (iface, API_VERSION);
  copilotd_dbus_manager_set_backend_state (iface, copilotd_backend_state_to_string (COPILOTD_BACKEND_STOPPED));
  copilotd_dbus_manager_set_backend_version (iface, "");
  copilotd_dbus_manager_set_protocol_version (iface, 0);

  g_signal_connect (pool, "backend-added", G_CALLBACK (on_backend_added), self);
  g_signal_connect (callers, "vanished", G_CALLBACK (on_caller_vanished), self);
  /* The deltas its backends read without a tree (on_backend_delta()) go to
   * relays that hold a run's deltas until the run ends (event-subscribers.c). */
  copilotd_jsonrpc_set_run_end_func (copilotd_event_relay_end_run);
  return self;
}
