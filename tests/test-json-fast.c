/* SPDX-License-Identifier: MIT */
/* test-json-fast.c: json-fast.c builds exactly json-glib's tree, or leaves
 * the frame to json-glib */
#include "config.h"

#include <string.h>

#include "json-fast.h"
#include "utf8.h"
#include "test-util.h"

static JsonNode *
parse_glib (const char *text,
            gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL))
    return NULL;
  return json_parser_steal_root (parser);
}

/* Types, values and member order, which json_node_equal() does not check. */
static void
assert_same_tree (JsonNode *a,
                  JsonNode *b)
{
  g_assert_cmpint (JSON_NODE_TYPE (a), ==, JSON_NODE_TYPE (b));
  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *oa = json_node_get_object (a), *ob = json_node_get_object (b);
        g_autoptr(GList) ma = json_object_get_members (oa);
        g_autoptr(GList) mb = json_object_get_members (ob);

        g_assert_cmpuint (g_list_length (ma), ==, g_list_length (mb));
        for (GList *x = ma, *y = mb; x != NULL; x = x->next, y = y->next)
          {
            g_assert_cmpstr (x->data, ==, y->data);
            assert_same_tree (json_object_get_member (oa, x->data), json_object_get_member (ob, y->data));
          }
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *aa = json_node_get_array (a), *ab = json_node_get_array (b);

        g_assert_cmpuint (json_array_get_length (aa), ==, json_array_get_length (ab));
        for (guint i = 0; i < json_array_get_length (aa); i++)
          assert_same_tree (json_array_get_element (aa, i), json_array_get_element (ab, i));
      }
      break;
    case JSON_NODE_VALUE:
      g_assert_cmpstr (g_type_name (json_node_get_value_type (a)), ==, g_type_name (json_node_get_value_type (b)));
      if (json_node_get_value_type (a) == G_TYPE_STRING)
        g_assert_cmpstr (json_node_get_string (a), ==, json_node_get_string (b));
      else if (json_node_get_value_type (a) == G_TYPE_INT64)
        g_assert_cmpint (json_node_get_int (a), ==, json_node_get_int (b));
      else if (json_node_get_value_type (a) == G_TYPE_DOUBLE)
        g_assert_cmpfloat (json_node_get_double (a), ==, json_node_get_double (b));
      else
        g_assert_cmpint (json_node_get_boolean (a), ==, json_node_get_boolean (b));
      break;
    case JSON_NODE_NULL:
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
assert_same (const char *text)
{
  g_autoptr(JsonNode) fast = copilotd_json_parse_fast (text, strlen (text));
  g_autoptr(JsonNode) slow = parse_glib (text, strlen (text));

  g_test_message ("%s", text);
  g_assert_nonnull (fast);
  g_assert_nonnull (slow);
  assert_same_tree (fast, slow);
}

/* copilotd_json_peek_event() finds what the parse finds. */
static void
assert_peek (const char *body)
{
  g_autoptr(JsonNode) root = parse_glib (body, strlen (body));
  JsonObject *message = json_node_get_object (root);
  const char *method = json_object_get_string_member_with_default (message, "method", NULL);
  JsonObject *params = json_object_has_member (message, "params") ? json_object_get_object_member (message, "params") : NULL;
  JsonObject *event = params && json_object_has_member (params, "event") ? json_object_get_object_member (params, "event") : NULL;
  const char *type = event ? json_object_get_string_member_with_default (event, "type", NULL) : NULL;
  g_autofree char *got_method = NULL;
  g_autofree char *got_type = NULL;

  if (method != NULL && type != NULL)
    {
      g_assert_true (copilotd_json_peek_event (body, strlen (body), &got_method, &got_type));
      g_assert_cmpstr (got_method, ==, method);
      g_assert_cmpstr (got_type, ==, type);
    }
  else
    g_assert_false (copilotd_json_peek_event (body, strlen (body), &got_method, &got_type));
}

