/* SPDX-License-Identifier: MIT */
/* test-permission.c: permission request summaries and decisions */
#include <locale.h>

#include "permission.h"
#include "test-util.h"

/* The permissionRequest objects of every permission.requested event in a
 * recorded transcript. */
static GPtrArray *
load_transcript_requests (const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *requests = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);

  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *frame, *msg, *params, *event, *data;

      if (lines[i][0] == '\0')
        continue;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);

      frame = json_node_get_object (json_parser_get_root (parser));
      msg = json_object_get_object_member (frame, "msg");
      if (!json_object_has_member (msg, "params") ||
          !JSON_NODE_HOLDS_OBJECT (json_object_get_member (msg, "params")))
        continue;
      params = json_object_get_object_member (msg, "params");
      if (!json_object_has_member (params, "event"))
        continue;
      event = json_object_get_object_member (params, "event");
      if (g_strcmp0 (json_object_get_string_member_with_default (event, "type", ""),
                     "permission.requested") != 0)
        continue;
      data = json_object_get_object_member (event, "data");
      g_ptr_array_add (requests,
                       json_object_ref (json_object_get_object_member (data, "permissionRequest")));
    }

  return requests;
}

static JsonObject *
find_kind (GPtrArray  *requests,
           const char *kind)
{
  for (guint i = 0; i < requests->len; i++)
    {
      JsonObject *request = g_ptr_array_index (requests, i);

      if (g_str_equal (json_object_get_string_member (request, "kind"), kind))
        return request;
    }

  g_assert_not_reached ();
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
assert_json (JsonNode   *node,
             const char *expected)
{
  g_autoptr(JsonObject) expected_object = parse_object (expected);
  g_autoptr(JsonNode) expected_node = json_node_init_object (json_node_alloc (), expected_object);
  g_autofree char *actual_text = json_to_string (node, FALSE);

  if (!json_node_equal (node, expected_node))
    g_error ("Expected %s, got %s", expected, actual_text);
}

static void
assert_keys (GVariant   *summary,
             const char *expected_keys)
{
  g_auto(GStrv) expected = g_strsplit (expected_keys, ",", -1);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_assert_cmpuint (g_variant_n_children (summary), ==, g_strv_length (expected));
  g_variant_iter_init (&iter, summary);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      g_assert_true (g_strv_contains ((const char * const *) expected, key));
      /* Never a maybe, never empty junk. */
      g_assert_false (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE));
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        g_assert_cmpstr (g_variant_get_string (value, NULL), !=, "");
    }
}

static void
test_summarize_transcript (void)
{
  g_autoptr(GPtrArray) requests = load_transcript_requests ("permission-and-tool-turn.jsonl");
  g_autoptr(GVariant) shell = NULL;
  g_autoptr(GVariant) tool = NULL;
  const char *s;
  gboolean b;

  g_assert_cmpuint (requests->len, ==, 2);

  shell = g_variant_ref_sink (copilotd_permission_summarize (find_kind (requests, "shell")));
  g_assert_true (g_variant_is_of_type (shell, G_VARIANT_TYPE_VARDICT));
  assert_keys (shell, "kind,intention,command,can-offer-session-approval");
  g_assert_true (g_variant_lookup (shell, "kind", "&s", &s));
  g_assert_cmpstr (s, ==, "shell");
  g_assert_true (g_variant_lookup (shell, "command", "&s", &s));
  g_assert_cmpstr (s, ==, "echo hi > out.txt && cat out.txt");
  g_assert_true (g_variant_lookup (shell, "intention", "&s", &s));
  g_assert_cmpstr (s, ==, "write file");
  g_assert_true (g_variant_lookup (shell, "can-offer-session-approval", "b", &b));
  g_assert_false (b);

  tool = g_variant_ref_sink (copilotd_permission_summarize (find_kind (requests, "custom-tool")));
  assert_keys (tool, "kind,tool-name");
  g_assert_true (g_variant_lookup (tool, "tool-name", "&s", &s));
  g_assert_cmpstr (s, ==, "get_answer");
}

/* Shapes from the CLI 1.0.102 schema (PermissionRequestWrite etc.). */
static const char *write_request =
  "{\"kind\":\"write\",\"toolCallId\":\"call_w\",\"intention\":\"Create file\","
  "\"fileName\":\"/tmp/w/hello.txt\",\"diff\":\"--- a\\n+++ b\\n+hi\\n\","
  "\"newFileContents\":\"hi\\n\",\"canOfferSessionApproval\":true}";
static const char *read_request =
  "{\"kind\":\"read\",\"toolCallId\":\"call_r\",\"intention\":\"Read file: /etc/hostname\","
  "\"path\":\"/etc/hostname\"}";
static const char *url_request =
  "{\"kind\":\"url\",\"toolCallId\":\"call_u\",\"intention\":\"Fetch\","
  "\"url\":\"https://Example.COM:8443/a/b?c=d\"}";
static const char *mcp_request =
  "{\"kind\":\"mcp\",\"serverName\":\"github\",\"toolName\":\"list_issues\","
  "\"toolTitle\":\"List issues\",\"args\":{},\"readOnly\":true}";
static const char *memory_request =
  "{\"kind\":\"memory\",\"fact\":\"likes tea\"}";
static const char *hook_request =
  "{\"kind\":\"hook\",\"toolCallId\":\"call_h\",\"intention\":\"\"}";

