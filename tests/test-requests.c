/* SPDX-License-Identifier: MIT */
/* test-requests.c: the CLI's requests of DESIGN.md §9 reach clients
 *
 * An in-process daemon with the fake CLI, whose `RAW: <file>` directive
 * sends the exact frames CLI 1.0.102 sends (events and requests, in either
 * order); what the daemon answers is read back from the fake's record.
 * The agents, hook and command providers here are plain objects on client
 * connections, answering as a test case tells them.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "copilotd-dbus.h"
#include "daemon-fixture.h"

#define CLIENT_PATH "/org/example/Client"

/* One client object serving Agent, HookProvider and CommandProvider. */
typedef struct {
  GDBusConnection *conn;           /* owned */
  guint reg_ids[3];
  /* How it answers */
  const char *action;              /* RequestElicitation */
  const char *content_json;
  gboolean approved;               /* RequestPlanApproval */
  const char *plan_action;
  const char *switch_answer;       /* RequestModeSwitch */
  const char *hook_output;         /* HookProvider; NULL: never answers */
  gboolean hook_error;
  gboolean command_error;
  gboolean hold_prompts;           /* Agent requests: held, never answered */
  /* What it saw */
  GPtrArray *methods;              /* owned: member names, in order */
  GVariant *last_request;          /* owned, nullable */
  char *last_json;                 /* owned, nullable: schema or hook input */
  char *last_args;                 /* owned, nullable: command args */
  char *last_name;                 /* owned, nullable: command or hook type */
  char *last_hook_call_id;         /* owned, nullable: of the last HookProvider.Invoke */
  char *cancelled_hook_call_id;    /* owned, nullable: of the last HookProvider.Cancel */
  GPtrArray *held;                 /* owned: GDBusMethodInvocation* */
} Client;

static void
client_method_call (GDBusConnection       *connection,
                    const char            *sender,
                    const char            *object_path,
                    const char            *interface_name,
                    const char            *method_name,
                    GVariant              *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer               user_data)
{
  Client *client = user_data;
  g_autofree char *qualified = g_strdup_printf ("%s.%s", strrchr (interface_name, '.') + 1, method_name);

  g_ptr_array_add (client->methods, g_strdup (qualified));

  if (g_str_equal (interface_name, AGENT_IFACE))
    {
      if (g_str_equal (method_name, "Cancel") || g_str_equal (method_name, "Release"))
        {
          g_dbus_method_invocation_return_value (invocation, NULL);
          return;
        }
      g_clear_pointer (&client->last_request, g_variant_unref);
      client->last_request = g_variant_get_child_value (parameters, 2);
      g_clear_pointer (&client->last_json, g_free);
      if (g_variant_n_children (parameters) > 3)
        g_variant_get_child (parameters, 3, "s", &client->last_json);

      if (client->hold_prompts)
        g_ptr_array_add (client->held, invocation);
      else if (g_str_equal (method_name, "RequestElicitation"))
        g_dbus_method_invocation_return_value (invocation,
                                               g_variant_new ("(ssa{sv})", client->action,
                                                              client->content_json, NULL));
      else if (g_str_equal (method_name, "RequestPlanApproval"))
        {
          g_auto(GVariantDict) results = G_VARIANT_DICT_INIT (NULL);

          if (client->plan_action != NULL)
            g_variant_dict_insert (&results, "action", "s", client->plan_action);
          g_dbus_method_invocation_return_value (invocation,
                                                 g_variant_new ("(b@a{sv})", client->approved,
                                                                g_variant_dict_end (&results)));
        }
      else if (g_str_equal (method_name, "RequestModeSwitch"))
        g_dbus_method_invocation_return_value (invocation,
                                               g_variant_new ("(sa{sv})", client->switch_answer, NULL));
      else
        g_dbus_method_invocation_return_dbus_error (invocation, "org.example.Error.NotHere", "no");
    }
  else if (g_str_equal (interface_name, BUS_NAME ".HookProvider") && g_str_equal (method_name, "Cancel"))
    {
      g_free (client->cancelled_hook_call_id);
      g_variant_get (parameters, "(s)", &client->cancelled_hook_call_id);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (interface_name, BUS_NAME ".HookProvider"))
    {
      g_autoptr(GVariant) context = NULL;

      g_free (client->last_name);
      g_free (client->last_json);
      g_clear_pointer (&client->last_hook_call_id, g_free);
      g_variant_get (parameters, "(&oss@a{sv})", NULL, &client->last_name, &client->last_json, &context);
      g_variant_lookup (context, "hook-call-id", "s", &client->last_hook_call_id);
      if (client->hook_error)
        g_dbus_method_invocation_return_dbus_error (invocation, "org.example.Error.Broken", "broken");
      else if (client->hook_output == NULL)
        g_ptr_array_add (client->held, invocation);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", client->hook_output));
    }
  else
    {
      g_auto(GVariantDict) results = G_VARIANT_DICT_INIT (NULL);

      g_free (client->last_name);
      g_free (client->last_args);
      g_variant_get (parameters, "(&o&sss@a{sv})", NULL, NULL, &client->last_name, &client->last_args, NULL);
      if (client->command_error)
        g_variant_dict_insert (&results, "error", "s", "deploy failed");
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(@a{sv})", g_variant_dict_end (&results)));
    }
}

