/* SPDX-License-Identifier: MIT */
/* copilot-agent.c: answers copilotd's prompts for this app
 *
 * Serves the Agent interface (its XML is embedded in the library) on the
 * client's connection and registers it with the AgentManager. Each
 * request becomes a CopilotPrompt handed to the signal of its kind; the
 * handler keeps it and answers once, now or later. Calls from anybody but
 * the daemon's unique name are refused.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotAgent
{
  GObject parent_instance;

  CopilotClient *client;         /* owned */
  GVariant *options;             /* owned: RegisterAgent's a{sv} */
  char *path;                    /* owned */
  guint registration_id;
  gboolean registered;
  gboolean wanted;               /* registered by the app: again after a daemon restart */
  gboolean is_default;           /* the app asked for it: again after a daemon restart */
  gulong daemon_handler;
  GHashTable *prompts;           /* owned: request id → CopilotPrompt* (unowned, weak) */
};

/**
 * CopilotAgent:
 *
 * Answers the prompts of the user's sessions for this app: permissions,
 * questions, MCP forms, plan approvals and mode switches, one signal per
 * kind, each with a [class@Copilot.Prompt] that the handler keeps and
 * answers once, now or later.
 *
 * Only calls from the daemon's unique name are served. The agent is
 * registered again when copilotd restarts.
 */
G_DEFINE_FINAL_TYPE (CopilotAgent, copilot_agent, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_OPTIONS,
  PROP_OBJECT_PATH,
  PROP_REGISTERED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PERMISSION_REQUESTED,
  SIGNAL_USER_INPUT_REQUESTED,
  SIGNAL_ELICITATION_REQUESTED,
  SIGNAL_PLAN_APPROVAL_REQUESTED,
  SIGNAL_MODE_SWITCH_REQUESTED,
  SIGNAL_RELEASED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Agent method, prompt kind, its signal and RegisterAgent capability. */
static const struct {
  const char *method;
  CopilotPromptKind kind;
  guint signal;
  const char *capability;
  gboolean has_json;             /* a trailing s argument: request_json / schema_json */
} request_kinds[] = {
  { "RequestPermission", COPILOT_PROMPT_KIND_PERMISSION, SIGNAL_PERMISSION_REQUESTED, "permission", TRUE },
  { "RequestUserInput", COPILOT_PROMPT_KIND_USER_INPUT, SIGNAL_USER_INPUT_REQUESTED, "user-input", FALSE },
  { "RequestElicitation", COPILOT_PROMPT_KIND_ELICITATION, SIGNAL_ELICITATION_REQUESTED, "elicitation", TRUE },
  { "RequestPlanApproval", COPILOT_PROMPT_KIND_PLAN_APPROVAL, SIGNAL_PLAN_APPROVAL_REQUESTED, "plan-approval", FALSE },
  { "RequestModeSwitch", COPILOT_PROMPT_KIND_MODE_SWITCH, SIGNAL_MODE_SWITCH_REQUESTED, "mode-switch", FALSE },
};

static void
handle_request (CopilotAgent          *self,
                guint                  k,
                GVariant              *params,
                GDBusMethodInvocation *invocation)
{
  const char *session, *request_id, *json = NULL;
  g_autoptr(GVariant) request = NULL;
  g_autoptr(CopilotPrompt) prompt = NULL;

  if (!g_signal_has_handler_pending (self, signals[request_kinds[k].signal], 0, FALSE))
    {
      /* An error moves the request on to the next agent (DESIGN.md §5). */
      g_autofree char *message = g_strdup_printf ("This agent does not answer %s", request_kinds[k].method);

      g_dbus_method_invocation_return_dbus_error (invocation, COPILOT_BUS_NAME ".Error.Failed", message);
      return;
    }
  if (request_kinds[k].has_json)
    g_variant_get (params, "(&o&s@a{sv}&s)", &session, &request_id, &request, &json);
  else
    g_variant_get (params, "(&o&s@a{sv})", &session, &request_id, &request);

  prompt = copilot_prompt_new_internal (request_kinds[k].kind, invocation, session,
                                        request_id, request, json);
  copilot_weak_table_insert (self->prompts, request_id, prompt);
  g_signal_emit (self, signals[request_kinds[k].signal], 0, prompt);
  /* Unless a handler kept it, the prompt is finalized here, refusing. */
}

static void
agent_method_call (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *path,
                   const char            *iface,
                   const char            *method,
                   GVariant              *params,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  CopilotAgent *self = user_data;
  g_autoptr(CopilotAgent) hold = g_object_ref (self);

  if (!copilot_client_check_caller (self->client, sender, invocation))
    return;

  for (guint k = 0; k < G_N_ELEMENTS (request_kinds); k++)
    if (g_strcmp0 (method, request_kinds[k].method) == 0)
      {
        handle_request (self, k, params, invocation);
        return;
      }

  if (g_strcmp0 (method, "Cancel") == 0)
    {
      const char *request_id;
      CopilotPrompt *prompt;

      g_variant_get (params, "(&s)", &request_id);
      prompt = g_hash_table_lookup (self->prompts, request_id);
      g_dbus_method_invocation_return_value (invocation, NULL);
      if (prompt != NULL)
        copilot_prompt_withdraw (prompt);
    }
  else if (g_strcmp0 (method, "Release") == 0)
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      /* The daemon drops its agents as it shuts down: still wanted, so
       * registered again with the next one (the app may unregister). */
      if (self->registered)
        {
          self->registered = FALSE;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
        }
      g_signal_emit (self, signals[SIGNAL_RELEASED], 0);
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "No such method %s", method);
}

