/* SPDX-License-Identifier: MIT */
/* test-agent-registry.c: the AgentManager and prompt routing on a private bus */
#include <locale.h>
#include <unistd.h>

#include "agent-registry.h"
#include "copilotd-dbus.h"
#include "copilotd-error.h"
#include "test-agent.h"
#include "test-util.h"

typedef struct _Fixture Fixture;

#define SESSION_PATH ROOT_PATH "/session/abc"
#define AGENT_PATH "/org/example/Agent"

struct _Fixture {
  GTestDBus *bus;
  GDBusConnection *daemon;
  CopilotdConfig *config;
  CopilotdCallers *callers;
  CopilotdAgentRegistry *registry;
  GPtrArray *agents;        /* TestAgent */
  GPtrArray *log;           /* labels in the order agents were asked */
};

typedef struct {
  gboolean done;
  gboolean ok;
  guint answer;
  GVariant *results;
  GError *error;
} AskResult;

/* An agent on a connection of its own, at AGENT_PATH, freed at teardown. */
static TestAgent *
agent_new (Fixture       *fixture,
           const char    *label,
           TestAgentMode  mode)
{
  g_autoptr(GDBusConnection) connection = test_connect (g_test_dbus_get_bus_address (fixture->bus));
  TestAgent *agent = test_agent_new (connection, AGENT_PATH);

  agent->label = g_strdup (label);
  agent->log = fixture->log;
  agent->mode = mode;
  g_ptr_array_add (fixture->agents, agent);
  return agent;
}

static const char *
agent_name (TestAgent *agent)
{
  return g_dbus_connection_get_unique_name (agent->conn);
}

/* Calls the AgentManager from @agent's connection. */
static gboolean
manager_call (Fixture    *fixture,
              TestAgent  *agent,
              const char *method,
              GVariant   *parameters,
              GError    **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = test_call (agent->conn,
                     g_dbus_connection_get_unique_name (fixture->daemon),
                     ROOT_PATH, AGENT_MANAGER_IFACE, method, parameters, NULL, error);
  return reply != NULL;
}

static void
register_agent (Fixture    *fixture,
                TestAgent  *agent,
                const char *options_text)
{
  g_autoptr(GError) error = NULL;
  /* g_variant_parse() returns a non-floating reference: "@a{sv}" in
   * g_variant_new() takes another one. */
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                                 options_text != NULL ? options_text : "@a{sv} {}",
                                                 NULL, NULL, &error);

  g_assert_no_error (error);
  manager_call (fixture, agent, "RegisterAgent",
                g_variant_new ("(o@a{sv})", "/org/example/Agent", options), &error);
  g_assert_no_error (error);
}

static void
assert_remote_error (GError     *error,
                     const char *name)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fixture->bus);
  fixture->daemon = test_connect (g_test_dbus_get_bus_address (fixture->bus));
  fixture->config = copilotd_config_new ();
  fixture->callers = copilotd_callers_new (fixture->daemon);
  fixture->registry = copilotd_agent_registry_new (fixture->daemon, fixture->callers,
                                                   fixture->config);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (fixture->registry),
                                    fixture->daemon, ROOT_PATH, &error);
  g_assert_no_error (error);
  fixture->agents = g_ptr_array_new_with_free_func ((GDestroyNotify) test_agent_free);
  fixture->log = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (fixture->registry));
  g_clear_object (&fixture->registry);
  g_clear_object (&fixture->callers);
  /* Release calls and their replies have arrived after a round trip. */
  for (guint i = 0; i < fixture->agents->len; i++)
    {
      TestAgent *agent = g_ptr_array_index (fixture->agents, i);

      if (!g_dbus_connection_is_closed (agent->conn))
        test_sync (fixture->daemon, g_dbus_connection_get_unique_name (agent->conn));
    }
  g_clear_pointer (&fixture->agents, g_ptr_array_unref);
  g_clear_pointer (&fixture->log, g_ptr_array_unref);
  g_dbus_connection_close_sync (fixture->daemon, NULL, NULL);
  g_clear_object (&fixture->daemon);
  g_clear_pointer (&fixture->config, copilotd_config_free);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
}

