/* SPDX-License-Identifier: MIT */
/* prompts.c: a session's permission prompts, questions and tool calls
 *
 * Between the CLI and the clients: permission.requested,
 * userInput.request, elicitation.requested, the exit-plan-mode and
 * auto-mode-switch requests go to the agent registry,
 * external_tool.requested to the tool router, and every answer goes back
 * to the CLI. Nothing is ever left pending: no agent means
 * "user-not-available" (fail closed), a question nobody answers is
 * answered with an error so the turn goes on, a form is cancelled, a plan
 * is not approved and a mode switch is declined (DESIGN.md §9).
 *
 * The exit-plan-mode and auto-mode-switch requests (JSON-RPC requests
 * without a request id) and their events (with one) arrive in either order:
 * the event starts the prompt, and the request is paired with the oldest
 * prompt of its kind that has none, or waits for its event.
 */
#include "config.h"

#include <string.h>

#include "options.h"
#include "permission.h"
#include "prompts.h"

typedef struct {
  CopilotdPrompts *prompts;    /* owned */
  char *request_id;            /* owned */
  GCancellable *cancellable;   /* owned */
  JsonObject *request;         /* owned, nullable: permissionRequest */
  JsonNode *rpc_id;            /* owned, nullable: the JSON-RPC request to reply to */
  CopilotdPromptKind kind;
  guint64 serial;              /* order of arrival, for pairing requests */
} Prompt;

typedef struct {
  CopilotdPrompts *prompts;    /* owned */
  char *request_id;            /* owned */
} ToolCall;

struct _CopilotdPrompts
{
  GObject parent_instance;

  char *session_id;            /* owned */
  char *session_path;          /* owned */
  CopilotdBackend *backend;    /* owned */
  CopilotdAgentRegistry *agents; /* owned, nullable */
  CopilotdToolRouter *tools;   /* owned, nullable */
  gboolean shared_cli;

  CopilotdPromptsTargetFunc target_func;
  CopilotdPromptsChangedFunc changed_func;
  gpointer user_data;          /* unowned: the session, until close */

  GHashTable *prompts;         /* owned: request id → Prompt* (unowned: its callback frees it) */
  GHashTable *tool_calls;      /* owned: request id → GCancellable* */
  GHashTable *input_ids;       /* owned: question → user_input.requested id */
  guint input_counter;
  guint64 prompt_serial;
  /* Per kind (plan approval, mode switch): JSON-RPC ids of requests whose
   * event has not come yet, and answers given before their request came. */
  GQueue early_rpc_ids[COPILOTD_PROMPT_MODE_SWITCH + 1];  /* owned JsonNode* */
  JsonNode *late_answers[COPILOTD_PROMPT_MODE_SWITCH + 1];   /* owned, nullable */
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (CopilotdPrompts, copilotd_prompts, G_TYPE_OBJECT)

static void
on_answer_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autofree char *what = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  if (node == NULL)
    g_debug ("%s failed: %s", what, error->message);
}

/* Answers a pending CLI request by its id: {sessionId, requestId, @member}. */
static void
answer_cli_member (CopilotdPrompts *self,
                   const char      *method,
                   const char      *request_id,
                   const char      *member,
                   JsonNode        *result)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *params = copilotd_session_params (self->session_id);

  json_object_set_string_member (params, "requestId", request_id);
  json_object_set_member (params, member, result);
  node = copilotd_json_node_take_object (params);
  copilotd_backend_call_async (self->backend, method, node, NULL, on_answer_sent, g_strdup (method));
}

static void
answer_cli (CopilotdPrompts *self,
            const char      *method,
            const char      *request_id,
            JsonNode        *result)
{
  answer_cli_member (self, method, request_id, "result", result);
}

static void
changed (CopilotdPrompts *self)
{
  if (!self->closed && self->changed_func != NULL)
    self->changed_func (self->user_data);
}

/* ---- prompts ------------------------------------------------------------ */

static Prompt *
prompt_new (CopilotdPrompts *self,
            const char      *request_id)
{
  Prompt *prompt = g_new0 (Prompt, 1);

  prompt->prompts = g_object_ref (self);
  prompt->request_id = g_strdup (request_id);
  prompt->cancellable = g_cancellable_new ();
  prompt->serial = ++self->prompt_serial;
  g_hash_table_insert (self->prompts, g_strdup (request_id), prompt);
  changed (self);
  return prompt;
}

