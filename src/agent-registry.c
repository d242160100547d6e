/* SPDX-License-Identifier: MIT */
/* agent-registry.c: agents per connection, routing order, timeouts, cancel
 *
 * An agent is an object implementing io.github.copilotd.Copilot1.Agent on
 * some client's connection. The registry is the AgentManager skeleton those
 * clients register with, and the router that asks them: one agent at a time,
 * in the order of DESIGN.md §5, moving on when an agent answers with an
 * error or leaves the bus.
 *
 * Lifetimes: an Agent is a small refcounted record; the registry owns one
 * ref per registered agent and every ask owns refs on its candidates, so an
 * agent that leaves mid-ask is just marked `gone`. Each ask is a GTask whose
 * task data is the Ask below; the registry keeps a ref on every unfinished
 * task so timers and cancellable handlers (which point at the Ask) are
 * always removed before the Ask can be freed.
 */
#include "config.h"

#include "agent-registry.h"
#include "client-call.h"
#include "copilotd-error.h"
#include "polkit.h"
#include "peer-gate.h"

#define AGENT_INTERFACE "io.github.copilotd.Copilot1.Agent"

typedef struct _Ask Ask;

typedef struct {
  gint ref_count;
  char *sender;           /* owned: unique name of the registering connection */
  char *path;             /* owned */
  uid_t uid;
  guint capabilities;      /* 1 << CopilotdPromptKind */
  gboolean fallback;
  gboolean gone;          /* unregistered or left the bus */
  guint in_flight;        /* calls to this agent that hold a slot */
  GQueue waiting;         /* unowned Ask *: waiting for a slot, FIFO */
  GPtrArray *calling;     /* unowned Ask *: with a call in flight here */
} Agent;

struct _Ask {
  GTask *task;                       /* unowned: owns this Ask as task data */
  CopilotdAgentRegistry *registry;   /* unowned: the task's source object */
  CopilotdPromptKind kind;
  char *session_path;                /* owned */
  char *request_id;                  /* owned */
  char *request_json;                /* owned, nullable */
  GVariant *request;                 /* owned */
  GPtrArray *candidates;             /* owned: Agent refs, in routing order */
  guint next;                        /* index of the next candidate */
  Agent *current;                    /* owned, nullable: asked or queued on */
  gboolean queued;                   /* waiting in current->waiting */
  GCancellable *call_cancellable;    /* owned, nullable: the call to current */
  GCancellable *cancellable;         /* owned, nullable: the caller's */
  gulong cancelled_id;
  guint timeout_id;
  gboolean done;
  GVariant *reply;                   /* owned, nullable: the agent's answer */
};

/* One D-Bus call to an agent; outlives the ask when it was cancelled. */
typedef struct {
  GTask *task;                       /* owned */
  GCancellable *cancellable;         /* owned */
} Call;

/* Per kind: the capability name, the Agent method and its reply type. */
static const struct {
  const char *capability;
  const char *method;
  const char *reply_type;
} kinds[] = {
  [COPILOTD_PROMPT_PERMISSION] = { "permission", "RequestPermission", "(ua{sv})" },
  [COPILOTD_PROMPT_USER_INPUT] = { "user-input", "RequestUserInput", "(ua{sv})" },
  [COPILOTD_PROMPT_ELICITATION] = { "elicitation", "RequestElicitation", "(ssa{sv})" },
  [COPILOTD_PROMPT_PLAN_APPROVAL] = { "plan-approval", "RequestPlanApproval", "(ba{sv})" },
  [COPILOTD_PROMPT_MODE_SWITCH] = { "mode-switch", "RequestModeSwitch", "(sa{sv})" },
};

struct _CopilotdAgentRegistry
{
  CopilotdDbusAgentManagerSkeleton parent_instance;

  GDBusConnection *connection;       /* owned */
  CopilotdCallers *callers;          /* owned */
  const CopilotdConfig *config;      /* unowned: outlives the registry */
  GPtrArray *agents;                 /* owned: Agent refs, registration order */
  GHashTable *by_sender;             /* owned: unique name → unowned Agent */
  GHashTable *default_stacks;        /* owned: uid → GPtrArray of Agent refs, newest last */
  GHashTable *asks;                  /* owned: set of unfinished GTask refs */
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

static Agent *
agent_ref (Agent *agent)
{
  g_atomic_int_inc (&agent->ref_count);
  return agent;
}

static void
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Agent, agent_unref)

static gboolean
agent_can (Agent              *agent,
           CopilotdPromptKind  kind)
{
  return (guint) kind < G_N_ELEMENTS (kinds) && (agent->capabilities & (1u << kind)) != 0;
}

static gboolean
agent_has_slot (CopilotdAgentRegistry *self,
                Agent                 *agent)
{
  /* 0 means no limit, like the other limits. */
  return self->config->agent_max_in_flight == 0 ||
         agent->in_flight < self->config->agent_max_in_flight;
}