static const GDBusInterfaceVTable client_vtable = { client_method_call, NULL, NULL, { 0 } };

static Client *
client_new (GDBusConnection *conn)
{
  GDBusInterfaceInfo *infos[] = {
    copilotd_dbus_agent_interface_info (),
    copilotd_dbus_hook_provider_interface_info (),
    copilotd_dbus_command_provider_interface_info (),
  };
  Client *client = g_new0 (Client, 1);

  client->conn = g_object_ref (conn);
  client->action = "accept";
  client->content_json = "{\"color\":\"green\"}";
  client->switch_answer = "no";
  client->hook_output = "";
  client->methods = g_ptr_array_new_with_free_func (g_free);
  client->held = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < G_N_ELEMENTS (infos); i++)
    {
      g_autoptr(GError) error = NULL;

      client->reg_ids[i] = g_dbus_connection_register_object (conn, CLIENT_PATH, infos[i],
                                                              &client_vtable, client, NULL, &error);
      g_assert_no_error (error);
    }
  return client;
}

static void
client_free (Client *client)
{
  if (!g_dbus_connection_is_closed (client->conn))
    for (guint i = 0; i < G_N_ELEMENTS (client->reg_ids); i++)
      g_dbus_connection_unregister_object (client->conn, client->reg_ids[i]);
  g_object_unref (client->conn);
  g_ptr_array_unref (client->methods);
  g_ptr_array_unref (client->held);
  g_clear_pointer (&client->last_request, g_variant_unref);
  g_free (client->last_json);
  g_free (client->last_args);
  g_free (client->last_name);
  g_free (client->last_hook_call_id);
  g_free (client->cancelled_hook_call_id);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
register_agent (Client     *client,
                const char *capabilities)
{
  g_autoptr(GVariant) caps = g_variant_parse (G_VARIANT_TYPE_STRING_ARRAY, capabilities, NULL, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&options, "capabilities", caps);
  reply = call_ok (client->conn, ROOT_PATH, AGENT_MANAGER_IFACE, "RegisterAgent",
                   g_variant_new ("(o@a{sv})", CLIENT_PATH, g_variant_dict_end (&options)), "()");
}

/* Sends @lines (frames, `@SESSION@` for the id) through the RAW directive
 * and waits for the turn to end. */
static void
send_raw (Fixture            *fx,
          GDBusConnection    *conn,
          const char         *path,
          const char * const *lines)
{
  g_autofree char *prompt = raw_prompt (fx, lines);
  g_autoptr(GVariant) reply = NULL;

  reply = call_ok (conn, path, SESSION_IFACE, "Send", g_variant_new ("(sa{sv})", prompt, NULL), "(s)");
}

static char *
event_frame (const char *type,
             const char *data_json)
{
  return g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{"
                          "\"sessionId\":\"@SESSION@\",\"event\":{\"type\":\"%s\",\"id\":\"%s-1\","
                          "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"parentId\":null,"
                          "\"ephemeral\":true,\"data\":%s}}}", type, type, data_json);
}

static char *
request_frame (guint       id,
               const char *method,
               const char *params_json)
{
  return g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\",\"params\":"
                          "{\"sessionId\":\"@SESSION@\",%s}}", id, method, params_json);
}

/* The result the daemon sent for the fake's request @id. */
static JsonObject *
wait_response (Fixture *fx,
               guint    id)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GPtrArray) frames = record_frames (fx);

      for (guint i = 0; i < frames->len; i++)
        {
          JsonObject *frame = g_ptr_array_index (frames, i);
          JsonNode *frame_id = json_object_get_member (frame, "id");

          if (!json_object_has_member (frame, "method") && frame_id != NULL &&
              JSON_NODE_TYPE (frame_id) == JSON_NODE_VALUE && json_node_get_int (frame_id) == id)
            {
              JsonNode *result = json_object_get_member (frame, "result");

              g_assert_nonnull (result);
              g_assert_true (JSON_NODE_HOLDS_OBJECT (result));
              return json_object_ref (json_node_get_object (result));
            }
        }
      spin (20);
    }
  g_error ("The daemon never answered request %u", id);
  return NULL;
}

