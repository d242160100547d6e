/* SPDX-License-Identifier: MIT */
/* test-libcopilot-providers.c: what libcopilot serves for the app
 *
 * Agents (every prompt kind, answered now or later, cancelled, across a
 * daemon restart), tools, hooks and slash commands, against the
 * in-process copilotd of daemon-fixture.c with the fake CLI; driven
 * through the library's asynchronous API only, as test-libcopilot.c.
 */
#include "config.h"

#include <string.h>

#include "copilotd-error.h"
#include "libcopilot-fixture.h"

/* ---- agents ---- */

typedef struct {
  GPtrArray *kept;               /* owned: CopilotPrompt* kept to answer later */
  guint decision;
  gboolean keep;                 /* keep the prompt instead of answering now */
  guint n_requests;
  guint n_cancelled;
  char *last_kind;               /* owned */
  char *last_command;            /* owned */
} AgentLog;

static void
on_prompt_cancelled (CopilotPrompt *prompt, AgentLog *log)
{
  log->n_cancelled++;
}

static void
on_permission (CopilotAgent *agent, CopilotPrompt *prompt, AgentLog *log)
{
  const char *command = NULL;

  log->n_requests++;
  g_free (log->last_kind);
  log->last_kind = g_strdup (copilot_prompt_get_kind (prompt));
  g_variant_lookup (copilot_prompt_get_request (prompt), "command", "&s", &command);
  g_free (log->last_command);
  log->last_command = g_strdup (command);
  g_assert_true (g_str_has_prefix (copilot_prompt_get_session_path (prompt), SESSION_PATH_PREFIX));
  g_assert_nonnull (copilot_prompt_get_request_id (prompt));
  g_assert_nonnull (copilot_prompt_get_request_json (prompt));
  g_signal_connect (prompt, "cancelled", G_CALLBACK (on_prompt_cancelled), log);
  if (log->keep)
    g_ptr_array_add (log->kept, g_object_ref (prompt));
  else if (log->decision != G_MAXUINT)
    copilot_prompt_reply (prompt, log->decision, NULL);
  /* decision G_MAXUINT and no keep: dropped unanswered. */
}

static void
on_user_input (CopilotAgent *agent, CopilotPrompt *prompt, AgentLog *log)
{
  log->n_requests++;
  copilot_prompt_reply_answer (prompt, "blue");
}

static void
agent_log_clear (AgentLog *log)
{
  g_clear_pointer (&log->kept, g_ptr_array_unref);
  g_clear_pointer (&log->last_kind, g_free);
  g_clear_pointer (&log->last_command, g_free);
}