static void
send_agent_call (CopilotdAgentRegistry *self,
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

static void
ask_free (gpointer data)
{
  Ask *ask = data;

  g_assert (ask->current == NULL);
  g_assert (ask->timeout_id == 0);
  g_assert (ask->cancelled_id == 0);

  g_free (ask->session_path);
  g_free (ask->request_id);
  g_free (ask->request_json);
  g_clear_pointer (&ask->request, g_variant_unref);
  g_clear_pointer (&ask->candidates, g_ptr_array_unref);
  g_clear_object (&ask->call_cancellable);
  g_clear_object (&ask->cancellable);
  g_clear_pointer (&ask->reply, g_variant_unref);
  g_free (ask);
}

static void ask_start_call (Ask *ask);
static void ask_try_next   (Ask *ask);

/* Frees @agent's slots for the asks waiting on it. */
static void
agent_pump (CopilotdAgentRegistry *self,
            Agent                 *agent)
{
  while (!agent->gone && agent_has_slot (self, agent) &&
         !g_queue_is_empty (&agent->waiting))
    {
      Ask *ask = g_queue_pop_head (&agent->waiting);

      ask->queued = FALSE;
      ask_start_call (ask);
    }
}

/* Stops asking or waiting for the current agent. */
static void
ask_leave_agent (Ask      *ask,
                 gboolean  send_cancel)
{
  CopilotdAgentRegistry *self = ask->registry;
  g_autoptr(Agent) agent = g_steal_pointer (&ask->current);

  if (agent == NULL)
    return;

  if (ask->queued)
    {
      g_queue_remove (&agent->waiting, ask);
      ask->queued = FALSE;
      return;
    }

  /* A reply that comes after this is dropped by GDBus. */
  g_cancellable_cancel (ask->call_cancellable);
  g_clear_object (&ask->call_cancellable);
  g_ptr_array_remove (agent->calling, ask);
  agent->in_flight--;

  if (send_cancel && !agent->gone)
    {
      g_debug ("Withdrawing request “%s” from agent %s %s",
               ask->request_id, agent->sender, agent->path);
      send_agent_call (self, agent, "Cancel", g_variant_new ("(s)", ask->request_id));
    }

  agent_pump (self, agent);
}

/* Takes @error. */
static void
ask_finish (Ask      *ask,
            GError   *error,
            gboolean  cancel_agent)
{
  CopilotdAgentRegistry *self = ask->registry;
  g_autoptr(GTask) task = g_object_ref (ask->task);

  g_assert (!ask->done);
  ask->done = TRUE;

  g_clear_handle_id (&ask->timeout_id, g_source_remove);
  if (ask->cancelled_id != 0)
    {
      g_signal_handler_disconnect (ask->cancellable, ask->cancelled_id);
      ask->cancelled_id = 0;
    }

  ask_leave_agent (ask, cancel_agent);
  g_hash_table_remove (self->asks, task);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
call_free (Call *call)
{
  g_object_unref (call->task);
  g_object_unref (call->cancellable);
  g_free (call);
}

static void
on_agent_call_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Call *call = user_data;
  Ask *ask = g_task_get_task_data (call->task);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = copilotd_client_call_finish (result, &error);

  /* The ask moved on (cancelled, timed out, agent gone): a late answer
   * must not count. */
  if (g_cancellable_is_cancelled (call->cancellable) || ask->done)
    {
      call_free (call);
      return;
    }

  if (reply == NULL)
    {
      g_debug ("Agent %s %s did not answer “%s”: %s",
               ask->current->sender, ask->current->path, ask->request_id, error->message);
      ask_leave_agent (ask, FALSE);
      ask_try_next (ask);
    }
  else
    {
      g_debug ("Agent %s %s answered “%s”",
               ask->current->sender, ask->current->path, ask->request_id);
      ask->reply = g_steal_pointer (&reply);
      ask_finish (ask, NULL, FALSE);
    }

  call_free (call);
}

static void
ask_start_call (Ask *ask)
{
  CopilotdAgentRegistry *self = ask->registry;
  Agent *agent = ask->current;
  const char *method = kinds[ask->kind].method;
  GVariant *parameters;
  Call *call;

  agent->in_flight++;
  g_ptr_array_add (agent->calling, ask);
  ask->call_cancellable = g_cancellable_new ();

  /* Permissions carry the CLI's request, elicitations their schema. */
  if (ask->kind == COPILOTD_PROMPT_PERMISSION || ask->kind == COPILOTD_PROMPT_ELICITATION)
    parameters = g_variant_new ("(os@a{sv}s)", ask->session_path, ask->request_id,
                                ask->request,
                                ask->request_json != NULL ? ask->request_json : "{}");
  else
    parameters = g_variant_new ("(os@a{sv})", ask->session_path, ask->request_id,
                                ask->request);

  g_debug ("Asking agent %s %s about “%s” (%s)",
           agent->sender, agent->path, ask->request_id, method);

  call = g_new0 (Call, 1);
  call->task = g_object_ref (ask->task);
  call->cancellable = g_object_ref (ask->call_cancellable);

  /* No deadline on the call: permission-timeout is the ask's, across
   * agents. The ask sends Cancel itself, only when it withdraws. */
  copilotd_client_call_async (self->connection, self->callers, agent->sender, agent->path,
                              AGENT_INTERFACE, method, parameters,
                              G_VARIANT_TYPE (kinds[ask->kind].reply_type), 0, NULL,
                              ask->call_cancellable, on_agent_call_done, call);
}

static void
ask_try_next (Ask *ask)
{
  CopilotdAgentRegistry *self = ask->registry;

  g_assert (ask->current == NULL);

  while (ask->next < ask->candidates->len)
    {
      Agent *agent = g_ptr_array_index (ask->candidates, ask->next++);

      if (agent->gone)
        continue;

      ask->current = agent_ref (agent);
      if (agent_has_slot (self, agent))
        ask_start_call (ask);
      else
        {
          g_debug ("Request “%s” waits for a slot on agent %s %s",
                   ask->request_id, agent->sender, agent->path);
          ask->queued = TRUE;
          g_queue_push_tail (&agent->waiting, ask);
        }
      return;
    }

  ask_finish (ask, g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                "No agent could answer"), FALSE);
}