static const GDBusInterfaceVTable agent_vtable = {
  .method_call = agent_method_call,
};

/* ---- GObject ---- */

static void
copilot_agent_dispose (GObject *object)
{
  CopilotAgent *self = COPILOT_AGENT (object);

  if (self->registration_id != 0)
    {
      g_dbus_connection_unregister_object (copilot_client_get_connection (self->client),
                                           self->registration_id);
      self->registration_id = 0;
    }
  copilot_weak_table_clear (self->prompts);

  G_OBJECT_CLASS (copilot_agent_parent_class)->dispose (object);
}

static void
copilot_agent_finalize (GObject *object)
{
  CopilotAgent *self = COPILOT_AGENT (object);

  g_clear_object (&self->client);
  g_clear_pointer (&self->options, g_variant_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->prompts, g_hash_table_unref);

  G_OBJECT_CLASS (copilot_agent_parent_class)->finalize (object);
}

static void
copilot_agent_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  CopilotAgent *self = COPILOT_AGENT (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_OPTIONS:
      g_value_set_variant (value, self->options);
      break;
    case PROP_OBJECT_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_REGISTERED:
      g_value_set_boolean (value, self->registered);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_agent_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  CopilotAgent *self = COPILOT_AGENT (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_OPTIONS:
      self->options = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_agent_class_init (CopilotAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilot_agent_dispose;
  object_class->finalize = copilot_agent_finalize;
  object_class->get_property = copilot_agent_get_property;
  object_class->set_property = copilot_agent_set_property;

  /**
   * CopilotAgent:client:
   *
   * The client whose connection serves the agent.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, COPILOT_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotAgent:options:
   *
   * `RegisterAgent`'s `a{sv}` options: `capabilities` (`as`), `fallback`
   * (`b`).
   */
  properties[PROP_OPTIONS] =
    g_param_spec_variant ("options", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotAgent:object-path:
   *
   * Where the agent is served on the client's connection.
   */
  properties[PROP_OBJECT_PATH] =
    g_param_spec_string ("object-path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotAgent:registered:
   *
   * Whether the daemon has the agent (it drops it with `Release`).
   */
  properties[PROP_REGISTERED] =
    g_param_spec_boolean ("registered", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotAgent::permission-requested:
   * @self: the agent
   * @prompt: the request; keep a reference to answer later
   *
   * A tool wants permission (run a command, write a file, fetch a URL…).
   * Answer with copilot_prompt_reply() and a #CopilotPermissionDecision.
   * A prompt dropped unanswered is refused. Without a handler the request
   * goes on to the next agent.
   */
  signals[SIGNAL_PERMISSION_REQUESTED] =
    g_signal_new ("permission-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_PROMPT);
  /**
   * CopilotAgent::user-input-requested:
   * @self: the agent
   * @prompt: the question; keep a reference to answer later
   *
   * The model asks the user a question. Answer with
   * copilot_prompt_reply_answer() (or copilot_prompt_reply() with 1 to
   * cancel).
   */
  signals[SIGNAL_USER_INPUT_REQUESTED] =
    g_signal_new ("user-input-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_PROMPT);
  /**
   * CopilotAgent::elicitation-requested:
   * @self: the agent
   * @prompt: the form; its #CopilotPrompt:request-json is the schema
   *
   * An MCP server asks for a form (Contract 2, capability `elicitation`).
   * Answer with copilot_prompt_reply_elicitation().
   */
  signals[SIGNAL_ELICITATION_REQUESTED] =
    g_signal_new ("elicitation-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_PROMPT);
  /**
   * CopilotAgent::plan-approval-requested:
   * @self: the agent
   * @prompt: the plan (`summary`, `plan`, `actions`, `recommended-action`)
   *
   * The model wants to leave plan mode (Contract 2, capability
   * `plan-approval`). Answer with copilot_prompt_reply(), nonzero to
   * approve.
   */
  signals[SIGNAL_PLAN_APPROVAL_REQUESTED] =
    g_signal_new ("plan-approval-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_PROMPT);
  /**
   * CopilotAgent::mode-switch-requested:
   * @self: the agent
   * @prompt: the offer (`error-code`, `retry-after`)
   *
   * After a rate limit the CLI offers to switch mode (Contract 2,
   * capability `mode-switch`). Answer with
   * copilot_prompt_reply_mode_switch().
   */
  signals[SIGNAL_MODE_SWITCH_REQUESTED] =
    g_signal_new ("mode-switch-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_PROMPT);
  /**
   * CopilotAgent::released:
   * @self: the agent
   *
   * The daemon dropped the agent, as it does when it shuts down.
   * #CopilotAgent:registered turns %FALSE; the agent is registered again
   * (and asks to be the default again, if it was) as soon as a daemon owns
   * the bus name anew, unless the app calls copilot_agent_unregister().
   */
  signals[SIGNAL_RELEASED] =
    g_signal_new ("released", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
copilot_agent_init (CopilotAgent *self)
{
  self->prompts = copilot_weak_table_new ();
}

/**
 * copilot_agent_new:
 * @client: a #CopilotClient
 * @options: (nullable): `RegisterAgent`'s `a{sv}` options (`capabilities`
 *   as, `fallback` b); a floating reference is consumed
 *
 * An agent for this app, served on @client's connection (one per
 * connection). Connect to the signals of the prompts it answers, then
 * call copilot_agent_register(). Without `capabilities` in @options, it
 * registers for the kinds whose signal has a handler at that time.
 *
 * Returns: (transfer full): a new #CopilotAgent
 */
CopilotAgent *
copilot_agent_new (CopilotClient *client,
                   GVariant      *options)
{
  g_autoptr(GVariant) sunk = options != NULL ? g_variant_ref_sink (options) : NULL;

  g_return_val_if_fail (COPILOT_IS_CLIENT (client), NULL);
  g_return_val_if_fail (sunk == NULL || g_variant_is_of_type (sunk, G_VARIANT_TYPE_VARDICT), NULL);
  return g_object_new (COPILOT_TYPE_AGENT, "client", client, "options", sunk, NULL);
}

/**
 * copilot_agent_get_client:
 * @self: a #CopilotAgent
 *
 * Returns: (transfer none): the agent's client
 */
CopilotClient *
copilot_agent_get_client (CopilotAgent *self)
{
  g_return_val_if_fail (COPILOT_IS_AGENT (self), NULL);
  return self->client;
}

/**
 * copilot_agent_get_object_path:
 * @self: a #CopilotAgent
 *
 * Returns: (nullable): where the agent is served, once registered
 */
const char *
copilot_agent_get_object_path (CopilotAgent *self)
{
  g_return_val_if_fail (COPILOT_IS_AGENT (self), NULL);
  return self->path;
}

/**
 * copilot_agent_get_registered:
 * @self: a #CopilotAgent
 *
 * Returns: the #CopilotAgent:registered
 */
gboolean
copilot_agent_get_registered (CopilotAgent *self)
{
  g_return_val_if_fail (COPILOT_IS_AGENT (self), FALSE);
  return self->registered;
}

static GVariant *
register_options (CopilotAgent *self)
{
  GVariantDict dict;
  g_autoptr(GPtrArray) caps = g_ptr_array_new ();

  g_variant_dict_init (&dict, self->options);
  if (g_variant_dict_contains (&dict, "capabilities"))
    return g_variant_dict_end (&dict);
  for (guint k = 0; k < G_N_ELEMENTS (request_kinds); k++)
    if (g_signal_has_handler_pending (self, signals[request_kinds[k].signal], 0, FALSE))
      g_ptr_array_add (caps, (gpointer) request_kinds[k].capability);
  if (caps->len > 0)
    g_variant_dict_insert_value (&dict, "capabilities",
                                 g_variant_new_strv ((const char * const *) caps->pdata, caps->len));
  return g_variant_dict_end (&dict);
}

static void
mark_registered_again (CopilotAgent *self)
{
  if (self->wanted && !self->registered)
    {
      self->registered = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
    }
}

static void
on_default_again (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CopilotAgent) self = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  /* Registered all the same: an ordinary agent is better than none. */
  if (reply == NULL)
    g_debug ("libcopilot: making agent %s the default again failed: %s", self->path, error->message);
  mark_registered_again (self);
}

static void
on_reregistered (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CopilotAgent) self = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    {
      g_debug ("libcopilot: registering agent %s again failed: %s", self->path, error->message);
      return;
    }
  /* Announced as registered once it is the default again too. */
  if (self->is_default)
    copilot_client_call (self->client, COPILOT_OBJECT_PATH, COPILOT_IFACE_AGENT_MANAGER,
                         "RequestDefaultAgent", g_variant_new ("(o)", self->path),
                         G_VARIANT_TYPE ("()"), -1, NULL, on_default_again, g_object_ref (self));
  else
    mark_registered_again (self);
}

/* The daemon left the bus (its registry with it) or came back: an agent
 * the app registered is registered with the new one, as BlueZ agents
 * are when bluetoothd restarts. */
static void
on_daemon_name (CopilotClient *client,
                GParamSpec    *pspec,
                CopilotAgent  *self)
{
  if (copilot_client_get_daemon_name (client) == NULL)
    {
      if (self->registered)
        {
          self->registered = FALSE;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
        }
      return;
    }
  if (!self->wanted || self->registered || self->registration_id == 0)
    return;
  g_debug ("libcopilot: copilotd is back as '%s': registering agent %s again",
           copilot_client_get_daemon_name (client), self->path);
  copilot_client_call (self->client, COPILOT_OBJECT_PATH, COPILOT_IFACE_AGENT_MANAGER, "RegisterAgent",
                       g_variant_new ("(o@a{sv})", self->path, register_options (self)),
                       G_VARIANT_TYPE ("()"), -1, NULL, on_reregistered, g_object_ref (self));
}

static void
on_registered (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotAgent *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    {
      g_dbus_connection_unregister_object (copilot_client_get_connection (self->client),
                                           self->registration_id);
      self->registration_id = 0;
      g_task_return_error (task, error);
      return;
    }
  self->registered = TRUE;
  self->wanted = TRUE;
  if (self->daemon_handler == 0)
    self->daemon_handler = g_signal_connect_object (self->client, "notify::daemon-name",
                                                    G_CALLBACK (on_daemon_name), self, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
  g_task_return_boolean (task, TRUE);
}

/**
 * copilot_agent_register:
 * @self: a #CopilotAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Serves the agent and registers it (`AgentManager.RegisterAgent`).
 * Finish with copilot_agent_register_finish().
 */
void
copilot_agent_register (CopilotAgent        *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (COPILOT_IS_AGENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_agent_register);
  if (self->registration_id == 0)
    {
      g_free (self->path);
      self->path = g_strdup (COPILOT_LOCAL_PATH "/Agent");
      self->registration_id =
        g_dbus_connection_register_object (copilot_client_get_connection (self->client), self->path,
                                           copilot_interface_info (COPILOT_IFACE_AGENT),
                                           &agent_vtable, self, NULL, &error);
      if (self->registration_id == 0)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  copilot_client_call (self->client, COPILOT_OBJECT_PATH, COPILOT_IFACE_AGENT_MANAGER, "RegisterAgent",
                       g_variant_new ("(o@a{sv})", self->path, register_options (self)),
                       G_VARIANT_TYPE ("()"), -1, cancellable, on_registered, g_steal_pointer (&task));
}

/**
 * copilot_agent_register_finish:
 * @self: a #CopilotAgent
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error (%COPILOT_ERROR_ALREADY_EXISTS when
 *   the connection has an agent)
 *
 * Returns: %TRUE when the agent is registered
 */
gboolean
copilot_agent_register_finish (CopilotAgent  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_unregistered (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotAgent *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  self->wanted = FALSE;
  self->is_default = FALSE;
  if (self->registration_id != 0)
    {
      g_dbus_connection_unregister_object (copilot_client_get_connection (self->client),
                                           self->registration_id);
      self->registration_id = 0;
    }
  if (self->registered)
    {
      self->registered = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
    }
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * copilot_agent_unregister:
 * @self: a #CopilotAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Unregisters the agent and stops serving it. Finish with
 * copilot_agent_unregister_finish().
 */
void
copilot_agent_unregister (CopilotAgent        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (COPILOT_IS_AGENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_agent_unregister);
  copilot_client_call (self->client, COPILOT_OBJECT_PATH, COPILOT_IFACE_AGENT_MANAGER, "UnregisterAgent",
                       g_variant_new ("(o)", self->path ? self->path : COPILOT_LOCAL_PATH "/Agent"),
                       G_VARIANT_TYPE ("()"), -1, cancellable, on_unregistered, task);
}

/**
 * copilot_agent_unregister_finish:
 * @self: a #CopilotAgent
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the agent was unregistered
 */
gboolean
copilot_agent_unregister_finish (CopilotAgent  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_default_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotAgent *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    {
      self->is_default = TRUE;
      g_task_return_boolean (task, TRUE);
    }
}

/**
 * copilot_agent_request_default:
 * @self: a registered #CopilotAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Makes this the user's default agent (`RequestDefaultAgent`): it gets
 * the prompts of sessions whose own apps have no agent. After a daemon
 * restart the agent asks for it again when it registers again. Finish
 * with copilot_agent_request_default_finish().
 */
void
copilot_agent_request_default (CopilotAgent        *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (COPILOT_IS_AGENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_agent_request_default);
  copilot_client_call (self->client, COPILOT_OBJECT_PATH, COPILOT_IFACE_AGENT_MANAGER, "RequestDefaultAgent",
                       g_variant_new ("(o)", self->path ? self->path : COPILOT_LOCAL_PATH "/Agent"),
                       G_VARIANT_TYPE ("()"), -1, cancellable, on_default_done, task);
}

/**
 * copilot_agent_request_default_finish:
 * @self: a #CopilotAgent
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the agent is the default
 */
gboolean
copilot_agent_request_default_finish (CopilotAgent  *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
