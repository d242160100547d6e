/* SPDX-License-Identifier: MIT */
/* copilot-client.c: a connection to copilotd
 *
 * One CopilotClient per bus connection. It follows the daemon's unique name
 * (agents and tools answer only to it), mirrors the Manager's properties,
 * and receives every Session signal of the connection with one
 * subscription, handing each to its sessions (copilot-client-sessions.c).
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotClient
{
  GObject parent_instance;

  GBusType bus_type;
  GDBusConnection *connection;   /* owned */
  char *daemon_name;             /* owned, nullable: the daemon's unique name */
  char *backend_state;           /* owned */
  char *version;                 /* owned */
  guint api_version;

  guint owner_sub;
  guint manager_props_sub;
  guint lifecycle_sub;
  guint session_sub;
  guint session_props_sub;

  CopilotSessions *sessions;     /* owned: its CopilotSession objects, by path */

  CopilotProviders *providers;   /* owned: the tools, hooks and commands it serves */
};

static void copilot_client_initable_iface_init (GInitableIface *iface);
static void copilot_client_async_initable_iface_init (GAsyncInitableIface *iface);

/**
 * CopilotClient:
 *
 * A connection to copilotd, the D-Bus service that runs the GitHub Copilot
 * CLI for the user's apps.
 *
 * Make one with [func@Copilot.Client.new] (or
 * [func@Copilot.Client.new_for_connection]); then create or resume
 * sessions ([method@Copilot.Client.create_session]), list them and the
 * models, ask one-shot questions ([method@Copilot.Client.ask]) and sign in.
 * [property@Copilot.Client:backend-state] follows the CLI's state, and
 * [signal@Copilot.Client::session-lifecycle] the user's sessions.
 *
 * Every call is asynchronous and none of a turn carries a D-Bus timeout.
 */
G_DEFINE_FINAL_TYPE_WITH_CODE (CopilotClient, copilot_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, copilot_client_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE, copilot_client_async_initable_iface_init))

enum {
  PROP_0,
  PROP_BUS_TYPE,
  PROP_CONNECTION,
  PROP_DAEMON_NAME,
  PROP_BACKEND_STATE,
  PROP_VERSION,
  PROP_API_VERSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_SESSION_LIFECYCLE,
  SIGNAL_HOOK,
  SIGNAL_COMMAND,
  SIGNAL_HANDLE_HOOK,
  SIGNAL_HANDLE_COMMAND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- signals from the daemon ---- */

static void
set_string (CopilotClient *self,
            char         **field,
            const char    *value,
            guint          prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
apply_manager_properties (CopilotClient *self,
                          GVariant      *dict)
{
  const char *s;
  guint32 u;

  if (g_variant_lookup (dict, "BackendState", "&s", &s))
    set_string (self, &self->backend_state, s, PROP_BACKEND_STATE);
  if (g_variant_lookup (dict, "Version", "&s", &s))
    set_string (self, &self->version, s, PROP_VERSION);
  if (g_variant_lookup (dict, "ApiVersion", "u", &u) && u != self->api_version)
    {
      self->api_version = u;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_API_VERSION]);
    }
}

static void
on_name_owner_changed (GDBusConnection *connection,
                       const char      *sender,
                       const char      *path,
                       const char      *iface,
                       const char      *member,
                       GVariant        *params,
                       gpointer         user_data)
{
  CopilotClient *self = user_data;
  const char *name, *old_owner, *new_owner;

  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (g_strcmp0 (name, COPILOT_BUS_NAME) != 0)
    return;
  g_debug ("copilotd owner '%s' → '%s'", old_owner, new_owner);
  if (*old_owner != '\0' && self->daemon_name != NULL)
    {
      set_string (self, &self->daemon_name, NULL, PROP_DAEMON_NAME);
      copilot_sessions_daemon_vanished (self->sessions);
    }
  set_string (self, &self->daemon_name, *new_owner ? new_owner : NULL, PROP_DAEMON_NAME);
  if (*new_owner == '\0')
    set_string (self, &self->backend_state, "stopped", PROP_BACKEND_STATE);
}

