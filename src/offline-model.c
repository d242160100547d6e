/* copilotd-offline-model: a small local model server that speaks enough of
 * the Copilot model API (OpenAI chat-completions over HTTP/1.1, SSE when
 * streaming) for the real Copilot CLI to hold whole conversations.
 *
 * It is both the offline default a newcomer talks to without a GitHub login
 * and the mock model of the end-to-end tests, so its answers are
 * deterministic and driven by directives in the last user message:
 *
 *   RUN: <command>            a call to the CLI's shell tool
 *   WRITE: <path> <text…>     a call to the create tool
 *   ASK: <q> [| c1 | c2 …]    a call to ask_user
 *   TOOL: <name> <json-args>  a call to any (custom) tool
 *   SLOW: <n>                 n words streamed with a delay between chunks
 *   FAIL: <status>            an HTTP error
 *   "create a file named X [containing Y]"   a create call (demo)
 *
 * and, when the last message is a tool result, "Tool result: <content>".
 *
 * Copyright 2026 copilotd authors
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES (64 * 1024 * 1024)
#define ECHO_MAX_CHARS 200
#define SLOW_DEFAULT_DELAY_MS 250
#define DEMO_DEFAULT_TEXT "Hello from copilotd!\n"

typedef struct
{
  GMainLoop *loop;              /* owned */
  GSocketService *service;      /* owned */
  guint16 port;
  gint delay_ms;                /* -1: not given on the command line */
  FILE *log;                    /* owned */
  guint64 next_call_id;
  guint64 next_completion_id;
  GHashTable *clients;          /* owned: set of Client * (unowned) */
} Server;

/* One step of a response: bytes to write after an optional pause. */
typedef struct
{
  GBytes *data;                 /* owned */
  guint delay_ms;
} WriteStep;

typedef struct
{
  Server *server;               /* unowned */
  GSocketConnection *conn;      /* owned */
  GCancellable *cancellable;    /* owned */
  GByteArray *buf;              /* owned: bytes read but not parsed yet */
  GQueue steps;                 /* owned: WriteStep * */
  GBytes *in_flight;            /* owned: the bytes being written */
  guint8 chunk[16 * 1024];
  gboolean keep_alive;
  gboolean closed;
  guint timeout_id;
} Client;

/* An HTTP request as parsed from the connection. */
typedef struct
{
  gchar *method;                /* owned */
  gchar *path;                  /* owned, without the query string */
  GHashTable *headers;          /* owned: lower-case name → value */
  GBytes *body;                 /* owned */
} Request;

/* What the model decided to answer. */
typedef enum
{
  REPLY_TEXT,
  REPLY_TOOL_CALL,
  REPLY_ERROR,
} ReplyKind;

typedef struct
{
  ReplyKind kind;
  gchar *text;                  /* owned: REPLY_TEXT, or the error message */
  gchar *tool_name;             /* owned: REPLY_TOOL_CALL */
  gchar *tool_arguments;        /* owned: JSON text, REPLY_TOOL_CALL */
  guint status;                 /* REPLY_ERROR */
  guint delay_ms;               /* pause before each streamed chunk */
} Reply;

static void client_pump (Client *client);
static void client_read_more (Client *client);

static Client *
client_ref (Client *client)
{
  return g_rc_box_acquire (client);
}

static void
write_step_free (gpointer data)
{
  WriteStep *step = data;

  g_bytes_unref (step->data);
  g_free (step);
}

static void
client_clear (gpointer data)
{
  Client *client = data;

  g_queue_clear_full (&client->steps, write_step_free);
  g_clear_pointer (&client->in_flight, g_bytes_unref);
  g_clear_object (&client->conn);
  g_clear_object (&client->cancellable);
  g_clear_pointer (&client->buf, g_byte_array_unref);
}

