/* SPDX-License-Identifier: MIT */
/* test-tool-router.c: tool declarations and ToolProvider calls on a private bus */
#include <locale.h>

#include "copilotd-dbus.h"
#include "copilotd-error.h"
#include "test-agent.h"
#include "test-util.h"
#include "tool-router.h"

#define SESSION_PATH "/io/github/copilotd/Copilot1/session/abc"
#define PROVIDER_PATH "/org/example/Tools"

/* Parsing ------------------------------------------------------------------ */

static GPtrArray *
parse (const char  *text,
       guint        max_tools,
       GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(GVariant) tools = g_variant_parse (NULL, text, NULL, NULL, &parse_error);

  g_assert_no_error (parse_error);
  return copilotd_tools_parse (tools, ":1.42", max_tools, error);
}

static void
test_parse_valid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tools = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;

  tools = parse ("[{'name': <'get_answer'>, 'description': <'Looks up the answer'>,"
                 "  'parameters': <'{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}'>,"
                 "  'provider': <objectpath '/org/example/Tools'>, 'unknown-key': <42>},"
                 " {'name': <'quiet-tool'>, 'provider': <objectpath '/org/example/Tools'>,"
                 "  'skip-permission': <true>},"
                 " {'name': <'bash'>, 'provider': <objectpath '/org/example/Tools'>,"
                 "  'overrides-built-in': <true>}]", 128, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tools->len, ==, 3);
  g_assert_nonnull (copilotd_tools_find (tools, "quiet-tool"));
  g_assert_null (copilotd_tools_find (tools, "nope"));
  g_assert_cmpstr (copilotd_tool_get_name (g_ptr_array_index (tools, 0)), ==, "get_answer");

  json = copilotd_tools_to_json (tools);
  json_parser_load_from_data (parser,
                              "[{\"name\":\"get_answer\",\"description\":\"Looks up the answer\","
                              "\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}},"
                              "{\"name\":\"quiet-tool\",\"skipPermission\":true},"
                              "{\"name\":\"bash\",\"overridesBuiltInTool\":true}]", -1, &error);
  g_assert_no_error (error);
  text = json_to_string (json, FALSE);
  if (!json_node_equal (json, json_parser_get_root (parser)))
    g_error ("Unexpected tools JSON %s", text);
}

static void
test_parse_invalid (void)
{
  struct {
    const char *text;
    guint max;
    int code;
    const char *mentions;
  } cases[] = {
    { "[{'provider': <objectpath '/a'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "name" },
    { "[{'name': <'a b'>, 'provider': <objectpath '/a'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "a b" },
    { "[{'name': <''>, 'provider': <objectpath '/a'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "name" },
    { "[{'name': <'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'>,"
      "  'provider': <objectpath '/a'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "aaaa" },
    { "[{'name': <'t'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "provider" },
    { "[{'name': <'t'>, 'provider': <'/not/an/object/path/type'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "provider" },
    { "[{'name': <uint32 7>, 'provider': <objectpath '/a'>}]", 128, COPILOTD_ERROR_INVALID_ARGS, "name" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>, 'skip-permission': <'yes'>}]", 128,
      COPILOTD_ERROR_INVALID_ARGS, "skip-permission" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>, 'overrides-built-in': <1>}]", 128,
      COPILOTD_ERROR_INVALID_ARGS, "overrides-built-in" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>, 'parameters': <'{oops'>}]", 128,
      COPILOTD_ERROR_INVALID_ARGS, "t" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>, 'parameters': <'[1,2]'>}]", 128,
      COPILOTD_ERROR_INVALID_ARGS, "parameters" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>}, {'name': <'t'>, 'provider': <objectpath '/b'>}]",
      128, COPILOTD_ERROR_INVALID_ARGS, "twice" },
    { "[{'name': <'t'>, 'provider': <objectpath '/a'>}, {'name': <'u'>, 'provider': <objectpath '/b'>}]",
      1, COPILOTD_ERROR_LIMITS_EXCEEDED, "limit" },
    { "@as ['t']", 128, COPILOTD_ERROR_INVALID_ARGS, "tools" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) tools = parse (cases[i].text, cases[i].max, &error);

      g_assert_null (tools);
      g_assert_error (error, COPILOTD_ERROR, cases[i].code);
      if (strstr (error->message, cases[i].mentions) == NULL)
        g_error ("Case %" G_GSIZE_FORMAT ": “%s” does not mention “%s”", i, error->message,
                 cases[i].mentions);
    }
}