static void
test_summarize_schema_shapes (void)
{
  struct {
    const char *json;
    const char *keys;
    const char *key;
    const char *value;
  } cases[] = {
    { write_request, "kind,intention,path,diff,can-offer-session-approval", "path", "/tmp/w/hello.txt" },
    { read_request, "kind,intention,path", "path", "/etc/hostname" },
    { url_request, "kind,intention,url", "url", "https://Example.COM:8443/a/b?c=d" },
    { mcp_request, "kind,tool-name", "tool-name", "list_issues" },
    { memory_request, "kind", "kind", "memory" },
    /* An empty intention is left out rather than sent as "". */
    { hook_request, "kind", "kind", "hook" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) request = parse_object (cases[i].json);
      g_autoptr(GVariant) summary = g_variant_ref_sink (copilotd_permission_summarize (request));
      const char *s;

      assert_keys (summary, cases[i].keys);
      g_assert_true (g_variant_lookup (summary, cases[i].key, "&s", &s));
      g_assert_cmpstr (s, ==, cases[i].value);
    }
}

static void
test_build_reject (void)
{
  g_autoptr(GPtrArray) requests = load_transcript_requests ("permission-and-tool-turn.jsonl");
  JsonObject *shell = find_kind (requests, "shell");
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) feedback = NULL;
  g_autoptr(GVariant) empty_feedback = NULL;
  g_autoptr(JsonNode) plain = NULL;
  g_autoptr(JsonNode) with_feedback = NULL;
  g_autoptr(JsonNode) with_empty = NULL;
  g_autoptr(JsonNode) unknown = NULL;

  plain = copilotd_permission_build_result (shell, 0, NULL);
  assert_json (plain, "{\"kind\":\"reject\"}");

  g_variant_dict_insert (&dict, "feedback", "s", "use printf");
  feedback = g_variant_ref_sink (g_variant_dict_end (&dict));
  with_feedback = copilotd_permission_build_result (shell, 0, feedback);
  assert_json (with_feedback, "{\"kind\":\"reject\",\"feedback\":\"use printf\"}");

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "feedback", "s", "");
  empty_feedback = g_variant_ref_sink (g_variant_dict_end (&dict));
  with_empty = copilotd_permission_build_result (shell, 0, empty_feedback);
  assert_json (with_empty, "{\"kind\":\"reject\"}");

  /* Fail closed: a decision the daemon does not know rejects. */
  unknown = copilotd_permission_build_result (shell, 42, feedback);
  assert_json (unknown, "{\"kind\":\"reject\",\"feedback\":\"use printf\"}");
}

static void
test_build_approve (void)
{
  g_autoptr(GPtrArray) requests = load_transcript_requests ("permission-and-tool-turn.jsonl");
  struct {
    JsonObject *request;
    guint decision;
    const char *expected;
  } cases[] = {
    { find_kind (requests, "shell"), 1, "{\"kind\":\"approve-once\"}" },
    { find_kind (requests, "shell"), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"commands\","
      "\"commandIdentifiers\":[\"echo hi > out.txt && cat out.txt\"]}}" },
    { find_kind (requests, "custom-tool"), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"custom-tool\",\"toolName\":\"get_answer\"}}" },
    { parse_object (write_request), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"write\"}}" },
    { parse_object (read_request), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"read\"}}" },
    { parse_object (memory_request), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"memory\"}}" },
    { parse_object (mcp_request), 2,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"mcp\",\"serverName\":\"github\",\"toolName\":\"list_issues\"}}" },
    /* URL prompts approve the domain, not an approval object. */
    { parse_object (url_request), 2,
      "{\"kind\":\"approve-for-session\",\"domain\":\"example.com\"}" },
    /* Nothing to derive an approval from: approved once only. */
    { parse_object (hook_request), 2, "{\"kind\":\"approve-once\"}" },
    { parse_object ("{\"kind\":\"shell\",\"commands\":[]}"), 2, "{\"kind\":\"approve-once\"}" },
    { parse_object ("{\"kind\":\"url\",\"url\":\"not a url\"}"), 2, "{\"kind\":\"approve-once\"}" },
    /* No location key to persist to: remembered for the session. */
    { parse_object (write_request), 3,
      "{\"kind\":\"approve-for-session\",\"approval\":{\"kind\":\"write\"}}" },
  };
  /* The transcript's objects are borrowed; the parsed ones are owned. */
  gsize n_borrowed = 3;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) result = copilotd_permission_build_result (cases[i].request,
                                                                     cases[i].decision, NULL);
      assert_json (result, cases[i].expected);
      if (i >= n_borrowed)
        json_object_unref (cases[i].request);
    }
}

static void
test_build_unavailable (void)
{
  g_autoptr(JsonNode) result = copilotd_permission_build_unavailable ();

  assert_json (result, "{\"kind\":\"user-not-available\"}");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  test_init (&argc, &argv);

  g_test_add_func ("/permission/summarize/transcript", test_summarize_transcript);
  g_test_add_func ("/permission/summarize/schema-shapes", test_summarize_schema_shapes);
  g_test_add_func ("/permission/result/reject", test_build_reject);
  g_test_add_func ("/permission/result/approve", test_build_approve);
  g_test_add_func ("/permission/result/unavailable", test_build_unavailable);

  return g_test_run ();
}
