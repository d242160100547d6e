/* SPDX-License-Identifier: MIT */
/* agent-registry.c: agents per connection, registration, defaults
 *
 * An agent is an object implementing io.github.copilotd.Copilot1.Agent on
 * some client's connection. The registry is the AgentManager skeleton those
 * clients register with (RegisterAgent, UnregisterAgent,
 * RequestDefaultAgent), and the router that asks them (agent-ask.c): one
 * agent at a time, in the order of DESIGN.md §5, moving on when an agent
 * answers with an error or leaves the bus.
 *
 * Lifetimes: an Agent is a small refcounted record; the registry owns one
 * ref per registered agent and every ask owns refs on its candidates, so an
 * agent that leaves mid-ask is just marked `gone`. Each ask is a GTask whose
 * task data is an Ask (agent-ask.c); the registry keeps a ref on every unfinished
 * task so timers and cancellable handlers (which point at the Ask) are
 * always removed before the Ask can be freed.
 */
#include "config.h"

#include "agent-registry-private.h"
#include "copilotd-error.h"
#include "polkit.h"
#include "peer-gate.h"

/* Per kind: the capability name, the Agent method and its reply type. */
const AgentKind agent_kinds[AGENT_N_KINDS] = {
  [COPILOTD_PROMPT_PERMISSION] = { "permission", "RequestPermission", "(ua{sv})" },
  [COPILOTD_PROMPT_USER_INPUT] = { "user-input", "RequestUserInput", "(ua{sv})" },
  [COPILOTD_PROMPT_ELICITATION] = { "elicitation", "RequestElicitation", "(ssa{sv})" },
  [COPILOTD_PROMPT_PLAN_APPROVAL] = { "plan-approval", "RequestPlanApproval", "(ba{sv})" },
  [COPILOTD_PROMPT_MODE_SWITCH] = { "mode-switch", "RequestModeSwitch", "(sa{sv})" },
};

enum {
  PROP_0,
  PROP_N_AGENTS,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void copilotd_agent_registry_iface_init (CopilotdDbusAgentManagerIface *iface);

G_DEFINE_TYPE_WITH_CODE (CopilotdAgentRegistry, copilotd_agent_registry,
                         COPILOTD_DBUS_TYPE_AGENT_MANAGER_SKELETON,
                         G_IMPLEMENT_INTERFACE (COPILOTD_DBUS_TYPE_AGENT_MANAGER,
                                                copilotd_agent_registry_iface_init))

Agent *
agent_ref (Agent *agent)
{
  g_atomic_int_inc (&agent->ref_count);
  return agent;
}

void
agent_unref (Agent *agent)
{
  if (!g_atomic_int_dec_and_test (&agent->ref_count))
    return;

  g_assert (g_queue_is_empty (&agent->waiting));
  g_free (agent->sender);
  g_free (agent->path);
  g_ptr_array_unref (agent->calling);
  g_free (agent);
}

gboolean
agent_can (Agent              *agent,
           CopilotdPromptKind  kind)
{
  return (guint) kind < AGENT_N_KINDS && (agent->capabilities & (1u << kind)) != 0;
}

void
agent_send_call (CopilotdAgentRegistry *self,
                 Agent                 *agent,
                 const char            *method,
                 GVariant              *parameters)
{
  /* No callback: GDBus sends it with NO_REPLY_EXPECTED. */
  g_dbus_connection_call (self->connection, agent->sender, agent->path,
                          AGENT_INTERFACE, method, parameters, NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          NULL, NULL, NULL);
}

/* Registration -------------------------------------------------------------- */

static Agent *
find_agent (CopilotdAgentRegistry *self,
            const char            *sender,
            const char            *path)
{
  Agent *agent = g_hash_table_lookup (self->by_sender, sender);

  if (agent == NULL || g_strcmp0 (agent->path, path) != 0)
    return NULL;

  return agent;
}

/* Drops @agent and moves the asks that were with it to their next agent. */
static void
remove_agent (CopilotdAgentRegistry *self,
              Agent                 *agent,
              gboolean               release)
{
  g_autoptr(Agent) hold = agent_ref (agent);
  GHashTableIter iter;
  gpointer value;

  g_debug ("Dropping agent %s %s", agent->sender, agent->path);

  agent->gone = TRUE;
  g_hash_table_remove (self->by_sender, agent->sender);
  g_hash_table_iter_init (&iter, self->default_stacks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_remove (value, agent);
  g_ptr_array_remove (self->agents, agent);

  if (release)
    agent_send_call (self, agent, "Release", NULL);

  agent_asks_move_off (self, agent);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_AGENTS]);
}

static void
on_caller_vanished (CopilotdCallers *callers,
                    const char      *unique_name,
                    gpointer         user_data)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (user_data);
  Agent *agent = g_hash_table_lookup (self->by_sender, unique_name);

  if (agent != NULL)
    remove_agent (self, agent, FALSE);
}