static char *
to_json (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static const char *
request_string (Client     *client,
                const char *key)
{
  const char *value = NULL;

  g_assert_nonnull (client->last_request);
  if (!g_variant_lookup (client->last_request, key, "&s", &value))
    g_error ("The request has no %s", key);
  return value;
}

#define ELICITATION_DATA "{\"requestId\":\"el-1\",\"message\":\"Pick a color\"," \
  "\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}}}," \
  "\"mode\":\"form\",\"elicitationSource\":\"paint\"}"

/* A form reaches the agent with the elicitation capability only, naming
 * the app; its content goes back through handlePendingElicitation. */
static void
test_elicitation (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(Client) plain = client_new (fixture_connect (fx));
  g_autoptr(Client) forms = client_new (fixture_connect (fx));
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new_parsed ("{'client-name': <'org.example.Paint'>}"));
  g_autofree char *path = create_session (fx->client, options);
  g_autofree char *event = event_frame ("elicitation.requested", ELICITATION_DATA);
  const char *lines[] = { event, NULL };
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *result = NULL;
  guint32 pid = 0;

  register_agent (plain, "['permission', 'user-input']");
  register_agent (forms, "['elicitation']");
  send_raw (fx, fx->client, path, lines);
  record_wait (fx, "session.ui.handlePendingElicitation", 1, 10);

  answer = record_last (fx, "session.ui.handlePendingElicitation");
  g_assert_cmpstr (json_object_get_string_member (answer, "requestId"), ==, "el-1");
  result = to_json (json_object_get_object_member (answer, "result"));
  g_assert_cmpstr (result, ==, "{\"action\":\"accept\",\"content\":{\"color\":\"green\"}}");

  g_assert_cmpuint (plain->methods->len, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (forms->methods, 0), ==, "Agent.RequestElicitation");
  g_assert_cmpstr (forms->last_json, ==,
                   "{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}}}");
  g_assert_cmpstr (request_string (forms, "message"), ==, "Pick a color");
  g_assert_cmpstr (request_string (forms, "mode"), ==, "form");
  g_assert_cmpstr (request_string (forms, "source"), ==, "paint");
  g_assert_cmpstr (request_string (forms, "client-name"), ==, "org.example.Paint");
  g_assert_true (g_variant_lookup (forms->last_request, "client-pid", "u", &pid));
  g_assert_cmpuint (pid, ==, getpid ());
  g_assert_nonnull (request_string (forms, "working-directory"));
}

/* Another app that resumes the live session does not become the app that
 * asks: prompts still name the session's owner. */
static void
test_client_name_stays_owners (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(Client) forms = client_new (fixture_connect (fx));
  GDBusConnection *other = fixture_connect (fx);
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new_parsed ("{'client-name': <'org.example.Paint'>}"));
  g_autofree char *path = create_session (fx->client, options);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autofree char *event = event_frame ("elicitation.requested", ELICITATION_DATA);
  const char *lines[] = { event, NULL };
  g_autoptr(GVariant) reply = NULL;

  register_agent (forms, "['elicitation']");
  reply = call_ok (other, ROOT_PATH, MANAGER_IFACE, "ResumeSession",
                   g_variant_new_parsed ("(%s, {'client-name': <'org.example.Other'>})", id), "(o)");
  send_raw (fx, other, path, lines);
  record_wait (fx, "session.ui.handlePendingElicitation", 1, 10);
  g_assert_cmpstr (g_ptr_array_index (forms->methods, 0), ==, "Agent.RequestElicitation");
  g_assert_cmpstr (request_string (forms, "client-name"), ==, "org.example.Paint");
}

/* Nobody can fill in a form: it is cancelled, never left pending. */
static void
test_elicitation_nobody (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(Client) plain = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *event = event_frame ("elicitation.requested", ELICITATION_DATA);
  const char *lines[] = { event, NULL };
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *result = NULL;

  register_agent (plain, "['permission', 'user-input']");
  send_raw (fx, fx->client, path, lines);
  record_wait (fx, "session.ui.handlePendingElicitation", 1, 10);
  answer = record_last (fx, "session.ui.handlePendingElicitation");
  result = to_json (json_object_get_object_member (answer, "result"));
  g_assert_cmpstr (result, ==, "{\"action\":\"cancel\"}");
  g_assert_cmpuint (plain->methods->len, ==, 0);
}

#define PLAN_EVENT "{\"requestId\":\"plan-1\",\"summary\":\"Add a README\"," \
  "\"planContent\":\"1. Write README.md\",\"actions\":[\"autopilot\",\"interactive\",\"exit_only\"]," \
  "\"recommendedAction\":\"interactive\"}"
#define PLAN_REQUEST "\"summary\":\"Add a README\",\"planContent\":\"1. Write README.md\"," \
  "\"actions\":[\"autopilot\",\"interactive\",\"exit_only\"],\"recommendedAction\":\"interactive\""

/* The exit-plan-mode request has no request id; its event does. Either
 * order pairs them, and the answer is the reply to the request. */
