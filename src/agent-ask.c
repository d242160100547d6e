/* SPDX-License-Identifier: MIT */
/* agent-ask.c: asking the registered agents, one at a time
 *
 * Each ask (a permission prompt, a question, a form, a plan approval, a
 * mode switch) is a GTask whose task data is the Ask below. Its candidates
 * are the agents of the session's UID with the capability, in the routing
 * order of DESIGN.md §5 (the session's owner, the turn's sender, the
 * defaults newest first, the rest newest first; fallback agents last). It
 * asks one at a time, with at most agent-max-in-flight calls per agent
 * (the others queue), moves on when an agent answers with an error or
 * leaves, and ends with the answer, NotFound (nobody left), Timeout
 * (permission-timeout, across agents) or Cancelled (the caller withdrew,
 * and the agent asked is sent Cancel).
 */
#include "config.h"

#include "agent-registry-private.h"
#include "client-call.h"
#include "copilotd-error.h"

typedef struct _Ask Ask;

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

static gboolean
agent_has_slot (CopilotdAgentRegistry *self,
                Agent                 *agent)
{
  /* 0 means no limit, like the other limits. */
  return self->config->agent_max_in_flight == 0 ||
         agent->in_flight < self->config->agent_max_in_flight;
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
      agent_send_call (self, agent, "Cancel", g_variant_new ("(s)", ask->request_id));
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
  const char *method = agent_kinds[ask->kind].method;
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
                              G_VARIANT_TYPE (agent_kinds[ask->kind].reply_type), 0, NULL,
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
  g_return_if_fail ((guint) kind < AGENT_N_KINDS);
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

void
agent_asks_move_off (CopilotdAgentRegistry *self,
                     Agent                 *agent)
{
  g_autoptr(GPtrArray) moving = g_ptr_array_new_with_free_func (g_object_unref);

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
}

void
agent_asks_close_all (CopilotdAgentRegistry *self)
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
