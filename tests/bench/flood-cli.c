/* SPDX-License-Identifier: MIT */
/* flood-cli.c: a stand-in for `copilot --headless --stdio` that floods deltas
 *
 * Speaks the CLI's framing (Content-Length, JSON-RPC 2.0) on stdin/stdout
 * and answers just enough for copilotd: connect/ping (protocol 3),
 * session.create/resume, session.destroy, and {} for anything else.
 *
 * `session.send` with the prompt `FLOOD <n> <rate>` answers with a
 * messageId, then writes n `assistant.message_delta` notifications of that
 * message, each with its own write(2), paced at <rate> per second (0: as
 * fast as the pipe takes them), then `assistant.message` and
 * `session.idle`. Each delta's text is one record `<seq>:<ns>;` where <ns>
 * is CLOCK_MONOTONIC just before the write, so that a subscriber on the
 * same machine can tell each delta's latency and count them even when
 * several arrive merged into one Delta signal.
 *
 * Any other prompt is answered with one delta and the final message.
 *
 * The command-line arguments of the real CLI are accepted and ignored.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "bench-common.h"

static guint64 event_counter;

static void
write_all (const char *data,
           gsize       len)
{
  while (len > 0)
    {
      ssize_t n = write (STDOUT_FILENO, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        exit (0);   /* copilotd went away */
      data += n;
      len -= (gsize) n;
    }
}

/* One frame, written with a single write(2) as the real CLI does. */
static void
write_frame (const char *body,
             gsize       len)
{
  g_autofree char *frame = NULL;
  int header;

  frame = g_malloc (len + 64);
  header = g_snprintf (frame, 64, "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", len);
  memcpy (frame + header, body, len);
  write_all (frame, header + len);
}

static void
write_node (JsonNode *node)
{
  g_autofree char *body = json_to_string (node, FALSE);

  write_frame (body, strlen (body));
}

static void
reply (JsonNode   *id,
       const char *result_json)
{
  g_autoptr(JsonNode) result = json_from_string (result_json, NULL);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "jsonrpc");
  json_builder_add_string_value (builder, "2.0");
  json_builder_set_member_name (builder, "id");
  json_builder_add_value (builder, json_node_copy (id));
  json_builder_set_member_name (builder, "result");
  json_builder_add_value (builder, g_steal_pointer (&result));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  write_node (root);
}

/* A session.event notification in the real CLI's envelope: the event has
 * an id, a timestamp and a parentId. @data_json is already JSON. */
static void
emit_event (const char *session_id,
            const char *type,
            const char *data_json,
            gboolean    ephemeral)
{
  g_autofree char *body = NULL;
  guint64 n = ++event_counter;

  body = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{"
                          "\"sessionId\":\"%s\",\"event\":{\"type\":\"%s\",\"data\":%s,"
                          "\"id\":\"00000000-0000-4000-8000-%012" G_GUINT64_FORMAT "\","
                          "\"timestamp\":\"2026-12-01T10:00:00.000Z\","
                          "\"parentId\":\"00000000-0000-4000-8000-%012" G_GUINT64_FORMAT "\""
                          "%s}}}",
                          session_id, type, data_json, n, n - 1,
                          ephemeral ? ",\"ephemeral\":true" : "");
  write_frame (body, strlen (body));
}

static void
flood (const char *session_id,
       const char *message_id,
       guint64     count,
       guint       rate)
{
  guint64 start = bench_now_ns ();
  char body[512];

  for (guint64 i = 0; i < count; i++)
    {
      int len;

      if (rate > 0)
        {
          guint64 due = start + i * G_GUINT64_CONSTANT (1000000000) / rate;
          struct timespec ts = { (time_t) (due / 1000000000), (long) (due % 1000000000) };

          while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        }
      /* The envelope is formatted by hand here (not through emit_event)
       * so that the writer costs as little as possible per delta. */
      len = g_snprintf (body, sizeof body,
                        "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{"
                        "\"sessionId\":\"%s\",\"event\":{\"type\":\"assistant.message_delta\","
                        "\"data\":{\"messageId\":\"%s\",\"deltaContent\":\"%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ";\"},"
                        "\"id\":\"00000000-0000-4000-8000-%012" G_GUINT64_FORMAT "\","
                        "\"timestamp\":\"2026-12-01T10:00:00.000Z\","
                        "\"parentId\":\"00000000-0000-4000-8000-%012" G_GUINT64_FORMAT "\","
                        "\"ephemeral\":true}}}",
                        session_id, message_id, i, bench_now_ns (),
                        event_counter + 1, event_counter);
      event_counter++;
      write_frame (body, (gsize) len);
    }
}