/* Invocation on a bus ------------------------------------------------------- */

typedef struct {
  GTestDBus *bus;
  GDBusConnection *daemon;
  GDBusConnection *client;
  TestTool *provider;        /* at PROVIDER_PATH on client; holds tool "hold" */
  CopilotdConfig *config;
  CopilotdCallers *callers;
  CopilotdToolRouter *router;
  GPtrArray *tools;
} Fixture;

typedef struct {
  gboolean done;
  JsonNode *result;
  GError *error;
} InvokeResult;

/* The provider answers by tool name; "hold" (and any other) is held. */
static gboolean
answer_by_name (TestTool              *tool,
                GDBusMethodInvocation *invocation)
{
  const char *tool_name = tool->last_tool;
  const char *arguments = tool->last_args;
  g_auto(GVariantDict) extra = G_VARIANT_DICT_INIT (NULL);

  g_assert_cmpstr (tool->last_session, ==, SESSION_PATH);

  if (g_str_equal (tool_name, "echo"))
    {
      g_variant_dict_insert (&extra, "session-log", "s", "echoed");
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(us@a{sv})", 0, arguments,
                                                            g_variant_dict_end (&extra)));
    }
  else if (g_str_equal (tool_name, "fail"))
    {
      g_variant_dict_insert (&extra, "error", "s", "backend down");
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(us@a{sv})", 1, "it broke",
                                                            g_variant_dict_end (&extra)));
    }
  else if (g_str_equal (tool_name, "denied"))
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(us@a{sv})", 3, "nope",
                                                          g_variant_dict_end (&extra)));
  else if (g_str_equal (tool_name, "weird"))
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(us@a{sv})", 99, "odd",
                                                          g_variant_dict_end (&extra)));
  else if (g_str_equal (tool_name, "throws"))
    g_dbus_method_invocation_return_dbus_error (invocation, "org.example.Error.Boom", "Melbourne");
  else if (g_str_equal (tool_name, "image"))
    {
      static const guchar png[] = { 0x89, 'P', 'N', 'G' };
      GVariantBuilder images;
      g_auto(GVariantDict) image = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert_value (&image, "data",
                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, png, sizeof png, 1));
      g_variant_dict_insert (&image, "mime-type", "s", "image/png");
      g_variant_dict_insert (&image, "description", "s", "one red dot");
      g_variant_builder_init (&images, G_VARIANT_TYPE ("aa{sv}"));
      g_variant_builder_add_value (&images, g_variant_dict_end (&image));
      g_variant_dict_insert_value (&extra, "images", g_variant_builder_end (&images));
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(us@a{sv})", 0, "a dot",
                                                            g_variant_dict_end (&extra)));
    }
  else
    return FALSE;
  return TRUE;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) tools = NULL;
  const char *address;

  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fixture->bus);
  address = g_test_dbus_get_bus_address (fixture->bus);
  fixture->daemon = test_connect (address);
  fixture->client = test_connect (address);
  fixture->provider = test_tool_new (fixture->client, PROVIDER_PATH, "");
  fixture->provider->answer = answer_by_name;
  fixture->provider->hold = TRUE;

  fixture->config = copilotd_config_new ();
  fixture->callers = copilotd_callers_new (fixture->daemon);
  fixture->router = copilotd_tool_router_new (fixture->daemon, fixture->callers, fixture->config);

  /* g_variant_parse() returns a non-floating reference already. */
  tools = g_variant_parse (G_VARIANT_TYPE ("aa{sv}"),
                           "[{'name': <'echo'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'fail'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'denied'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'weird'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'throws'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'image'>, 'provider': <objectpath '" PROVIDER_PATH "'>},"
                           " {'name': <'hold'>, 'provider': <objectpath '" PROVIDER_PATH "'>}]",
                           NULL, NULL, &error);
  g_assert_no_error (error);
  fixture->tools = copilotd_tools_parse (tools, g_dbus_connection_get_unique_name (fixture->client),
                                         128, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->router);
  g_clear_object (&fixture->callers);
  /* Cancel calls and their replies have arrived after a round trip. */
  if (!g_dbus_connection_is_closed (fixture->client))
    test_sync (fixture->daemon, g_dbus_connection_get_unique_name (fixture->client));
  g_clear_pointer (&fixture->provider, test_tool_free);
  g_clear_object (&fixture->client);
  g_dbus_connection_close_sync (fixture->daemon, NULL, NULL);
  g_clear_object (&fixture->daemon);
  g_clear_pointer (&fixture->tools, g_ptr_array_unref);
  g_clear_pointer (&fixture->config, copilotd_config_free);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
}

