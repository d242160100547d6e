/* SPDX-License-Identifier: MIT */
/* directives.c: what the offline model answers
 *
 * The answer is deterministic and driven by directives in the last user
 * message:
 *
 *   RUN: <command>            a call to the CLI's shell tool
 *   WRITE: <path> <text…>     a call to the create tool
 *   ASK: <q> [| c1 | c2 …]    a call to ask_user
 *   TOOL: <name> <json-args>  a call to any (custom) tool
 *   EXIT PLAN: <summary>      in plan mode, the exit_plan_mode call that
 *                             asks the user to approve the plan
 *   SLOW: <n>                 n words streamed with a delay between chunks
 *   FAIL: <status> [<secs>]   an HTTP error (401: unauthorized, 429: rate
 *                             limited), with Retry-After: <secs> when given
 *   "create a file named X [containing Y]"   a create call (demo)
 *
 * and, when the last message is a tool result, "Tool result: <content>".
 * The CLI's own side requests are recognised: a compaction request is
 * answered with a <summary> quoting every earlier user message, and a
 * request with a json_schema response_format with JSON built from that
 * schema (the last prompt in each string). Anything else is echoed back.
 */
#include "config.h"

#include <string.h>

#include "directives.h"

#define ECHO_MAX_CHARS 200
#define SLOW_DEFAULT_DELAY_MS 250
#define DEMO_DEFAULT_TEXT "Hello from copilotd!\n"

void
reply_free (Reply *reply)
{
  g_free (reply->text);
  g_free (reply->tool_name);
  g_free (reply->tool_arguments);
  g_free (reply);
}

/* ---- JSON helpers ------------------------------------------------------ */

/* Requests come from the CLI but are still checked: a member of the wrong
 * type reads as missing. */
static JsonNode *
object_get_node (JsonObject  *object,
                 const gchar *member)
{
  if (object == NULL || !json_object_has_member (object, member))
    return NULL;
  return json_object_get_member (object, member);
}