static void
test_plan_approval (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(Client) agent = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *event = event_frame ("exit_plan_mode.requested", PLAN_EVENT);
  g_autofree char *request = request_frame (901, "exitPlanMode.request", PLAN_REQUEST);
  g_autofree char *event2 = NULL;
  g_autofree char *request2 = request_frame (902, "exitPlanMode.request", PLAN_REQUEST);
  const char *event_first[] = { event, request, NULL };
  const char *request_first[] = { request2, NULL, NULL };
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) answer2 = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text2 = NULL;
  g_autofree const char **actions = NULL;
  g_autoptr(GVariant) actions_value = NULL;

  agent->approved = TRUE;
  agent->plan_action = "interactive";
  register_agent (agent, "['plan-approval']");

  send_raw (fx, fx->client, path, event_first);
  answer = wait_response (fx, 901);
  text = to_json (answer);
  g_assert_cmpstr (text, ==, "{\"approved\":true,\"selectedAction\":\"interactive\"}");
  g_assert_cmpstr (request_string (agent, "summary"), ==, "Add a README");
  g_assert_cmpstr (request_string (agent, "plan"), ==, "1. Write README.md");
  g_assert_cmpstr (request_string (agent, "recommended-action"), ==, "interactive");
  actions_value = g_variant_lookup_value (agent->last_request, "actions", G_VARIANT_TYPE_STRING_ARRAY);
  actions = g_variant_get_strv (actions_value, NULL);
  g_assert_cmpuint (g_strv_length ((char **) actions), ==, 3);

  /* The request first, then its event; this time not approved. */
  agent->approved = FALSE;
  event2 = event_frame ("exit_plan_mode.requested", PLAN_EVENT);
  /* A new request id for the event: the first one is done. */
  {
    char *at = strstr (event2, "plan-1");
    at[5] = '2';
  }
  request_first[1] = event2;
  send_raw (fx, fx->client, path, request_first);
  answer2 = wait_response (fx, 902);
  text2 = to_json (answer2);
  g_assert_cmpstr (text2, ==, "{\"approved\":false,\"feedback\":\"The user did not approve the plan.\"}");
  g_assert_cmpuint (record_count (fx, "session.ui.handlePendingExitPlanMode"), ==, 0);
}

/* No agent with plan-approval: the plan is not approved, with feedback so
 * the model is told and goes on. */
static void
test_plan_nobody (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(Client) agent = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *event = event_frame ("exit_plan_mode.requested", PLAN_EVENT);
  g_autofree char *request = request_frame (903, "exitPlanMode.request", PLAN_REQUEST);
  const char *lines[] = { request, event, NULL };
  g_autoptr(JsonObject) answer = NULL;

  register_agent (agent, "['permission', 'user-input', 'elicitation']");
  send_raw (fx, fx->client, path, lines);
  answer = wait_response (fx, 903);
  g_assert_false (json_object_get_boolean_member (answer, "approved"));
  g_assert_nonnull (json_object_get_string_member (answer, "feedback"));
  g_assert_cmpuint (agent->methods->len, ==, 0);
}

/* The mode-switch question after a rate limit: yes-always is the wire's
 * yes_always; with no agent the answer is no. */
static void
test_mode_switch (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(Client) agent = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *event = event_frame ("auto_mode_switch.requested",
                                        "{\"requestId\":\"ms-1\",\"errorCode\":\"rate_limited\",\"retryAfterSeconds\":42}");
  g_autofree char *request = request_frame (904, "autoModeSwitch.request",
                                            "\"errorCode\":\"rate_limited\",\"retryAfterSeconds\":42");
  g_autofree char *event2 = event_frame ("auto_mode_switch.requested", "{\"requestId\":\"ms-2\"}");
  g_autofree char *request2 = request_frame (905, "autoModeSwitch.request", "\"errorCode\":\"rate_limited\"");
  const char *lines[] = { event, request, NULL };
  const char *lines2[] = { request2, event2, NULL };
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) answer2 = NULL;
  guint32 retry = 0;

  agent->switch_answer = "yes-always";
  register_agent (agent, "['mode-switch']");
  send_raw (fx, fx->client, path, lines);
  answer = wait_response (fx, 904);
  g_assert_cmpstr (json_object_get_string_member (answer, "response"), ==, "yes_always");
  g_assert_cmpstr (request_string (agent, "error-code"), ==, "rate_limited");
  g_assert_true (g_variant_lookup (agent->last_request, "retry-after", "u", &retry));
  g_assert_cmpuint (retry, ==, 42);

  /* The agent leaves: nobody answers, so no. */
  g_variant_unref (call_ok (agent->conn, ROOT_PATH, AGENT_MANAGER_IFACE, "UnregisterAgent",
                            g_variant_new ("(o)", CLIENT_PATH), "()"));
  send_raw (fx, fx->client, path, lines2);
  answer2 = wait_response (fx, 905);
  g_assert_cmpstr (json_object_get_string_member (answer2, "response"), ==, "no");
}

/* How many times @client was called @qualified (e.g. "Agent.Cancel"). */
static guint
count_methods (Client     *client,
               const char *qualified)
{
  guint n = 0;

  for (guint i = 0; i < client->methods->len; i++)
    if (g_str_equal (g_ptr_array_index (client->methods, i), qualified))
      n++;
  return n;
}

static void
wait_methods (Client     *client,
              const char *qualified,
              guint       n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (count_methods (client, qualified) < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s was called %u times, not %u", qualified, count_methods (client, qualified), n);
      spin (20);
    }
}

/* Frames of one form, one plan and one mode-switch question; @n makes
 * their ids unique. The requests' JSON-RPC ids are 920 + 10 * n + 0..1. */