static void
on_manager_properties_changed (GDBusConnection *connection,
                               const char      *sender,
                               const char      *path,
                               const char      *iface,
                               const char      *member,
                               GVariant        *params,
                               gpointer         user_data)
{
  CopilotClient *self = user_data;
  const char *changed_iface;
  g_autoptr(GVariant) changed = NULL;

  if (g_strcmp0 (sender, self->daemon_name) != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (params, "(&s@a{sv}as)", &changed_iface, &changed, NULL);
  if (g_strcmp0 (changed_iface, COPILOT_IFACE_MANAGER) == 0)
    apply_manager_properties (self, changed);
}

static void
on_lifecycle (GDBusConnection *connection,
              const char      *sender,
              const char      *path,
              const char      *iface,
              const char      *member,
              GVariant        *params,
              gpointer         user_data)
{
  CopilotClient *self = user_data;
  const char *type, *session_id;
  g_autoptr(GVariant) metadata = NULL;

  if (g_strcmp0 (sender, self->daemon_name) != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(ssa{sv})")))
    return;
  g_variant_get (params, "(&s&s@a{sv})", &type, &session_id, &metadata);
  g_signal_emit (self, signals[SIGNAL_SESSION_LIFECYCLE], g_quark_try_string (type),
                 type, session_id, metadata);
}

static void
on_session_signal (GDBusConnection *connection,
                   const char      *sender,
                   const char      *path,
                   const char      *iface,
                   const char      *member,
                   GVariant        *params,
                   gpointer         user_data)
{
  CopilotClient *self = user_data;

  if (g_strcmp0 (sender, self->daemon_name) == 0)
    copilot_sessions_handle_signal (self->sessions, path, member, params);
}

static void
on_session_properties_changed (GDBusConnection *connection,
                               const char      *sender,
                               const char      *path,
                               const char      *iface,
                               const char      *member,
                               GVariant        *params,
                               gpointer         user_data)
{
  CopilotClient *self = user_data;
  const char *changed_iface;
  g_autoptr(GVariant) changed = NULL;

  if (g_strcmp0 (sender, self->daemon_name) != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (params, "(&s@a{sv}as)", &changed_iface, &changed, NULL);
  if (g_strcmp0 (changed_iface, COPILOT_IFACE_SESSION) == 0)
    copilot_sessions_handle_properties (self->sessions, path, changed);
}

static void
subscribe_signals (CopilotClient *self)
{
  self->owner_sub =
    g_dbus_connection_signal_subscribe (self->connection, "org.freedesktop.DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged",
                                        "/org/freedesktop/DBus", COPILOT_BUS_NAME,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_name_owner_changed, self, NULL);
  /* Senders are checked against the daemon's unique name in the handlers. */
  self->manager_props_sub =
    g_dbus_connection_signal_subscribe (self->connection, NULL,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        COPILOT_OBJECT_PATH, COPILOT_IFACE_MANAGER,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_manager_properties_changed, self, NULL);
  self->lifecycle_sub =
    g_dbus_connection_signal_subscribe (self->connection, NULL,
                                        COPILOT_IFACE_MANAGER, "SessionLifecycle",
                                        COPILOT_OBJECT_PATH, NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_lifecycle, self, NULL);
  self->session_sub =
    g_dbus_connection_signal_subscribe (self->connection, NULL,
                                        COPILOT_IFACE_SESSION, NULL, NULL, NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_session_signal, self, NULL);
  self->session_props_sub =
    g_dbus_connection_signal_subscribe (self->connection, NULL,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        NULL, COPILOT_IFACE_SESSION,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_session_properties_changed, self, NULL);
}

/* ---- initialisation ---- */

static gboolean
copilot_client_initable_init (GInitable     *initable,
                              GCancellable  *cancellable,
                              GError       **error)
{
  CopilotClient *self = COPILOT_CLIENT (initable);
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) owner = NULL;
  g_autoptr(GVariant) dict = NULL;

  if (self->connection == NULL)
    {
      self->connection = g_bus_get_sync (self->bus_type, cancellable, error);
      if (self->connection == NULL)
        return FALSE;
    }
  subscribe_signals (self);
  /* Reading the properties starts the daemon through D-Bus activation. */
  props = g_dbus_connection_call_sync (self->connection, COPILOT_BUS_NAME, COPILOT_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "GetAll",
                                       g_variant_new ("(s)", COPILOT_IFACE_MANAGER),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, cancellable, error);
  if (props == NULL)
    return FALSE;
  dict = g_variant_get_child_value (props, 0);
  apply_manager_properties (self, dict);
  owner = g_dbus_connection_call_sync (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       g_variant_new ("(s)", COPILOT_BUS_NAME),
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, cancellable, error);
  if (owner == NULL)
    return FALSE;
  g_free (self->daemon_name);
  g_variant_get (owner, "(s)", &self->daemon_name);
  return TRUE;
}

static void
copilot_client_initable_iface_init (GInitableIface *iface)
{
  iface->init = copilot_client_initable_init;
}

static void
on_init_owner (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotClient *self = g_task_get_source_object (task);
  g_autoptr(GVariant) owner = NULL;
  GError *error = NULL;

  owner = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (owner == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_free (self->daemon_name);
  g_variant_get (owner, "(s)", &self->daemon_name);
  g_task_return_boolean (task, TRUE);
}

static void
on_init_properties (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotClient *self = g_task_get_source_object (task);
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) dict = NULL;
  GError *error = NULL;

  props = copilot_client_call_finish (self, result, &error);
  if (props == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  dict = g_variant_get_child_value (props, 0);
  apply_manager_properties (self, dict);
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetNameOwner",
                          g_variant_new ("(s)", COPILOT_BUS_NAME),
                          G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          g_task_get_cancellable (task), on_init_owner, g_object_ref (task));
}

static void
init_with_connection (GTask *task)
{
  CopilotClient *self = g_task_get_source_object (task);

  subscribe_signals (self);
  copilot_client_call (self, COPILOT_OBJECT_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                       g_variant_new ("(s)", COPILOT_IFACE_MANAGER), G_VARIANT_TYPE ("(a{sv})"),
                       -1, g_task_get_cancellable (task), on_init_properties, g_object_ref (task));
}

static void
on_init_bus (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotClient *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->connection = g_bus_get_finish (result, &error);
  if (self->connection == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  init_with_connection (task);
}

static void
copilot_client_init_async (GAsyncInitable      *initable,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  CopilotClient *self = COPILOT_CLIENT (initable);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, copilot_client_init_async);
  g_task_set_priority (task, io_priority);
  if (self->connection == NULL)
    g_bus_get (self->bus_type, cancellable, on_init_bus, g_steal_pointer (&task));
  else
    init_with_connection (task);
}

static gboolean
copilot_client_init_finish (GAsyncInitable  *initable,
                            GAsyncResult    *result,
                            GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
copilot_client_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = copilot_client_init_async;
  iface->init_finish = copilot_client_init_finish;
}

/* ---- GObject ---- */

static void
copilot_client_dispose (GObject *object)
{
  CopilotClient *self = COPILOT_CLIENT (object);

  if (self->connection != NULL)
    {
      guint *subs[] = { &self->owner_sub, &self->manager_props_sub, &self->lifecycle_sub,
                        &self->session_sub, &self->session_props_sub };

      for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
        if (*subs[i] != 0)
          {
            g_dbus_connection_signal_unsubscribe (self->connection, *subs[i]);
            *subs[i] = 0;
          }
    }
  /* Unregisters its objects while the connection is there. */
  g_clear_pointer (&self->providers, copilot_providers_free);

  G_OBJECT_CLASS (copilot_client_parent_class)->dispose (object);
}

static void
copilot_client_finalize (GObject *object)
{
  CopilotClient *self = COPILOT_CLIENT (object);

  g_clear_object (&self->connection);
  g_clear_pointer (&self->daemon_name, g_free);
  g_clear_pointer (&self->backend_state, g_free);
  g_clear_pointer (&self->version, g_free);
  g_clear_pointer (&self->sessions, copilot_sessions_free);

  G_OBJECT_CLASS (copilot_client_parent_class)->finalize (object);
}

static void
copilot_client_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CopilotClient *self = COPILOT_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BUS_TYPE:
      g_value_set_enum (value, self->bus_type);
      break;
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;
    case PROP_DAEMON_NAME:
      g_value_set_string (value, self->daemon_name);
      break;
    case PROP_BACKEND_STATE:
      g_value_set_string (value, self->backend_state);
      break;
    case PROP_VERSION:
      g_value_set_string (value, self->version);
      break;
    case PROP_API_VERSION:
      g_value_set_uint (value, self->api_version);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_client_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  CopilotClient *self = COPILOT_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BUS_TYPE:
      self->bus_type = g_value_get_enum (value);
      break;
    case PROP_CONNECTION:
      self->connection = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_client_class_init (CopilotClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilot_client_dispose;
  object_class->finalize = copilot_client_finalize;
  object_class->get_property = copilot_client_get_property;
  object_class->set_property = copilot_client_set_property;

  /* Replies name io.github.copilotd.Copilot1.Error.*: map them. */
  (void) copilot_error_quark ();

  /**
   * CopilotClient:bus-type:
   *
   * The bus the daemon is on, when the client was made with
   * copilot_client_new().
   */
  properties[PROP_BUS_TYPE] =
    g_param_spec_enum ("bus-type", NULL, NULL, G_TYPE_BUS_TYPE, G_BUS_TYPE_SESSION,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotClient:connection:
   *
   * The bus connection the client talks to the daemon on.
   */
  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotClient:daemon-name:
   *
   * The unique bus name of the running daemon, or %NULL while none runs.
   * Agents and tools of this client answer calls from this name only.
   */
  properties[PROP_DAEMON_NAME] =
    g_param_spec_string ("daemon-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotClient:backend-state:
   *
   * The Manager's `BackendState`: `stopped`, `starting`, `running`,
   * `restarting` or `failed`. Notified when it changes.
   */
  properties[PROP_BACKEND_STATE] =
    g_param_spec_string ("backend-state", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotClient:version:
   *
   * The daemon's version.
   */
  properties[PROP_VERSION] =
    g_param_spec_string ("version", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotClient:api-version:
   *
   * The daemon's `ApiVersion`: 1 for the contract of DESIGN.md §1–§7, 2
   * once Contract 2 is served.
   */
  properties[PROP_API_VERSION] =
    g_param_spec_uint ("api-version", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotClient::session-lifecycle:
   * @self: the client
   * @type: `created`, `deleted`, `updated`, `foreground` or `background`
   *   (also the signal's detail)
   * @session_id: the CLI session id
   * @metadata: (type GVariant): an `a{sv}` with `start-time` and
   *   `modified-time`
   *
   * The Manager's `SessionLifecycle` signal: a session of this user was
   * created, deleted or changed, by this app or another.
   */
  signals[SIGNAL_SESSION_LIFECYCLE] =
    g_signal_new ("session-lifecycle", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_VARIANT);

  /**
   * CopilotClient::hook:
   * @self: the client
   * @session_path: the session whose CLI runs the hook
   * @hook_type: `preToolUse`, `userPromptSubmitted`, … (also the detail)
   * @input_json: the hook's input, JSON text
   *
   * The CLI runs a hook of a type added with copilot_client_add_hooks()
   * (`HookProvider.Invoke`), and no #CopilotClient::handle-hook handler
   * took it. Answer at once: the daemon waits at most its
   * `hook-timeout`, and a hook that fails never allows what the agent gate
   * would ask about. To answer later, use #CopilotClient::handle-hook.
   *
   * Returns: (transfer full) (nullable): the hook's output, JSON text, or
   *   %NULL for none
   */
  signals[SIGNAL_HOOK] =
    g_signal_new ("hook", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, g_signal_accumulator_first_wins, NULL, NULL,
                  G_TYPE_STRING, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CopilotClient::command:
   * @self: the client
   * @session_path: the session the user typed it in
   * @name: the command, as added with copilot_client_add_command() (also
   *   the detail)
   * @args: what followed it
   *
   * The user ran a slash command of this app (`CommandProvider.Execute`),
   * and no #CopilotClient::handle-command handler took it. To answer
   * later, use #CopilotClient::handle-command.
   *
   * Returns: (transfer full) (nullable): %NULL when it worked, else why it
   *   failed
   */
  signals[SIGNAL_COMMAND] =
    g_signal_new ("command", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, g_signal_accumulator_first_wins, NULL, NULL,
                  G_TYPE_STRING, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * CopilotClient::handle-hook:
   * @self: the client
   * @call: the hook's run; keep a reference to answer it later
   *
   * The CLI runs a hook of a type added with copilot_client_add_hooks()
   * (`HookProvider.Invoke`); the detail is the hook type. A handler that
   * returns %TRUE answers @call with copilot_hook_call_return_output(),
   * now or later (within the daemon's `hook-timeout`, default 30 s); one
   * that drops @call unanswered gives empty output. When no handler
   * returns %TRUE, #CopilotClient::hook is emitted.
   *
   * Returns: %TRUE when the handler answers @call
   */
  signals[SIGNAL_HANDLE_HOOK] =
    g_signal_new ("handle-hook", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, COPILOT_TYPE_HOOK_CALL);
  /**
   * CopilotClient::handle-command:
   * @self: the client
   * @call: the command's run; keep a reference to answer it later
   *
   * The user ran a slash command added with copilot_client_add_command()
   * (`CommandProvider.Execute`); the detail is its name. A handler that
   * returns %TRUE answers @call with copilot_command_call_return_success()
   * or copilot_command_call_return_error(), now or later; one that drops
   * @call unanswered fails it. When no handler returns %TRUE,
   * #CopilotClient::command is emitted.
   *
   * Returns: %TRUE when the handler answers @call
   */
  signals[SIGNAL_HANDLE_COMMAND] =
    g_signal_new ("handle-command", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, COPILOT_TYPE_COMMAND_CALL);
}

static void
copilot_client_init (CopilotClient *self)
{
  self->bus_type = G_BUS_TYPE_SESSION;
  self->sessions = copilot_sessions_new ();
  self->providers = copilot_providers_new (self);
  self->backend_state = g_strdup ("stopped");
}

/* ---- construction ---- */

/**
 * copilot_client_new:
 * @bus_type: the bus copilotd is on: %G_BUS_TYPE_SESSION (the usual) or
 *   %G_BUS_TYPE_SYSTEM
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to copilotd on @bus_type (starting it through D-Bus activation
 * when it is installed) and reads its state. Finish with
 * copilot_client_new_finish().
 */
void
copilot_client_new (GBusType             bus_type,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_async_initable_new_async (COPILOT_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data, "bus-type", bus_type, NULL);
}

/**
 * copilot_client_new_for_connection:
 * @connection: a message bus connection copilotd is reachable on
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready
 * @user_data: data for @callback
 *
 * Like copilot_client_new(), on a connection the caller already has (a
 * private bus, a connection with its own main context). Finish with
 * copilot_client_new_finish().
 */
void
copilot_client_new_for_connection (GDBusConnection     *connection,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));

  g_async_initable_new_async (COPILOT_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data, "connection", connection, NULL);
}

/**
 * copilot_client_new_finish:
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Finishes copilot_client_new() or copilot_client_new_for_connection().
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
CopilotClient *
copilot_client_new_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (result);
  GObject *object;

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
  return object != NULL ? COPILOT_CLIENT (object) : NULL;
}

/**
 * copilot_client_new_sync:
 * @bus_type: the bus copilotd is on
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Connects to copilotd and blocks until it answered. Meant for scripts and
 * command-line tools; an app with a main loop uses copilot_client_new().
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
CopilotClient *
copilot_client_new_sync (GBusType       bus_type,
                         GCancellable  *cancellable,
                         GError       **error)
{
  return g_initable_new (COPILOT_TYPE_CLIENT, cancellable, error, "bus-type", bus_type, NULL);
}

/* ---- accessors ---- */

/**
 * copilot_client_get_connection:
 * @self: a #CopilotClient
 *
 * Returns: (transfer none): the bus connection the client uses
 */
GDBusConnection *
copilot_client_get_connection (CopilotClient *self)
{
  g_return_val_if_fail (COPILOT_IS_CLIENT (self), NULL);
  return self->connection;
}

/**
 * copilot_client_get_daemon_name:
 * @self: a #CopilotClient
 *
 * Returns: (nullable): the unique bus name of the running daemon
 */
const char *
copilot_client_get_daemon_name (CopilotClient *self)
{
  g_return_val_if_fail (COPILOT_IS_CLIENT (self), NULL);
  return self->daemon_name;
}

/**
 * copilot_client_get_backend_state:
 * @self: a #CopilotClient
 *
 * Returns: the #CopilotClient:backend-state
 */
const char *
copilot_client_get_backend_state (CopilotClient *self)
{
  g_return_val_if_fail (COPILOT_IS_CLIENT (self), NULL);
  return self->backend_state;
}

/**
 * copilot_client_get_version:
 * @self: a #CopilotClient
 *
 * Returns: (nullable): the daemon's version
 */
const char *
copilot_client_get_version (CopilotClient *self)
{
  g_return_val_if_fail (COPILOT_IS_CLIENT (self), NULL);
  return self->version;
}

/**
 * copilot_client_get_api_version:
 * @self: a #CopilotClient
 *
 * Returns: the daemon's `ApiVersion`
 */
guint
copilot_client_get_api_version (CopilotClient *self)
{
  g_return_val_if_fail (COPILOT_IS_CLIENT (self), 0);
  return self->api_version;
}

CopilotProviders *
copilot_client_get_providers (CopilotClient *self)
{
  return self->providers;
}

CopilotSessions *
copilot_client_get_sessions (CopilotClient *self)
{
  return self->sessions;
}

/* ---- hooks and commands ---- */

void
copilot_client_dispatch_hook (CopilotClient   *self,
                              CopilotHookCall *call)
{
  const char *hook_type = copilot_hook_call_get_hook_type (call);
  GQuark detail = g_quark_try_string (hook_type);
  g_autofree char *output = NULL;
  gboolean handled = FALSE;

  g_signal_emit (self, signals[SIGNAL_HANDLE_HOOK], detail, call, &handled);
  if (handled || copilot_hook_call_is_answered (call))
    return;
  g_signal_emit (self, signals[SIGNAL_HOOK], detail, copilot_hook_call_get_session_path (call),
                 hook_type, copilot_hook_call_get_input_json (call), &output);
  copilot_hook_call_return_output (call, output);
}

void
copilot_client_dispatch_command (CopilotClient      *self,
                                 CopilotCommandCall *call)
{
  const char *name = copilot_command_call_get_name (call);
  GQuark detail = g_quark_try_string (name);
  g_autofree char *failure = NULL;
  gboolean handled = FALSE;

  g_signal_emit (self, signals[SIGNAL_HANDLE_COMMAND], detail, call, &handled);
  if (handled || copilot_command_call_is_answered (call))
    return;
  if (!g_signal_has_handler_pending (self, signals[SIGNAL_COMMAND], detail, FALSE))
    failure = g_strdup_printf ("Nothing in this app runs /%s", name);
  else
    g_signal_emit (self, signals[SIGNAL_COMMAND], detail, copilot_command_call_get_session_path (call),
                   name, copilot_command_call_get_args (call), &failure);
  if (failure != NULL)
    copilot_command_call_return_error (call, failure);
  else
    copilot_command_call_return_success (call);
}