const gchar *
object_get_string (JsonObject  *object,
                   const gchar *member)
{
  JsonNode *node = object_get_node (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
object_get_object (JsonObject  *object,
                   const gchar *member)
{
  JsonNode *node = object_get_node (object, member);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
object_get_array (JsonObject  *object,
                  const gchar *member)
{
  JsonNode *node = object_get_node (object, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* Message content is either a string or an array of parts; only the text
 * parts matter here. */
static gchar *
content_to_text (JsonNode *content)
{
  GString *text = g_string_new (NULL);

  if (content == NULL)
    return g_string_free (text, FALSE);

  if (JSON_NODE_HOLDS_VALUE (content)
      && json_node_get_value_type (content) == G_TYPE_STRING)
    {
      g_string_append (text, json_node_get_string (content));
    }
  else if (JSON_NODE_HOLDS_ARRAY (content))
    {
      JsonArray *parts = json_node_get_array (content);

      for (guint i = 0; i < json_array_get_length (parts); i++)
        {
          JsonNode *part = json_array_get_element (parts, i);
          const gchar *part_text = NULL;

          if (JSON_NODE_HOLDS_OBJECT (part))
            part_text = object_get_string (json_node_get_object (part), "text");
          else if (JSON_NODE_HOLDS_VALUE (part)
                   && json_node_get_value_type (part) == G_TYPE_STRING)
            part_text = json_node_get_string (part);
          if (part_text == NULL)
            continue;
          if (text->len > 0)
            g_string_append_c (text, '\n');
          g_string_append (text, part_text);
        }
    }

  return g_string_free (text, FALSE);
}

/* The tools of a request, by function name. */
static JsonObject *
find_tool (JsonObject  *body,
           const gchar *name)
{
  JsonArray *tools = object_get_array (body, "tools");

  if (tools == NULL)
    return NULL;

  for (guint i = 0; i < json_array_get_length (tools); i++)
    {
      JsonNode *tool = json_array_get_element (tools, i);
      JsonObject *function;

      if (!JSON_NODE_HOLDS_OBJECT (tool))
        continue;
      function = object_get_object (json_node_get_object (tool), "function");
      if (function == NULL)
        function = json_node_get_object (tool);
      if (g_strcmp0 (object_get_string (function, "name"), name) == 0)
        return function;
    }

  return NULL;
}

static gboolean
tool_has_property (JsonObject  *function,
                   const gchar *property)
{
  JsonObject *parameters = object_get_object (function, "parameters");
  JsonObject *properties = object_get_object (parameters, "properties");

  return properties != NULL && json_object_has_member (properties, property);
}

/* Fills required properties the directive did not set, so the CLI's
 * argument validation accepts the call whatever extra fields a tool grows. */
static void
fill_required (JsonObject *function,
               JsonObject *args)
{
  JsonObject *parameters = object_get_object (function, "parameters");
  JsonObject *properties = object_get_object (parameters, "properties");
  JsonArray *required = object_get_array (parameters, "required");

  if (required == NULL)
    return;

  for (guint i = 0; i < json_array_get_length (required); i++)
    {
      const gchar *name = json_array_get_string_element (required, i);
      JsonObject *schema = object_get_object (properties, name);
      const gchar *type = object_get_string (schema, "type");
      JsonArray *enum_values = object_get_array (schema, "enum");

      if (name == NULL || json_object_has_member (args, name))
        continue;
      if (enum_values != NULL && json_array_get_length (enum_values) > 0)
        json_object_set_member (args, name,
                                json_node_copy (json_array_get_element (enum_values, 0)));
      else if (g_strcmp0 (type, "boolean") == 0)
        json_object_set_boolean_member (args, name, FALSE);
      else if (g_strcmp0 (type, "integer") == 0 || g_strcmp0 (type, "number") == 0)
        json_object_set_int_member (args, name, 0);
      else if (g_strcmp0 (type, "array") == 0)
        json_object_set_array_member (args, name, json_array_new ());
      else if (g_strcmp0 (type, "object") == 0)
        json_object_set_object_member (args, name, json_object_new ());
      else
        json_object_set_string_member (args, name, "");
    }
}

/* ---- The model's behaviour --------------------------------------------- */

static Reply *
reply_new_text (const gchar *text)
{
  Reply *reply = g_new0 (Reply, 1);

  reply->kind = REPLY_TEXT;
  reply->text = g_strdup (text);
  return reply;
}

static Reply *
reply_new_tool_call (const gchar *name,
                     JsonObject  *args)
{
  Reply *reply = g_new0 (Reply, 1);
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, args);
  reply->kind = REPLY_TOOL_CALL;
  reply->tool_name = g_strdup (name);
  reply->tool_arguments = json_to_string (node, FALSE);
  return reply;
}

/* The CLI wraps prompts in blocks such as <current_datetime>…</…>; drop
 * whole-line blocks of that shape so the echo shows what the user typed. */
static gchar *
strip_wrappers (const gchar *text)
{
  g_autoptr(GRegex) regex = NULL;
  g_autofree gchar *stripped = NULL;

  regex = g_regex_new ("^<([A-Za-z_][A-Za-z0-9_-]*)(\\s[^>]*)?>.*?</\\1>[ \\t]*\\n?",
                       G_REGEX_DOTALL | G_REGEX_MULTILINE, 0, NULL);
  g_assert (regex != NULL);
  stripped = g_regex_replace_literal (regex, text, -1, 0, "", 0, NULL);
  if (stripped == NULL)
    return g_strstrip (g_strdup (text));
  return g_strstrip (g_steal_pointer (&stripped));
}

/* Finds the session's working directory in the system prompt, where the
 * CLI describes its environment. */
static gchar *
find_working_directory (JsonArray *messages)
{
  g_autoptr(GRegex) regex = NULL;

  /* 1.0.102 writes "* Current working directory: /path" on its own line. */
  regex = g_regex_new ("^[^a-z\\n]*(?:current )?working directory:[ \\t]*(/[^\\n]*?)[ \\t]*$",
                       G_REGEX_CASELESS | G_REGEX_MULTILINE, 0, NULL);
  g_assert (regex != NULL);

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      JsonObject *message;
      g_autofree gchar *text = NULL;
      g_autoptr(GMatchInfo) match = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      message = json_node_get_object (node);
      if (g_strcmp0 (object_get_string (message, "role"), "system") != 0)
        continue;
      text = content_to_text (json_object_get_member (message, "content"));
      if (g_regex_match (regex, text, 0, &match))
        {
          g_autofree gchar *dir = g_match_info_fetch (match, 1);
          gsize len = strlen (dir);

          /* Sentence punctuation is not part of the path. */
          while (len > 1 && strchr (".,;:)", dir[len - 1]) != NULL)
            dir[--len] = '\0';
          return g_steal_pointer (&dir);
        }
    }

  return NULL;
}

static gchar *
resolve_path (JsonArray   *messages,
              const gchar *path)
{
  g_autofree gchar *cwd = NULL;

  if (g_path_is_absolute (path))
    return g_strdup (path);
  cwd = find_working_directory (messages);
  if (cwd == NULL)
    return g_strdup (path);
  return g_build_filename (cwd, path, NULL);
}

static Reply *
reply_create_file (JsonObject  *body,
                   JsonArray   *messages,
                   const gchar *path,
                   const gchar *text)
{
  JsonObject *tool = find_tool (body, "create");
  g_autoptr(JsonObject) args = json_object_new ();
  g_autofree gchar *full_path = NULL;

  if (tool == NULL)
    return reply_new_text ("I cannot create files: the create tool is not available.");

  full_path = resolve_path (messages, path);
  json_object_set_string_member (args, "path", full_path);
  json_object_set_string_member (args, "file_text", text);
  fill_required (tool, args);
  return reply_new_tool_call ("create", args);
}

static Reply *
directive_run (JsonObject  *body,
               const gchar *command)
{
  JsonObject *tool = find_tool (body, "bash");
  g_autoptr(JsonObject) args = json_object_new ();

  if (tool == NULL)
    return reply_new_text ("I cannot run commands: the bash tool is not available.");

  json_object_set_string_member (args, "command", command);
  if (tool_has_property (tool, "description"))
    {
      g_autofree gchar *description = g_strdup_printf ("Run %s", command);

      json_object_set_string_member (args, "description", description);
    }
  fill_required (tool, args);
  return reply_new_tool_call ("bash", args);
}

static Reply *
directive_write (JsonObject  *body,
                 JsonArray   *messages,
                 const gchar *rest)
{
  g_autofree gchar *path = NULL;
  const gchar *space = strpbrk (rest, " \t");
  g_autofree gchar *text = NULL;

  if (space == NULL)
    {
      path = g_strdup (rest);
      text = g_strdup ("");
    }
  else
    {
      path = g_strndup (rest, space - rest);
      text = g_strconcat (space + 1, "\n", NULL);
    }
  return reply_create_file (body, messages, path, text);
}

static Reply *
directive_ask (JsonObject  *body,
               const gchar *rest)
{
  JsonObject *tool = find_tool (body, "ask_user");
  g_autoptr(JsonObject) args = json_object_new ();
  g_auto(GStrv) parts = g_strsplit (rest, "|", -1);

  if (tool == NULL)
    return reply_new_text ("I cannot ask you: the ask_user tool is not available.");

  json_object_set_string_member (args, "question", g_strstrip (parts[0]));
  if (parts[0] != NULL && parts[1] != NULL)
    {
      JsonArray *choices = json_array_new ();

      for (guint i = 1; parts[i] != NULL; i++)
        json_array_add_string_element (choices, g_strstrip (parts[i]));
      json_object_set_array_member (args, "choices", choices);
    }
  fill_required (tool, args);
  return reply_new_tool_call ("ask_user", args);
}

static Reply *
directive_tool (JsonObject  *body,
                const gchar *rest)
{
  const gchar *space = strpbrk (rest, " \t");
  g_autofree gchar *name = space ? g_strndup (rest, space - rest) : g_strdup (rest);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (find_tool (body, name) == NULL)
    {
      g_autofree gchar *text = g_strdup_printf ("I cannot call %s: no such tool is available.", name);

      return reply_new_text (text);
    }

  if (!json_parser_load_from_data (parser, space ? space + 1 : "{}", -1, &error))
    {
      g_autofree gchar *text = g_strdup_printf ("Bad arguments for %s: %s", name, error->message);

      return reply_new_text (text);
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return reply_new_text ("Tool arguments must be a JSON object.");

  return reply_new_tool_call (name, json_node_get_object (root));
}

/* Plan mode's way out: the CLI turns this call into an exit-plan-mode
 * request to the client (RequestPlanApproval). */
static Reply *
directive_exit_plan (JsonObject  *body,
                     const gchar *summary)
{
  JsonObject *tool = find_tool (body, "exit_plan_mode");
  g_autoptr(JsonObject) args = json_object_new ();

  if (tool == NULL)
    return reply_new_text ("I cannot leave plan mode: the exit_plan_mode tool is not available.");
  json_object_set_string_member (args, "summary", *summary != '\0' ? summary : "The plan is ready.");
  fill_required (tool, args);
  return reply_new_tool_call ("exit_plan_mode", args);
}

static Reply *
directive_slow (const gchar *rest,
                gint         delay_ms)
{
  guint64 n = g_ascii_strtoull (rest, NULL, 10);
  GString *text = g_string_new (NULL);
  Reply *reply;

  n = CLAMP (n, 1, 10000);
  for (guint64 i = 1; i <= n; i++)
    g_string_append_printf (text, "%sword%" G_GUINT64_FORMAT, i > 1 ? " " : "", i);
  reply = reply_new_text (text->str);
  reply->delay_ms = delay_ms >= 0 ? (guint) delay_ms : SLOW_DEFAULT_DELAY_MS;
  g_string_free (text, TRUE);
  return reply;
}

static Reply *
directive_fail (const gchar *rest)
{
  gchar *end = NULL;
  guint64 status = g_ascii_strtoull (rest, &end, 10);
  Reply *reply = g_new0 (Reply, 1);

  reply->kind = REPLY_ERROR;
  reply->status = (status >= 400 && status <= 599) ? (guint) status : 500;
  reply->retry_after = -1;
  if (end != NULL && g_ascii_isdigit (*g_strchug (end)))
    reply->retry_after = (gint) MIN (g_ascii_strtoull (g_strchug (end), NULL, 10), 86400);
  reply->text = g_strdup_printf ("offline model: requested failure %u", reply->status);
  return reply;
}

static Reply *
demo_create_file (JsonObject  *body,
                  JsonArray   *messages,
                  const gchar *prompt)
{
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree gchar *name = NULL;
  g_autofree gchar *text = NULL;

  regex = g_regex_new ("create\\s+a\\s+file\\s+(?:named|called)\\s+[\"'`]?([^\\s\"'`]+?)[\"'`]?"
                       "(?:[.,!?]*\\s+(?:containing|that\\s+says|with\\s+the\\s+text)\\s+(.+?))?[.!?]?\\s*$",
                       G_REGEX_CASELESS | G_REGEX_MULTILINE | G_REGEX_DOTALL, 0, NULL);
  g_assert (regex != NULL);
  if (!g_regex_match (regex, prompt, 0, &match))
    return NULL;

  name = g_match_info_fetch (match, 1);
  text = g_match_info_fetch (match, 2);
  if (text == NULL || *text == '\0')
    {
      g_free (text);
      text = g_strdup (DEMO_DEFAULT_TEXT);
    }
  else
    {
      gsize len = strlen (text);
      gchar *unquoted = text;

      if (len >= 2 && strchr ("\"'`", text[0]) != NULL && text[len - 1] == text[0])
        {
          text[len - 1] = '\0';
          unquoted = text + 1;
        }
      unquoted = g_strconcat (unquoted, "\n", NULL);
      g_free (text);
      text = unquoted;
    }

  return reply_create_file (body, messages, name, text);
}

static Reply *
reply_echo (const gchar *prompt)
{
  g_autofree gchar *stripped = strip_wrappers (prompt);
  g_autofree gchar *shown = NULL;
  g_autofree gchar *text = NULL;

  if (g_utf8_validate (stripped, -1, NULL)
      && g_utf8_strlen (stripped, -1) > ECHO_MAX_CHARS)
    shown = g_utf8_substring (stripped, 0, ECHO_MAX_CHARS);
  else
    shown = g_strdup (stripped);
  text = g_strdup_printf ("Hello from the copilotd offline model. You said: %s", shown);
  return reply_new_text (text);
}

#define COMPACTION_PROMPT "Please create a detailed summary of the conversation so far"

/* The summary compaction asks for: every user message before the request. */
static Reply *
reply_compaction (JsonArray *messages)
{
  GString *text = g_string_new ("<summary>\nThe user said:\n");
  Reply *reply;

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      g_autofree gchar *content = NULL;
      g_autofree gchar *stripped = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          g_strcmp0 (object_get_string (json_node_get_object (node), "role"), "user") != 0)
        continue;
      content = content_to_text (json_object_get_member (json_node_get_object (node), "content"));
      stripped = strip_wrappers (content);
      if (*stripped == '\0' || strstr (stripped, COMPACTION_PROMPT) != NULL)
        continue;
      g_string_append_printf (text, "- %s\n", stripped);
    }
  g_string_append (text, "</summary>");
  reply = reply_new_text (text->str);
  g_string_free (text, TRUE);
  return reply;
}

/* A value that matches @schema: objects get their properties, strings the
 * prompt, numbers 42, booleans true, arrays one element, enums the first. */
static JsonNode *
value_for_schema (JsonObject  *schema,
                  const gchar *prompt,
                  guint        depth)
{
  JsonArray *enum_values = object_get_array (schema, "enum");
  const gchar *type = object_get_string (schema, "type");
  JsonNode *node;

  if (enum_values != NULL && json_array_get_length (enum_values) > 0)
    return json_node_copy (json_array_get_element (enum_values, 0));
  if (object_get_node (schema, "const") != NULL)
    return json_node_copy (object_get_node (schema, "const"));

  if (depth < 8 && (g_strcmp0 (type, "object") == 0 || object_get_object (schema, "properties") != NULL))
    {
      JsonObject *properties = object_get_object (schema, "properties");
      JsonObject *object = json_object_new ();
      g_autoptr(GList) members = properties ? json_object_get_members (properties) : NULL;

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonObject *property = object_get_object (properties, l->data);

          json_object_set_member (object, l->data, value_for_schema (property, prompt, depth + 1));
        }
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, object);
      return node;
    }
  if (depth < 8 && g_strcmp0 (type, "array") == 0)
    {
      JsonArray *array = json_array_new ();

      json_array_add_element (array, value_for_schema (object_get_object (schema, "items"), prompt, depth + 1));
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, array);
      return node;
    }

  node = json_node_new (JSON_NODE_VALUE);
  if (g_strcmp0 (type, "integer") == 0 || g_strcmp0 (type, "number") == 0)
    json_node_set_int (node, 42);
  else if (g_strcmp0 (type, "boolean") == 0)
    json_node_set_boolean (node, TRUE);
  else if (g_strcmp0 (type, "null") == 0)
    json_node_init_null (node);
  else
    json_node_set_string (node, prompt);
  return node;
}