static void
on_invoke_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  InvokeResult *invoke = user_data;

  invoke->result = copilotd_tool_router_invoke_finish (COPILOTD_TOOL_ROUTER (source), result,
                                                       &invoke->error);
  invoke->done = TRUE;
}

static void
invoke (Fixture      *fixture,
        const char   *tool_name,
        GCancellable *cancellable,
        InvokeResult *result)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *data = g_strdup_printf ("{\"requestId\":\"req-1\",\"sessionId\":\"abc\","
                                           "\"toolCallId\":\"call_1\",\"toolName\":\"%s\","
                                           "\"arguments\":{\"q\":\"life\"},"
                                           "\"workingDirectory\":\"/tmp/work\"}", tool_name);
  CopilotdTool *tool = copilotd_tools_find (fixture->tools, tool_name);

  g_assert_nonnull (tool);
  json_parser_load_from_data (parser, data, -1, &error);
  g_assert_no_error (error);
  copilotd_tool_router_invoke_async (fixture->router, SESSION_PATH, tool,
                                     json_node_get_object (json_parser_get_root (parser)),
                                     cancellable, on_invoke_done, result);
}

static gboolean
has_invokes (gpointer data)
{
  return ((Fixture *) data)->provider->n_invoke > 0;
}

static gboolean
has_cancels (gpointer data)
{
  return ((Fixture *) data)->provider->cancels->len > 0;
}

static void
invoke_result_clear (InvokeResult *result)
{
  g_clear_pointer (&result->result, json_node_unref);
  g_clear_error (&result->error);
}

static void
assert_result (InvokeResult *result,
               const char   *expected)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (result->error);
  g_assert_nonnull (result->result);
  json_parser_load_from_data (parser, expected, -1, &error);
  g_assert_no_error (error);
  text = json_to_string (result->result, FALSE);
  if (!json_node_equal (result->result, json_parser_get_root (parser)))
    g_error ("Expected %s, got %s", expected, text);
}