static CopilotAgent *
new_agent (CopilotClient *client, AgentLog *log)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CopilotAgent *agent = copilot_agent_new (client, NULL);

  log->kept = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (agent, "permission-requested", G_CALLBACK (on_permission), log);
  g_signal_connect (agent, "user-input-requested", G_CALLBACK (on_user_input), log);
  copilot_agent_register (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_register_finish (agent, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_true (copilot_agent_get_registered (agent));
  return agent;
}

static gboolean
answer_kept_cb (gpointer user_data)
{
  AgentLog *log = user_data;

  if (log->kept->len == 0)
    return G_SOURCE_CONTINUE;
  copilot_prompt_reply (g_ptr_array_index (log->kept, 0), COPILOT_PERMISSION_APPROVE_ONCE, NULL);
  return G_SOURCE_REMOVE;
}

static void
test_agent_answers_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .keep = TRUE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* The handler keeps the prompt; the app answers from a later callback,
   * while its own send_and_wait is pending: no deadlock. */
  g_timeout_add (50, answer_kept_cb, &log);
  content = send_and_wait (session, "PERMISSION: ls -l", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (log.last_kind, ==, "permission");
  g_assert_cmpstr (log.last_command, ==, "ls -l");
  g_assert_true (copilot_prompt_is_answered (g_ptr_array_index (log.kept, 0)));
  agent_log_clear (&log);
}

typedef struct {
  GArray *seen;       /* owned: gboolean, each value of :registered */
  gboolean back;      /* registered again */
} Registrations;

static void
on_registered_changed (CopilotAgent *agent, GParamSpec *pspec, Registrations *r)
{
  gboolean registered = copilot_agent_get_registered (agent);

  g_array_append_val (r->seen, registered);
  r->back = registered;
}

static void
on_released (CopilotAgent *agent, guint *n)
{
  (*n)++;
}

/* The daemon releases its agents as it shuts down; an app's agent is
 * registered with the next daemon all the same (and asks to be the
 * default again), and the next prompt reaches it. */
static void
test_agent_registered_after_restart (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (gboolean));
  Registrations r = { seen, FALSE };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) released = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  guint n_released = 0;

  copilot_agent_request_default (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_request_default_finish (agent, wait_result (&result), &error));
  g_assert_no_error (error);
  g_signal_connect (agent, "notify::registered", G_CALLBACK (on_registered_changed), &r);
  g_signal_connect (agent, "released", G_CALLBACK (on_released), &n_released);

  /* What the daemon's shutdown sends each agent, from the daemon. */
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), BUS_NAME ".Agent", "Release", NULL,
                          G_VARIANT_TYPE ("()"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &released);
  reply = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&released), &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (n_released, ==, 1);
  g_assert_false (copilot_agent_get_registered (agent));

  fixture_restart_daemon (fx);
  wait_flag (&r.back, 20, "the agent to be registered with the new daemon");
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_false (g_array_index (seen, gboolean, 0));
  g_assert_true (g_array_index (seen, gboolean, 1));

  session = new_session (client, NULL);
  content = send_and_wait (session, "PERMISSION: ls -l", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (log.n_requests, ==, 1);
  agent_log_clear (&log);
}

static void
test_agent_dropped_prompt_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = G_MAXUINT };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "PERMISSION: rm -rf /tmp/x", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (content, ==, "Permission: denied-interactively-by-user");
  agent_log_clear (&log);
}

static void
test_agent_user_input (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { 0 };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "ASK: Which colour? | red | blue", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (content, ==, "Answer: blue");
  agent_log_clear (&log);
}

static void
test_agent_cancel (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .keep = TRUE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  CopilotPrompt *prompt;

  copilot_session_send_and_wait (session, "PERMISSION: sleep 100", NULL, cancellable, store_result, &result);
  while (log.kept->len == 0)
    g_main_context_iteration (NULL, TRUE);
  prompt = g_ptr_array_index (log.kept, 0);
  g_cancellable_cancel (cancellable);
  content = copilot_session_send_and_wait_finish (session, wait_result (&result), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The daemon withdrew the prompt: the dialog is told; a late answer is
   * ignored without complaint. */
  while (log.n_cancelled == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (copilot_prompt_is_cancelled (prompt));
  copilot_prompt_reply (prompt, COPILOT_PERMISSION_APPROVE_ONCE, NULL);
  agent_log_clear (&log);
}

static void
test_agent_checks_sender (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  GDBusConnection *other = fixture_connect (fx);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *remote = NULL;

  /* Anybody but the daemon calling the agent is refused. */
  g_dbus_connection_call (other, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), AGENT_IFACE, "RequestPermission",
                          g_variant_new_parsed ("(objectpath '/x', 'r1', @a{sv} {'kind': <'shell'>}, '{}')"),
                          G_VARIANT_TYPE ("(ua{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          store_result, &result);
  reply = g_dbus_connection_call_finish (other, wait_result (&result), &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, BUS_NAME ".Error.AccessDenied");
  g_assert_cmpuint (log.n_requests, ==, 0);
  agent_log_clear (&log);
}

/* Answers each Contract 2 prompt kind, or drops it when *answer is FALSE. */
static void
on_elicitation (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "elicitation");
  g_assert_cmpstr (copilot_prompt_get_request_json (prompt), ==, "{\"type\":\"object\"}");
  if (*answer)
    copilot_prompt_reply_elicitation (prompt, "accept", "{\"color\":\"green\"}", NULL);
}

static void
on_plan_approval (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "plan-approval");
  if (*answer)
    copilot_prompt_reply (prompt, 1, g_variant_new_parsed ("{'action': <'autopilot'>}"));
}

static void
on_mode_switch (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "mode-switch");
  if (*answer)
    copilot_prompt_reply_mode_switch (prompt, "yes-always", NULL);
}

