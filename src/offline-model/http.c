/* SPDX-License-Identifier: MIT */
/* http.c: the offline model's HTTP/1.1 server, on libsoup's SoupServer
 *
 * SoupServer does the HTTP: request parsing, chunked request bodies,
 * keep-alive. This file adapts it to the small API of http.h: each request
 * goes to the handler as an HttpRequest (the body decoded from gzip or
 * deflate, which SoupServer leaves to the application), and the handler
 * queues its response on an HttpClient. A plain response is set at once; an
 * SSE stream is one chunked response whose chunks may wait before they are
 * written: the message is paused, and each chunk is appended and the
 * message unpaused when its time comes, which is how streams come out
 * slowly.
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "http.h"

#define MAX_BODY_BYTES (64 * 1024 * 1024)

struct _HttpServer
{
  SoupServer *soup;             /* owned */
  guint16 port;
  HttpHandler handler;
  gpointer handler_data;        /* unowned */
};

/* One chunk of an SSE stream, appended after an optional pause. */
typedef struct
{
  GBytes *data;                 /* owned; NULL: the end of the stream */
  guint delay_ms;
} Chunk;

/* One request being answered; freed when SoupServer is done with it. */
struct _HttpClient
{
  SoupServerMessage *msg;       /* unowned: the message owns the client */
  GQueue chunks;                /* owned: Chunk * still to append */
  gboolean streaming;           /* http_sse_begin() was called */
  gboolean finished;            /* written or dropped: append nothing more */
  guint timeout_id;
};

static void
chunk_free (gpointer data)
{
  Chunk *chunk = data;

  g_clear_pointer (&chunk->data, g_bytes_unref);
  g_free (chunk);
}

static void
client_free (HttpClient *client)
{
  g_clear_handle_id (&client->timeout_id, g_source_remove);
  g_queue_clear_full (&client->chunks, chunk_free);
  g_free (client);
}

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

/* ---- streaming ----------------------------------------------------------- */

static void client_pump (HttpClient *client);

static gboolean
on_chunk_delay (gpointer user_data)
{
  HttpClient *client = user_data;
  Chunk *chunk = g_queue_peek_head (&client->chunks);

  client->timeout_id = 0;
  chunk->delay_ms = 0;
  client_pump (client);
  return G_SOURCE_REMOVE;
}

/* Appends the chunks that are due, then lets SoupServer write them; waits
 * for the next one that is not due yet. SoupServer pauses the message
 * again on its own when it runs out of body before the end. */
static void
client_pump (HttpClient *client)
{
  SoupMessageBody *body = soup_server_message_get_response_body (client->msg);
  Chunk *chunk;
  gboolean appended = FALSE;

  while (!client->finished && (chunk = g_queue_peek_head (&client->chunks)) != NULL)
    {
      if (chunk->delay_ms > 0)
        {
          client->timeout_id = g_timeout_add (chunk->delay_ms, on_chunk_delay, client);
          break;
        }
      chunk = g_queue_pop_head (&client->chunks);
      if (chunk->data != NULL)
        soup_message_body_append_bytes (body, chunk->data);
      else
        soup_message_body_complete (body);
      chunk_free (chunk);
      appended = TRUE;
    }
  if (appended && !client->finished)
    soup_server_message_unpause (client->msg);
}

/* The response was written, or the peer went away (the CLI closes the
 * connection when a turn is aborted mid-stream). */
static void
on_finished (SoupServerMessage *msg,
             gpointer           user_data)
{
  HttpClient *client = user_data;

  client->finished = TRUE;
  g_clear_handle_id (&client->timeout_id, g_source_remove);
  g_queue_clear_full (&client->chunks, chunk_free);
}

/* ---- HTTP responses ------------------------------------------------------- */

void
http_respond (HttpClient  *client,
              guint        status,
              const gchar *content_type,
              const gchar *body)
{
  soup_server_message_set_status (client->msg, status, NULL);
  soup_server_message_set_response (client->msg, content_type, SOUP_MEMORY_COPY,
                                    body, strlen (body));
}

void
http_set_header (HttpClient  *client,
                 const gchar *name,
                 const gchar *value)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (client->msg), name, value);
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