/* Every prompt ends here, whichever way it went. */
static void
prompt_finish (Prompt *prompt)
{
  CopilotdPrompts *self = prompt->prompts;

  if (g_hash_table_lookup (self->prompts, prompt->request_id) == prompt)
    g_hash_table_remove (self->prompts, prompt->request_id);
  changed (self);
  g_free (prompt->request_id);
  g_object_unref (prompt->cancellable);
  g_clear_pointer (&prompt->request, json_object_unref);
  g_clear_pointer (&prompt->rpc_id, json_node_unref);
  g_object_unref (prompt->prompts);
  g_free (prompt);
}

static void
fill_target (CopilotdPrompts      *self,
             CopilotdPromptTarget *target)
{
  memset (target, 0, sizeof *target);
  target->session_path = self->session_path;
  if (self->target_func != NULL)
    self->target_func (self->user_data, target);
}

static void
on_permission_answered (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Prompt *prompt = user_data;
  CopilotdPrompts *self = prompt->prompts;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = NULL;
  JsonNode *answer;
  guint decision = 0;

  if (!copilotd_agent_registry_ask_finish (COPILOTD_AGENT_REGISTRY (source), result,
                                           &decision, &results, &error))
    {
      /* Withdrawn: the CLI already has its answer, or is gone. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          prompt_finish (prompt);
          return;
        }
      g_debug ("Permission '%s' not answered: %s", prompt->request_id, error->message);
      answer = copilotd_permission_build_unavailable ();
    }
  else
    answer = copilotd_permission_build_result (prompt->request, decision, results);

  if (!self->closed)
    answer_cli (self, "session.permissions.handlePendingPermissionRequest", prompt->request_id, answer);
  else
    json_node_unref (answer);
  prompt_finish (prompt);
}

static void
start_permission (CopilotdPrompts *self,
                  JsonObject      *data)
{
  const char *request_id = copilotd_json_get_string (data, "requestId", NULL);
  JsonNode *request_node = json_object_get_member (data, "permissionRequest");
  CopilotdPromptTarget target;
  g_autofree char *request_json = NULL;
  Prompt *prompt;

  if (request_id == NULL || g_hash_table_contains (self->prompts, request_id))
    return;
  /* Already decided by a hook: answering would be a second answer. */
  if (copilotd_json_get_boolean (data, "resolvedByHook", FALSE))
    return;
  if (request_node == NULL || !JSON_NODE_HOLDS_OBJECT (request_node) || self->agents == NULL)
    {
      answer_cli (self, "session.permissions.handlePendingPermissionRequest", request_id,
                  copilotd_permission_build_unavailable ());
      return;
    }

  prompt = prompt_new (self, request_id);
  prompt->request = json_object_ref (json_node_get_object (request_node));
  request_json = json_to_string (request_node, FALSE);
  fill_target (self, &target);
  copilotd_agent_registry_ask_async (self->agents, COPILOTD_PROMPT_PERMISSION, &target,
                                     request_id, copilotd_permission_summarize (prompt->request),
                                     request_json, prompt->cancellable,
                                     on_permission_answered, prompt);
}

static void
withdraw_prompt (CopilotdPrompts *self,
                 const char      *request_id)
{
  Prompt *prompt = g_hash_table_lookup (self->prompts, request_id);

  if (prompt != NULL)
    {
      g_debug ("Prompt '%s' answered elsewhere; withdrawing it", request_id);
      g_cancellable_cancel (prompt->cancellable);
    }
}

/* ---- elicitation ------------------------------------------------------- */

static const char *
get_string (JsonObject *object,
            const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonNode *
build_elicitation_result (const char *action,
                          const char *content_json)
{
  JsonObject *result = json_object_new ();

  json_object_set_string_member (result, "action", action);
  if (g_str_equal (action, "accept") && content_json != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, content_json, -1, NULL) &&
          json_parser_get_root (parser) != NULL &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        json_object_set_member (result, "content", json_node_copy (json_parser_get_root (parser)));
      else
        json_object_set_object_member (result, "content", json_object_new ());
    }
  return copilotd_json_node_take_object (result);
}

static void
on_elicitation_answered (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  Prompt *prompt = user_data;
  CopilotdPrompts *self = prompt->prompts;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *action = "cancel";
  const char *content_json = NULL;

  reply = copilotd_agent_registry_ask_finish_reply (COPILOTD_AGENT_REGISTRY (source), result, &error);
  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      prompt_finish (prompt);
      return;
    }
  if (reply == NULL)
    g_debug ("Elicitation '%s' not answered: %s", prompt->request_id, error->message);
  else
    {
      static const char * const actions[] = { "accept", "decline", "cancel", NULL };
      const char *answered;

      g_variant_get (reply, "(&s&s@a{sv})", &answered, &content_json, NULL);
      /* Anything else than the three actions is a cancel. */
      if (g_strv_contains (actions, answered))
        action = answered;
    }

  if (!self->closed)
    answer_cli (self, "session.ui.handlePendingElicitation", prompt->request_id,
                build_elicitation_result (action, content_json));
  prompt_finish (prompt);
}