static void
on_ask_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AskResult *ask = user_data;

  ask->ok = copilotd_agent_registry_ask_finish (COPILOTD_AGENT_REGISTRY (source), result,
                                                &ask->answer, &ask->results, &ask->error);
  ask->done = TRUE;
}

/* Stores the whole reply in ->results. */
static void
on_ask_done_reply (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  AskResult *ask = user_data;

  ask->results = copilotd_agent_registry_ask_finish_reply (COPILOTD_AGENT_REGISTRY (source), result,
                                                           &ask->error);
  ask->ok = ask->results != NULL;
  ask->done = TRUE;
}

static void
ask_result_clear (AskResult *ask)
{
  g_clear_pointer (&ask->results, g_variant_unref);
  g_clear_error (&ask->error);
}

static void
ask (Fixture            *fixture,
     CopilotdPromptKind  kind,
     const char         *owner,
     const char         *turn_sender,
     uid_t               uid,
     const char         *request_id,
     GCancellable       *cancellable,
     AskResult          *result)
{
  CopilotdPromptTarget target = { SESSION_PATH, owner, turn_sender, uid };
  g_auto(GVariantDict) request = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&request, "kind", "s", "shell");
  g_variant_dict_insert (&request, "command", "s", "ls");
  copilotd_agent_registry_ask_async (fixture->registry, kind, &target, request_id,
                                     g_variant_dict_end (&request),
                                     kind == COPILOTD_PROMPT_PERMISSION ? "{\"kind\":\"shell\"}" : NULL,
                                     cancellable, on_ask_done, result);
}

typedef struct {
  GPtrArray *array;
  guint n;
} Count;

static gboolean
has_count (gpointer data)
{
  Count *count = data;

  return count->array->len >= count->n;
}

static void
wait_len (GPtrArray *array,
          guint      n)
{
  Count count = { array, n };

  wait_until (has_count, &count, 10, "has_count");
}

static void
wait_requests (TestAgent *agent,
               guint      n)
{
  wait_len (agent->requests, n);
}

static gboolean
has_one_agent (gpointer data)
{
  return copilotd_agent_registry_get_n_agents (data) == 1;
}

static gboolean
was_released (gpointer data)
{
  return ((TestAgent *) data)->n_release > 0;
}

static char *
joined_log (Fixture *fixture)
{
  g_ptr_array_add (fixture->log, NULL);
  char *joined = g_strjoinv (",", (char **) fixture->log->pdata);
  g_ptr_array_remove_index (fixture->log, fixture->log->len - 1);
  return joined;
}

static void
test_routing_order (Fixture       *fixture,
                    gconstpointer  user_data)
{
  TestAgent *d = agent_new (fixture, "D", TEST_AGENT_ERROR);
  TestAgent *f = agent_new (fixture, "F", TEST_AGENT_ERROR);
  TestAgent *c = agent_new (fixture, "C", TEST_AGENT_ERROR);
  TestAgent *e = agent_new (fixture, "E", TEST_AGENT_ERROR);
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ERROR);
  TestAgent *b = agent_new (fixture, "B", TEST_AGENT_ERROR);
  g_autoptr(GError) error = NULL;
  g_autofree char *order = NULL;
  AskResult result = { 0, };

  register_agent (fixture, d, NULL);
  register_agent (fixture, f, "{'fallback': <true>}");
  register_agent (fixture, c, NULL);
  register_agent (fixture, e, NULL);
  register_agent (fixture, a, NULL);
  register_agent (fixture, b, NULL);
  g_assert_cmpuint (copilotd_agent_registry_get_n_agents (fixture->registry), ==, 6);

  /* The default stack is C over D: asking for C again moves it to the top. */
  manager_call (fixture, c, "RequestDefaultAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  g_assert_no_error (error);
  manager_call (fixture, d, "RequestDefaultAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  g_assert_no_error (error);
  manager_call (fixture, c, "RequestDefaultAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  g_assert_no_error (error);

  /* Every agent fails, so each is asked once, in routing order. */
  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), agent_name (b), getuid (),
       "req-1", NULL, &result);
  wait_flag (&result.done, 10, "the answer");
  g_assert_false (result.ok);
  g_assert_error (result.error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND);

  order = joined_log (fixture);
  g_assert_cmpstr (order, ==, "A,B,C,D,E,F");
  g_assert_cmpstr (a->last_session, ==, SESSION_PATH);
  ask_result_clear (&result);
}