static void
client_unref (Client *client)
{
  g_rc_box_release_full (client, client_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_unref)

static void
request_free (Request *request)
{
  g_free (request->method);
  g_free (request->path);
  g_clear_pointer (&request->headers, g_hash_table_unref);
  g_clear_pointer (&request->body, g_bytes_unref);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void
reply_free (Reply *reply)
{
  g_free (reply->text);
  g_free (reply->tool_name);
  g_free (reply->tool_arguments);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

/* Closing is idempotent: EOF, write errors, bad requests and shutdown all
 * come here. */
static void
client_close (Client *client)
{
  if (client->closed)
    return;
  client->closed = TRUE;

  g_debug ("Closing connection %p", client);
  g_cancellable_cancel (client->cancellable);
  g_clear_handle_id (&client->timeout_id, g_source_remove);
  g_queue_clear_full (&client->steps, write_step_free);
  g_io_stream_close (G_IO_STREAM (client->conn), NULL, NULL);
  if (g_hash_table_remove (client->server->clients, client))
    client_unref (client);
}

static void
client_queue (Client   *client,
              GBytes   *data,
              guint     delay_ms)
{
  WriteStep *step = g_new0 (WriteStep, 1);

  step->data = data;
  step->delay_ms = delay_ms;
  g_queue_push_tail (&client->steps, step);
}

static void
client_queue_string (Client      *client,
                     const gchar *str,
                     guint        delay_ms)
{
  client_queue (client, g_bytes_new (str, strlen (str)), delay_ms);
}

static void
on_write_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(Client) client = user_data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&client->in_flight, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                         NULL, &error))
    {
      /* The CLI closes the connection when a turn is aborted mid-stream. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Write failed, dropping connection: %s", error->message);
      client_close (client);
      return;
    }

  client_pump (client);
}

static void
client_write_head (Client *client)
{
  WriteStep *step = g_queue_pop_head (&client->steps);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->conn));
  gsize size;
  gconstpointer data;

  /* The bytes must outlive the write; the callback's reference on the
   * client keeps them. */
  client->in_flight = g_steal_pointer (&step->data);
  g_free (step);
  data = g_bytes_get_data (client->in_flight, &size);
  g_output_stream_write_all_async (out, data, size, G_PRIORITY_DEFAULT,
                                   client->cancellable, on_write_done,
                                   client_ref (client));
}

static gboolean
on_step_delay (gpointer user_data)
{
  Client *client = user_data;
  WriteStep *step = g_queue_peek_head (&client->steps);

  client->timeout_id = 0;
  step->delay_ms = 0;
  client_pump (client);
  return G_SOURCE_REMOVE;
}

static void
client_pump (Client *client)
{
  WriteStep *step;

  if (client->closed)
    return;

  step = g_queue_peek_head (&client->steps);
  if (step == NULL)
    {
      if (client->keep_alive)
        client_read_more (client);
      else
        client_close (client);
      return;
    }

  if (step->delay_ms > 0)
    {
      client->timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                               step->delay_ms, on_step_delay,
                                               client_ref (client),
                                               (GDestroyNotify) client_unref);
      return;
    }

  client_write_head (client);
}

/* ---- HTTP responses ---------------------------------------------------- */

static const gchar *
status_reason (guint status)
{
  switch (status)
    {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void
respond (Client      *client,
         guint        status,
         const gchar *content_type,
         const gchar *body)
{
  g_autofree gchar *head = NULL;

  head = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                          "Content-Type: %s\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: %s\r\n"
                          "\r\n",
                          status, status_reason (status), content_type,
                          strlen (body),
                          client->keep_alive ? "keep-alive" : "close");
  client_queue (client, g_bytes_new_take (g_strconcat (head, body, NULL),
                                          strlen (head) + strlen (body)), 0);
}

static void
respond_json (Client   *client,
              guint     status,
              JsonNode *node)
{
  g_autofree gchar *body = json_to_string (node, FALSE);

  respond (client, status, "application/json", body);
}

static void
respond_error (Client      *client,
               guint        status,
               const gchar *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "offline_model_error");
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, status);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (client, status, node);
}

/* Queues one SSE event as one HTTP chunk. */
static void
queue_sse (Client      *client,
           const gchar *payload,
           guint        delay_ms)
{
  gsize len = strlen ("data: ") + strlen (payload) + strlen ("\n\n");
  g_autofree gchar *chunk = NULL;

  chunk = g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\ndata: %s\n\n\r\n",
                           len, payload);
  client_queue_string (client, chunk, delay_ms);
}

static void
queue_sse_json (Client   *client,
                JsonNode *node,
                guint     delay_ms)
{
  g_autofree gchar *payload = json_to_string (node, FALSE);

  queue_sse (client, payload, delay_ms);
}

/* ---- JSON helpers ------------------------------------------------------ */