static gboolean
parse_options (GVariant  *options,
               guint     *out_capabilities,
               gboolean  *out_fallback,
               GError   **error)
{
  g_autoptr(GVariant) capabilities = NULL;
  g_autoptr(GVariant) fallback = NULL;

  *out_capabilities = (1u << COPILOTD_PROMPT_PERMISSION) | (1u << COPILOTD_PROMPT_USER_INPUT);
  *out_fallback = FALSE;

  capabilities = g_variant_lookup_value (options, "capabilities", NULL);
  if (capabilities != NULL)
    {
      g_autofree const char **names = NULL;

      if (!g_variant_is_of_type (capabilities, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option “capabilities” must be of type as, not %s",
                       g_variant_get_type_string (capabilities));
          return FALSE;
        }

      *out_capabilities = 0;
      names = g_variant_get_strv (capabilities, NULL);
      for (gsize i = 0; names[i] != NULL; i++)
        {
          guint kind;

          for (kind = 0; kind < AGENT_N_KINDS; kind++)
            if (g_str_equal (names[i], agent_kinds[kind].capability))
              break;
          if (kind == AGENT_N_KINDS)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Unknown capability “%s” (known: permission, user-input, "
                           "elicitation, plan-approval, mode-switch)", names[i]);
              return FALSE;
            }
          *out_capabilities |= 1u << kind;
        }
    }

  fallback = g_variant_lookup_value (options, "fallback", NULL);
  if (fallback != NULL)
    {
      if (!g_variant_is_of_type (fallback, G_VARIANT_TYPE_BOOLEAN))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option “fallback” must be of type b, not %s",
                       g_variant_get_type_string (fallback));
          return FALSE;
        }
      *out_fallback = g_variant_get_boolean (fallback);
    }

  return TRUE;
}

static void
register_agent (CopilotdDbusAgentManager *object,
                GDBusMethodInvocation    *invocation,
                const char               *path,
                GVariant                 *options)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  guint capabilities;
  gboolean fallback;
  guint n_for_uid;
  uid_t uid;
  Agent *agent;

  if (!parse_options (options, &capabilities, &fallback, &error))
    goto fail;

  if (sender == NULL)
    {
      g_set_error (&error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                   "Agents can only register through a message bus");
      goto fail;
    }

  if (g_hash_table_contains (self->by_sender, sender))
    {
      g_set_error (&error, COPILOTD_ERROR, COPILOTD_ERROR_ALREADY_EXISTS,
                   "This connection already registered an agent");
      goto fail;
    }

  if (!copilotd_callers_get_uid (self->callers, sender, &uid, &error))
    goto fail;

  n_for_uid = copilotd_agent_registry_get_n_agents_of (self, uid);
  if (self->config->max_agents_per_uid > 0 && n_for_uid >= self->config->max_agents_per_uid)
    {
      g_set_error (&error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                   "Too many agents for this user (limit %u)",
                   self->config->max_agents_per_uid);
      goto fail;
    }

  agent = g_new0 (Agent, 1);
  agent->ref_count = 1;
  agent->sender = g_strdup (sender);
  agent->path = g_strdup (path);
  agent->uid = uid;
  agent->capabilities = capabilities;
  agent->fallback = fallback;
  agent->calling = g_ptr_array_new ();
  g_queue_init (&agent->waiting);

  g_ptr_array_add (self->agents, agent);
  g_hash_table_insert (self->by_sender, agent->sender, agent);
  g_debug ("Registered agent %s %s (UID %u, capabilities 0x%x%s)", sender, path, (guint) uid,
           capabilities, fallback ? ", fallback" : "");

  copilotd_callers_watch (self->callers, sender);
  copilotd_dbus_agent_manager_complete_register_agent (object, invocation);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_AGENTS]);
  return;

fail:
  g_dbus_method_invocation_return_gerror (invocation, error);
}

static void
register_agent_authorized (GObject               *object,
                           GDBusMethodInvocation *invocation)
{
  const char *path = NULL;
  g_autoptr(GVariant) options = NULL;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&o@a{sv})", &path, &options);
  register_agent (COPILOTD_DBUS_AGENT_MANAGER (object), invocation, path, options);
}

