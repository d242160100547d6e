/* SPDX-License-Identifier: MIT */
/* test-session-prompts.c: a session's State, and the prompts of its
 * turns: permissions and questions through agents, client tools, hooks
 * (tests/daemon-fixture.h) */
#include "config.h"

#include <string.h>

#include "session-fixture.h"

#define AGENT_PATH "/test/agent"
#define TOOL_PATH "/test/tool"

static char *
send_ok (GDBusConnection *conn,
         const char      *path,
         const char      *prompt)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "Send",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(s)");
  char *id;

  g_variant_get (reply, "(s)", &id);
  return id;
}

/* ---- state and prompts ---- */

static gboolean
state_seen (SignalLog  *log,
            const char *state,
            guint       from,
            guint      *at)
{
  for (guint i = from; i < log->signals->len; i++)
    {
      g_autoptr(GVariant) dict = g_variant_get_child_value (signal_log_get (log, i)->params, 1);
      const char *s;

      if (g_variant_lookup (dict, "State", "&s", &s) && strcmp (s, state) == 0)
        {
          *at = i;
          return TRUE;
        }
    }
  return FALSE;
}

static void
test_state (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) props = signal_log_new (fx->client, PROPERTIES_IFACE, path);
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autoptr(PendingCall) wait = NULL;
  g_autofree char *state = NULL;
  g_autofree char *content = NULL;
  guint busy_at, idle_at, waiting_at;

  /* A turn long enough that busy is not coalesced with idle. */
  content = send_and_wait_ok (fx->client, path, "SLOW: 3", NULL);
  g_assert_true (state_seen (props, "busy", 0, &busy_at));
  WAIT_FOR (state_seen (props, "idle", busy_at + 1, &idle_at), 5);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "idle");

  /* "waiting" while an agent holds a permission prompt. */
  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  signal_log_clear (props);
  wait = call_start (fx->client, path, SESSION_IFACE, "SendAndWait",
                     g_variant_new ("(sa{sv})", "PERMISSION: ls", NULL), "(sa{sv})");
  WAIT_FOR (agent->n_permission > 0, 10);
  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_free (state);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "waiting");

  test_agent_answer_held (agent);
  pending_wait (wait, 10);
  g_assert_no_error (wait->error);
  g_assert_true (state_seen (props, "waiting", 0, &waiting_at));
  WAIT_FOR (state_seen (props, "idle", waiting_at + 1, &idle_at), 5);
  g_free (state);
  state = get_string_property (fx->client, path, SESSION_IFACE, "State");
  g_assert_cmpstr (state, ==, "idle");
}

static JsonObject *
last_permission_result (Fixture *fx)
{
  g_autoptr(JsonObject) params = record_last (fx, "session.permissions.handlePendingPermissionRequest");

  return json_object_ref (json_object_get_object_member (params, "result"));
}

static void
test_permission_no_agent (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "PERMISSION: rm -rf /", NULL);
  g_autoptr(JsonObject) result = last_permission_result (fx);

  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "user-not-available");
  g_assert_cmpstr (content, ==, "Permission: denied-no-approval-rule-and-could-not-request-from-user");
}

/* A prompt a hook already decided is not the user's to answer: no agent
 * is asked and no answer goes to the CLI. */
static void
test_permission_resolved_by_hook (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(GPtrArray) answers = NULL;

  agent->decision = 0;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION-HOOK: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (agent->n_permission, ==, 0);
  answers = record_params (fx, "session.permissions.handlePendingPermissionRequest");
  g_assert_cmpuint (answers->len, ==, 0);
}

static void
test_permission_approve_once (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(JsonObject) request_json = NULL;
  const char *s;

  agent->decision = 1;
  agent->delay_ms = 100;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "approve-once");

  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_assert_true (g_variant_lookup (agent->last_request, "kind", "&s", &s));
  g_assert_cmpstr (s, ==, "shell");
  g_assert_true (g_variant_lookup (agent->last_request, "command", "&s", &s));
  g_assert_cmpstr (s, ==, "ls");
  request_json = parse_json_object (agent->last_request_json);
  g_assert_cmpstr (json_object_get_string_member (request_json, "fullCommandText"), ==, "ls");
}