static void
start_elicitation (CopilotdPrompts *self,
                   JsonObject      *data)
{
  const char *request_id = get_string (data, "requestId");
  JsonNode *schema = json_object_get_member (data, "requestedSchema");
  g_autofree char *schema_json = NULL;
  g_auto(GVariantDict) request = G_VARIANT_DICT_INIT (NULL);
  CopilotdPromptTarget target;
  const char *value;
  Prompt *prompt;

  if (request_id == NULL || g_hash_table_contains (self->prompts, request_id))
    return;
  if (self->agents == NULL)
    {
      answer_cli (self, "session.ui.handlePendingElicitation", request_id,
                  build_elicitation_result ("cancel", NULL));
      return;
    }

  g_variant_dict_insert (&request, "message", "s", get_string (data, "message") ?: "");
  value = get_string (data, "mode");
  g_variant_dict_insert (&request, "mode", "s", value != NULL ? value : "form");
  if ((value = get_string (data, "url")) != NULL)
    g_variant_dict_insert (&request, "url", "s", value);
  if ((value = get_string (data, "elicitationSource")) != NULL)
    g_variant_dict_insert (&request, "source", "s", value);
  schema_json = schema != NULL && JSON_NODE_HOLDS_OBJECT (schema) ? json_to_string (schema, FALSE)
                                                                  : g_strdup ("{}");

  prompt = prompt_new (self, request_id);
  prompt->kind = COPILOTD_PROMPT_ELICITATION;
  fill_target (self, &target);
  copilotd_agent_registry_ask_async (self->agents, COPILOTD_PROMPT_ELICITATION, &target,
                                     request_id, g_variant_dict_end (&request), schema_json,
                                     prompt->cancellable, on_elicitation_answered, prompt);
}

/* ---- plan approval and mode switch -------------------------------------- */

static JsonNode *
build_plan_answer (GVariant *reply)
{
  JsonObject *answer = json_object_new ();
  g_autoptr(GVariant) results = NULL;
  const char *action = NULL, *feedback = NULL;
  gboolean approved = FALSE, auto_approve;

  if (reply != NULL)
    {
      g_variant_get (reply, "(b@a{sv})", &approved, &results);
      g_variant_lookup (results, "action", "&s", &action);
      g_variant_lookup (results, "feedback", "&s", &feedback);
    }

  json_object_set_boolean_member (answer, "approved", approved);
  if (approved && action != NULL && *action != '\0')
    json_object_set_string_member (answer, "selectedAction", action);
  if (results != NULL && g_variant_lookup (results, "auto-approve-edits", "b", &auto_approve))
    json_object_set_boolean_member (answer, "autoApproveEdits", auto_approve);
  /* Not approving always says so, so the model is told and goes on. */
  if (feedback != NULL && *feedback != '\0')
    json_object_set_string_member (answer, "feedback", feedback);
  else if (!approved)
    json_object_set_string_member (answer, "feedback",
                                   reply != NULL ? "The user did not approve the plan."
                                                 : "No one could review the plan; it was not approved.");
  return copilotd_json_node_take_object (answer);
}

static JsonNode *
build_mode_switch_answer (GVariant *reply)
{
  JsonObject *answer = json_object_new ();
  const char *response = "no";

  if (reply != NULL)
    {
      const char *answered;

      g_variant_get (reply, "(&s@a{sv})", &answered, NULL);
      if (g_str_equal (answered, "yes"))
        response = "yes";
      else if (g_str_equal (answered, "yes-always"))
        response = "yes_always";
    }
  json_object_set_string_member (answer, "response", response);
  return copilotd_json_node_take_object (answer);
}

