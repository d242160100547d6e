/* SPDX-License-Identifier: MIT */
/* daemon.c: the composition root: bus, backend pool, registry, manager
 *
 * Builds every layer of DESIGN.md §1 on one connection, owns the bus
 * name, and decides when the daemon ends: on a signal, when the name is
 * lost, or after --idle-exit seconds with no session and no agent.
 */
#include "config.h"

#include <unistd.h>

#include "agent-registry.h"
#include "backend-pool.h"
#include "callers.h"
#include "copilotd-error.h"
#include "daemon.h"
#include "event-relay.h"
#include "jsonrpc.h"
#include "manager.h"
#include "peer-gate.h"
#include "tool-router.h"

#define IDLE_CHECK_INTERVAL_S 1

struct _CopilotdDaemon
{
  GObject parent_instance;

  CopilotdConfig *config;              /* owned */
  GDBusConnection *connection;         /* owned, nullable */
  CopilotdCallers *callers;            /* owned, nullable */
  CopilotdBackendPool *pool;           /* owned, nullable */
  CopilotdAgentRegistry *agents;       /* owned, nullable */
  CopilotdToolRouter *tools;           /* owned, nullable */
  CopilotdManager *manager;            /* owned, nullable */

  guint name_id;
  guint idle_id;
  gint64 idle_since;                   /* monotonic µs, 0 while busy */
  gboolean name_acquired;
  gboolean shutting_down;
  int exit_status;
};

G_DEFINE_FINAL_TYPE (CopilotdDaemon, copilotd_daemon, G_TYPE_OBJECT)

enum { SIGNAL_QUIT, N_SIGNALS };
static guint signals[N_SIGNALS];

