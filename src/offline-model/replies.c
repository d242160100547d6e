/* SPDX-License-Identifier: MIT */
/* replies.c: the offline model's endpoints
 *
 * Puts the answers of directives.c on the wire in the shape of OpenAI chat
 * completions, as one JSON body or as SSE chunks when the request streams,
 * and serves the few other endpoints the CLI asks for: the model list and
 * the signed-in user. Like the real API it answers 401 to a completion
 * request without Authorization: Bearer credentials.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "directives.h"
#include "replies.h"

/* ---- Completions ------------------------------------------------------- */

static JsonNode *
usage_node (guint completion_tokens)
{
  JsonObject *usage = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_int_member (usage, "prompt_tokens", 100);
  json_object_set_int_member (usage, "completion_tokens", completion_tokens);
  json_object_set_int_member (usage, "total_tokens", 100 + completion_tokens);
  json_node_take_object (node, usage);
  return node;
}

/* Builds one chat.completion.chunk with a single choice. */
static JsonNode *
chunk_node (const gchar *id,
            const gchar *model,
            JsonObject  *delta,         /* transfer full */
            const gchar *finish_reason,
            JsonNode    *usage)         /* transfer full, nullable */
{
  JsonObject *chunk = json_object_new ();
  JsonArray *choices = json_array_new ();
  JsonObject *choice = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (chunk, "id", id);
  json_object_set_string_member (chunk, "object", "chat.completion.chunk");
  json_object_set_int_member (chunk, "created", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_string_member (chunk, "model", model);
  json_object_set_int_member (choice, "index", 0);
  json_object_set_object_member (choice, "delta", delta);
  if (finish_reason != NULL)
    json_object_set_string_member (choice, "finish_reason", finish_reason);
  else
    json_object_set_null_member (choice, "finish_reason");
  json_array_add_object_element (choices, choice);
  json_object_set_array_member (chunk, "choices", choices);
  if (usage != NULL)
    json_object_set_member (chunk, "usage", usage);
  json_node_take_object (node, chunk);
  return node;
}

static JsonObject *
tool_call_delta (const gchar *call_id,
                 const gchar *name,
                 const gchar *arguments)
{
  JsonObject *delta = json_object_new ();
  JsonArray *calls = json_array_new ();
  JsonObject *call = json_object_new ();
  JsonObject *function = json_object_new ();

  json_object_set_int_member (call, "index", 0);
  if (call_id != NULL)
    {
      json_object_set_string_member (call, "id", call_id);
      json_object_set_string_member (call, "type", "function");
    }
  if (name != NULL)
    json_object_set_string_member (function, "name", name);
  json_object_set_string_member (function, "arguments", arguments);
  json_object_set_object_member (call, "function", function);
  json_array_add_object_element (calls, call);
  json_object_set_array_member (delta, "tool_calls", calls);
  return delta;
}

static void
stream_reply (HttpClient  *client,
              const gchar *id,
              const gchar *model,
              Reply       *reply,
              const gchar *call_id)
{
  guint delay = reply->delay_ms;
  guint n_chunks = 0;
  JsonObject *delta;
  g_autoptr(JsonNode) node = NULL;

  http_sse_begin (client);

  delta = json_object_new ();
  json_object_set_string_member (delta, "role", "assistant");
  json_object_set_string_member (delta, "content", "");
  node = chunk_node (id, model, delta, NULL, NULL);
  http_queue_sse_json (client, node, 0);
  g_clear_pointer (&node, json_node_unref);

  if (reply->kind == REPLY_TEXT)
    {
      const gchar *p = reply->text;

      /* One chunk per word, each keeping its trailing whitespace, so the
       * deltas concatenate to exactly the text. */
      while (*p != '\0')
        {
          const gchar *end = p;
          g_autofree gchar *word = NULL;

          while (*end != '\0' && !g_ascii_isspace (*end))
            end++;
          while (*end != '\0' && g_ascii_isspace (*end))
            end++;
          word = g_strndup (p, end - p);
          delta = json_object_new ();
          json_object_set_string_member (delta, "content", word);
          node = chunk_node (id, model, delta, NULL, NULL);
          http_queue_sse_json (client, node, delay);
          g_clear_pointer (&node, json_node_unref);
          n_chunks++;
          p = end;
        }
    }
  else
    {
      const gchar *args = reply->tool_arguments;
      gsize len = strlen (args);
      gsize half = len / 2;
      g_autofree gchar *first = NULL;

      node = chunk_node (id, model, tool_call_delta (call_id, reply->tool_name, ""),
                         NULL, NULL);
      http_queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);

      /* Arguments arrive in two pieces, as real models split them; do not
       * split inside a UTF-8 sequence. */
      while (half > 0 && half < len && (args[half] & 0xC0) == 0x80)
        half--;
      first = g_strndup (args, half);
      node = chunk_node (id, model, tool_call_delta (NULL, NULL, first), NULL, NULL);
      http_queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);
      node = chunk_node (id, model, tool_call_delta (NULL, NULL, args + half), NULL, NULL);
      http_queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);
      n_chunks = 3;
    }

  node = chunk_node (id, model, json_object_new (),
                     reply->kind == REPLY_TEXT ? "stop" : "tool_calls",
                     usage_node (n_chunks));
  http_queue_sse_json (client, node, delay);
  http_queue_sse (client, "[DONE]", 0);
  http_sse_end (client);
}