static gboolean
on_ask_timeout (gpointer user_data)
{
  Ask *ask = user_data;

  ask->timeout_id = 0;
  g_debug ("Request “%s” timed out", ask->request_id);
  ask_finish (ask, g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                                "No agent answered within %u seconds",
                                ask->registry->config->permission_timeout), TRUE);

  return G_SOURCE_REMOVE;
}

static void
on_ask_cancelled (GCancellable *cancellable,
                  gpointer      user_data)
{
  Ask *ask = user_data;

  g_debug ("Request “%s” was withdrawn", ask->request_id);
  ask_finish (ask, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "The request was withdrawn"), TRUE);
}

/* Routing ------------------------------------------------------------------ */

static void
add_candidate (GPtrArray          *candidates,
               Agent              *agent,
               CopilotdPromptKind  kind,
               uid_t               uid,
               gboolean            fallback)
{
  if (agent == NULL || agent->gone)
    return;

  /* An agent never hears about another user's session. */
  if (agent->uid != uid || !agent_can (agent, kind) || agent->fallback != fallback)
    return;

  if (g_ptr_array_find (candidates, agent, NULL))
    return;

  g_ptr_array_add (candidates, agent_ref (agent));
}

static GPtrArray *
build_candidates (CopilotdAgentRegistry      *self,
                  CopilotdPromptKind          kind,
                  const CopilotdPromptTarget *target)
{
  GPtrArray *candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) agent_unref);
  GPtrArray *stack = g_hash_table_lookup (self->default_stacks, GUINT_TO_POINTER (target->uid));

  /* Fallback agents come after every other agent, in the same order. */
  for (int fallback = 0; fallback <= 1; fallback++)
    {
      if (target->owner != NULL)
        add_candidate (candidates, g_hash_table_lookup (self->by_sender, target->owner),
                       kind, target->uid, fallback);
      if (target->turn_sender != NULL)
        add_candidate (candidates, g_hash_table_lookup (self->by_sender, target->turn_sender),
                       kind, target->uid, fallback);
      for (guint i = stack != NULL ? stack->len : 0; i > 0; i--)
        add_candidate (candidates, g_ptr_array_index (stack, i - 1), kind, target->uid, fallback);
      for (guint i = self->agents->len; i > 0; i--)
        add_candidate (candidates, g_ptr_array_index (self->agents, i - 1), kind, target->uid, fallback);
    }

  return candidates;
}

/* The request with who is asking added (DESIGN.md §9); sinks @request. */
static GVariant *
add_asker (GVariant                   *request,
           const CopilotdPromptTarget *target)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) sunk = g_variant_ref_sink (request);

  g_variant_dict_init (&dict, sunk);
  if (target->client_name != NULL)
    g_variant_dict_insert (&dict, "client-name", "s", target->client_name);
  if (target->client_pid != 0)
    g_variant_dict_insert (&dict, "client-pid", "u", target->client_pid);
  if (target->working_directory != NULL)
    g_variant_dict_insert (&dict, "working-directory", "s", target->working_directory);

  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