static const gchar *
object_get_string (JsonObject  *object,
                   const gchar *member)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, member))
    return NULL;
  node = json_object_get_member (object, member);
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
object_get_object (JsonObject  *object,
                   const gchar *member)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, member))
    return NULL;
  node = json_object_get_member (object, member);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
object_get_array (JsonObject  *object,
                  const gchar *member)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, member))
    return NULL;
  node = json_object_get_member (object, member);
  return JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
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
  guint64 status = g_ascii_strtoull (rest, NULL, 10);
  Reply *reply = g_new0 (Reply, 1);

  reply->kind = REPLY_ERROR;
  reply->status = (status >= 400 && status <= 599) ? (guint) status : 500;
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

static Reply *
decide (Server     *server,
        JsonObject *body)
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

  /* Side requests (titles, summaries) come without tools; they must never
   * start tool calls. */
  lines = g_strsplit (prompt, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *line = g_strchug (lines[i]);

      g_strchomp (lines[i]);
      if (g_str_has_prefix (line, "SLOW:"))
        return directive_slow (g_strchug ((gchar *) line + 5), server->delay_ms);
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
    }

  if (has_tools)
    {
      Reply *demo = demo_create_file (body, messages, prompt);

      if (demo != NULL)
        return demo;
    }

  return reply_echo (prompt);
}

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
stream_reply (Client      *client,
              const gchar *model,
              Reply       *reply,
              const gchar *call_id)
{
  Server *server = client->server;
  g_autofree gchar *id = g_strdup_printf ("chatcmpl-offline-%" G_GUINT64_FORMAT,
                                          ++server->next_completion_id);
  guint delay = reply->delay_ms;
  guint n_chunks = 0;
  JsonObject *delta;
  g_autoptr(JsonNode) node = NULL;

  client_queue_string (client,
                       "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n", 0);

  delta = json_object_new ();
  json_object_set_string_member (delta, "role", "assistant");
  json_object_set_string_member (delta, "content", "");
  node = chunk_node (id, model, delta, NULL, NULL);
  queue_sse_json (client, node, 0);
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
          queue_sse_json (client, node, delay);
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
      queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);

      /* Arguments arrive in two pieces, as real models split them; do not
       * split inside a UTF-8 sequence. */
      while (half > 0 && half < len && (args[half] & 0xC0) == 0x80)
        half--;
      first = g_strndup (args, half);
      node = chunk_node (id, model, tool_call_delta (NULL, NULL, first), NULL, NULL);
      queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);
      node = chunk_node (id, model, tool_call_delta (NULL, NULL, args + half), NULL, NULL);
      queue_sse_json (client, node, delay);
      g_clear_pointer (&node, json_node_unref);
      n_chunks = 3;
    }

  node = chunk_node (id, model, json_object_new (),
                     reply->kind == REPLY_TEXT ? "stop" : "tool_calls",
                     usage_node (n_chunks));
  queue_sse_json (client, node, delay);
  queue_sse (client, "[DONE]", 0);
  client_queue_string (client, "0\r\n\r\n", 0);
}

static void
complete_reply (Client      *client,
                const gchar *model,
                Reply       *reply,
                const gchar *call_id)
{
  Server *server = client->server;
  g_autofree gchar *id = g_strdup_printf ("chatcmpl-offline-%" G_GUINT64_FORMAT,
                                          ++server->next_completion_id);
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

  respond_json (client, 200, node);
}

static void
log_request (Server   *server,
             JsonNode *root)
{
  g_autofree gchar *line = NULL;

  if (server->log == NULL)
    return;
  line = json_to_string (root, FALSE);
  if (fprintf (server->log, "%s\n", line) < 0 || fflush (server->log) != 0)
    g_warning ("Could not write the request log: %s", g_strerror (errno));
}