/* Sends @answer (taken) for @prompt: the reply to its JSON-RPC request, or
 * through the matching handlePending method and kept for a request that
 * is still to come. */
static void
answer_paired (CopilotdPrompts *self,
               Prompt          *prompt,
               JsonNode        *answer)
{
  const char *method = prompt->kind == COPILOTD_PROMPT_PLAN_APPROVAL
                       ? "session.ui.handlePendingExitPlanMode"
                       : "session.ui.handlePendingAutoModeSwitch";

  if (self->closed)
    {
      json_node_unref (answer);
      return;
    }

  if (prompt->rpc_id != NULL)
    {
      copilotd_backend_reply (self->backend, prompt->rpc_id, answer);
      json_node_unref (answer);
      return;
    }

  g_clear_pointer (&self->late_answers[prompt->kind], json_node_unref);
  self->late_answers[prompt->kind] = json_node_copy (answer);
  if (prompt->kind == COPILOTD_PROMPT_PLAN_APPROVAL)
    answer_cli_member (self, method, prompt->request_id, "response", answer);
  else
    {
      JsonNode *response = json_node_copy (json_object_get_member (json_node_get_object (answer),
                                                                   "response"));
      json_node_unref (answer);
      answer_cli_member (self, method, prompt->request_id, "response", response);
    }
}

static void
on_paired_answered (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Prompt *prompt = user_data;
  CopilotdPrompts *self = prompt->prompts;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = copilotd_agent_registry_ask_finish_reply (COPILOTD_AGENT_REGISTRY (source), result, &error);
  if (reply == NULL)
    g_debug ("Request '%s' not answered: %s", prompt->request_id, error->message);

  /* Even when withdrawn, a request of ours still waiting gets its answer
   * (the neutral one), so nothing is left pending. */
  if (reply != NULL || prompt->rpc_id != NULL ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    answer_paired (self, prompt,
                   prompt->kind == COPILOTD_PROMPT_PLAN_APPROVAL ? build_plan_answer (reply)
                                                                 : build_mode_switch_answer (reply));
  prompt_finish (prompt);
}

static void
add_strv_member (GVariantDict *dict,
                 const char   *key,
                 JsonObject   *data,
                 const char   *member)
{
  JsonNode *node = json_object_get_member (data, member);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_TYPE (element) == JSON_NODE_VALUE &&
              json_node_get_value_type (element) == G_TYPE_STRING)
            g_variant_builder_add (&builder, "s", json_node_get_string (element));
        }
    }
  g_variant_dict_insert_value (dict, key, g_variant_builder_end (&builder));
}

static void
start_paired (CopilotdPrompts    *self,
              CopilotdPromptKind  kind,
              JsonObject         *data)
{
  const char *request_id = get_string (data, "requestId");
  g_auto(GVariantDict) request = G_VARIANT_DICT_INIT (NULL);
  CopilotdPromptTarget target;
  const char *value;
  Prompt *prompt;

  if (request_id == NULL || g_hash_table_contains (self->prompts, request_id))
    return;

  prompt = prompt_new (self, request_id);
  prompt->kind = kind;
  prompt->rpc_id = g_queue_pop_head (&self->early_rpc_ids[kind]);

  if (kind == COPILOTD_PROMPT_PLAN_APPROVAL)
    {
      g_variant_dict_insert (&request, "summary", "s", get_string (data, "summary") ?: "");
      g_variant_dict_insert (&request, "plan", "s", get_string (data, "planContent") ?: "");
      add_strv_member (&request, "actions", data, "actions");
      if ((value = get_string (data, "recommendedAction")) != NULL)
        g_variant_dict_insert (&request, "recommended-action", "s", value);
    }
  else
    {
      JsonNode *retry = json_object_get_member (data, "retryAfterSeconds");

      if ((value = get_string (data, "errorCode")) != NULL)
        g_variant_dict_insert (&request, "error-code", "s", value);
      if (retry != NULL && JSON_NODE_TYPE (retry) == JSON_NODE_VALUE)
        g_variant_dict_insert (&request, "retry-after", "u",
                               (guint32) CLAMP (json_node_get_int (retry), 0, G_MAXUINT32));
    }

  if (self->agents == NULL)
    {
      answer_paired (self, prompt, kind == COPILOTD_PROMPT_PLAN_APPROVAL ? build_plan_answer (NULL)
                                                                        : build_mode_switch_answer (NULL));
      g_variant_dict_clear (&request);
      prompt_finish (prompt);
      return;
    }

  fill_target (self, &target);
  copilotd_agent_registry_ask_async (self->agents, kind, &target, request_id,
                                     g_variant_dict_end (&request), NULL,
                                     prompt->cancellable, on_paired_answered, prompt);
}