static gboolean
check_idle (gpointer user_data)
{
  CopilotdDaemon *self = user_data;
  gboolean idle;

  /* A CLI being started has a caller waiting for it. */
  idle = copilotd_manager_get_n_sessions (self->manager) == 0 &&
         copilotd_agent_registry_get_n_agents (self->agents) == 0 &&
         !copilotd_backend_pool_is_starting (self->pool);
  if (!idle)
    {
      self->idle_since = 0;
      return G_SOURCE_CONTINUE;
    }
  if (self->idle_since == 0)
    self->idle_since = g_get_monotonic_time ();
  else if (g_get_monotonic_time () - self->idle_since >= (gint64) self->config->idle_exit * G_USEC_PER_SEC)
    {
      g_debug ("Idle for %u s; exiting", self->config->idle_exit);
      self->idle_id = 0;
      copilotd_daemon_shutdown (self, 0);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* An agent waits for prompts: its user's CLI must not idle out under it.
 * Another user's agent does not keep this user's CLI (on the system bus,
 * hundreds of MB each) running. */
static gboolean
agents_hold_user (uid_t    uid,
                  gpointer user_data)
{
  CopilotdDaemon *self = user_data;

  return copilotd_agent_registry_get_n_agents_of (self->agents, uid) > 0;
}

static void
on_n_agents (GObject    *object,
             GParamSpec *pspec,
             gpointer    user_data)
{
  CopilotdDaemon *self = user_data;

  copilotd_backend_pool_update_holds (self->pool);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  CopilotdDaemon *self = user_data;

  g_debug ("Acquired the name '%s'", name);
  self->name_acquired = TRUE;
}

static void
on_name_lost (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  CopilotdDaemon *self = user_data;

  /* Never having had the name is a failure (another daemon runs and
   * --replace was not given); being replaced is a clean exit. */
  if (connection == NULL)
    g_warning ("Lost the connection to the bus");
  else if (!self->name_acquired)
    g_printerr ("copilotd: the name %s is already owned; use --replace\n", name);
  else
    g_message ("Replaced as the owner of '%s'; exiting", name);
  copilotd_daemon_shutdown (self, connection != NULL && self->name_acquired ? 0 : 1);
}

gboolean
copilotd_daemon_start (CopilotdDaemon   *self,
                       GDBusConnection  *connection,
                       gboolean          replace,
                       GError          **error)
{
  GBusNameOwnerFlags flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;

  /* Registers the error domain before any reply can need it. */
  (void) COPILOTD_ERROR;

  self->connection = g_object_ref (connection);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  self->callers = copilotd_callers_new (connection);
  /* --session: only our UID gets in; the system bus: everybody, known by
   * UID so that signals about their sessions can reach them. */
  if (self->config->system_bus)
    copilotd_peer_gate_set_open (self->callers);
  else
    copilotd_peer_gate_set (self->callers, getuid ());
  self->pool = copilotd_backend_pool_new (self->config, self->callers);
  self->agents = copilotd_agent_registry_new (connection, self->callers, self->config);
  self->tools = copilotd_tool_router_new (connection, self->callers, self->config);
  g_signal_connect_object (self->agents, "notify::n-agents", G_CALLBACK (on_n_agents), self, 0);
  copilotd_backend_pool_set_hold_func (self->pool, agents_hold_user, self);
  self->manager = copilotd_manager_new (connection, self->config, self->callers,
                                        self->pool, self->agents, self->tools);
  if (!copilotd_manager_export (self->manager, error) ||
      !g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->agents), connection,
                                         COPILOTD_ROOT_PATH, error))
    return FALSE;

  if (replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  self->name_id = g_bus_own_name_on_connection (connection, COPILOTD_BUS_NAME, flags,
                                                on_name_acquired, on_name_lost,
                                                self, NULL);
  if (self->config->idle_exit > 0)
    self->idle_id = g_timeout_add_seconds (IDLE_CHECK_INTERVAL_S, check_idle, self);
  return TRUE;
}

static void
on_manager_shut_down (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(CopilotdDaemon) self = user_data;

  copilotd_manager_shutdown_finish (COPILOTD_MANAGER (source), result);
  g_signal_emit (self, signals[SIGNAL_QUIT], 0, self->exit_status);
}

void
copilotd_daemon_shutdown (CopilotdDaemon *self,
                          int             exit_status)
{
  if (self->shutting_down)
    return;
  self->shutting_down = TRUE;
  self->exit_status = exit_status;
  g_clear_handle_id (&self->idle_id, g_source_remove);

  /* Release the name first so that activation can start a new daemon. */
  if (self->name_id != 0)
    {
      g_bus_unown_name (self->name_id);
      self->name_id = 0;
    }
  if (self->manager == NULL)
    {
      g_signal_emit (self, signals[SIGNAL_QUIT], 0, exit_status);
      return;
    }
  copilotd_manager_shutdown_async (self->manager, on_manager_shut_down, g_object_ref (self));
}

static void
copilotd_daemon_dispose (GObject *object)
{
  CopilotdDaemon *self = COPILOTD_DAEMON (object);

  g_clear_handle_id (&self->idle_id, g_source_remove);
  if (self->name_id != 0)
    {
      g_bus_unown_name (self->name_id);
      self->name_id = 0;
    }
  g_clear_object (&self->manager);
  if (self->agents != NULL &&
      g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->agents)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->agents));
  g_clear_object (&self->tools);
  /* The pool may outlive the daemon in a manager's reference: it asks
   * the registry no more. */
  if (self->pool != NULL)
    copilotd_backend_pool_set_hold_func (self->pool, NULL, NULL);
  g_clear_object (&self->agents);
  g_clear_object (&self->pool);
  copilotd_peer_gate_set (NULL, 0);
  g_clear_object (&self->callers);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (copilotd_daemon_parent_class)->dispose (object);
}

static void
copilotd_daemon_finalize (GObject *object)
{
  CopilotdDaemon *self = COPILOTD_DAEMON (object);

  g_clear_pointer (&self->config, copilotd_config_free);

  G_OBJECT_CLASS (copilotd_daemon_parent_class)->finalize (object);
}

static void
copilotd_daemon_class_init (CopilotdDaemonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_daemon_dispose;
  object_class->finalize = copilotd_daemon_finalize;

  signals[SIGNAL_QUIT] =
    g_signal_new ("quit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
copilotd_daemon_init (CopilotdDaemon *self)
{
}

CopilotdDaemon *
copilotd_daemon_new (CopilotdConfig *config)
{
  CopilotdDaemon *self = g_object_new (COPILOTD_TYPE_DAEMON, NULL);

  self->config = config;
  /* Noise nobody subscribed to is dropped before it is parsed. */
  copilotd_jsonrpc_set_drop_func (copilotd_event_relay_drop_frame);
  return self;
}