/* Calls the agent as the daemon would (from the daemon's connection). */
static GVariant *
call_agent (Fixture *fx, CopilotAgent *agent, const char *method, const char *params,
            const char *reply_type, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), AGENT_IFACE, method,
                          g_variant_new_parsed (params), G_VARIANT_TYPE (reply_type),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result);
  return g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result), error);
}

static void
test_agent_contract2_kinds (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotAgent) agent = copilot_agent_new (client, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean answer = TRUE;
  const char *elicit = "(objectpath '/s', 'e1', @a{sv} {'message': <'Pick'>}, '{\"type\":\"object\"}')";
  const char *plan = "(objectpath '/s', 'p1', @a{sv} {'summary': <'Plan'>})";
  const char *mode = "(objectpath '/s', 'm1', @a{sv} {'error-code': <'rate_limit'>})";
  struct { const char *method, *params, *type, *answered, *dropped; } cases[] = {
    { "RequestElicitation", elicit, "(ssa{sv})", "('accept', '{\"color\":\"green\"}', @a{sv} {})", "('cancel', '{}', @a{sv} {})" },
    { "RequestPlanApproval", plan, "(ba{sv})", "(true, {'action': <'autopilot'>})", "(false, @a{sv} {})" },
    { "RequestModeSwitch", mode, "(sa{sv})", "('yes-always', @a{sv} {})", "('no', @a{sv} {})" },
  };

  g_signal_connect (agent, "elicitation-requested", G_CALLBACK (on_elicitation), &answer);
  g_signal_connect (agent, "plan-approval-requested", G_CALLBACK (on_plan_approval), &answer);
  g_signal_connect (agent, "mode-switch-requested", G_CALLBACK (on_mode_switch), &answer);
  copilot_agent_register (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_register_finish (agent, wait_result (&result), &error));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint dropped = 0; dropped < 2; dropped++)
      {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) expected = g_variant_ref_sink (g_variant_new_parsed (dropped ? cases[i].dropped : cases[i].answered));

        answer = !dropped;
        reply = call_agent (fx, agent, cases[i].method, cases[i].params, cases[i].type, &error);
        g_assert_no_error (error);
        /* Answered as the handler said; dropped: the refusal of its kind. */
        if (!g_variant_equal (reply, expected))
          g_error ("%s: got %s, expected %s", cases[i].method,
                   g_variant_print (reply, TRUE), g_variant_print (expected, TRUE));
      }
}

static void
test_agent_without_handler_passes (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *remote = NULL;

  /* No plan-approval handler: an error, so that the daemon asks the next
   * agent instead of taking a refusal. */
  reply = call_agent (fx, agent, "RequestPlanApproval", "(objectpath '/s', 'p1', @a{sv} {})",
                      "(ba{sv})", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, BUS_NAME ".Error.Failed");
  agent_log_clear (&log);
}

/* ---- tools ---- */

static void
on_invoke (CopilotTool *tool, CopilotToolCall *call, GPtrArray *kept)
{
  g_ptr_array_add (kept, g_object_ref (call));
}