/* exitPlanMode.request / autoModeSwitch.request: paired with the oldest
 * prompt of the kind that has no request yet, else kept for its event. */
static void
take_paired_request (CopilotdPrompts    *self,
                     CopilotdPromptKind  kind,
                     JsonNode           *id)
{
  Prompt *oldest = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->prompts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Prompt *prompt = value;

      if (prompt->kind == kind && prompt->rpc_id == NULL &&
          (oldest == NULL || prompt->serial < oldest->serial))
        oldest = prompt;
    }

  if (oldest != NULL)
    oldest->rpc_id = json_node_copy (id);
  else if (self->late_answers[kind] != NULL)
    {
      g_autoptr(JsonNode) answer = g_steal_pointer (&self->late_answers[kind]);

      copilotd_backend_reply (self->backend, id, answer);
    }
  else
    g_queue_push_tail (&self->early_rpc_ids[kind], json_node_copy (id));
}

static void
on_user_input_answered (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Prompt *prompt = user_data;
  CopilotdPrompts *self = prompt->prompts;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = NULL;
  guint response = 1;

  if (!copilotd_agent_registry_ask_finish (COPILOTD_AGENT_REGISTRY (source), result,
                                           &response, &results, &error))
    g_debug ("Question '%s' not answered: %s", prompt->request_id, error->message);

  /* The request is always answered, so the turn goes on. An error reply
   * tells the model the user could not respond (PROTOCOL.md §3.3). */
  if (error == NULL && response == 0)
    {
      g_autofree char *answer = NULL;
      gboolean freeform = FALSE;
      g_autoptr(JsonNode) node = NULL;
      JsonObject *reply = json_object_new ();

      g_variant_lookup (results, "answer", "s", &answer);
      g_variant_lookup (results, "was-freeform", "b", &freeform);
      json_object_set_string_member (reply, "answer", answer ? answer : "");
      json_object_set_boolean_member (reply, "wasFreeform", freeform);
      node = copilotd_json_node_take_object (reply);
      copilotd_backend_reply (self->backend, prompt->rpc_id, node);
    }
  else
    copilotd_backend_reply_error (self->backend, prompt->rpc_id, -32603,
                                  error ? error->message : "The user cancelled the question");
  prompt_finish (prompt);
}

gboolean
copilotd_prompts_handle_request (CopilotdPrompts *self,
                                 const char      *method,
                                 JsonObject      *params,
                                 JsonNode        *id)
{
  const char *question;
  const char *known_id;
  g_autofree char *request_id = NULL;
  JsonNode *choices;
  GVariantBuilder request;
  GVariantBuilder choice_builder;
  CopilotdPromptTarget target;
  Prompt *prompt;

  if (self->closed)
    return FALSE;
  if (strcmp (method, "exitPlanMode.request") == 0)
    {
      take_paired_request (self, COPILOTD_PROMPT_PLAN_APPROVAL, id);
      return TRUE;
    }
  if (strcmp (method, "autoModeSwitch.request") == 0)
    {
      take_paired_request (self, COPILOTD_PROMPT_MODE_SWITCH, id);
      return TRUE;
    }
  if (strcmp (method, "userInput.request") != 0)
    return FALSE;

  /* The user_input.requested event that came first has the request id. */
  question = copilotd_json_get_string (params, "question", "");
  known_id = g_hash_table_lookup (self->input_ids, question);
  request_id = known_id ? g_strdup (known_id) : g_strdup_printf ("input-%u", ++self->input_counter);
  g_hash_table_remove (self->input_ids, question);

  if (self->agents == NULL)
    {
      copilotd_backend_reply_error (self->backend, id, -32603, "No agent can answer questions");
      return TRUE;
    }

  g_variant_builder_init (&request, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&request, "{sv}", "question", g_variant_new_string (question));
  g_variant_builder_init (&choice_builder, G_VARIANT_TYPE_STRING_ARRAY);
  choices = json_object_get_member (params, "choices");
  if (choices != NULL && JSON_NODE_HOLDS_ARRAY (choices))
    {
      JsonArray *array = json_node_get_array (choices);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          const char *choice = json_node_get_string (json_array_get_element (array, i));
          if (choice != NULL)
            g_variant_builder_add (&choice_builder, "s", choice);
        }
    }
  g_variant_builder_add (&request, "{sv}", "choices", g_variant_builder_end (&choice_builder));
  g_variant_builder_add (&request, "{sv}", "allow-freeform",
                         g_variant_new_boolean (copilotd_json_get_boolean (params, "allowFreeform", TRUE)));

  prompt = prompt_new (self, request_id);
  prompt->kind = COPILOTD_PROMPT_USER_INPUT;
  prompt->rpc_id = json_node_copy (id);
  fill_target (self, &target);
  copilotd_agent_registry_ask_async (self->agents, COPILOTD_PROMPT_USER_INPUT, &target,
                                     request_id, g_variant_builder_end (&request), NULL,
                                     prompt->cancellable, on_user_input_answered, prompt);
  return TRUE;
}