static GStrv
three_questions (guint n)
{
  GPtrArray *frames = g_ptr_array_new ();
  g_autofree char *form = g_strdup_printf ("{\"requestId\":\"el-t%u\",\"message\":\"Pick a color\","
                                           "\"requestedSchema\":{\"type\":\"object\",\"properties\":"
                                           "{\"color\":{\"type\":\"string\"}}},\"mode\":\"form\"}", n);
  g_autofree char *plan = g_strdup_printf ("{\"requestId\":\"plan-t%u\",\"summary\":\"Add a README\","
                                           "\"planContent\":\"1. Write README.md\",\"actions\":[\"interactive\"],"
                                           "\"recommendedAction\":\"interactive\"}", n);
  g_autofree char *mode = g_strdup_printf ("{\"requestId\":\"ms-t%u\",\"errorCode\":\"rate_limited\"}", n);

  g_ptr_array_add (frames, event_frame ("elicitation.requested", form));
  g_ptr_array_add (frames, event_frame ("exit_plan_mode.requested", plan));
  g_ptr_array_add (frames, request_frame (920 + 10 * n, "exitPlanMode.request", PLAN_REQUEST));
  g_ptr_array_add (frames, event_frame ("auto_mode_switch.requested", mode));
  g_ptr_array_add (frames, request_frame (921 + 10 * n, "autoModeSwitch.request",
                                               "\"errorCode\":\"rate_limited\""));
  g_ptr_array_add (frames, NULL);
  return (GStrv) g_ptr_array_free (frames, FALSE);
}

/* Each question's "nobody answers" reply reached the CLI: the plan not
 * approved, the mode not switched, and (@form_answered) the form
 * cancelled. */
static void
assert_nobody_answered (Fixture  *fx,
                        guint     n,
                        gboolean  form_answered)
{
  g_autofree char *form_id = g_strdup_printf ("el-t%u", n);
  g_autoptr(GPtrArray) forms = NULL;
  g_autoptr(JsonObject) plan = wait_response (fx, 920 + 10 * n);
  g_autoptr(JsonObject) mode = wait_response (fx, 921 + 10 * n);
  gboolean form_seen = FALSE;

  g_assert_false (json_object_get_boolean_member (plan, "approved"));
  g_assert_cmpstr (json_object_get_string_member (mode, "response"), ==, "no");
  if (!form_answered)
    return;
  record_wait (fx, "session.ui.handlePendingElicitation", 1, 10);
  forms = record_params (fx, "session.ui.handlePendingElicitation");
  for (guint i = 0; i < forms->len; i++)
    {
      JsonObject *answer = g_ptr_array_index (forms, i);

      if (g_str_equal (json_object_get_string_member (answer, "requestId"), form_id))
        {
          g_autofree char *result = to_json (json_object_get_object_member (answer, "result"));

          g_assert_cmpstr (result, ==, "{\"action\":\"cancel\"}");
          form_seen = TRUE;
        }
    }
  g_assert_true (form_seen);
}

/* permission-timeout holds for forms, plans and mode switches as for
 * permissions (§5, §9): the agent that sits on them is sent Cancel, and
 * the CLI gets each one's "nobody answers" reply. */
static void
test_questions_time_out (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(Client) agent = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_auto(GStrv) lines = three_questions (0);

  fx->config->permission_timeout = 1;
  agent->hold_prompts = TRUE;
  register_agent (agent, "['elicitation', 'plan-approval', 'mode-switch']");
  send_raw (fx, fx->client, path, (const char * const *) lines);
  assert_nobody_answered (fx, 0, TRUE);
  g_assert_cmpuint (count_methods (agent, "Agent.RequestElicitation"), ==, 1);
  g_assert_cmpuint (count_methods (agent, "Agent.RequestPlanApproval"), ==, 1);
  g_assert_cmpuint (count_methods (agent, "Agent.RequestModeSwitch"), ==, 1);
  wait_methods (agent, "Agent.Cancel", 3);
}

/* Abort withdraws every question an agent holds: Cancel for each. The
 * CLI's requests (plan, mode switch) get their "nobody answers" reply, so
 * none stays pending; the form is the CLI's own to drop with the turn it
 * aborts (session.abort), as a withdrawn permission is. */
static void
test_questions_withdrawn_on_abort (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autoptr(Client) agent = client_new (fixture_connect (fx));
  g_autofree char *path = create_session (fx->client, NULL);
  g_auto(GStrv) lines = three_questions (1);
  g_autoptr(GVariant) reply = NULL;

  agent->hold_prompts = TRUE;
  register_agent (agent, "['elicitation', 'plan-approval', 'mode-switch']");
  send_raw (fx, fx->client, path, (const char * const *) lines);
  wait_methods (agent, "Agent.RequestElicitation", 1);
  wait_methods (agent, "Agent.RequestPlanApproval", 1);
  wait_methods (agent, "Agent.RequestModeSwitch", 1);
  g_assert_cmpuint (count_methods (agent, "Agent.Cancel"), ==, 0);

  reply = call_ok (fx->client, path, SESSION_IFACE, "Abort", g_variant_new ("(a{sv})", NULL), "()");
  wait_methods (agent, "Agent.Cancel", 3);
  assert_nobody_answered (fx, 1, FALSE);
  g_assert_cmpuint (record_count (fx, "session.abort"), ==, 1);
  g_assert_cmpuint (record_count (fx, "session.ui.handlePendingElicitation"), ==, 0);
}