static void
complete_reply (HttpClient  *client,
                const gchar *id,
                const gchar *model,
                Reply       *reply,
                const gchar *call_id)
{
  JsonObject *completion = json_object_new ();
  JsonArray *choices = json_array_new ();
  JsonObject *choice = json_object_new ();
  JsonObject *message = json_object_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (message, "role", "assistant");
  if (reply->kind == REPLY_TEXT)
    {
      json_object_set_string_member (message, "content", reply->text);
    }
  else
    {
      JsonArray *calls = json_array_new ();
      JsonObject *call = json_object_new ();
      JsonObject *function = json_object_new ();

      json_object_set_null_member (message, "content");
      json_object_set_string_member (call, "id", call_id);
      json_object_set_string_member (call, "type", "function");
      json_object_set_string_member (function, "name", reply->tool_name);
      json_object_set_string_member (function, "arguments", reply->tool_arguments);
      json_object_set_object_member (call, "function", function);
      json_array_add_object_element (calls, call);
      json_object_set_array_member (message, "tool_calls", calls);
    }

  json_object_set_int_member (choice, "index", 0);
  json_object_set_object_member (choice, "message", message);
  json_object_set_string_member (choice, "finish_reason",
                                 reply->kind == REPLY_TEXT ? "stop" : "tool_calls");
  json_array_add_object_element (choices, choice);

  json_object_set_string_member (completion, "id", id);
  json_object_set_string_member (completion, "object", "chat.completion");
  json_object_set_int_member (completion, "created", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_string_member (completion, "model", model);
  json_object_set_array_member (completion, "choices", choices);
  json_object_set_member (completion, "usage", usage_node (10));
  json_node_take_object (node, completion);

  http_respond_json (client, 200, node);
}

static void
log_request (ModelState *state,
             JsonNode   *root)
{
  g_autofree gchar *line = NULL;

  if (state->log == NULL)
    return;
  line = json_to_string (root, FALSE);
  if (fprintf (state->log, "%s\n", line) < 0 || fflush (state->log) != 0)
    g_warning ("Could not write the request log: %s", g_strerror (errno));
}


/* Whether @request carries Authorization: Bearer <something>. */
static gboolean
has_bearer (HttpRequest *request)
{
  const gchar *value = g_hash_table_lookup (request->headers, "authorization");

  return value != NULL && g_ascii_strncasecmp (value, "Bearer ", 7) == 0 && value[7] != '\0';
}

static void
handle_chat_completions (ModelState  *state,
                         HttpClient  *client,
                         HttpRequest *request)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(Reply) reply = NULL;
  g_autofree gchar *call_id = NULL;
  g_autofree gchar *id = NULL;
  JsonNode *root;
  JsonObject *body;
  const gchar *model;
  gboolean stream = FALSE;
  gsize size;
  gconstpointer data = g_bytes_get_data (request->body, &size);

  if (!json_parser_load_from_data (parser, data, size, &error)
      || (root = json_parser_get_root (parser)) == NULL
      || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_debug ("Bad completion request: %s", error ? error->message : "not an object");
      http_respond_error (client, 400, "request body must be a JSON object");
      return;
    }

  /* As the real API: no credentials, no answer. */
  if (!has_bearer (request))
    {
      g_debug ("Completion request without credentials: 401");
      http_respond_error (client, 401, "offline model: no Authorization: Bearer credentials");
      return;
    }

  log_request (state, root);
  body = json_node_get_object (root);
  model = object_get_string (body, "model");
  if (model == NULL)
    model = "claude-sonnet-4.5";
  if (json_object_has_member (body, "stream"))
    {
      JsonNode *node = json_object_get_member (body, "stream");

      stream = JSON_NODE_HOLDS_VALUE (node)
               && json_node_get_value_type (node) == G_TYPE_BOOLEAN
               && json_node_get_boolean (node);
    }

  reply = reply_decide (body, state->delay_ms);
  if (reply->kind == REPLY_ERROR)
    {
      g_debug ("Answering with HTTP %u as asked", reply->status);
      if (reply->retry_after >= 0)
        {
          g_autofree gchar *seconds = g_strdup_printf ("%d", reply->retry_after);

          http_set_header (client, "Retry-After", seconds);
        }
      http_respond_error (client, reply->status, reply->text);
      return;
    }

  if (reply->kind == REPLY_TEXT && reply->delay_ms == 0 && state->delay_ms > 0)
    reply->delay_ms = state->delay_ms;
  if (reply->kind == REPLY_TOOL_CALL)
    {
      call_id = g_strdup_printf ("call_%" G_GUINT64_FORMAT, ++state->next_call_id);
      g_debug ("Calling tool %s (%s) with %s", reply->tool_name, call_id,
               reply->tool_arguments);
      if (state->delay_ms > 0)
        reply->delay_ms = state->delay_ms;
    }
  else
    {
      g_debug ("Answering with text “%s”", reply->text);
    }

  id = g_strdup_printf ("chatcmpl-offline-%" G_GUINT64_FORMAT,
                        ++state->next_completion_id);
  if (stream)
    stream_reply (client, id, model, reply, call_id);
  else
    complete_reply (client, id, model, reply, call_id);
}

