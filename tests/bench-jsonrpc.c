/* SPDX-License-Identifier: MIT */
/* bench-jsonrpc.c: cost per frame of CopilotdJsonrpc's input path
 *
 * Feeds N framed assistant.message_delta notifications (the shape of
 * tests/data/simple-turn.jsonl) in 64 KiB chunks and prints:
 *  - feed: framing + JSON parse + dispatch to a "notification" handler;
 *  - parse only: json_parser_load_from_data() on the same body N times;
 *  - framing + dispatch: the difference, i.e. what jsonrpc.c itself costs;
 *  - tiny frames: the same with a 29-byte body, an upper bound of the
 *    framing cost with the JSON parse made negligible;
 *  - pipe: the same frames written by a thread into a pipe and read by the
 *    pollable read path of copilotd_jsonrpc_start().
 *
 * Usage: bench-jsonrpc [N]
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "jsonrpc.h"

#define CHUNK (64 * 1024)

static const char *delta_body =
  "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{"
  "\"sessionId\":\"598a77f8-d232-4bb6-9837-313d0f95f7fa\",\"event\":{"
  "\"type\":\"assistant.message_delta\",\"data\":{"
  "\"messageId\":\"d19cc420-59ad-4e20-89fc-c3a0f5b7b207\",\"deltaContent\":\" You\"},"
  "\"ephemeral\":true,\"id\":\"159820a2-be2e-48fd-88d5-29db41241f9b\","
  "\"timestamp\":\"2026-11-21T10:55:32.915Z\","
  "\"parentId\":\"92f711a2-70cb-4594-87ed-d8ede763f147\"}}}";

typedef struct
{
  guint frames;
  gsize delta_bytes;
  guint target;
  GMainLoop *loop;          /* unowned */
} Counter;

/* Does what a real consumer does first: find the event type and delta. */
static void
on_notification (CopilotdJsonrpc *rpc,
                 const char      *method,
                 JsonNode        *params,
                 Counter         *counter)
{
  JsonObject *event = json_object_get_object_member (json_node_get_object (params), "event");
  JsonObject *data = json_object_get_object_member (event, "data");

  if (g_str_equal (json_object_get_string_member (event, "type"), "assistant.message_delta"))
    counter->delta_bytes += strlen (json_object_get_string_member (data, "deltaContent"));
  counter->frames++;
  if (counter->loop != NULL && counter->frames == counter->target)
    g_main_loop_quit (counter->loop);
}

static const char *tiny_body = "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";

static void
on_tiny_notification (CopilotdJsonrpc *rpc,
                      const char      *method,
                      JsonNode        *params,
                      Counter         *counter)
{
  counter->frames++;
}

static GBytes *
build_stream (const char *body,
              guint       n)
{
  g_autofree char *header = g_strdup_printf ("Content-Length: %zu\r\n\r\n", strlen (body));
  gsize frame_len = strlen (header) + strlen (body);
  GByteArray *buf = g_byte_array_sized_new ((guint) (frame_len * n));

  for (guint i = 0; i < n; i++)
    {
      g_byte_array_append (buf, (const guint8 *) header, (guint) strlen (header));
      g_byte_array_append (buf, (const guint8 *) body, (guint) strlen (body));
    }
  return g_byte_array_free_to_bytes (buf);
}

static CopilotdJsonrpc *
new_rpc (GInputStream *in)
{
  g_autoptr(GInputStream) empty = g_memory_input_stream_new ();
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

  return copilotd_jsonrpc_new (in != NULL ? in : empty, out);
}

static double
bench_feed (GBytes   *stream,
            guint     n,
            gboolean  tiny)
{
  g_autoptr(CopilotdJsonrpc) rpc = new_rpc (NULL);
  Counter counter = { 0 };
  gsize len;
  const guint8 *data = g_bytes_get_data (stream, &len);
  gint64 start;
  gint64 end;

  g_signal_connect (rpc, "notification",
                    tiny ? G_CALLBACK (on_tiny_notification) : G_CALLBACK (on_notification),
                    &counter);

  start = g_get_monotonic_time ();
  for (gsize pos = 0; pos < len; pos += CHUNK)
    copilotd_jsonrpc_feed (rpc, data + pos, MIN (CHUNK, len - pos));
  end = g_get_monotonic_time ();

  if (counter.frames != n || counter.delta_bytes != (tiny ? 0 : (gsize) n * strlen (" You")))
    g_error ("Got %u frames, expected %u", counter.frames, n);
  return (double) (end - start);
}

