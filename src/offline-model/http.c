/* http.c: the offline model's HTTP/1.1 server
 *
 * Enough of HTTP/1.1 on a GSocketService for the Copilot CLI: requests
 * with Content-Length or chunked bodies, gzip and deflate content
 * encodings, keep-alive and pipelining. Each request goes to the handler,
 * which queues its response as write steps; steps may pause before they
 * are written, which is how SSE streams come out slowly.
 */
#include "config.h"

#include <string.h>

#include "http.h"

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES (64 * 1024 * 1024)

struct _HttpServer
{
  GSocketService *service;      /* owned */
  guint16 port;
  GHashTable *clients;          /* owned: set of HttpClient * (unowned) */
  HttpHandler handler;
  gpointer handler_data;        /* unowned */
};

/* One step of a response: bytes to write after an optional pause. */
typedef struct
{
  GBytes *data;                 /* owned */
  guint delay_ms;
} WriteStep;

struct _HttpClient
{
  HttpServer *server;           /* unowned */
  GSocketConnection *conn;      /* owned */
  GCancellable *cancellable;    /* owned */
  GByteArray *buf;              /* owned: bytes read but not parsed yet */
  GQueue steps;                 /* owned: WriteStep * */
  GBytes *in_flight;            /* owned: the bytes being written */
  guint8 chunk[16 * 1024];
  gboolean keep_alive;
  gboolean closed;
  guint timeout_id;
};

static void client_pump (HttpClient *client);
static void client_read_more (HttpClient *client);

static HttpClient *
client_ref (HttpClient *client)
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
  HttpClient *client = data;

  g_queue_clear_full (&client->steps, write_step_free);
  g_clear_pointer (&client->in_flight, g_bytes_unref);
  g_clear_object (&client->conn);
  g_clear_object (&client->cancellable);
  g_clear_pointer (&client->buf, g_byte_array_unref);
}

static void
client_unref (HttpClient *client)
{
  g_rc_box_release_full (client, client_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpClient, client_unref)

static void
request_free (HttpRequest *request)
{
  g_free (request->method);
  g_free (request->path);
  g_clear_pointer (&request->headers, g_hash_table_unref);
  g_clear_pointer (&request->body, g_bytes_unref);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpRequest, request_free)

/* Closing is idempotent: EOF, write errors, bad requests and shutdown all
 * come here. */
static void
client_close (HttpClient *client)
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
client_queue (HttpClient *client,
              GBytes     *data,
              guint       delay_ms)
{
  WriteStep *step = g_new0 (WriteStep, 1);

  step->data = data;
  step->delay_ms = delay_ms;
  g_queue_push_tail (&client->steps, step);
}

static void
client_queue_string (HttpClient  *client,
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
  g_autoptr(HttpClient) client = user_data;
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
client_write_head (HttpClient *client)
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
  HttpClient *client = user_data;
  WriteStep *step = g_queue_peek_head (&client->steps);

  client->timeout_id = 0;
  step->delay_ms = 0;
  client_pump (client);
  return G_SOURCE_REMOVE;
}

static void
client_pump (HttpClient *client)
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

void
http_respond (HttpClient  *client,
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

void
http_respond_json (HttpClient *client,
                   guint       status,
                   JsonNode   *node)
{
  g_autofree gchar *body = json_to_string (node, FALSE);

  http_respond (client, status, "application/json", body);
}

void
http_respond_error (HttpClient  *client,
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
  http_respond_json (client, status, node);
}

/* Queues one SSE event as one HTTP chunk. */
void
http_queue_sse (HttpClient  *client,
                const gchar *payload,
                guint        delay_ms)
{
  gsize len = strlen ("data: ") + strlen (payload) + strlen ("\n\n");
  g_autofree gchar *chunk = NULL;

  chunk = g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\ndata: %s\n\n\r\n",
                           len, payload);
  client_queue_string (client, chunk, delay_ms);
}

void
http_queue_sse_json (HttpClient *client,
                     JsonNode   *node,
                     guint       delay_ms)
{
  g_autofree gchar *payload = json_to_string (node, FALSE);

  http_queue_sse (client, payload, delay_ms);
}

/* An SSE stream is one chunked response that stays open until
 * http_sse_end(). */
void
http_sse_begin (HttpClient *client)
{
  client_queue_string (client,
                       "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n", 0);
}

void
http_sse_end (HttpClient *client)
{
  client_queue_string (client, "0\r\n\r\n", 0);
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
static HttpRequest *
parse_request (HttpClient *client,
               GError    **error)
{
  const guint8 *data = client->buf->data;
  gsize len = client->buf->len;
  const guint8 *head_end = find_bytes (data, len, "\r\n\r\n");
  g_autoptr(HttpRequest) request = NULL;
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

  request = g_new0 (HttpRequest, 1);
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

/* Answers what parse_request() took off the buffer: @request, or the
 * @error it failed with (and then closes the connection). */
static void
client_answer (HttpClient  *client,
               HttpRequest *request,
               GError      *error)
{
  if (error != NULL)
    {
      client->keep_alive = FALSE;
      http_respond_error (client, 400, error->message);
    }
  else
    client->server->handler (client, request, client->server->handler_data);
  client_pump (client);
}

/* Handles every complete request in the buffer, one at a time: the next
 * one is parsed only after the previous response was written. */
static void
client_process (HttpClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HttpRequest) request = parse_request (client, &error);

  if (error != NULL)
    g_debug ("Bad request: %s", error->message);
  else if (request == NULL)
    {
      client_read_more (client);
      return;
    }

  client_answer (client, request, error);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(HttpClient) client = user_data;
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
client_read_more (HttpClient *client)
{
  GInputStream *in;

  if (client->closed)
    return;

  /* A pipelined request may already be buffered. */
  if (client->buf->len > 0 && find_bytes (client->buf->data, client->buf->len, "\r\n\r\n"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HttpRequest) request = parse_request (client, &error);

      if (error != NULL || request != NULL)
        {
          client_answer (client, request, error);
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
  HttpServer *server = user_data;
  HttpClient *client = g_rc_box_new0 (HttpClient);

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

/* ---- The server -------------------------------------------------------- */

HttpServer *
http_server_new (GSocketAddress  *address,
                 HttpHandler      handler,
                 gpointer         user_data,
                 GError         **error)
{
  HttpServer *server = g_new0 (HttpServer, 1);
  g_autoptr(GSocketAddress) effective = NULL;

  server->handler = handler;
  server->handler_data = user_data;
  server->clients = g_hash_table_new (NULL, NULL);
  server->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      http_server_free (server);
      return NULL;
    }
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server->service, "incoming", G_CALLBACK (on_incoming), server);
  g_socket_service_start (server->service);
  return server;
}

guint16
http_server_get_port (HttpServer *server)
{
  return server->port;
}

/* Stops listening and closes every connection. */
void
http_server_free (HttpServer *server)
{
  GList *clients;

  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  clients = g_hash_table_get_keys (server->clients);
  for (GList *l = clients; l != NULL; l = l->next)
    client_close (l->data);
  g_list_free (clients);
  /* Let cancelled operations drop their references. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_clear_object (&server->service);
  g_clear_pointer (&server->clients, g_hash_table_unref);
  g_free (server);
}
