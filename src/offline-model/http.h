/* SPDX-License-Identifier: MIT */
/* http.h: the offline model's HTTP/1.1 server */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _HttpServer HttpServer;
typedef struct _HttpClient HttpClient;

/* An HTTP request as parsed from the connection. */
typedef struct
{
  gchar *method;                /* owned */
  gchar *path;                  /* owned, without the query string */
  GHashTable *headers;          /* owned: lower-case name → value */
  GBytes *body;                 /* owned */
} HttpRequest;

/* Queues the response to @request on @client; the server writes it once
 * the handler returns. */
typedef void (*HttpHandler) (HttpClient  *client,
                             HttpRequest *request,
                             gpointer     user_data);

HttpServer *http_server_new      (GSocketAddress  *address,
                                  HttpHandler      handler,
                                  gpointer         user_data,
                                  GError         **error);
guint16     http_server_get_port (HttpServer      *server);
void        http_server_free     (HttpServer      *server);

void http_respond        (HttpClient  *client,
                          guint        status,
                          const gchar *content_type,
                          const gchar *body);
/* Sets a response header (before the response is queued). */
void http_set_header     (HttpClient  *client,
                          const gchar *name,
                          const gchar *value);
void http_respond_json   (HttpClient  *client,
                          guint        status,
                          JsonNode    *node);
void http_respond_error  (HttpClient  *client,
                          guint        status,
                          const gchar *message);
void http_sse_begin      (HttpClient  *client);
void http_queue_sse      (HttpClient  *client,
                          const gchar *payload,
                          guint        delay_ms);
void http_queue_sse_json (HttpClient  *client,
                          JsonNode    *node,
                          guint        delay_ms);
void http_sse_end        (HttpClient  *client);

G_END_DECLS