static double
bench_parse_only (guint n)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len = strlen (delta_body);
  gint64 start;
  gint64 end;

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) root = NULL;

      if (!json_parser_load_from_data (parser, delta_body, (gssize) len, &error))
        g_error ("%s", error->message);
      root = json_parser_steal_root (parser);
    }
  end = g_get_monotonic_time ();

  return (double) (end - start);
}

typedef struct
{
  int fd;
  GBytes *stream;           /* unowned */
} Writer;

static gpointer
writer_thread (gpointer user_data)
{
  Writer *w = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (w->stream, &len);

  while (len > 0)
    {
      gssize n = write (w->fd, data, MIN (len, CHUNK));

      if (n <= 0)
        g_error ("write failed");
      data += n;
      len -= (gsize) n;
    }
  close (w->fd);
  return NULL;
}

static double
bench_pipe (GBytes *stream,
            guint   n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Counter counter = { 0, 0, n, loop };
  Writer writer;
  GThread *thread;
  int fds[2];
  gint64 start;
  gint64 end;

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error))
    g_error ("%s", error->message);
  in = g_unix_input_stream_new (fds[0], TRUE);
  rpc = new_rpc (in);
  g_signal_connect (rpc, "notification", G_CALLBACK (on_notification), &counter);

  writer = (Writer) { fds[1], stream };
  start = g_get_monotonic_time ();
  copilotd_jsonrpc_start (rpc);
  thread = g_thread_new ("writer", writer_thread, &writer);
  g_main_loop_run (loop);
  end = g_get_monotonic_time ();
  g_thread_join (thread);

  if (counter.frames != n)
    g_error ("Got %u frames, expected %u", counter.frames, n);
  return (double) (end - start);
}

int
main (int    argc,
      char **argv)
{
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 100000;
  g_autoptr(GBytes) stream = NULL;
  g_autoptr(GBytes) tiny_stream = NULL;
  double tiny_us;
  double feed_us;
  double parse_us;
  double pipe_us;

  if (n == 0)
    {
      g_printerr ("Usage: %s [N]\n", argv[0]);
      return 2;
    }

  stream = build_stream (delta_body, n);
  tiny_stream = build_stream (tiny_body, n);
  printf ("frame body: %zu bytes, stream: %.1f MiB, chunks of %d KiB\n",
           strlen (delta_body), (double) g_bytes_get_size (stream) / (1024.0 * 1024.0), CHUNK / 1024);

  feed_us = bench_feed (stream, n, FALSE);
  tiny_us = bench_feed (tiny_stream, n, TRUE);
  parse_us = bench_parse_only (n);
  pipe_us = bench_pipe (stream, n);

  printf ("feed:   frames: %u  total: %.1f ms  per frame: %.3f µs (framing+parse+dispatch)\n",
           n, feed_us / 1000.0, feed_us / n);
  printf ("parse:  frames: %u  total: %.1f ms  per frame: %.3f µs (json_parser_load_from_data only)\n",
           n, parse_us / 1000.0, parse_us / n);
  printf ("framing+dispatch (feed - parse): per frame: %.3f µs\n",
           (feed_us - parse_us) / n);
  printf ("tiny:   frames: %u  total: %.1f ms  per frame: %.3f µs (framing+29-byte parse+dispatch)\n",
          n, tiny_us / 1000.0, tiny_us / n);
  printf ("pipe:   frames: %u  total: %.1f ms  per frame: %.3f µs (pollable read+framing+parse+dispatch)\n",
           n, pipe_us / 1000.0, pipe_us / n);

  return 0;
}