static void
client_queue (HttpClient *client,
              GBytes     *data,
              guint       delay_ms)
{
  Chunk *chunk = g_new0 (Chunk, 1);

  chunk->data = data;
  chunk->delay_ms = delay_ms;
  g_queue_push_tail (&client->chunks, chunk);
}

/* Queues one SSE event as one HTTP chunk. */
void
http_queue_sse (HttpClient  *client,
                const gchar *payload,
                guint        delay_ms)
{
  gchar *event = g_strdup_printf ("data: %s\n\n", payload);

  client_queue (client, g_bytes_new_take (event, strlen (event)), delay_ms);
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
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (client->msg);

  client->streaming = TRUE;
  soup_server_message_set_status (client->msg, 200, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (client->msg), FALSE);
}

void
http_sse_end (HttpClient *client)
{
  client_queue (client, NULL, 0);
}

/* ---- HTTP requests -------------------------------------------------------- */

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

static void
add_header (const char *name,
            const char *value,
            gpointer    user_data)
{
  g_hash_table_replace (user_data, g_ascii_strdown (name, -1), g_strdup (value));
}

/* The request as the handler sees it: lower-case header names, the body
 * without its content encoding. */
static HttpRequest *
request_new (SoupServerMessage  *msg,
             const char         *path,
             GError            **error)
{
  g_autoptr(HttpRequest) request = g_new0 (HttpRequest, 1);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *encoding;

  request->method = g_strdup (soup_server_message_get_method (msg));
  request->path = g_strdup (path);
  request->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  soup_message_headers_foreach (soup_server_message_get_request_headers (msg),
                                add_header, request->headers);
  request->body = soup_message_body_flatten (body);

  encoding = g_hash_table_lookup (request->headers, "content-encoding");
  if (encoding != NULL && g_ascii_strcasecmp (encoding, "identity") != 0)
    {
      GBytes *decoded = decompress (request->body, encoding, error);

      if (decoded == NULL)
        return NULL;
      if (g_bytes_get_size (decoded) > MAX_BODY_BYTES)
        {
          g_bytes_unref (decoded);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "the decoded body is over %d bytes", MAX_BODY_BYTES);
          return NULL;
        }
      g_bytes_unref (request->body);
      request->body = decoded;
    }
  return g_steal_pointer (&request);
}

static void
on_request (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  HttpServer *server = user_data;
  HttpClient *client = g_new0 (HttpClient, 1);
  g_autoptr(HttpRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  client->msg = msg;
  g_queue_init (&client->chunks);
  g_signal_connect (msg, "finished", G_CALLBACK (on_finished), client);
  /* The client lives as long as the message. */
  g_object_set_data_full (G_OBJECT (msg), "offline-model-client", client,
                          (GDestroyNotify) client_free);

  request = request_new (msg, path, &error);
  if (request == NULL)
    {
      g_debug ("Bad request: %s", error->message);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Connection", "close");
      http_respond_error (client, 400, error->message);
      return;
    }

  server->handler (client, request, server->handler_data);
  if (client->streaming)
    {
      soup_server_message_pause (msg);
      client_pump (client);
    }
}

/* ---- the server ------------------------------------------------------------ */

HttpServer *
http_server_new (GSocketAddress  *address,
                 HttpHandler      handler,
                 gpointer         user_data,
                 GError         **error)
{
  HttpServer *server = g_new0 (HttpServer, 1);
  g_autoptr(GSList) uris = NULL;

  server->soup = soup_server_new ("server-header", NULL, NULL);
  server->handler = handler;
  server->handler_data = user_data;
  soup_server_add_handler (server->soup, NULL, on_request, server, NULL);
  if (!soup_server_listen (server->soup, address, 0, error))
    {
      http_server_free (server);
      return NULL;
    }
  uris = soup_server_get_uris (server->soup);
  server->port = g_uri_get_port (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  return server;
}

guint16
http_server_get_port (HttpServer *server)
{
  return server->port;
}

void
http_server_free (HttpServer *server)
{
  soup_server_disconnect (server->soup);
  g_object_unref (server->soup);
  g_free (server);
}