static void
handle_chat_completions (Client  *client,
                         Request *request)
{
  Server *server = client->server;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(Reply) reply = NULL;
  g_autofree gchar *call_id = NULL;
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
      respond_error (client, 400, "request body must be a JSON object");
      return;
    }

  log_request (server, root);
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

  reply = decide (server, body);
  if (reply->kind == REPLY_ERROR)
    {
      g_debug ("Answering with HTTP %u as asked", reply->status);
      respond_error (client, reply->status, reply->text);
      return;
    }

  if (reply->kind == REPLY_TEXT && reply->delay_ms == 0 && server->delay_ms > 0)
    reply->delay_ms = server->delay_ms;
  if (reply->kind == REPLY_TOOL_CALL)
    {
      call_id = g_strdup_printf ("call_%" G_GUINT64_FORMAT, ++server->next_call_id);
      g_debug ("Calling tool %s (%s) with %s", reply->tool_name, call_id,
               reply->tool_arguments);
      if (server->delay_ms > 0)
        reply->delay_ms = server->delay_ms;
    }
  else
    {
      g_debug ("Answering with text “%s”", reply->text);
    }

  if (stream)
    stream_reply (client, model, reply, call_id);
  else
    complete_reply (client, model, reply, call_id);
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
handle_models (Client *client)
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
  respond_json (client, 200, node);
}

static void
handle_user (Client *client)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *api = g_strdup_printf ("http://127.0.0.1:%u", client->server->port);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "login");
  json_builder_add_string_value (builder, "offline");
  json_builder_set_member_name (builder, "copilot_plan");
  json_builder_add_string_value (builder, "individual");
  json_builder_set_member_name (builder, "chat_enabled");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "endpoints");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "api");
  json_builder_add_string_value (builder, api);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (client, 200, node);
}

static void
handle_request (Client  *client,
                Request *request)
{
  g_debug ("%s %s (%" G_GSIZE_FORMAT " body bytes)", request->method,
           request->path, g_bytes_get_size (request->body));

  if (g_str_equal (request->method, "POST")
      && g_str_has_suffix (request->path, "/chat/completions"))
    handle_chat_completions (client, request);
  else if (g_str_equal (request->method, "GET")
           && (g_str_equal (request->path, "/models")
               || g_str_equal (request->path, "/v1/models")))
    handle_models (client);
  else if (g_str_equal (request->method, "GET")
           && g_str_equal (request->path, "/copilot_internal/user"))
    handle_user (client);
  else if (g_str_equal (request->method, "GET"))
    {
      g_debug ("Unknown path %s, answering {}", request->path);
      respond (client, 200, "application/json", "{}");
    }
  else
    {
      g_debug ("Unknown %s %s, answering 404", request->method, request->path);
      respond_error (client, 404, "not found");
    }
}

/* ---- HTTP request parsing ---------------------------------------------- */

static const guint8 *
find_bytes (const guint8 *haystack,
            gsize         haystack_len,
            const gchar  *needle)
{
  gsize needle_len = strlen (needle);

  if (haystack_len < needle_len)
    return NULL;
  for (gsize i = 0; i + needle_len <= haystack_len; i++)
    if (memcmp (haystack + i, needle, needle_len) == 0)
      return haystack + i;
  return NULL;
}

/* Decodes a chunked body starting at @start. Returns FALSE with no error
 * when more bytes are needed; sets @end to the first byte after it. */
static gboolean
parse_chunked (const guint8  *data,
               gsize          len,
               gsize          start,
               GByteArray    *out,
               gsize         *end,
               GError       **error)
{
  gsize pos = start;

  for (;;)
    {
      const guint8 *eol = find_bytes (data + pos, len - pos, "\r\n");
      g_autofree gchar *size_line = NULL;
      gchar *endptr;
      guint64 size;

      if (eol == NULL)
        return FALSE;
      size_line = g_strndup ((const gchar *) data + pos, eol - (data + pos));
      size = g_ascii_strtoull (size_line, &endptr, 16);
      if (endptr == size_line || size > MAX_BODY_BYTES
          || out->len + size > MAX_BODY_BYTES)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "bad chunk size “%s”", size_line);
          return FALSE;
        }
      pos = (eol - data) + 2;

      if (size == 0)
        {
          const guint8 *trailer_end;

          if (len - pos < 2)
            return FALSE;
          if (data[pos] == '\r' && data[pos + 1] == '\n')
            {
              *end = pos + 2;
              return TRUE;
            }
          trailer_end = find_bytes (data + pos, len - pos, "\r\n\r\n");
          if (trailer_end == NULL)
            return FALSE;
          *end = (trailer_end - data) + 4;
          return TRUE;
        }

      if (len - pos < size + 2)
        return FALSE;
      g_byte_array_append (out, data + pos, size);
      pos += size + 2;
    }
}