/* Serving prompts is using copilotd: polkit decides on the system bus. */
static gboolean
handle_register_agent (CopilotdDbusAgentManager *object,
                       GDBusMethodInvocation    *invocation,
                       const char               *path,
                       GVariant                 *options)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);

  copilotd_polkit_authorize (self->config->system_bus, G_OBJECT (object), invocation,
                             register_agent_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unregister_agent (CopilotdDbusAgentManager *object,
                         GDBusMethodInvocation    *invocation,
                         const char               *path)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  Agent *agent = sender != NULL ? find_agent (self, sender, path) : NULL;

  if (agent == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                             "No agent %s registered by this connection", path);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  remove_agent (self, agent, FALSE);
  copilotd_dbus_agent_manager_complete_unregister_agent (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_request_default_agent (CopilotdDbusAgentManager *object,
                              GDBusMethodInvocation    *invocation,
                              const char               *path)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  Agent *agent = sender != NULL ? find_agent (self, sender, path) : NULL;
  GPtrArray *stack;

  if (agent == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                             "No agent %s registered by this connection", path);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  stack = g_hash_table_lookup (self->default_stacks, GUINT_TO_POINTER (agent->uid));
  if (stack == NULL)
    {
      stack = g_ptr_array_new_with_free_func ((GDestroyNotify) agent_unref);
      g_hash_table_insert (self->default_stacks, GUINT_TO_POINTER (agent->uid), stack);
    }

  /* Already on the stack: it moves to the top. */
  g_ptr_array_remove (stack, agent);
  g_ptr_array_add (stack, agent_ref (agent));
  g_debug ("Agent %s %s is the default of UID %u", agent->sender, agent->path, (guint) agent->uid);

  copilotd_dbus_agent_manager_complete_request_default_agent (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
copilotd_agent_registry_iface_init (CopilotdDbusAgentManagerIface *iface)
{
  iface->handle_register_agent = handle_register_agent;
  iface->handle_unregister_agent = handle_unregister_agent;
  iface->handle_request_default_agent = handle_request_default_agent;
}

/* GObject ------------------------------------------------------------------ */

static void
copilotd_agent_registry_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);

  switch (prop_id)
    {
    case PROP_N_AGENTS:
      g_value_set_uint (value, self->agents->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilotd_agent_registry_dispose (GObject *object)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);

  /* Only reached with asks pending through g_object_run_dispose(). */
  if (self->asks != NULL)
    agent_asks_close_all (self);

  /* Agents dropped for any reason but their own leaving are told so. */
  if (self->agents != NULL)
    {
      while (self->agents->len > 0)
        remove_agent (self, g_ptr_array_index (self->agents, self->agents->len - 1), TRUE);
    }

  if (self->callers != NULL)
    g_signal_handlers_disconnect_by_data (self->callers, self);
  g_clear_object (&self->callers);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (copilotd_agent_registry_parent_class)->dispose (object);
}

static void
copilotd_agent_registry_finalize (GObject *object)
{
  CopilotdAgentRegistry *self = COPILOTD_AGENT_REGISTRY (object);

  g_clear_pointer (&self->default_stacks, g_hash_table_unref);
  g_clear_pointer (&self->by_sender, g_hash_table_unref);
  g_clear_pointer (&self->agents, g_ptr_array_unref);
  g_clear_pointer (&self->asks, g_hash_table_unref);

  G_OBJECT_CLASS (copilotd_agent_registry_parent_class)->finalize (object);
}

static void
copilotd_agent_registry_class_init (CopilotdAgentRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  /* --session: callers of another UID get AccessDenied (peer-gate.c). */
  copilotd_peer_gate_install (G_DBUS_INTERFACE_SKELETON_CLASS (klass));

  object_class->get_property = copilotd_agent_registry_get_property;
  object_class->dispose = copilotd_agent_registry_dispose;
  object_class->finalize = copilotd_agent_registry_finalize;

  /* For --idle-exit: notified whenever an agent comes or goes. */
  properties[PROP_N_AGENTS] =
    g_param_spec_uint ("n-agents", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
copilotd_agent_registry_init (CopilotdAgentRegistry *self)
{
  self->agents = g_ptr_array_new_with_free_func ((GDestroyNotify) agent_unref);
  self->by_sender = g_hash_table_new (g_str_hash, g_str_equal);
  self->default_stacks = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                                (GDestroyNotify) g_ptr_array_unref);
  self->asks = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
}

CopilotdAgentRegistry *
copilotd_agent_registry_new (GDBusConnection      *connection,
                             CopilotdCallers      *callers,
                             const CopilotdConfig *config)
{
  CopilotdAgentRegistry *self;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (COPILOTD_IS_CALLERS (callers), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (COPILOTD_TYPE_AGENT_REGISTRY, NULL);
  self->connection = g_object_ref (connection);
  self->callers = g_object_ref (callers);
  self->config = config;

  g_signal_connect_object (callers, "vanished", G_CALLBACK (on_caller_vanished),
                           self, G_CONNECT_DEFAULT);

  return self;
}

guint
copilotd_agent_registry_get_n_agents (CopilotdAgentRegistry *self)
{
  g_return_val_if_fail (COPILOTD_IS_AGENT_REGISTRY (self), 0);

  return self->agents->len;
}

guint
copilotd_agent_registry_get_n_agents_of (CopilotdAgentRegistry *self,
                                         uid_t                  uid)
{
  guint n = 0;

  for (guint i = 0; i < self->agents->len; i++)
    if (((Agent *) g_ptr_array_index (self->agents, i))->uid == uid)
      n++;
  return n;
}