#define HOOK_INPUT "\"hookType\":\"preToolUse\",\"input\":{\"sessionId\":\"@SESSION@\",\"timestamp\":1," \
  "\"cwd\":\"/tmp\",\"toolName\":\"bash\",\"toolArgs\":{\"command\":\"rm -rf /\"}}"

/* @persist: the session outlives the provider's connection. */
static char *
session_with_hooks (Fixture  *fx,
                    Client   *client,
                    gboolean  persist)
{
  g_autoptr(GVariant) reply = NULL;
  char *path;

  reply = call_ok (client->conn, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                   g_variant_new_parsed ("({'hooks': <[{'types': <['preToolUse']>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>,"
                                         " 'persist': <%b>},)", persist),
                   "(o)");
  g_variant_get (reply, "(o)", &path);
  return path;
}

/* A preToolUse hook that denies reaches the CLI as the hook's output; a
 * type nobody named is answered at once with no output. */
static void
test_hook_deny (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(Client) hooks = client_new (fixture_connect (fx));
  g_autofree char *path = NULL;
  g_autofree char *request = request_frame (906, "hooks.invoke", HOOK_INPUT);
  g_autofree char *other = request_frame (907, "hooks.invoke",
                                          "\"hookType\":\"sessionStart\",\"input\":{\"cwd\":\"/tmp\"}");
  const char *lines[] = { request, other, NULL };
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) answer2 = NULL;
  g_autoptr(JsonObject) create = NULL;
  g_autofree char *text = NULL;

  hooks->hook_output = "{\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"not here\"}";
  path = session_with_hooks (fx, hooks, FALSE);
  create = record_last (fx, "session.create");
  g_assert_true (json_object_get_boolean_member (create, "hooks"));

  send_raw (fx, hooks->conn, path, lines);
  answer = wait_response (fx, 906);
  text = to_json (answer);
  g_assert_cmpstr (text, ==, "{\"output\":{\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"not here\"}}");
  g_assert_cmpstr (hooks->last_name, ==, "preToolUse");
  g_assert_nonnull (strstr (hooks->last_json, "rm -rf /"));

  answer2 = wait_response (fx, 907);
  g_assert_false (json_object_has_member (answer2, "output"));
  g_assert_cmpuint (hooks->methods->len, ==, 1);
}

/* A hook provider that errs, times out or leaves gives no output, so the
 * CLI asks the agent as it would without hooks. */