/* A string member as the relay reads it: NULL unless a string. */
static const char *
tree_string (JsonObject *object,
             const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* copilotd_json_read_delta() reads exactly what json-glib's tree holds;
 * returns whether it read @body. */
static gboolean
check_delta (const char *body,
             guint      *n_typed)
{
  g_autoptr(GString) strings = g_string_new ("left over");
  g_autoptr(JsonNode) root = parse_glib (body, strlen (body));
  CopilotdJsonDelta delta;
  JsonObject *message, *params, *event, *data;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  g_test_message ("%s", body);
  if (!copilotd_json_read_delta (body, strlen (body), strings, &delta))
    {
      /* A session.event of another type: its type, as the peek finds it. */
      if (delta.type != NULL)
        {
          g_autofree char *method = NULL;
          g_autofree char *type = NULL;

          g_assert_true (copilotd_json_peek_event (body, strlen (body), &method, &type));
          g_assert_cmpstr (method, ==, "session.event");
          g_assert_cmpstr (delta.type, ==, type);
          (*n_typed)++;
        }
      return FALSE;
    }

  g_assert_nonnull (root);
  message = json_node_get_object (root);
  g_assert_cmpstr (tree_string (message, "method"), ==, "session.event");
  g_assert_false (json_object_has_member (message, "id"));
  params = json_object_get_object_member (message, "params");
  event = json_object_get_object_member (params, "event");
  data = json_object_get_object_member (event, "data");
  g_assert_cmpstr (delta.session_id, ==, tree_string (params, "sessionId"));
  g_assert_cmpstr (delta.type, ==, tree_string (event, "type"));
  g_assert_cmpstr (delta.id, ==, tree_string (event, "id"));
  g_assert_cmpstr (delta.parent_id, ==, tree_string (event, "parentId"));
  g_assert_cmpstr (delta.timestamp, ==, tree_string (event, "timestamp"));
  g_assert_cmpstr (delta.agent_id, ==, tree_string (event, "agentId"));
  g_assert_cmpint (delta.ephemeral, ==, json_object_get_boolean_member_with_default (event, "ephemeral", FALSE));
  g_assert_cmpint (delta.reasoning, ==, g_str_equal (delta.type, "assistant.reasoning_delta"));
  g_assert_cmpstr (delta.message_id, ==, tree_string (data, delta.reasoning ? "reasoningId" : "messageId"));
  g_assert_cmpuint (delta.message_id_len, ==, strlen (delta.message_id));
  g_assert_cmpstr (delta.text, ==, tree_string (data, "deltaContent"));
  g_assert_cmpuint (delta.text_len, ==, strlen (delta.text));
  g_assert_cmpuint (json_object_get_size (data), ==, 2);
  json_object_iter_init_ordered (&iter, data);
  g_assert_true (json_object_iter_next_ordered (&iter, &name, &node));
  g_assert_cmpint (delta.id_last, ==, g_str_equal (name, "deltaContent"));
  return TRUE;
}

/* Every frame of the two recorded CLI transcripts. */
static void
test_transcripts (void)
{
  const char *names[] = { "simple-turn.jsonl", "permission-and-tool-turn.jsonl" };
  guint n = 0, deltas = 0, typed = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", names[i], NULL);
      g_autofree char *contents = NULL;
      g_auto(GStrv) lines = NULL;

      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      lines = g_strsplit (contents, "\n", -1);
      for (guint j = 0; lines[j] != NULL; j++)
        {
          g_autoptr(JsonNode) line = NULL;
          g_autofree char *body = NULL;

          if (lines[j][0] == '\0')
            continue;
          line = parse_glib (lines[j], strlen (lines[j]));
          body = json_to_string (json_object_get_member (json_node_get_object (line), "msg"), FALSE);
          assert_same (body);
          assert_peek (body);
          if (check_delta (body, &typed))
            deltas++;
          n++;
        }
    }
  g_assert_cmpuint (n, >, 200);
  /* All 13 of their assistant.message_delta frames, the hot frames, are
   * read without a tree. */
  g_assert_cmpuint (deltas, ==, 13);
  g_assert_cmpuint (typed, >, 100);
}

#define DELTA_HEAD "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"s1\",\"event\":"

/* The frames copilotd_json_read_delta() reads, and those it leaves to the
 * tree: anything it might read differently from json-glib. */
