/* SPDX-License-Identifier: MIT */
/* framing.c: JSON-RPC 2.0 with Content-Length framing on stdin/stdout
 *
 * Output: replies, errors, notifications and the fake's own requests.
 * Input: the framing parser, then each body goes to methods_dispatch() (a
 * request) or prompts_handle_response() (the client's reply to a request
 * of ours).
 */
#include "fake-cli.h"

static void
write_frame (JsonNode *msg)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *body = NULL;
  g_autofree char *header = NULL;
  gsize len;

  if (cli.dead)
    return;

  body = json_to_string (msg, FALSE);
  len = strlen (body);
  header = g_strdup_printf ("Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", len);
  if (!g_output_stream_write_all (cli.out, header, strlen (header), NULL, NULL, &error) ||
      !g_output_stream_write_all (cli.out, body, len, NULL, NULL, &error) ||
      !g_output_stream_flush (cli.out, NULL, &error))
    {
      g_printerr ("fake-cli: write failed: %s\n", error->message);
      cli.dead = TRUE;
      g_main_loop_quit (cli.loop);
    }
}

void
send_message (JsonObject *msg /* transfer full */)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), msg);

  json_object_unref (msg);
  write_frame (node);
}

JsonObject *
new_message (void)
{
  JsonObject *msg = json_object_new ();

  json_object_set_string_member (msg, "jsonrpc", "2.0");
  return msg;
}

void
reply_result (JsonNode *id,
              JsonNode *result /* transfer full, nullable = null */)
{
  JsonObject *msg = new_message ();

  json_object_set_member (msg, "id", json_node_copy (id));
  json_object_set_member (msg, "result", result ? result : json_node_new (JSON_NODE_NULL));
  send_message (msg);
  faults_count_response ();
}

void
reply_object (JsonNode   *id,
              JsonObject *result /* transfer full */)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), result);

  json_object_unref (result);
  reply_result (id, node);
}

void
reply_success (JsonNode *id,
               gboolean  success)
{
  JsonObject *result = json_object_new ();

  json_object_set_boolean_member (result, "success", success);
  reply_object (id, result);
}

void
reply_error (JsonNode   *id,
             int         code,
             const char *message)
{
  JsonObject *msg = new_message ();
  JsonObject *error = json_object_new ();

  json_object_set_int_member (error, "code", code);
  json_object_set_string_member (error, "message", message);
  if (id != NULL)
    json_object_set_member (msg, "id", json_node_copy (id));
  else
    json_object_set_null_member (msg, "id");
  json_object_set_object_member (msg, "error", error);
  send_message (msg);
  faults_count_response ();
}

void
reply_failed (JsonNode   *id,
              const char *method,
              const char *text)
{
  g_autofree char *message = g_strdup_printf ("Request %s failed with message: %s", method, text);

  reply_error (id, RPC_INTERNAL_ERROR, message);
}

void
notify (const char *method,
        JsonObject *params /* transfer full */)
{
  JsonObject *msg = new_message ();

  json_object_set_string_member (msg, "method", method);
  json_object_set_object_member (msg, "params", params);
  send_message (msg);
}

gint64
send_request (const char *method,
              JsonObject *params /* transfer full */)
{
  JsonObject *msg = new_message ();
  gint64 id = cli.next_rpc_id++;

  json_object_set_int_member (msg, "id", id);
  json_object_set_string_member (msg, "method", method);
  json_object_set_object_member (msg, "params", params);
  send_message (msg);
  return id;
}