static gboolean
answer_tool_cb (gpointer user_data)
{
  GPtrArray *kept = user_data;
  CopilotToolCall *call;
  g_autofree char *text = NULL;

  if (kept->len == 0)
    return G_SOURCE_CONTINUE;
  call = g_ptr_array_index (kept, 0);
  text = g_strdup_printf ("42 apples on %s", copilot_tool_call_get_arguments_json (call));
  copilot_tool_call_return_success (call, text);
  return G_SOURCE_REMOVE;
}

static void
test_tool (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotTool) tool = copilot_tool_new ("count_apples", "Counts apples",
                                                  "{\"type\":\"object\",\"properties\":{\"tree\":{\"type\":\"string\"}}}");
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(Seen) seen = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) params = NULL;
  JsonObject *def;

  g_signal_connect (tool, "invoke", G_CALLBACK (on_invoke), kept);
  copilot_client_add_tool (client, tool);
  session = new_session (client, NULL);
  seen = seen_new (session);
  params = record_last (fx, "session.create");
  def = json_array_get_object_element (json_object_get_array_member (params, "tools"), 0);
  g_assert_cmpstr (json_object_get_string_member (def, "name"), ==, "count_apples");
  g_assert_cmpstr (json_object_get_string_member (def, "description"), ==, "Counts apples");

  g_timeout_add (20, answer_tool_cb, kept);
  content = send_and_wait (session, "TOOL: count_apples {\"tree\":\"oak\"}", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kept->len, ==, 1);
  g_assert_cmpstr (copilot_tool_call_get_tool_name (g_ptr_array_index (kept, 0)), ==, "count_apples");
  g_assert_cmpstr (copilot_tool_call_get_session_path (g_ptr_array_index (kept, 0)), ==,
                   copilot_session_get_object_path (session));
  /* The fake CLI shows the result the daemon gave it. */
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "42 apples on "));
  g_assert_nonnull (strstr (content, "oak"));
  g_assert_nonnull (strstr (content, "\"resultType\":\"success\""));
  g_assert_cmpuint (seen->tools_started->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (seen->tools_started, 0), ==, "count_apples");
  g_assert_cmpuint (seen->n_tools_finished, ==, 1);
}

static void
test_tool_without_answer_fails (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotTool) tool = copilot_tool_new ("count_pears", "Counts pears", NULL);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* No handler: the call fails at once instead of hanging the turn. */
  copilot_client_add_tool (client, tool);
  session = new_session (client, NULL);
  content = send_and_wait (session, "TOOL: count_pears {}", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "\"resultType\":\"failure\""));
}

/* ---- hooks and commands ---- */

static char *
on_hook (CopilotClient *client, const char *session, const char *type, const char *input, guint *n)
{
  g_autoptr(JsonObject) in = parse_json_object (input);

  (*n)++;
  g_assert_cmpstr (type, ==, "userPromptSubmitted");
  g_assert_cmpstr (json_object_get_string_member (in, "prompt"), ==, "HOOK:");
  return g_strdup ("{\"modifiedPrompt\":\"hooked\"}");
}

/* A session of @client, which serves userPromptSubmitted hooks with
 * @handler connected to @signal. */
static CopilotSession *
new_hooked_session (CopilotClient *client,
                    const char    *signal,
                    GCallback      handler,
                    gpointer       data)
{
  const char * const types[] = { "userPromptSubmitted", NULL };

  copilot_client_add_hooks (client, types);
  g_signal_connect (client, signal, handler, data);
  return new_session (client, NULL);
}

static void
test_hooks (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *content = NULL;
  guint n = 0;

  session = new_hooked_session (client, "hook::userPromptSubmitted", G_CALLBACK (on_hook), &n);
  params = record_last (fx, "session.create");
  g_assert_true (json_object_get_boolean_member (params, "hooks"));

  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  /* The fake CLI says its hooks.invoke got a result (not an error). */
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
}

static char *
on_command (CopilotClient *client, const char *session, const char *name, const char *args, GPtrArray *seen)
{
  g_ptr_array_add (seen, g_strdup_printf ("%s %s", name, args));
  return strcmp (args, "fail") == 0 ? g_strdup ("It failed") : NULL;
}