static GBytes *
decompress (GBytes       *body,
            const gchar  *encoding,
            GError      **error)
{
  g_autoptr(GConverter) converter = NULL;
  g_autoptr(GInputStream) raw = NULL;
  g_autoptr(GInputStream) decoded = NULL;
  g_autoptr(GOutputStream) out = NULL;

  if (g_ascii_strcasecmp (encoding, "gzip") == 0)
    converter = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP));
  else if (g_ascii_strcasecmp (encoding, "deflate") == 0)
    converter = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB));
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "unsupported content encoding “%s”", encoding);
      return NULL;
    }

  raw = g_memory_input_stream_new_from_bytes (body);
  decoded = g_converter_input_stream_new (raw, converter);
  out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, decoded,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                              | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error) < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* Takes one complete request off the front of @client's buffer. Returns
 * NULL with no error when more bytes are needed. */
static Request *
parse_request (Client  *client,
               GError **error)
{
  const guint8 *data = client->buf->data;
  gsize len = client->buf->len;
  const guint8 *head_end = find_bytes (data, len, "\r\n\r\n");
  g_autoptr(Request) request = NULL;
  g_autofree gchar *head = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) request_line = NULL;
  const gchar *value;
  gsize body_start, consumed;
  gchar *query;

  if (head_end == NULL)
    {
      if (len > MAX_HEADER_BYTES)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "request head too large");
      return NULL;
    }

  head = g_strndup ((const gchar *) data, head_end - data);
  body_start = (head_end - data) + 4;
  lines = g_strsplit (head, "\r\n", -1);
  request_line = g_strsplit (lines[0], " ", 3);
  if (g_strv_length (request_line) != 3 || !g_str_has_prefix (request_line[2], "HTTP/1."))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "bad request line “%s”", lines[0]);
      return NULL;
    }

  request = g_new0 (Request, 1);
  request->method = g_strdup (request_line[0]);
  request->path = g_strdup (request_line[1]);
  query = strchr (request->path, '?');
  if (query != NULL)
    *query = '\0';
  request->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      gchar *colon = strchr (lines[i], ':');

      if (colon == NULL)
        continue;
      *colon = '\0';
      g_hash_table_replace (request->headers,
                            g_ascii_strdown (g_strstrip (lines[i]), -1),
                            g_strstrip (g_strdup (colon + 1)));
    }

  value = g_hash_table_lookup (request->headers, "transfer-encoding");
  if (value != NULL && g_ascii_strcasecmp (value, "identity") != 0)
    {
      g_autoptr(GByteArray) body = g_byte_array_new ();
      g_autoptr(GError) local_error = NULL;

      if (!parse_chunked (data, len, body_start, body, &consumed, &local_error))
        {
          if (local_error != NULL)
            g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      request->body = g_byte_array_free_to_bytes (g_steal_pointer (&body));
    }
  else
    {
      guint64 length = 0;

      value = g_hash_table_lookup (request->headers, "content-length");
      if (value != NULL && !g_ascii_string_to_unsigned (value, 10, 0, MAX_BODY_BYTES,
                                                        &length, error))
        return NULL;
      if (len - body_start < length)
        return NULL;
      request->body = g_bytes_new (data + body_start, length);
      consumed = body_start + length;
    }

  value = g_hash_table_lookup (request->headers, "content-encoding");
  if (value != NULL && g_ascii_strcasecmp (value, "identity") != 0)
    {
      GBytes *decoded = decompress (request->body, value, error);

      if (decoded == NULL)
        return NULL;
      g_bytes_unref (request->body);
      request->body = decoded;
    }

  value = g_hash_table_lookup (request->headers, "connection");
  client->keep_alive = g_str_equal (request_line[2], "HTTP/1.1")
                       ? (value == NULL || g_ascii_strcasecmp (value, "close") != 0)
                       : (value != NULL && g_ascii_strcasecmp (value, "keep-alive") == 0);

  g_byte_array_remove_range (client->buf, 0, consumed);
  return g_steal_pointer (&request);
}

/* Handles every complete request in the buffer, one at a time: the next
 * one is parsed only after the previous response was written. */
static void
client_process (Client *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(Request) request = parse_request (client, &error);

  if (error != NULL)
    {
      g_debug ("Bad request: %s", error->message);
      client->keep_alive = FALSE;
      respond_error (client, 400, error->message);
      client_pump (client);
      return;
    }

  if (request == NULL)
    {
      client_read_more (client);
      return;
    }

  handle_request (client, request);
  client_pump (client);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Client) client = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n <= 0)
    {
      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Read failed: %s", error->message);
      client_close (client);
      return;
    }

  g_byte_array_append (client->buf, client->chunk, n);
  client_process (client);
}