static void
test_error_moves_on (Fixture       *fixture,
                     gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ERROR);
  TestAgent *b = agent_new (fixture, "B", TEST_AGENT_ANSWER);
  AskResult result = { 0, };
  const char *answered_by;
  const char *command;

  register_agent (fixture, b, NULL);
  register_agent (fixture, a, NULL);
  b->decision = 2;

  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), NULL, getuid (),
       "req-1", NULL, &result);
  wait_flag (&result.done, 10, "the answer");
  g_assert_no_error (result.error);
  g_assert_true (result.ok);
  g_assert_cmpuint (result.answer, ==, 2);
  g_assert_true (g_variant_lookup (result.results, "answered-by", "&s", &answered_by));
  g_assert_cmpstr (answered_by, ==, "B");
  g_assert_cmpuint (a->requests->len, ==, 1);
  g_assert_true (g_variant_lookup (b->last_request, "command", "&s", &command));
  g_assert_cmpstr (command, ==, "ls");
  ask_result_clear (&result);
}

static void
test_vanish_mid_prompt (Fixture       *fixture,
                        gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_HOLD);
  TestAgent *b = agent_new (fixture, "B", TEST_AGENT_ANSWER);
  g_autoptr(GError) error = NULL;
  AskResult result = { 0, };

  register_agent (fixture, b, NULL);
  register_agent (fixture, a, NULL);

  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), NULL, getuid (),
       "req-1", NULL, &result);
  wait_requests (a, 1);
  g_assert_false (result.done);

  g_dbus_connection_close_sync (a->conn, NULL, &error);
  g_assert_no_error (error);
  wait_flag (&result.done, 10, "the answer");
  g_assert_true (result.ok);
  g_assert_cmpuint (result.answer, ==, 1);
  g_assert_cmpuint (b->requests->len, ==, 1);

  /* The departed agent was dropped. */
  wait_until (has_one_agent, fixture->registry, 10, "has_one_agent");
  g_assert_cmpuint (a->n_release, ==, 0);
  ask_result_clear (&result);
}

static void
test_timeout (Fixture       *fixture,
              gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_HOLD);
  AskResult result = { 0, };

  fixture->config->permission_timeout = 1;
  register_agent (fixture, a, NULL);

  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), NULL, getuid (),
       "req-t", NULL, &result);
  wait_requests (a, 1);
  wait_flag (&result.done, 10, "the answer");
  g_assert_false (result.ok);
  g_assert_error (result.error, COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT);

  wait_len (a->cancels, 1);
  g_assert_cmpstr (g_ptr_array_index (a->cancels, 0), ==, "req-t");

  /* A late answer is ignored, and does not crash anything. */
  test_agent_return_held (a, g_variant_new ("(u@a{sv})", 1, g_variant_new ("a{sv}", NULL)));
  test_sync (a->conn, g_dbus_connection_get_unique_name (fixture->daemon));
  ask_result_clear (&result);
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_HOLD);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AskResult result = { 0, };

  register_agent (fixture, a, NULL);

  ask (fixture, COPILOTD_PROMPT_USER_INPUT, agent_name (a), NULL, getuid (),
       "req-c", cancellable, &result);
  wait_requests (a, 1);
  g_cancellable_cancel (cancellable);
  wait_flag (&result.done, 10, "the answer");
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  wait_len (a->cancels, 1);
  g_assert_cmpstr (g_ptr_array_index (a->cancels, 0), ==, "req-c");

  test_agent_return_held (a, g_variant_new ("(u@a{sv})", 0, g_variant_new ("a{sv}", NULL)));
  test_sync (a->conn, g_dbus_connection_get_unique_name (fixture->daemon));
  ask_result_clear (&result);
}