static void
test_commands (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GVariant) ok = NULL;
  g_autoptr(GVariant) failed = NULL;
  g_autoptr(GVariant) ok_results = NULL;
  g_autoptr(GVariant) failed_results = NULL;
  const char *message;
  JsonObject *command;

  copilot_client_add_command (client, "deploy", "Deploys the app");
  g_signal_connect (client, "command::deploy", G_CALLBACK (on_command), seen);
  session = new_session (client, NULL);
  params = record_last (fx, "session.create");
  command = json_array_get_object_element (json_object_get_array_member (params, "commands"), 0);
  g_assert_cmpstr (json_object_get_string_member (command, "name"), ==, "deploy");
  g_assert_cmpstr (json_object_get_string_member (command, "description"), ==, "Deploys the app");

  /* As the daemon calls it on command.execute. */
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new_parsed ("(objectpath '/s', 'r1', 'deploy', 'prod', @a{sv} {})"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result);
  ok = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result), &error);
  g_assert_no_error (error);
  g_variant_get (ok, "(@a{sv})", &ok_results);
  g_assert_cmpuint (g_variant_n_children (ok_results), ==, 0);
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new_parsed ("(objectpath '/s', 'r2', 'deploy', 'fail', @a{sv} {})"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result2);
  failed = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result2), &error);
  g_assert_no_error (error);
  g_variant_get (failed, "(@a{sv})", &failed_results);
  g_assert_true (g_variant_lookup (failed_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "It failed");
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, "deploy prod");
}

/* ---- hooks and commands answered later ---- */

static gboolean
answer_hook_later (gpointer user_data)
{
  copilot_hook_call_return_output (user_data, "{\"modifiedPrompt\":\"hooked later\"}");
  return G_SOURCE_REMOVE;
}

static gboolean
on_handle_hook (CopilotClient *client, CopilotHookCall *call, guint *n)
{
  g_autoptr(JsonObject) in = parse_json_object (copilot_hook_call_get_input_json (call));

  (*n)++;
  g_assert_cmpstr (copilot_hook_call_get_hook_type (call), ==, "userPromptSubmitted");
  g_assert_true (g_str_has_prefix (copilot_hook_call_get_session_path (call), "/io/github/copilotd/Copilot1/session/"));
  g_assert_true (g_variant_is_of_type (copilot_hook_call_get_context (call), G_VARIANT_TYPE_VARDICT));
  g_assert_cmpstr (json_object_get_string_member (in, "prompt"), ==, "HOOK:");
  g_idle_add_full (G_PRIORITY_DEFAULT, answer_hook_later, g_object_ref (call), g_object_unref);
  return TRUE;
}

static char *
on_hook_never (CopilotClient *client, const char *session, const char *type, const char *input, gpointer data)
{
  g_assert_not_reached ();
  return NULL;
}

/* The `output` of the daemon's answer to the fake's hooks.invoke. */
static JsonObject *
hook_output_sent (Fixture *fx)
{
  g_autoptr(GPtrArray) frames = record_frames (fx);

  for (guint i = 0; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonObject *result = json_object_has_member (frame, "result") ?
                           json_object_get_object_member (frame, "result") : NULL;

      if (result != NULL && json_object_has_member (result, "output"))
        return json_object_ref (json_object_get_object_member (result, "output"));
    }
  return NULL;
}

static void
test_hook_answered_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) output = NULL;
  g_autofree char *content = NULL;
  guint n = 0;

  /* A handler that took the call: the synchronous signal is not emitted. */
  g_signal_connect (client, "hook", G_CALLBACK (on_hook_never), NULL);
  session = new_hooked_session (client, "handle-hook::userPromptSubmitted", G_CALLBACK (on_handle_hook), &n);

  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
  /* The answer given after the handler returned is what reached the CLI. */
  output = hook_output_sent (fx);
  g_assert_nonnull (output);
  g_assert_cmpstr (json_object_get_string_member (output, "modifiedPrompt"), ==, "hooked later");
}