/* ---- custom tools ------------------------------------------------------ */

static void
on_tool_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ToolCall *call = user_data;
  CopilotdPrompts *self = call->prompts;
  g_autoptr(GError) error = NULL;
  JsonNode *answer;

  answer = copilotd_tool_router_invoke_finish (COPILOTD_TOOL_ROUTER (source), result, &error);
  g_hash_table_remove (self->tool_calls, call->request_id);
  if (answer != NULL && !self->closed)
    answer_cli (self, "session.tools.handlePendingToolCall", call->request_id, answer);
  else if (answer != NULL)
    json_node_unref (answer);

  g_object_unref (call->prompts);
  g_free (call->request_id);
  g_free (call);
}

static void
start_tool_call (CopilotdPrompts *self,
                 JsonObject      *data,
                 GPtrArray       *tools)
{
  const char *request_id = copilotd_json_get_string (data, "requestId", NULL);
  const char *name = copilotd_json_get_string (data, "toolName", NULL);
  CopilotdTool *tool = NULL;
  GCancellable *cancellable;
  ToolCall *call;

  if (request_id == NULL || name == NULL || g_hash_table_contains (self->tool_calls, request_id))
    return;
  if (tools != NULL)
    tool = copilotd_tools_find (tools, name);
  if (tool == NULL || self->tools == NULL)
    {
      /* Another client of a shared CLI server may serve it. */
      if (!self->shared_cli)
        {
          JsonObject *result = json_object_new ();
          g_autofree char *text = g_strdup_printf ("Tool '%s' is not served by any client", name);

          json_object_set_string_member (result, "textResultForLlm", text);
          json_object_set_string_member (result, "resultType", "failure");
          json_object_set_string_member (result, "error", text);
          answer_cli (self, "session.tools.handlePendingToolCall", request_id, copilotd_json_node_take_object (result));
        }
      return;
    }

  cancellable = g_cancellable_new ();
  g_hash_table_insert (self->tool_calls, g_strdup (request_id), cancellable);
  call = g_new0 (ToolCall, 1);
  call->prompts = g_object_ref (self);
  call->request_id = g_strdup (request_id);
  copilotd_tool_router_invoke_async (self->tools, self->session_path, tool, data, cancellable,
                                     on_tool_done, call);
}

/* ---- events ------------------------------------------------------------ */