static void
test_delta (void)
{
  const char *read[] = {
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"Hi\"},"
    "\"ephemeral\":true,\"id\":\"e\",\"timestamp\":\"t\",\"parentId\":\"p\"}}}",
    /* members in another order, the text first, escapes, no meta */
    "{\"params\":{\"event\":{\"data\":{\"deltaContent\":\"a \\\"b\\\"\\n\\u00e9\\ud83d\\ude00\",\"messageId\":\"m\"},"
    "\"type\":\"assistant.message_delta\"},\"sessionId\":\"s\"},\"method\":\"session.event\"}",
    /* reasoning, an agent, null meta, ephemeral false, spaces */
    " { \"method\" : \"session.event\" , \"params\" : { \"sessionId\" : \"s\" , \"event\" : { \"type\" : "
    "\"assistant.reasoning_delta\" , \"agentId\" : \"a\" , \"parentId\" : null , \"ephemeral\" : false , "
    "\"data\" : { \"reasoningId\" : \"r\" , \"deltaContent\" : \"\" } } } }\n",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"ephemeral\":null,\"data\":{\"messageId\":\"\",\"deltaContent\":\"x\"}}}}",
  };
  const char *left[] = {
    "", "{}", "[]", "{\"method\":\"session.event\"}",
    DELTA_HEAD "{\"type\":\"assistant.message\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\",\"parentToolCallId\":\"c\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"deltaContent\":\"x\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"reasoningId\":\"m\",\"deltaContent\":\"x\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.reasoning_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":1}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\",\"deltaContent\":\"y\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"data\":{}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"extra\":1}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"ephemeral\":1}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"ephemeral\":true,\"ephemeral\":false}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"id\":5}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"},\"id\":\"a\",\"id\":\"b\"}}}",
    DELTA_HEAD "{\"t\\u0079pe\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"\\u0000\"}}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}}x",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}},\"id\":1}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}},\"other\":1}}",
    DELTA_HEAD "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}},\"jsonrpc\":\"2.0\"}",
    "{\"method\":\"session.lifecycle\",\"params\":{\"sessionId\":\"s\",\"event\":{\"type\":\"assistant.message_delta\","
    "\"data\":{\"messageId\":\"m\",\"deltaContent\":\"x\"}}}}",
  };
  g_autoptr(GString) strings = g_string_new (NULL);
  guint n_typed = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (read); i++)
    g_assert_true (check_delta (read[i], &n_typed));
  for (gsize i = 0; i < G_N_ELEMENTS (left); i++)
    g_assert_false (check_delta (left[i], &n_typed));
  /* Another event's type is known; so is that of a delta not read. */
  g_assert_cmpuint (n_typed, ==, 19);
  /* Cut anywhere, the frame is not read. */
  for (gsize len = 0; len < strlen (read[0]); len++)
    {
      CopilotdJsonDelta delta;

      g_assert_false (copilotd_json_read_delta (read[0], len, strings, &delta));
    }
}

static void
test_values (void)
{
  const char *texts[] = {
    "{}", "[]", " { } ", "\t\r\n[ 1 , 2 ]\n",
    "{\"a\":{\"b\":[{\"c\":[]}],\"d\":{}}}",
    "[true,false,null]",
    "[0,-0,7,-42,123456789012345678,-123456789012345678]",
    "[1.5,-0.25,1e3,1E-3,2.5e+10,-1.0]",
    "\"plain\"",
    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
    "[\"\\u00e9\\u20ac\\uD83D\\uDE00\", \"é€😀\"]",
    "{\"deltaContent\":\" a \\\"quoted\\\" word\\n\",\"messageId\":\"x\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    assert_same (texts[i]);
}

/* What json-fast.c leaves to json-glib: errors, and what json-glib might
 * read differently. */
static void
test_declined (void)
{
  const char *texts[] = {
    "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]",
    "{\"a\":1}x", "{\"a\":1}{}", "[01]", "[1.]", "[.5]", "[1e]", "[-]", "[+1]",
    "[tru]", "[nul]", "[\"\\x\"]", "[\"\\u12\"]", "[\"unterminated]",
    "[\"a\tb\"]",                          /* a raw control character */
    "[\"\\u0000\"]",                       /* json-glib cuts the string there */
    "[\"\\udc00\"]", "[\"\\ud800x\"]",     /* lone surrogates (utf8.c repairs them first) */
    "{\"\":1}",                            /* an empty member name */
    "{\"a\":1,\"a\":2}",                   /* a repeated member name */
    "[1234567890123456789]",               /* more digits than certainly fit */
  };
  g_autoptr(GString) deep = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(JsonNode) node = copilotd_json_parse_fast (texts[i], strlen (texts[i]));

      g_test_message ("%s", texts[i]);
      g_assert_null (node);
    }

  for (int i = 0; i < 100; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 100; i++)
    g_string_append_c (deep, ']');
  g_assert_null (copilotd_json_parse_fast (deep->str, deep->len));
}