/* ---- Other endpoints --------------------------------------------------- */

static void
add_model (JsonBuilder *builder,
           const gchar *id,
           const gchar *name,
           const gchar *vendor,
           const gchar *family,
           gboolean     vision,
           gdouble      multiplier)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "vendor");
  json_builder_add_string_value (builder, vendor);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, id);
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "model");
  json_builder_set_member_name (builder, "preview");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "model_picker_enabled");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "is_chat_default");
  json_builder_add_boolean_value (builder, g_str_equal (id, "claude-sonnet-4.5"));

  json_builder_set_member_name (builder, "capabilities");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "family");
  json_builder_add_string_value (builder, family);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "chat");
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "model_capabilities");
  json_builder_set_member_name (builder, "tokenizer");
  json_builder_add_string_value (builder, "o200k_base");
  json_builder_set_member_name (builder, "supports");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "streaming");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "tool_calls");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "parallel_tool_calls");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "vision");
  json_builder_add_boolean_value (builder, vision);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "limits");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "max_context_window_tokens");
  json_builder_add_int_value (builder, 200000);
  json_builder_set_member_name (builder, "max_prompt_tokens");
  json_builder_add_int_value (builder, 128000);
  json_builder_set_member_name (builder, "max_output_tokens");
  json_builder_add_int_value (builder, 16000);
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "billing");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "is_premium");
  json_builder_add_boolean_value (builder, multiplier > 0);
  json_builder_set_member_name (builder, "multiplier");
  json_builder_add_double_value (builder, multiplier);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "policy");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, "enabled");
  json_builder_set_member_name (builder, "terms");
  json_builder_add_string_value (builder, "");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
}

static void
handle_models (HttpClient *client)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "list");
  json_builder_set_member_name (builder, "data");
  json_builder_begin_array (builder);
  add_model (builder, "claude-sonnet-4.5", "Claude Sonnet 4.5 (offline)",
             "Anthropic", "claude-sonnet-4.5", TRUE, 1.0);
  add_model (builder, "claude-sonnet-4", "Claude Sonnet 4 (offline)",
             "Anthropic", "claude-sonnet-4", TRUE, 1.0);
  add_model (builder, "gpt-5-mini", "GPT-5 mini (offline)",
             "OpenAI", "gpt-5-mini", FALSE, 0.0);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  http_respond_json (client, 200, node);
}

static void
handle_user (ModelState *state,
             HttpClient *client)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *api = g_strdup_printf ("http://127.0.0.1:%u", state->port);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "login");
  json_builder_add_string_value (builder, "offline");
  json_builder_set_member_name (builder, "copilot_plan");
  json_builder_add_string_value (builder, "individual");
  json_builder_set_member_name (builder, "chat_enabled");
  json_builder_add_boolean_value (builder, TRUE);
  /* Without it CLI 1.0.102 filters out every MCP server a session names
   * ("filteredServers", mcp3pEnabled false). */
  json_builder_set_member_name (builder, "is_mcp_enabled");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "endpoints");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "api");
  json_builder_add_string_value (builder, api);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  http_respond_json (client, 200, node);
}

void
replies_handle_request (HttpClient  *client,
                        HttpRequest *request,
                        gpointer     user_data)
{
  ModelState *state = user_data;

  g_debug ("%s %s (%" G_GSIZE_FORMAT " body bytes)", request->method,
           request->path, g_bytes_get_size (request->body));

  if (g_str_equal (request->method, "POST")
      && g_str_has_suffix (request->path, "/chat/completions"))
    handle_chat_completions (state, client, request);
  else if (g_str_equal (request->method, "GET")
           && (g_str_equal (request->path, "/models")
               || g_str_equal (request->path, "/v1/models")))
    handle_models (client);
  else if (g_str_equal (request->method, "GET")
           && g_str_equal (request->path, "/copilot_internal/user"))
    handle_user (state, client);
  else if (g_str_equal (request->method, "GET"))
    {
      g_debug ("Unknown path %s, answering {}", request->path);
      http_respond (client, 200, "application/json", "{}");
    }
  else
    {
      g_debug ("Unknown %s %s, answering 404", request->method, request->path);
      http_respond_error (client, 404, "not found");
    }
}