static void
test_permission_reject (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;

  agent->decision = 0;
  agent->feedback = g_strdup ("use git status instead");
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: denied-interactively-by-user");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "reject");
  g_assert_cmpstr (json_object_get_string_member (result, "feedback"), ==, "use git status instead");
}

static void
test_permission_approve_session (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  JsonObject *approval;
  JsonArray *identifiers;

  agent->decision = 2;
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpstr (content, ==, "Permission: approved-for-session");
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "approve-for-session");
  approval = json_object_get_object_member (result, "approval");
  g_assert_nonnull (approval);
  g_assert_cmpstr (json_object_get_string_member (approval, "kind"), ==, "commands");
  identifiers = json_object_get_array_member (approval, "commandIdentifiers");
  g_assert_cmpuint (json_array_get_length (identifiers), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (identifiers, 0), ==, "ls");
}

static void
test_permission_abort_cancels (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *id = NULL;

  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  settle (fx, path);
  signal_log_clear (log);
  id = send_ok (fx->client, path, "PERMISSION: ls");
  WAIT_FOR (agent->n_permission > 0, 10);
  g_assert_cmpuint (agent->n_permission, ==, 1);

  reply = call_ok (fx->client, path, SESSION_IFACE, "Abort", g_variant_new ("(a{sv})", NULL), "()");
  WAIT_FOR (agent->cancels->len > 0, 5);
  g_assert_cmpuint (agent->cancels->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (agent->cancels, 0), ==, agent->last_request_id);
  signal_log_wait (log, 0, "Event", "session.idle", 10);

  /* A late answer is dropped: no approval reaches the CLI. */
  test_agent_answer_held (agent);
  spin (200);
  {
    g_autoptr(GPtrArray) answers = record_params (fx, "session.permissions.handlePendingPermissionRequest");

    for (guint i = 0; i < answers->len; i++)
      {
        JsonObject *result = json_object_get_object_member (g_ptr_array_index (answers, i), "result");

        g_assert_cmpstr (json_object_get_string_member (result, "kind"), !=, "approve-once");
      }
  }
}

static void
test_permission_timeout (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) result = NULL;
  gint64 start;

  fx->config->permission_timeout = 1;
  agent->mode = TEST_AGENT_HOLD;
  test_agent_register (agent);
  start = g_get_monotonic_time ();
  content = send_and_wait_ok (fx->client, path, "PERMISSION: ls", NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpstr (content, ==, "Permission: denied-no-approval-rule-and-could-not-request-from-user");
  g_assert_cmpuint (agent->n_permission, ==, 1);
  g_assert_cmpuint (agent->cancels->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (agent->cancels, 0), ==, agent->last_request_id);
  result = last_permission_result (fx);
  g_assert_cmpstr (json_object_get_string_member (result, "kind"), ==, "user-not-available");
}