void
copilotd_prompts_handle_event (CopilotdPrompts *self,
                               const char      *type,
                               JsonObject      *data,
                               GPtrArray       *tools)
{
  const char *request_id = copilotd_json_get_string (data, "requestId", NULL);

  if (self->closed)
    return;

  if (strcmp (type, "permission.requested") == 0)
    start_permission (self, data);
  else if (request_id != NULL &&
           (strcmp (type, "permission.completed") == 0 || strcmp (type, "user_input.completed") == 0 ||
            strcmp (type, "elicitation.completed") == 0 ||
            strcmp (type, "exit_plan_mode.completed") == 0 ||
            strcmp (type, "auto_mode_switch.completed") == 0))
    withdraw_prompt (self, request_id);
  else if (strcmp (type, "elicitation.requested") == 0)
    start_elicitation (self, data);
  else if (strcmp (type, "exit_plan_mode.requested") == 0)
    start_paired (self, COPILOTD_PROMPT_PLAN_APPROVAL, data);
  else if (strcmp (type, "auto_mode_switch.requested") == 0)
    start_paired (self, COPILOTD_PROMPT_MODE_SWITCH, data);
  else if (request_id != NULL && strcmp (type, "user_input.requested") == 0)
    g_hash_table_insert (self->input_ids,
                         g_strdup (copilotd_json_get_string (data, "question", "")),
                         g_strdup (request_id));
  else if (strcmp (type, "external_tool.requested") == 0)
    start_tool_call (self, data, tools);
  else if (request_id != NULL && strcmp (type, "external_tool.completed") == 0)
    {
      GCancellable *cancellable = g_hash_table_lookup (self->tool_calls, request_id);

      if (cancellable != NULL)
        g_cancellable_cancel (cancellable);
    }
}

void
copilotd_prompts_cancel_all (CopilotdPrompts *self)
{
  g_autoptr(GPtrArray) cancellables = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  /* Collected first: cancelling may finish a prompt and edit the tables. */
  g_hash_table_iter_init (&iter, self->prompts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (cancellables, g_object_ref (((Prompt *) value)->cancellable));
  g_hash_table_iter_init (&iter, self->tool_calls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (cancellables, g_object_ref (value));

  for (guint i = 0; i < cancellables->len; i++)
    g_cancellable_cancel (g_ptr_array_index (cancellables, i));
}

guint
copilotd_prompts_get_n_waiting (CopilotdPrompts *self)
{
  return g_hash_table_size (self->prompts);
}

void
copilotd_prompts_close (CopilotdPrompts *self)
{
  if (self->closed)
    return;
  copilotd_prompts_cancel_all (self);
  self->closed = TRUE;
  self->target_func = NULL;
  self->changed_func = NULL;
  self->user_data = NULL;
}

static void
copilotd_prompts_dispose (GObject *object)
{
  CopilotdPrompts *self = COPILOTD_PROMPTS (object);

  copilotd_prompts_close (self);
  g_clear_object (&self->backend);
  g_clear_object (&self->agents);
  g_clear_object (&self->tools);

  G_OBJECT_CLASS (copilotd_prompts_parent_class)->dispose (object);
}

static void
copilotd_prompts_finalize (GObject *object)
{
  CopilotdPrompts *self = COPILOTD_PROMPTS (object);

  g_free (self->session_id);
  g_free (self->session_path);
  g_hash_table_unref (self->prompts);
  g_hash_table_unref (self->tool_calls);
  g_hash_table_unref (self->input_ids);
  for (guint i = 0; i < G_N_ELEMENTS (self->early_rpc_ids); i++)
    {
      g_queue_clear_full (&self->early_rpc_ids[i], (GDestroyNotify) json_node_unref);
      g_clear_pointer (&self->late_answers[i], json_node_unref);
    }

  G_OBJECT_CLASS (copilotd_prompts_parent_class)->finalize (object);
}

static void
copilotd_prompts_class_init (CopilotdPromptsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_prompts_dispose;
  object_class->finalize = copilotd_prompts_finalize;
}

static void
copilotd_prompts_init (CopilotdPrompts *self)
{
  self->prompts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->tool_calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->input_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

CopilotdPrompts *
copilotd_prompts_new (const char                 *session_id,
                      const char                 *session_path,
                      CopilotdBackend            *backend,
                      CopilotdAgentRegistry      *agents,
                      CopilotdToolRouter         *tools,
                      gboolean                    shared_cli,
                      CopilotdPromptsTargetFunc   target_func,
                      CopilotdPromptsChangedFunc  changed_func,
                      gpointer                    user_data)
{
  CopilotdPrompts *self = g_object_new (COPILOTD_TYPE_PROMPTS, NULL);

  self->session_id = g_strdup (session_id);
  self->session_path = g_strdup (session_path);
  self->backend = g_object_ref (backend);
  self->agents = agents ? g_object_ref (agents) : NULL;
  self->tools = tools ? g_object_ref (tools) : NULL;
  self->shared_cli = shared_cli;
  self->target_func = target_func;
  self->changed_func = changed_func;
  self->user_data = user_data;
  return self;
}