void
copilotd_agent_registry_ask_async (CopilotdAgentRegistry      *self,
                                   CopilotdPromptKind          kind,
                                   const CopilotdPromptTarget *target,
                                   const char                 *request_id,
                                   GVariant                   *request,
                                   const char                 *request_json,
                                   GCancellable               *cancellable,
                                   GAsyncReadyCallback         callback,
                                   gpointer                    user_data)
{
  g_autoptr(GTask) task = NULL;
  Ask *ask;

  g_return_if_fail (COPILOTD_IS_AGENT_REGISTRY (self));
  g_return_if_fail (target != NULL && target->session_path != NULL);
  g_return_if_fail (request_id != NULL);
  g_return_if_fail ((guint) kind < G_N_ELEMENTS (kinds));
  g_return_if_fail (request != NULL && g_variant_is_of_type (request, G_VARIANT_TYPE_VARDICT));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilotd_agent_registry_ask_async);

  ask = g_new0 (Ask, 1);
  ask->task = task;
  ask->registry = self;
  ask->kind = kind;
  ask->session_path = g_strdup (target->session_path);
  ask->request_id = g_strdup (request_id);
  ask->request_json = g_strdup (request_json);
  ask->request = add_asker (request, target);
  ask->candidates = build_candidates (self, kind, target);
  g_task_set_task_data (task, ask, ask_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  g_hash_table_add (self->asks, g_object_ref (task));

  if (cancellable != NULL)
    {
      ask->cancellable = g_object_ref (cancellable);
      ask->cancelled_id = g_signal_connect (cancellable, "cancelled",
                                            G_CALLBACK (on_ask_cancelled), ask);
    }

  /* Not g_timeout_add_seconds: its first tick may come up to a second
   * early, and a person's time to answer must not be cut short. */
  if (self->config->permission_timeout > 0)
    ask->timeout_id = g_timeout_add (MIN (self->config->permission_timeout, G_MAXUINT / 1000) * 1000,
                                     on_ask_timeout, ask);

  g_debug ("Request “%s” for %s has %u candidate agents",
           request_id, target->session_path, ask->candidates->len);
  ask_try_next (ask);
}

gboolean
copilotd_agent_registry_ask_finish (CopilotdAgentRegistry  *self,
                                    GAsyncResult           *result,
                                    guint                  *out_answer,
                                    GVariant              **out_results,
                                    GError                **error)
{
  Ask *ask;

  g_return_val_if_fail (COPILOTD_IS_AGENT_REGISTRY (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_agent_registry_ask_async, FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  ask = g_task_get_task_data (G_TASK (result));
  g_return_val_if_fail (g_variant_is_of_type (ask->reply, G_VARIANT_TYPE ("(ua{sv})")), FALSE);
  g_variant_get (ask->reply, "(u@a{sv})", out_answer, out_results);
  return TRUE;
}

GVariant *
copilotd_agent_registry_ask_finish_reply (CopilotdAgentRegistry  *self,
                                          GAsyncResult           *result,
                                          GError                **error)
{
  g_return_val_if_fail (COPILOTD_IS_AGENT_REGISTRY (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_agent_registry_ask_async, NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;

  return g_variant_ref (((Ask *) g_task_get_task_data (G_TASK (result)))->reply);
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
  g_autoptr(GPtrArray) moving = g_ptr_array_new_with_free_func (g_object_unref);
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
    send_agent_call (self, agent, "Release", NULL);

  for (GList *l = agent->waiting.head; l != NULL; l = l->next)
    g_ptr_array_add (moving, g_object_ref (((Ask *) l->data)->task));
  for (guint i = 0; i < agent->calling->len; i++)
    g_ptr_array_add (moving, g_object_ref (((Ask *) g_ptr_array_index (agent->calling, i))->task));

  for (guint i = 0; i < moving->len; i++)
    {
      Ask *ask = g_task_get_task_data (g_ptr_array_index (moving, i));

      if (ask->done || ask->current != agent)
        continue;
      ask_leave_agent (ask, FALSE);
      ask_try_next (ask);
    }

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

          for (kind = 0; kind < G_N_ELEMENTS (kinds); kind++)
            if (g_str_equal (names[i], kinds[kind].capability))
              break;
          if (kind == G_N_ELEMENTS (kinds))
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

/* The unfinished tasks, each with a ref, so finishing one cannot free
 * another under the loop. */
static GPtrArray *
ref_tasks (GHashTable *set)
{
  GPtrArray *tasks = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (tasks, g_object_ref (key));

  return tasks;
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
  if (self->asks != NULL && g_hash_table_size (self->asks) > 0)
    {
      g_autoptr(GPtrArray) tasks = ref_tasks (self->asks);
      for (guint i = 0; i < tasks->len; i++)
        {
          Ask *ask = g_task_get_task_data (g_ptr_array_index (tasks, i));

          if (!ask->done)
            ask_finish (ask, g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                                          "The daemon is shutting down"), TRUE);
        }
    }

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