static void
test_hook_fails_closed (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(Client) hooks = client_new (fixture_connect (fx));
  g_autofree char *path = NULL;
  g_autofree char *r1 = request_frame (908, "hooks.invoke", HOOK_INPUT);
  g_autofree char *r2 = request_frame (909, "hooks.invoke", HOOK_INPUT);
  g_autofree char *r3 = request_frame (910, "hooks.invoke", HOOK_INPUT);
  const char *lines1[] = { r1, NULL };
  const char *lines2[] = { r2, NULL };
  const char *lines3[] = { r3, NULL };
  g_autoptr(JsonObject) a1 = NULL;
  g_autoptr(JsonObject) a2 = NULL;
  g_autoptr(JsonObject) a3 = NULL;
  GDBusConnection *other = fixture_connect (fx);

  fx->config->hook_timeout = 1;
  path = session_with_hooks (fx, hooks, TRUE);
  /* Another connection of the user drives the turns, so the provider's
   * connection can go away without ending the session. */
  g_variant_unref (call_ok (other, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)"));

  hooks->hook_error = TRUE;
  send_raw (fx, other, path, lines1);
  a1 = wait_response (fx, 908);
  g_assert_false (json_object_has_member (a1, "output"));

  hooks->hook_error = FALSE;
  hooks->hook_output = NULL;    /* never answers: hook-timeout */
  send_raw (fx, other, path, lines2);
  a2 = wait_response (fx, 909);
  g_assert_false (json_object_has_member (a2, "output"));
  /* ... and is told that the daemon stopped waiting for that very call. */
  while (hooks->methods->len < 3)
    spin (20);
  g_assert_cmpstr (g_ptr_array_index (hooks->methods, 2), ==, "HookProvider.Cancel");
  g_assert_nonnull (hooks->last_hook_call_id);
  g_assert_cmpstr (hooks->cancelled_hook_call_id, ==, hooks->last_hook_call_id);

  /* The provider vanishes while a call is with it. */
  send_raw (fx, other, path, lines3);
  while (hooks->methods->len < 4)
    spin (20);
  g_dbus_connection_close_sync (hooks->conn, NULL, NULL);
  a3 = wait_response (fx, 910);
  g_assert_false (json_object_has_member (a3, "output"));
}

/* An app-defined slash command reaches its provider with its arguments,
 * and its failure goes back to the CLI. */
static void
test_command (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(Client) commands = client_new (fixture_connect (fx));
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *path = NULL;
  g_autofree char *event = event_frame ("command.execute",
                                        "{\"requestId\":\"cmd-1\",\"command\":\"/deploy production now\","
                                        "\"commandName\":\"deploy\",\"args\":\"production now\"}");
  g_autofree char *unknown = event_frame ("command.execute",
                                          "{\"requestId\":\"cmd-2\",\"command\":\"/nope\","
                                          "\"commandName\":\"nope\",\"args\":\"\"}");
  const char *lines[] = { event, unknown, NULL };
  g_autoptr(GPtrArray) answers = NULL;
  g_autoptr(JsonObject) create = NULL;

  reply = call_ok (commands->conn, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                   g_variant_new_parsed ("({'commands': <[{'name': <'deploy'>, 'description': <'Ship it'>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>},)"),
                   "(o)");
  g_variant_get (reply, "(o)", &path);
  create = record_last (fx, "session.create");
  {
    JsonArray *list = json_object_get_array_member (create, "commands");
    JsonObject *first = json_array_get_object_element (list, 0);

    g_assert_cmpuint (json_array_get_length (list), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (first, "name"), ==, "deploy");
    g_assert_cmpstr (json_object_get_string_member (first, "description"), ==, "Ship it");
  }
  g_assert_false (json_object_has_member (create, "hooks"));

  commands->command_error = TRUE;
  send_raw (fx, commands->conn, path, lines);
  record_wait (fx, "session.commands.handlePendingCommand", 2, 10);
  g_assert_cmpstr (commands->last_name, ==, "deploy");
  g_assert_cmpstr (commands->last_args, ==, "production now");

  answers = record_params (fx, "session.commands.handlePendingCommand");
  for (guint i = 0; i < answers->len; i++)
    {
      JsonObject *answer = g_ptr_array_index (answers, i);
      const char *id = json_object_get_string_member (answer, "requestId");

      if (g_str_equal (id, "cmd-1"))
        g_assert_cmpstr (json_object_get_string_member (answer, "error"), ==, "deploy failed");
      else
        g_assert_nonnull (strstr (json_object_get_string_member (answer, "error"), "/nope"));
    }
}

/* Two apps' preToolUse hooks: one allows, the other fails. The allow is
 * dropped, so the CLI still asks the agent; a deny of either wins. */
static void
test_hook_failure_drops_allow (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(Client) first = client_new (fixture_connect (fx));
  g_autoptr(Client) second = client_new (fixture_connect (fx));
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *r1 = request_frame (911, "hooks.invoke", HOOK_INPUT);
  g_autofree char *r2 = request_frame (912, "hooks.invoke", HOOK_INPUT);
  const char *lines1[] = { r1, NULL };
  const char *lines2[] = { r2, NULL };
  g_autoptr(JsonObject) a1 = NULL;
  g_autoptr(JsonObject) a2 = NULL;
  g_autofree char *text = NULL;

  first->hook_output = "{\"permissionDecision\":\"allow\",\"additionalContext\":\"ok\"}";
  second->hook_error = TRUE;
  path = session_with_hooks (fx, first, FALSE);
  id = session_id_of (first->conn, path);
  reply = call_ok (second->conn, ROOT_PATH, MANAGER_IFACE, "ResumeSession",
                   g_variant_new_parsed ("(%s, {'hooks': <[{'types': <['preToolUse']>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>})", id),
                   "(o)");

  send_raw (fx, first->conn, path, lines1);
  a1 = wait_response (fx, 911);
  text = to_json (a1);
  g_assert_cmpstr (text, ==, "{\"output\":{\"additionalContext\":\"ok\"}}");
  g_assert_cmpuint (second->methods->len, ==, 1);

  /* A deny stands even next to an allow. */
  second->hook_error = FALSE;
  second->hook_output = "{\"permissionDecision\":\"deny\"}";
  send_raw (fx, first->conn, path, lines2);
  a2 = wait_response (fx, 912);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (a2, "output"),
                                                  "permissionDecision"), ==, "deny");
}

/* A second app that resumes the live session brings its own command: the
 * CLI gets both apps' commands, and each runs on its own provider. */
static void
test_command_joins_on_resume (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(Client) first = client_new (fixture_connect (fx));
  g_autoptr(Client) second = client_new (fixture_connect (fx));
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) reply2 = NULL;
  g_autofree char *path = NULL;
  g_autofree char *path2 = NULL;
  g_autofree char *id = NULL;
  g_autofree char *event = event_frame ("command.execute",
                                        "{\"requestId\":\"cmd-3\",\"command\":\"/review now\","
                                        "\"commandName\":\"review\",\"args\":\"now\"}");
  const char *lines[] = { event, NULL };
  g_autoptr(JsonObject) resume = NULL;
  JsonArray *list;

  reply = call_ok (first->conn, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                   g_variant_new_parsed ("({'commands': <[{'name': <'deploy'>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>},)"),
                   "(o)");
  g_variant_get (reply, "(o)", &path);
  id = session_id_of (first->conn, path);
  reply2 = call_ok (second->conn, ROOT_PATH, MANAGER_IFACE, "ResumeSession",
                    g_variant_new_parsed ("(%s, {'commands': <[{'name': <'review'>,"
                                          " 'provider': <objectpath '" CLIENT_PATH "'>}]>})", id),
                    "(o)");
  g_variant_get (reply2, "(o)", &path2);
  g_assert_cmpstr (path, ==, path2);

  resume = record_last (fx, "session.resume");
  list = json_object_get_array_member (resume, "commands");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0), "name"), ==, "deploy");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 1), "name"), ==, "review");

  send_raw (fx, second->conn, path, lines);
  record_wait (fx, "session.commands.handlePendingCommand", 1, 10);
  g_assert_cmpstr (second->last_name, ==, "review");
  g_assert_cmpstr (second->last_args, ==, "now");
  g_assert_cmpuint (first->methods->len, ==, 0);
}