static void
test_in_flight_limit (Fixture       *fixture,
                      gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_HOLD);
  AskResult results[5] = { { 0, }, };

  register_agent (fixture, a, NULL);
  g_assert_cmpuint (fixture->config->agent_max_in_flight, ==, 4);

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("req-%u", i);
      ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), NULL, getuid (), id, NULL, &results[i]);
    }

  wait_requests (a, 4);
  /* Whatever the registry sent before this round trip has arrived. */
  test_sync (fixture->daemon, g_dbus_connection_get_unique_name (a->conn));
  g_assert_cmpuint (a->requests->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (a->requests, 3), ==, "req-3");

  /* One answer frees a slot for the fifth. */
  test_agent_return_held (a, g_variant_new ("(u@a{sv})", 1, g_variant_new ("a{sv}", NULL)));
  wait_requests (a, 5);
  g_assert_cmpstr (g_ptr_array_index (a->requests, 4), ==, "req-4");
  wait_flag (&results[0].done, 10, "the answer");
  g_assert_true (results[0].ok);

  a->mode = TEST_AGENT_ANSWER;
  while (a->held->len > 0)
    test_agent_return_held (a, g_variant_new ("(u@a{sv})", 3, g_variant_new ("a{sv}", NULL)));
  for (guint i = 0; i < 5; i++)
    {
      wait_flag (&results[i].done, 10, "the answer");
      g_assert_true (results[i].ok);
      g_assert_cmpuint (results[i].answer, ==, i == 0 ? 1 : 3);
      ask_result_clear (&results[i]);
    }
}

static void
test_capabilities (Fixture       *fixture,
                   gconstpointer  user_data)
{
  TestAgent *p = agent_new (fixture, "P", TEST_AGENT_ERROR);
  TestAgent *u = agent_new (fixture, "U", TEST_AGENT_ERROR);
  g_autofree char *log1 = NULL;
  g_autofree char *log2 = NULL;
  AskResult result = { 0, };

  register_agent (fixture, p, "{'capabilities': <['permission']>}");
  register_agent (fixture, u, "{'capabilities': <['user-input']>}");

  ask (fixture, COPILOTD_PROMPT_USER_INPUT, agent_name (p), NULL, getuid (), "q", NULL, &result);
  wait_flag (&result.done, 10, "the answer");
  log1 = joined_log (fixture);
  g_assert_cmpstr (log1, ==, "U");
  ask_result_clear (&result);

  g_ptr_array_set_size (fixture->log, 0);
  result = (AskResult) { 0, };
  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (u), NULL, getuid (), "p", NULL, &result);
  wait_flag (&result.done, 10, "the answer");
  log2 = joined_log (fixture);
  g_assert_cmpstr (log2, ==, "P");
  ask_result_clear (&result);
}

/* The kinds of DESIGN.md §9 reach only agents with their capability, with
 * their own method and reply type, and say who is asking. */