static Reply *
reply_structured (JsonObject  *json_schema,
                  const gchar *prompt)
{
  g_autofree gchar *stripped = strip_wrappers (prompt);
  g_autoptr(JsonNode) value = value_for_schema (object_get_object (json_schema, "schema"), stripped, 0);
  Reply *reply = g_new0 (Reply, 1);

  reply->kind = REPLY_TEXT;
  reply->text = json_to_string (value, FALSE);
  return reply;
}

Reply *
reply_decide (JsonObject *body,
              gint        delay_ms)
{
  JsonArray *messages = object_get_array (body, "messages");
  JsonArray *tools = object_get_array (body, "tools");
  gboolean has_tools = tools != NULL && json_array_get_length (tools) > 0;
  JsonObject *last = NULL;
  JsonObject *last_user = NULL;
  g_autofree gchar *prompt = NULL;
  g_auto(GStrv) lines = NULL;
  guint n_messages;

  n_messages = messages ? json_array_get_length (messages) : 0;
  for (guint i = 0; i < n_messages; i++)
    {
      JsonNode *node = json_array_get_element (messages, i);

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      last = json_node_get_object (node);
      if (g_strcmp0 (object_get_string (last, "role"), "user") == 0)
        last_user = last;
    }

  if (last != NULL && g_strcmp0 (object_get_string (last, "role"), "tool") == 0)
    {
      g_autofree gchar *content = content_to_text (json_object_get_member (last, "content"));
      g_autofree gchar *text = g_strdup_printf ("Tool result: %s", content);

      return reply_new_text (text);
    }

  prompt = last_user ? content_to_text (json_object_get_member (last_user, "content"))
                     : g_strdup ("");

  if (messages != NULL && strstr (prompt, COMPACTION_PROMPT) != NULL)
    return reply_compaction (messages);
  {
    JsonObject *format = object_get_object (body, "response_format");

    if (g_strcmp0 (object_get_string (format, "type"), "json_schema") == 0 &&
        object_get_object (format, "json_schema") != NULL)
      return reply_structured (object_get_object (format, "json_schema"), prompt);
  }

  /* Side requests (titles, summaries) come without tools; they must never
   * start tool calls. */
  lines = g_strsplit (prompt, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *line = g_strchug (lines[i]);

      g_strchomp (lines[i]);
      /* In plan mode the CLI prefixes the user's message. */
      if (g_str_has_prefix (line, "[[PLAN]]"))
        line = g_strchug ((gchar *) line + strlen ("[[PLAN]]"));
      /* /plan's prompt quotes the request after this. */
      if (g_str_has_prefix (line, "My request:"))
        line = g_strchug ((gchar *) line + strlen ("My request:"));
      if (g_str_has_prefix (line, "SLOW:"))
        return directive_slow (g_strchug ((gchar *) line + 5), delay_ms);
      if (g_str_has_prefix (line, "FAIL:"))
        return directive_fail (g_strchug ((gchar *) line + 5));
      if (!has_tools)
        continue;

      if (g_str_has_prefix (line, "RUN:"))
        return directive_run (body, g_strchug ((gchar *) line + 4));
      if (g_str_has_prefix (line, "WRITE:"))
        return directive_write (body, messages, g_strchug ((gchar *) line + 6));
      if (g_str_has_prefix (line, "ASK:"))
        return directive_ask (body, g_strchug ((gchar *) line + 4));
      if (g_str_has_prefix (line, "TOOL:"))
        return directive_tool (body, g_strchug ((gchar *) line + 5));
      if (g_str_has_prefix (line, "EXIT PLAN:"))
        return directive_exit_plan (body, g_strchug ((gchar *) line + 10));
    }

  if (has_tools)
    {
      Reply *demo = demo_create_file (body, messages, prompt);

      if (demo != NULL)
        return demo;
    }

  return reply_echo (prompt);
}