static void
handle_body (const char *body,
             gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *msg;
  const char *method;
  JsonNode *id;
  JsonObject *params;

  if (!json_parser_load_from_data (parser, body, len, &error))
    {
      g_autofree char *raw = g_strndup (body, len);

      faults_record_frame (raw);
      reply_error (NULL, RPC_PARSE_ERROR, error->message);
      return;
    }

  {
    g_autofree char *compact = json_to_string (json_parser_get_root (parser), FALSE);
    faults_record_frame (compact);
  }

  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      reply_error (NULL, RPC_INVALID_REQUEST,
                   "not a recognizable JSON-RPC request, notification, or response");
      return;
    }
  msg = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (msg, "jsonrpc"))
    {
      reply_error (NULL, RPC_INVALID_REQUEST, "missing field `jsonrpc`");
      return;
    }

  method = obj_str (msg, "method");
  id = json_object_get_member (msg, "id");
  if (method == NULL)
    {
      if (id != NULL)
        prompts_handle_response (msg);
      return;
    }
  if (id == NULL || JSON_NODE_HOLDS_NULL (id))
    return;   /* unknown notifications are ignored */

  if (faults_method_hangs (method))
    {
      g_printerr ("fake-cli: not answering %s (FAKE_CLI_HANG)\n", method);
      return;
    }

  params = obj_obj (msg, "params");
  if (!faults_delay_method (id, method, params))
    methods_dispatch (id, method, params);
}

/* Framing like the real CLI: headers end with CRLF CRLF, Content-Length is
 * case-insensitive, other headers are ignored; anything else kills the
 * stream with one -32700. */
static void
input_desync (void)
{
  g_printerr ("fake-cli: broken framing on stdin, going deaf\n");
  reply_error (NULL, RPC_PARSE_ERROR, "Parse error");
  cli.desync_in = TRUE;
  cli.dead = TRUE;
  g_byte_array_set_size (cli.inbuf, 0);
}

static void
process_input (void)
{
  while (!cli.desync_in && cli.inbuf->len > 0)
    {
      const char *data = (const char *) cli.inbuf->data;
      gsize avail = cli.inbuf->len;
      const char *end = g_strstr_len (data, avail, "\r\n\r\n");
      const char *lf = g_strstr_len (data, avail, "\n\n");
      g_autofree char *headers = NULL;
      g_auto(GStrv) lines = NULL;
      gint64 length = -1;
      gsize header_len;

      if (data[0] == '{' || data[0] == '[' || (lf != NULL && (end == NULL || lf < end + 1)))
        {
          input_desync ();
          return;
        }
      if (end == NULL)
        return;

      header_len = end - data + 4;
      headers = g_strndup (data, end - data);
      lines = g_strsplit (headers, "\r\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          char *colon = strchr (lines[i], ':');

          if (colon == NULL)
            continue;
          *colon = '\0';
          if (g_ascii_strcasecmp (g_strstrip (lines[i]), "content-length") == 0)
            {
              guint64 value;

              if (!g_ascii_string_to_unsigned (g_strstrip (colon + 1), 10, 0, G_MAXINT32,
                                               &value, NULL))
                {
                  input_desync ();
                  return;
                }
              length = value;
            }
        }
      if (length < 0)
        {
          input_desync ();
          return;
        }
      if (avail < header_len + length)
        return;

      {
        g_autofree char *body = g_strndup (data + header_len, length);

        g_byte_array_remove_range (cli.inbuf, 0, header_len + length);
        handle_body (body, length);
      }
    }
}

static gboolean
stdin_readable_cb (GObject  *stream,
                   gpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  guint8 buf[65536];
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                buf, sizeof buf, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      if (n < 0)
        g_printerr ("fake-cli: stdin: %s\n", error->message);
      if (faults_ignore_sigterm ())
        g_printerr ("fake-cli: staying after stdin EOF (FAKE_CLI_IGNORE_SIGTERM)\n");
      else
        g_main_loop_quit (cli.loop);
      return G_SOURCE_REMOVE;
    }
  if (!cli.desync_in)
    {
      g_byte_array_append (cli.inbuf, buf, n);
      process_input ();
    }
  return G_SOURCE_CONTINUE;
}

void
framing_start (void)
{
  cli.inbuf = g_byte_array_new ();
  cli.in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  cli.out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  cli.in_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (cli.in), NULL);
  g_source_set_callback (cli.in_source, (GSourceFunc) G_CALLBACK (stdin_readable_cb), NULL, NULL);
  g_source_attach (cli.in_source, NULL);
}

void
framing_stop (void)
{
  g_source_destroy (cli.in_source);
  g_clear_pointer (&cli.in_source, g_source_unref);
  g_clear_object (&cli.in);
  g_clear_object (&cli.out);
  g_clear_pointer (&cli.inbuf, g_byte_array_unref);
}