static void
test_new_kinds (Fixture       *fixture,
                gconstpointer  user_data)
{
  static const struct {
    CopilotdPromptKind kind;
    const char *method;
    const char *reply;
  } cases[] = {
    { COPILOTD_PROMPT_ELICITATION, "RequestElicitation", "('accept', '{\"color\":\"green\"}', {'answered-by': <'E'>})" },
    { COPILOTD_PROMPT_PLAN_APPROVAL, "RequestPlanApproval", "(true, {'answered-by': <'E'>})" },
    { COPILOTD_PROMPT_MODE_SWITCH, "RequestModeSwitch", "('yes', {'answered-by': <'E'>})" },
  };
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ANSWER);
  TestAgent *e = agent_new (fixture, "E", TEST_AGENT_ANSWER);

  register_agent (fixture, a, NULL);
  register_agent (fixture, e, "{'capabilities': <['elicitation', 'plan-approval', 'mode-switch']>}");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CopilotdPromptTarget target = { SESSION_PATH, agent_name (a), agent_name (a), getuid (),
                                      "org.example.App", 4242, "/tmp/work" };
      g_auto(GVariantDict) request = G_VARIANT_DICT_INIT (NULL);
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *text = NULL;
      AskResult result = { 0, };
      const char *s;
      guint32 pid;

      g_variant_dict_insert (&request, "message", "s", "Pick a color");
      copilotd_agent_registry_ask_async (fixture->registry, cases[i].kind, &target, "r",
                                         g_variant_dict_end (&request), "{\"type\":\"object\"}",
                                         NULL, on_ask_done_reply, &result);
      wait_flag (&result.done, 10, "the answer");
      g_assert_no_error (result.error);
      text = g_variant_print (result.results, FALSE);
      g_assert_cmpstr (text, ==, cases[i].reply);
      g_assert_cmpstr (e->last_method, ==, cases[i].method);
      g_assert_true (g_variant_lookup (e->last_request, "client-name", "&s", &s));
      g_assert_cmpstr (s, ==, "org.example.App");
      g_assert_true (g_variant_lookup (e->last_request, "client-pid", "u", &pid));
      g_assert_cmpuint (pid, ==, 4242);
      g_assert_true (g_variant_lookup (e->last_request, "working-directory", "&s", &s));
      g_assert_cmpstr (s, ==, "/tmp/work");
      if (cases[i].kind == COPILOTD_PROMPT_ELICITATION)
        g_assert_cmpstr (e->last_request_json, ==, "{\"type\":\"object\"}");
      else
        g_assert_null (e->last_request_json);
      ask_result_clear (&result);
    }

  /* The owner's agent lacks these capabilities: it was never asked. */
  g_assert_cmpuint (a->requests->len, ==, 0);
  g_assert_cmpuint (e->requests->len, ==, 3);
}