static void
client_read_more (Client *client)
{
  GInputStream *in;

  if (client->closed)
    return;

  /* A pipelined request may already be buffered. */
  if (client->buf->len > 0 && find_bytes (client->buf->data, client->buf->len, "\r\n\r\n"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(Request) request = parse_request (client, &error);

      if (error != NULL || request != NULL)
        {
          if (error != NULL)
            {
              client->keep_alive = FALSE;
              respond_error (client, 400, error->message);
            }
          else
            handle_request (client, request);
          client_pump (client);
          return;
        }
    }

  in = g_io_stream_get_input_stream (G_IO_STREAM (client->conn));
  g_input_stream_read_async (in, client->chunk, sizeof client->chunk,
                             G_PRIORITY_DEFAULT, client->cancellable,
                             on_read, client_ref (client));
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  Server *server = user_data;
  Client *client = g_rc_box_new0 (Client);

  client->server = server;
  client->conn = g_object_ref (connection);
  client->cancellable = g_cancellable_new ();
  client->buf = g_byte_array_new ();
  client->keep_alive = TRUE;
  g_queue_init (&client->steps);
  g_hash_table_add (server->clients, client);
  g_debug ("New connection %p", client);

  client_read_more (client);
  return TRUE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  Server *server = user_data;

  g_debug ("Signal received, exiting");
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int    argc,
      char **argv)
{
  gint port = 0;
  gint delay_ms = -1;
  g_autofree gchar *address = NULL;
  g_autofree gchar *log_path = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on (0: pick a free one)", "N" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "Loopback address to bind (127.0.0.1)", "ADDR" },
    { "log", 'l', 0, G_OPTION_ARG_FILENAME, &log_path, "Append each completion request as a JSON line to FILE", "FILE" },
    { "delay-ms", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Pause before each streamed chunk", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  Server server = { 0 };
  GList *clients;

  setlocale (LC_ALL, "");

  /* stdout carries only the "listening on port" line. */
  g_log_writer_default_set_use_stderr (TRUE);

  context = g_option_context_new ("- local offline model for the Copilot CLI");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (port < 0 || port > 65535)
    {
      g_printerr ("Invalid port %d\n", port);
      return 2;
    }

  inet = g_inet_address_new_from_string (address ? address : "127.0.0.1");
  if (inet == NULL || !g_inet_address_get_is_loopback (inet))
    {
      g_printerr ("Only a loopback address may be bound, not “%s”\n", address);
      return 2;
    }

  if (log_path != NULL)
    {
      server.log = fopen (log_path, "a");
      if (server.log == NULL)
        {
          g_printerr ("Cannot open %s: %s\n", log_path, g_strerror (errno));
          return 1;
        }
    }

  server.delay_ms = delay_ms;
  server.clients = g_hash_table_new (NULL, NULL);
  server.loop = g_main_loop_new (NULL, FALSE);
  server.service = g_socket_service_new ();
  bind_address = g_inet_socket_address_new (inet, port);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (server.service), bind_address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &error))
    {
      g_printerr ("Cannot listen on port %d: %s\n", port, error->message);
      return 1;
    }
  server.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server.service, "incoming", G_CALLBACK (on_incoming), &server);
  g_socket_service_start (server.service);

  g_unix_signal_add (SIGTERM, on_quit_signal, &server);
  g_unix_signal_add (SIGINT, on_quit_signal, &server);

  g_print ("listening on port %u\n", server.port);
  fflush (stdout);

  g_main_loop_run (server.loop);

  g_socket_service_stop (server.service);
  g_socket_listener_close (G_SOCKET_LISTENER (server.service));
  clients = g_hash_table_get_keys (server.clients);
  for (GList *l = clients; l != NULL; l = l->next)
    client_close (l->data);
  g_list_free (clients);
  /* Let cancelled operations drop their references. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_clear_object (&server.service);
  g_clear_pointer (&server.loop, g_main_loop_unref);
  g_clear_pointer (&server.clients, g_hash_table_unref);
  if (server.log != NULL)
    fclose (server.log);
  return 0;
}