static void
test_ask_answered (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(TestAgent) agent = test_agent_new (fx->client, AGENT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = NULL;
  g_autoptr(GVariant) choices = NULL;
  const char *question;

  agent->response = 0;
  agent->answer = g_strdup ("blue");
  test_agent_register (agent);
  content = send_and_wait_ok (fx->client, path, "ASK: Which colour? | red | blue", NULL);
  g_assert_cmpstr (content, ==, "Answer: blue");
  g_assert_cmpuint (agent->n_input, ==, 1);
  g_assert_true (g_variant_lookup (agent->last_request, "question", "&s", &question));
  g_assert_cmpstr (question, ==, "Which colour?");
  choices = g_variant_lookup_value (agent->last_request, "choices", G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (choices);
  g_assert_cmpuint (g_variant_n_children (choices), ==, 2);
}

static void
test_ask_no_agent (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "ASK: Anyone there?", NULL);

  /* Answered with an error: the turn goes on and says so. */
  g_assert_true (g_str_has_prefix (content, "Answer: "));
  g_assert_cmpstr (content, !=, "Answer: ");
}

static void
test_tool (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(TestTool) tool = test_tool_new (fx->client, TOOL_PATH, "42 apples");
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(JsonObject) args = NULL;
  JsonArray *tools;
  JsonObject *def;

  path = create_session (fx->client,
                         g_variant_new_parsed ("{'tools': <[{'name': <'count_apples'>, "
                                               "'description': <'Counts apples'>, "
                                               "'parameters': <'{\"type\":\"object\",\"properties\":{\"tree\":{\"type\":\"string\"}}}'>, "
                                               "'provider': <objectpath '" TOOL_PATH "'>}]>}"));
  params = record_last (fx, "session.create");
  tools = json_object_get_array_member (params, "tools");
  g_assert_cmpuint (json_array_get_length (tools), ==, 1);
  def = json_array_get_object_element (tools, 0);
  g_assert_cmpstr (json_object_get_string_member (def, "name"), ==, "count_apples");
  g_assert_cmpstr (json_object_get_string_member (def, "description"), ==, "Counts apples");

  content = send_and_wait_ok (fx->client, path, "TOOL: count_apples {\"tree\":\"oak\"}", NULL);
  g_assert_cmpuint (tool->n_invoke, ==, 1);
  g_assert_cmpstr (tool->last_tool, ==, "count_apples");
  g_assert_cmpstr (tool->last_session, ==, path);
  args = parse_json_object (tool->last_args);
  g_assert_cmpstr (json_object_get_string_member (args, "tree"), ==, "oak");
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "42 apples"));
}

static void
test_tool_timeout (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(TestTool) tool = test_tool_new (fx->client, TOOL_PATH, "never");
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *result;
  gint64 start;

  fx->config->tool_timeout = 1;
  tool->hold = TRUE;
  path = create_session (fx->client,
                         g_variant_new_parsed ("{'tools': <[{'name': <'slow_tool'>, "
                                               "'description': <'Never answers'>, "
                                               "'provider': <objectpath '" TOOL_PATH "'>}]>}"));
  start = g_get_monotonic_time ();
  content = send_and_wait_ok (fx->client, path, "TOOL: slow_tool {}", NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpuint (tool->n_invoke, ==, 1);
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  answer = record_last (fx, "session.tools.handlePendingToolCall");
  result = json_object_get_object_member (answer, "result");
  g_assert_cmpstr (json_object_get_string_member (result, "resultType"), ==, "timeout");
  /* The provider hears that the call was given up. */
  {
    WAIT_FOR (tool->cancels->len > 0, 3);
  }
  g_assert_cmpuint (tool->cancels->len, ==, 1);
}

static void
test_hook (Fixture       *fx,
           gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "HOOK:", NULL);
  g_autoptr(GPtrArray) frames = record_frames (fx);
  guint n_unsupported = 0;

  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=error -32601 systemMessage.transform=error -32601");
  for (guint i = 0; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonNode *error = json_object_get_member (frame, "error");

      if (!json_object_has_member (frame, "method") && error != NULL && JSON_NODE_HOLDS_OBJECT (error) &&
          json_object_get_int_member (json_node_get_object (error), "code") == -32601)
        n_unsupported++;
    }
  g_assert_cmpuint (n_unsupported, ==, 2);
}

void
session_add_prompts_tests (void)
{
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/session/state", test_state);
  ADD ("/session/permission/no-agent", test_permission_no_agent);
  ADD ("/session/permission/approve-once", test_permission_approve_once);
  ADD ("/session/permission/resolved-by-hook", test_permission_resolved_by_hook);
  ADD ("/session/permission/reject", test_permission_reject);
  ADD ("/session/permission/approve-for-session", test_permission_approve_session);
  ADD ("/session/permission/abort-cancels", test_permission_abort_cancels);
  ADD ("/session/permission/timeout", test_permission_timeout);
  ADD ("/session/ask/answered", test_ask_answered);
  ADD ("/session/ask/no-agent", test_ask_no_agent);
  ADD ("/session/tool", test_tool);
  ADD ("/session/tool-timeout", test_tool_timeout);
  ADD ("/session/hook", test_hook);
#undef ADD
}