typedef struct {
  CopilotHookCall *call;  /* owned, nullable: kept unanswered */
  gboolean kept;
  guint cancelled;
  gboolean was_cancelled;
} KeptHook;

static void
on_kept_hook_cancelled (CopilotHookCall *call, KeptHook *kept)
{
  g_assert_true (copilot_hook_call_is_cancelled (call));
  kept->cancelled++;
  kept->was_cancelled = TRUE;
}

static gboolean
on_handle_hook_keep (CopilotClient *client, CopilotHookCall *call, KeptHook *kept)
{
  g_assert_null (kept->call);
  g_assert_true (g_variant_lookup (copilot_hook_call_get_context (call), "hook-call-id", "&s", NULL));
  kept->call = g_object_ref (call);
  kept->kept = TRUE;
  g_signal_connect (call, "cancelled", G_CALLBACK (on_kept_hook_cancelled), kept);
  return TRUE;
}

/* A hook kept past the daemon's hook-timeout learns it was cancelled; the
 * turn went on without its output, and an answer now is ignored. */
static void
test_hook_timeout_cancels (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  KeptHook kept = { 0 };

  fx->config->hook_timeout = 1;
  session = new_hooked_session (client, "handle-hook::userPromptSubmitted", G_CALLBACK (on_handle_hook_keep), &kept);
  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (kept.call);
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
  g_assert_null (hook_output_sent (fx));

  /* Cancel was sent before the CLI got its answer. */
  wait_flag (&kept.was_cancelled, 20, "the hook call to be cancelled");
  g_assert_cmpuint (kept.cancelled, ==, 1);
  g_assert_true (copilot_hook_call_is_answered (kept.call));
  /* Ignored, and no critical (the tests run with fatal criticals). */
  copilot_hook_call_return_output (kept.call, "{\"modifiedPrompt\":\"too late\"}");
  g_assert_cmpuint (kept.cancelled, ==, 1);
  g_clear_object (&kept.call);
}

/* A hook kept while its session ends is cancelled at once: the daemon
 * no longer waits for it, whatever its hook-timeout. */
static void
test_hook_cancelled_when_session_ends (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GAsyncResult) sent = NULL;
  g_autoptr(GAsyncResult) destroyed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message_id = NULL;
  KeptHook kept = { 0 };

  session = new_hooked_session (client, "handle-hook::userPromptSubmitted", G_CALLBACK (on_handle_hook_keep), &kept);
  copilot_session_send (session, "HOOK:", NULL, NULL, store_result, &sent);
  message_id = copilot_session_send_finish (session, wait_result (&sent), &error);
  g_assert_no_error (error);
  wait_flag (&kept.kept, 20, "the hook call");
  g_assert_false (copilot_hook_call_is_cancelled (kept.call));

  copilot_session_destroy (session, NULL, store_result, &destroyed);
  g_assert_true (copilot_session_destroy_finish (session, wait_result (&destroyed), &error));
  g_assert_no_error (error);
  wait_flag (&kept.was_cancelled, 20, "the hook call to be cancelled");
  g_assert_cmpuint (kept.cancelled, ==, 1);
  g_assert_null (hook_output_sent (fx));
  g_clear_object (&kept.call);
}

typedef struct {
  GPtrArray *calls;   /* owned: CopilotCommandCall*, kept unanswered */
  guint n;
} Commands;

static gboolean
on_handle_command (CopilotClient *client, CopilotCommandCall *call, Commands *commands)
{
  commands->n++;
  g_assert_cmpstr (copilot_command_call_get_name (call), ==, "deploy");
  if (strcmp (copilot_command_call_get_args (call), "drop") == 0)
    return TRUE;   /* dropped unanswered: fails */
  g_ptr_array_add (commands->calls, g_object_ref (call));
  return TRUE;
}