static void
test_result_mapping (Fixture       *fixture,
                     gconstpointer  user_data)
{
  struct {
    const char *tool;
    const char *expected;
  } cases[] = {
    { "echo", "{\"textResultForLlm\":\"{\\\"q\\\":\\\"life\\\"}\",\"resultType\":\"success\",\"sessionLog\":\"echoed\"}" },
    { "fail", "{\"textResultForLlm\":\"it broke\",\"resultType\":\"failure\",\"error\":\"backend down\"}" },
    { "denied", "{\"textResultForLlm\":\"nope\",\"resultType\":\"denied\"}" },
    { "weird", "{\"textResultForLlm\":\"odd\",\"resultType\":\"failure\"}" },
    /* The provider's message never reaches the text the model reads. */
    { "throws", "{\"textResultForLlm\":\"Tool 'throws' failed\",\"resultType\":\"failure\",\"error\":\"Melbourne\"}" },
    { "image", "{\"textResultForLlm\":\"a dot\",\"resultType\":\"success\","
               "\"binaryResultsForLlm\":[{\"type\":\"image\",\"data\":\"iVBORw==\","
               "\"mimeType\":\"image/png\",\"description\":\"one red dot\"}]}" },
  };
  const char *s;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      InvokeResult result = { 0, };

      invoke (fixture, cases[i].tool, NULL, &result);
      wait_flag (&result.done, 10, "the result");
      assert_result (&result, cases[i].expected);
      invoke_result_clear (&result);
    }

  g_assert_cmpstr (fixture->provider->last_args, ==, "{\"q\":\"life\"}");
  g_assert_true (g_variant_lookup (fixture->provider->last_context, "working-directory", "&s", &s));
  g_assert_cmpstr (s, ==, "/tmp/work");
  g_assert_true (g_variant_lookup (fixture->provider->last_context, "request-id", "&s", &s));
  g_assert_cmpstr (s, ==, "req-1");
}

static void
test_timeout (Fixture       *fixture,
              gconstpointer  user_data)
{
  InvokeResult result = { 0, };

  fixture->config->tool_timeout = 1;
  invoke (fixture, "hold", NULL, &result);
  wait_flag (&result.done, 10, "the result");
  assert_result (&result, "{\"textResultForLlm\":\"Tool 'hold' timed out\",\"resultType\":\"timeout\"}");
  wait_until (has_cancels, fixture, 10, "has_cancels");
  g_assert_cmpstr (g_ptr_array_index (fixture->provider->cancels, 0), ==, "call_1");

  /* The late answer goes nowhere. */
  test_tool_return_held (fixture->provider, g_variant_new ("(us@a{sv})", 0, "late",
                                                          g_variant_new ("a{sv}", NULL)));
  test_sync (fixture->client, g_dbus_connection_get_unique_name (fixture->daemon));
  invoke_result_clear (&result);
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  InvokeResult result = { 0, };

  invoke (fixture, "hold", cancellable, &result);
  wait_until (has_invokes, fixture, 10, "has_invokes");
  g_cancellable_cancel (cancellable);
  wait_flag (&result.done, 10, "the result");
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (result.result);
  wait_until (has_cancels, fixture, 10, "has_cancels");
  g_assert_cmpstr (g_ptr_array_index (fixture->provider->cancels, 0), ==, "call_1");
  invoke_result_clear (&result);
}

static void
test_provider_vanishes (Fixture       *fixture,
                        gconstpointer  user_data)
{
  InvokeResult result = { 0, };
  InvokeResult later = { 0, };

  /* Without tool-timeout, only the departure can end the call. */
  fixture->config->tool_timeout = 0;
  invoke (fixture, "hold", NULL, &result);
  wait_until (has_invokes, fixture, 10, "has_invokes");

  g_dbus_connection_close_sync (fixture->client, NULL, NULL);
  wait_flag (&result.done, 10, "the result");
  g_assert_no_error (result.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (result.result), "resultType"),
                   ==, "failure");
  g_assert_nonnull (strstr (json_object_get_string_member (json_node_get_object (result.result),
                                                           "textResultForLlm"), "left the bus"));

  /* A later call fails at once too. */
  invoke (fixture, "echo", NULL, &later);
  wait_flag (&later.done, 5, "the result");
  g_assert_no_error (later.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (later.result), "resultType"),
                   ==, "failure");
  g_assert_cmpuint (fixture->provider->n_invoke, ==, 1);

  invoke_result_clear (&result);
  invoke_result_clear (&later);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  test_init (&argc, &argv);

  g_test_add_func ("/tools/parse/valid", test_parse_valid);
  g_test_add_func ("/tools/parse/invalid", test_parse_invalid);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/tool-router/result-mapping", test_result_mapping);
  ADD ("/tool-router/timeout", test_timeout);
  ADD ("/tool-router/cancel", test_cancel);
  ADD ("/tool-router/provider-vanishes", test_provider_vanishes);

  return g_test_run ();
}