/* Escapes, nesting and arrays before the members sought are skipped. */
static void
test_peek (void)
{
  const char *text =
    "{\"jsonrpc\":\"2.0\",\"x\":[1,{\"method\":\"no\"},\"a\\\"b\"],\"params\":{\"sessionId\":\"s\","
    "\"event\":{\"data\":{\"type\":\"inner\",\"t\":[true,null,-1.5e3]},\"type\":\"model.x\\u00e9\"}},"
    "\"method\":\"session.event\"}";
  g_autofree char *method = NULL;
  g_autofree char *type = NULL;

  g_assert_true (copilotd_json_peek_event (text, strlen (text), &method, &type));
  g_assert_cmpstr (method, ==, "session.event");
  g_assert_cmpstr (type, ==, "model.xé");
  g_assert_false (copilotd_json_peek_event ("{\"method\":\"session.event\"", 27, &method, &type));
  g_assert_false (copilotd_json_peek_event ("[]", 2, &method, &type));
}

/* The length is honoured: bytes after it are not read. */
static void
test_length (void)
{
  const char *text = "{\"a\":1}garbage";
  g_autoptr(JsonNode) node = copilotd_json_parse_fast (text, 7);

  g_assert_nonnull (node);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "a"), ==, 1);
}

/* utf8.c checks ASCII a word at a time: a bad byte or a NUL at any
 * offset, before and after a word boundary, is still found. */
static void
test_text_make_valid (void)
{
  for (gsize len = 1; len <= 40; len++)
    for (gsize at = 0; at < len; at++)
      {
        static const char bad[] = { '\xff', '\0', '\xc3' };

        for (gsize b = 0; b < G_N_ELEMENTS (bad); b++)
          {
            g_autofree char *text = g_strnfill (len, 'a');
            g_autofree char *fixed = NULL;
            gsize out_len = 0;

            text[at] = bad[b];
            fixed = copilotd_json_text_make_valid (text, len, &out_len);
            g_assert_nonnull (fixed);
            g_assert_true (g_utf8_validate (fixed, -1, NULL));
            g_assert_nonnull (strstr (fixed, "\xef\xbf\xbd"));   /* U+FFFD */
          }
      }

  /* Valid text, ASCII or not, is left as it is. */
  for (gsize len = 0; len <= 40; len++)
    {
      g_autofree char *text = g_strnfill (len, 'a');
      g_autofree char *mixed = g_strconcat (text, "h\xc3\xa9llo \xe2\x86\x92", text, NULL);
      gsize out_len = 0;

      g_assert_null (copilotd_json_text_make_valid (text, len, &out_len));
      g_assert_cmpuint (out_len, ==, len);
      g_assert_null (copilotd_json_text_make_valid (mixed, strlen (mixed), &out_len));
    }
}

int
main (int    argc,
      char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/json-fast/transcripts", test_transcripts);
  g_test_add_func ("/json-fast/values", test_values);
  g_test_add_func ("/json-fast/declined", test_declined);
  g_test_add_func ("/json-fast/length", test_length);
  g_test_add_func ("/json-fast/peek", test_peek);
  g_test_add_func ("/json-fast/delta", test_delta);
  g_test_add_func ("/json-fast/text-make-valid", test_text_make_valid);
  return g_test_run ();
}