/* The results of a finished Execute. */
static GVariant *
execute_results (Fixture *fx, GAsyncResult **result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *results;

  reply = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (result), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@a{sv})", &results);
  g_clear_object (result);
  return results;
}

static void
call_execute (Fixture *fx, const char *request_id, const char *args, GAsyncResult **result)
{
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new ("(osss@a{sv})", "/s", request_id, "deploy", args,
                                         g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, result);
}

static void
test_command_answered_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GAsyncResult) dropped = NULL;
  g_autoptr(GVariant) first_results = NULL;
  g_autoptr(GVariant) second_results = NULL;
  g_autoptr(GVariant) dropped_results = NULL;
  Commands commands = { g_ptr_array_new_with_free_func (g_object_unref), 0 };
  CopilotCommandCall *call;
  const char *message;

  copilot_client_add_command (client, "deploy", "Deploys the app");
  g_signal_connect (client, "handle-command::deploy", G_CALLBACK (on_handle_command), &commands);

  /* Two runs in flight at once; the app answers them later, in reverse. */
  call_execute (fx, "r1", "staging", &first);
  call_execute (fx, "r2", "prod", &second);
  while (commands.calls->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (first);
  g_assert_null (second);
  call = g_ptr_array_index (commands.calls, 1);
  g_assert_cmpstr (copilot_command_call_get_request_id (call), ==, "r2");
  g_assert_false (copilot_command_call_is_answered (call));
  copilot_command_call_return_error (call, "prod is frozen");
  g_assert_true (copilot_command_call_is_answered (call));
  second_results = execute_results (fx, &second);
  g_assert_true (g_variant_lookup (second_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "prod is frozen");
  g_assert_null (first);
  copilot_command_call_return_success (g_ptr_array_index (commands.calls, 0));
  first_results = execute_results (fx, &first);
  g_assert_cmpuint (g_variant_n_children (first_results), ==, 0);

  /* A handler that took the call but dropped it: the call fails. */
  call_execute (fx, "r3", "drop", &dropped);
  dropped_results = execute_results (fx, &dropped);
  g_assert_true (g_variant_lookup (dropped_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "/deploy gave no result");
  g_assert_cmpuint (commands.n, ==, 3);
  g_ptr_array_unref (commands.calls);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* The daemon's domain first: it insists on owning the error names; the
   * library maps them to COPILOT_ERROR all the same. */
  (void) copilotd_error_quark ();

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/libcopilot/agent/answers-later", test_agent_answers_later);
  ADD ("/libcopilot/agent/dropped-prompt-refused", test_agent_dropped_prompt_refused);
  ADD ("/libcopilot/agent/registered-after-restart", test_agent_registered_after_restart);
  ADD ("/libcopilot/agent/user-input", test_agent_user_input);
  ADD ("/libcopilot/agent/cancel", test_agent_cancel);
  ADD ("/libcopilot/agent/checks-sender", test_agent_checks_sender);
  ADD ("/libcopilot/agent/contract2-kinds", test_agent_contract2_kinds);
  ADD ("/libcopilot/agent/without-handler-passes", test_agent_without_handler_passes);
  ADD ("/libcopilot/tool/invoke", test_tool);
  ADD ("/libcopilot/client/hooks", test_hooks);
  ADD ("/libcopilot/client/commands", test_commands);
  ADD ("/libcopilot/client/hook-answered-later", test_hook_answered_later);
  ADD ("/libcopilot/client/hook-timeout-cancels", test_hook_timeout_cancels);
  ADD ("/libcopilot/client/hook-cancelled-when-session-ends", test_hook_cancelled_when_session_ends);
  ADD ("/libcopilot/client/command-answered-later", test_command_answered_later);
  ADD ("/libcopilot/tool/no-answer-fails", test_tool_without_answer_fails);
#undef ADD

  return g_test_run ();
}