/* The CLI crashes: the session is resumed on the new CLI with its hooks
 * and commands, and they still reach their providers. */
static void
test_providers_after_restart (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(Client) client = client_new (fixture_connect (fx));
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) crash = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) resume = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  g_autofree char *request = request_frame (913, "hooks.invoke", HOOK_INPUT);
  g_autofree char *event = event_frame ("command.execute",
                                        "{\"requestId\":\"cmd-4\",\"command\":\"/deploy later\","
                                        "\"commandName\":\"deploy\",\"args\":\"later\"}");
  const char *lines[] = { request, event, NULL };
  JsonArray *commands;

  fixture_allow_warnings (fx);
  client->hook_output = "{\"permissionDecision\":\"deny\"}";
  reply = call_ok (client->conn, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                   g_variant_new_parsed ("({'hooks': <[{'types': <['preToolUse']>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>,"
                                         " 'commands': <[{'name': <'deploy'>, 'description': <'Ship it'>,"
                                         " 'provider': <objectpath '" CLIENT_PATH "'>}]>},)"),
                   "(o)");
  g_variant_get (reply, "(o)", &path);
  id = session_id_of (client->conn, path);

  crash = call_sync_iterate (client->conn, path, SESSION_IFACE, "SendAndWait",
                             g_variant_new ("(sa{sv})", "CRASH", NULL), "(sa{sv})", &error);
  assert_dbus_error (error, "BackendFailed", NULL);
  record_wait (fx, "session.resume", 1, 20);
  resume = record_last (fx, "session.resume");
  g_assert_cmpstr (json_object_get_string_member (resume, "sessionId"), ==, id);
  g_assert_true (json_object_get_boolean_member (resume, "hooks"));
  commands = json_object_get_array_member (resume, "commands");
  g_assert_cmpuint (json_array_get_length (commands), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (commands, 0), "name"),
                   ==, "deploy");

  /* The new CLI's requests reach the same providers. */
  send_raw (fx, client->conn, path, lines);
  answer = wait_response (fx, 913);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (answer, "output"),
                                                  "permissionDecision"), ==, "deny");
  record_wait (fx, "session.commands.handlePendingCommand", 1, 10);
  g_assert_cmpstr (client->last_name, ==, "deploy");
  g_assert_cmpstr (client->last_args, ==, "later");
}

/* Bad hooks and commands options name the key. */
static void
test_provider_options (Fixture       *fx,
                       gconstpointer  data)
{
  const char *cases[] = {
    "{'hooks': <[{'provider': <objectpath '/a'>}]>}",
    "{'hooks': <[{'types': <['preToolUse']>}]>}",
    "{'hooks': <['preToolUse']>}",
    "{'commands': <[{'name': <'a b'>, 'provider': <objectpath '/a'>}]>}",
    "{'commands': <[{'name': <'x'>, 'provider': <objectpath '/a'>},"
    " {'name': <'/x'>, 'provider': <objectpath '/a'>}]>}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, cases[i], NULL, NULL, NULL);
      g_autoptr(GVariant) reply = call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                                                     g_variant_new ("(@a{sv})", options), "(o)", &error);

      g_assert_null (reply);
      assert_dbus_error (error, "InvalidArgs", NULL);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/requests/elicitation", test_elicitation);
  ADD ("/requests/elicitation-nobody", test_elicitation_nobody);
  ADD ("/requests/client-name-stays-owners", test_client_name_stays_owners);
  ADD ("/requests/plan-approval", test_plan_approval);
  ADD ("/requests/plan-nobody", test_plan_nobody);
  ADD ("/requests/mode-switch", test_mode_switch);
  ADD ("/requests/questions-time-out", test_questions_time_out);
  ADD ("/requests/questions-withdrawn-on-abort", test_questions_withdrawn_on_abort);
  ADD ("/requests/hook-deny", test_hook_deny);
  ADD ("/requests/hook-fails-closed", test_hook_fails_closed);
  ADD ("/requests/command", test_command);
  ADD ("/requests/hook-failure-drops-allow", test_hook_failure_drops_allow);
  ADD ("/requests/command-joins-on-resume", test_command_joins_on_resume);
  ADD ("/requests/provider-options", test_provider_options);
  ADD ("/requests/providers-after-restart", test_providers_after_restart);

  return g_test_run ();
}