static void
test_other_uid (Fixture       *fixture,
                gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ANSWER);
  AskResult result = { 0, };

  register_agent (fixture, a, NULL);
  manager_call (fixture, a, "RequestDefaultAgent", g_variant_new ("(o)", "/org/example/Agent"), NULL);

  /* Even as the named owner, an agent of another user is never asked. */
  ask (fixture, COPILOTD_PROMPT_PERMISSION, agent_name (a), agent_name (a), getuid () + 1,
       "req-1", NULL, &result);
  wait_flag (&result.done, 10, "the answer");
  g_assert_error (result.error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND);
  g_assert_cmpuint (a->requests->len, ==, 0);
  ask_result_clear (&result);
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ANSWER);
  TestAgent *b = agent_new (fixture, "B", TEST_AGENT_ANSWER);
  TestAgent *c = agent_new (fixture, "C", TEST_AGENT_ANSWER);
  GError *error = NULL;

  fixture->config->max_agents_per_uid = 2;

  manager_call (fixture, a, "RegisterAgent",
                g_variant_new_parsed ("(objectpath '/org/example/Agent', {'capabilities': <['permission', 'telepathy']>})"),
                &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.InvalidArgs");
  g_assert_nonnull (strstr (error->message, "telepathy"));
  g_clear_error (&error);

  manager_call (fixture, a, "RegisterAgent",
                g_variant_new_parsed ("(objectpath '/org/example/Agent', {'capabilities': <'permission'>})"),
                &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.InvalidArgs");
  g_assert_nonnull (strstr (error->message, "capabilities"));
  g_clear_error (&error);

  manager_call (fixture, a, "RegisterAgent",
                g_variant_new_parsed ("(objectpath '/org/example/Agent', {'fallback': <'yes'>})"),
                &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.InvalidArgs");
  g_assert_nonnull (strstr (error->message, "fallback"));
  g_clear_error (&error);

  register_agent (fixture, a, NULL);
  manager_call (fixture, a, "RegisterAgent",
                g_variant_new_parsed ("(objectpath '/org/example/Other', @a{sv} {})"), &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.AlreadyExists");
  g_clear_error (&error);

  register_agent (fixture, b, NULL);
  manager_call (fixture, c, "RegisterAgent",
                g_variant_new_parsed ("(objectpath '/org/example/Agent', @a{sv} {})"), &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.LimitsExceeded");
  g_clear_error (&error);

  /* Not registered by this connection, or another path. */
  manager_call (fixture, c, "UnregisterAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.NotFound");
  g_clear_error (&error);
  manager_call (fixture, a, "UnregisterAgent", g_variant_new ("(o)", "/org/example/Other"), &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.NotFound");
  g_clear_error (&error);
  manager_call (fixture, c, "RequestDefaultAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  assert_remote_error (error, "io.github.copilotd.Copilot1.Error.NotFound");
  g_clear_error (&error);

  /* Unregistering frees the slot. */
  manager_call (fixture, a, "UnregisterAgent", g_variant_new ("(o)", "/org/example/Agent"), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (copilotd_agent_registry_get_n_agents (fixture->registry), ==, 1);
  register_agent (fixture, c, NULL);
  g_assert_cmpuint (copilotd_agent_registry_get_n_agents (fixture->registry), ==, 2);
  g_assert_cmpuint (a->n_release, ==, 0);
}

static void
test_release_on_dispose (Fixture       *fixture,
                         gconstpointer  user_data)
{
  TestAgent *a = agent_new (fixture, "A", TEST_AGENT_ANSWER);

  register_agent (fixture, a, NULL);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (fixture->registry));
  g_clear_object (&fixture->registry);

  wait_until (was_released, a, 10, "was_released");
  g_assert_cmpuint (a->n_release, ==, 1);

  /* Tear-down expects a registry. */
  fixture->registry = copilotd_agent_registry_new (fixture->daemon, fixture->callers,
                                                   fixture->config);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (fixture->registry),
                                    fixture->daemon, ROOT_PATH, NULL);
}

static void
on_vanished (CopilotdCallers *callers,
             const char      *name,
             gpointer         user_data)
{
  GPtrArray *names = user_data;

  g_ptr_array_add (names, g_strdup (name));
}

static void
test_callers (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDBusConnection) peer = test_connect (g_test_dbus_get_bus_address (fixture->bus));
  g_autofree char *peer_name = g_strdup (g_dbus_connection_get_unique_name (peer));
  g_autoptr(GError) error = NULL;
  uid_t uid = 0;

  g_signal_connect (fixture->callers, "vanished", G_CALLBACK (on_vanished), names);

  g_assert_true (copilotd_callers_get_uid (fixture->callers, peer_name, &uid, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (uid, ==, getuid ());

  g_assert_false (copilotd_callers_get_uid (fixture->callers, "org.example.WellKnown", &uid, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* Watching twice still reports once. */
  copilotd_callers_watch (fixture->callers, peer_name);
  copilotd_callers_watch (fixture->callers, peer_name);
  g_dbus_connection_close_sync (peer, NULL, NULL);
  wait_len (names, 1);
  /* The bus's later signals have arrived by the end of a round trip. */
  test_sync (fixture->daemon, "org.freedesktop.DBus");
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, peer_name);

  /* A name that is already gone is reported from an idle. */
  copilotd_callers_watch (fixture->callers, ":1.9999");
  g_assert_cmpuint (names->len, ==, 1);
  wait_len (names, 2);
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, ":1.9999");

  g_signal_handlers_disconnect_by_data (fixture->callers, names);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/agent-registry/routing-order", test_routing_order);
  ADD ("/agent-registry/error-moves-on", test_error_moves_on);
  ADD ("/agent-registry/vanish-mid-prompt", test_vanish_mid_prompt);
  ADD ("/agent-registry/timeout", test_timeout);
  ADD ("/agent-registry/cancel", test_cancel);
  ADD ("/agent-registry/in-flight-limit", test_in_flight_limit);
  ADD ("/agent-registry/capabilities", test_capabilities);
  ADD ("/agent-registry/new-kinds", test_new_kinds);
  ADD ("/agent-registry/other-uid", test_other_uid);
  ADD ("/agent-registry/errors", test_errors);
  ADD ("/agent-registry/release-on-dispose", test_release_on_dispose);
  ADD ("/callers/uid-and-vanished", test_callers);

  return g_test_run ();
}