static void
handle_send (JsonNode   *id,
             JsonObject *params)
{
  const char *session_id = json_object_get_string_member_with_default (params, "sessionId", "");
  const char *prompt = json_object_get_string_member_with_default (params, "prompt", "");
  g_autofree char *message_id = g_strdup_printf ("10000000-0000-4000-8000-%012" G_GUINT64_FORMAT,
                                                 event_counter);
  g_autofree char *result = g_strdup_printf ("{\"messageId\":\"%s\"}", message_id);
  g_autofree char *data = NULL;
  guint64 count = 1;
  guint rate = 0;

  reply (id, result);
  if (g_str_has_prefix (prompt, "FLOOD "))
    {
      char *end = NULL;

      count = g_ascii_strtoull (prompt + 6, &end, 10);
      if (end != NULL)
        rate = (guint) g_ascii_strtoull (end, NULL, 10);
    }

  data = g_strdup_printf ("{\"messageId\":\"%s\",\"interactionId\":\"i\"}", message_id);
  emit_event (session_id, "assistant.message_start", data, TRUE);
  flood (session_id, message_id, count, rate);
  g_free (data);
  data = g_strdup_printf ("{\"messageId\":\"%s\",\"content\":\"\",\"toolRequests\":[]}", message_id);
  emit_event (session_id, "assistant.message", data, FALSE);
  emit_event (session_id, "session.idle", "{}", TRUE);
}

static void
handle_message (JsonNode *root)
{
  JsonObject *message = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *id = message ? json_object_get_member (message, "id") : NULL;
  JsonNode *params_node = message ? json_object_get_member (message, "params") : NULL;
  JsonObject *params = params_node && JSON_NODE_HOLDS_OBJECT (params_node) ? json_node_get_object (params_node) : NULL;
  const char *method = message ? json_object_get_string_member_with_default (message, "method", NULL) : NULL;

  if (id == NULL || method == NULL)
    return;   /* a notification or a reply to nothing we asked */

  if (strcmp (method, "connect") == 0 || strcmp (method, "ping") == 0)
    reply (id, "{\"protocolVersion\":3,\"version\":\"flood-cli\",\"message\":\"pong\"}");
  else if ((strcmp (method, "session.create") == 0 || strcmp (method, "session.resume") == 0) && params != NULL)
    {
      g_autofree char *result = NULL;

      result = g_strdup_printf ("{\"sessionId\":\"%s\",\"startTime\":\"2026-12-01T10:00:00.000Z\","
                                "\"isRemote\":false,\"mode\":\"interactive\",\"modelState\":{}}",
                                json_object_get_string_member_with_default (params, "sessionId", ""));
      reply (id, result);
    }
  else if (strcmp (method, "session.send") == 0 && params != NULL)
    handle_send (id, params);
  else
    reply (id, "{}");
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GString) in = g_string_new (NULL);
  char buf[65536];

  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
      char *header_end;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return 0;
      g_string_append_len (in, buf, n);

      while ((header_end = strstr (in->str, "\r\n\r\n")) != NULL)
        {
          const char *cl = g_strstr_len (in->str, header_end - in->str, "Content-Length:");
          gsize header_len = (gsize) (header_end - in->str) + 4;
          gsize body_len;
          g_autoptr(JsonParser) parser = json_parser_new ();

          if (cl == NULL)
            {
              g_printerr ("flood-cli: a frame without Content-Length\n");
              return 1;
            }
          body_len = g_ascii_strtoull (cl + strlen ("Content-Length:"), NULL, 10);
          if (in->len < header_len + body_len)
            break;
          if (json_parser_load_from_data (parser, in->str + header_len, (gssize) body_len, NULL))
            handle_message (json_parser_get_root (parser));
          g_string_erase (in, 0, (gssize) (header_len + body_len));
        }
    }
}
