/* SPDX-License-Identifier: MIT */
/* test-jsonrpc-streams.c: CopilotdJsonrpc over real pipes and over a
 * stream that cannot poll, and the replay of recorded CLI transcripts */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "jsonrpc-fixture.h"

/* Real pipes */

static void
test_pipe_roundtrip (void)
{
  PipePair pp;
  CallResult res = { 0 };
  g_autoptr(JsonNode) big = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) written = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autofree char *reply = NULL;
  GString *text = g_string_new ("{\"blob\":\"");
  gsize expected_len = 0;
  Recorder rec;

  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  /* Frames far larger than the pipe buffer: the writes must queue
   * without blocking while the test reads slowly. */
  for (guint i = 0; i < 300 * 1024; i++)
    g_string_append_c (text, (char) ('a' + i % 26));
  g_string_append (text, "\"}");
  big = parse_json (text->str);
  g_string_free (text, TRUE);

  for (guint i = 0; i < 3; i++)
    g_assert_true (copilotd_jsonrpc_notify (pp.rpc, "big", big, &error));
  g_assert_no_error (error);
  copilotd_jsonrpc_call_async (pp.rpc, "after.big", NULL, NULL, call_done_cb, &res);

  /* Each big frame is the body plus its header. */
  {
    g_autofree char *one = NULL;
    g_autofree char *header = NULL;
    g_autoptr(JsonObject) o = json_object_new ();
    g_autoptr(JsonNode) n = json_node_new (JSON_NODE_OBJECT);
    g_autofree char *call = frame ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"after.big\"}");

    json_object_set_string_member (o, "jsonrpc", "2.0");
    json_object_set_string_member (o, "method", "big");
    json_object_set_member (o, "params", json_node_copy (big));
    json_node_set_object (n, o);
    one = json_to_string (n, FALSE);
    header = g_strdup_printf ("Content-Length: %zu\r\n\r\n", strlen (one));
    expected_len = 3 * (strlen (header) + strlen (one)) + strlen (call);
  }

  written = read_fd_until (pp.out_read_fd, expected_len);
  g_assert_cmpuint (written->len, ==, expected_len);
  frames = split_written (written->data, written->len);
  g_assert_cmpuint (frames->len, ==, 4);
  for (guint i = 0; i < 3; i++)
    g_assert_true (json_node_equal (json_object_get_member (frame_object (frames, i), "params"), big));
  g_assert_cmpstr (json_object_get_string_member (frame_object (frames, 3), "method"), ==, "after.big");

  /* The answer arrives in pieces through the pollable read path. */
  reply = frame ("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}");
  write_fd_all (pp.in_write_fd, reply, 10);
  g_main_context_iteration (NULL, FALSE);
  g_assert_false (res.done);
  write_fd_all (pp.in_write_fd, reply + 10, strlen (reply) - 10);
  wait_call (&res);
  g_assert_no_error (res.error);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (res.result), "ok"));
  g_assert_false (copilotd_jsonrpc_is_closed (pp.rpc));

  call_result_clear (&res);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

static void
test_dispose_while_reading (void)
{
  PipePair pp;
  GWeakRef weak;

  pipe_pair_init (&pp);
  copilotd_jsonrpc_start (pp.rpc);
  copilotd_jsonrpc_notify (pp.rpc, "hello", NULL, NULL);
  iterate ();

  /* Nothing in flight keeps the object alive. */
  g_weak_ref_init (&weak, pp.rpc);
  g_clear_object (&pp.rpc);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);

  /* And its streams were closed: the peer sees EOF after the frame. */
  {
    g_autoptr(GByteArray) written = read_fd_until (pp.out_read_fd, G_MAXSIZE);
    g_autoptr(GPtrArray) frames = split_written (written->data, written->len);

    g_assert_cmpuint (frames->len, ==, 1);
  }
  pipe_pair_clear (&pp);
}

/* A stream that cannot poll takes the read_bytes_async() path. */
static void
test_read_non_pollable (void)
{
  g_autofree char *a = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}");
  g_autofree char *b = frame ("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":7}");
  g_autofree char *all = g_strconcat (a, b, NULL);
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_data (g_strdup (all), strlen (all), g_free);
  g_autoptr(GInputStream) in = g_buffered_input_stream_new_sized (base, 7);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(CopilotdJsonrpc) rpc = NULL;
  CallResult res = { 0 };
  Recorder rec;

  g_assert_false (G_IS_POLLABLE_INPUT_STREAM (in));
  rpc = copilotd_jsonrpc_new (in, out);
  recorder_init (&rec);
  recorder_connect (&rec, rpc);
  copilotd_jsonrpc_call_async (rpc, "m", NULL, NULL, call_done_cb, &res);
  copilotd_jsonrpc_start (rpc);

  wait_call (&res);
  g_assert_no_error (res.error);
  g_assert_cmpint (json_node_get_int (res.result), ==, 7);
  while (rec.n_closed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "a (none)");
  g_assert_error (rec.closed, G_IO_ERROR, G_IO_ERROR_CLOSED);
  /* The stream's default close_async runs in a thread. */
  while (!g_input_stream_is_closed (in))
    g_main_context_iteration (NULL, TRUE);

  call_result_clear (&res);
  recorder_clear (&rec);
}

static void
test_dispose_non_pollable_reading (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) pipe_in = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  CopilotdJsonrpc *rpc;
  GWeakRef weak;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  pipe_in = g_unix_input_stream_new (fds[0], TRUE);
  in = g_buffered_input_stream_new (pipe_in);
  g_assert_false (G_IS_POLLABLE_INPUT_STREAM (in));

  rpc = copilotd_jsonrpc_new (in, out);
  copilotd_jsonrpc_start (rpc);
  iterate ();
  g_assert_true (g_input_stream_has_pending (in));

  /* The read in flight holds no reference: dropping ours finalizes. */
  g_weak_ref_init (&weak, rpc);
  g_object_unref (rpc);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);

  /* The cancelled read completes later and then closes the stream. */
  while (!g_input_stream_is_closed (in))
    g_main_context_iteration (NULL, TRUE);
  close (fds[1]);
}

/* Transcript replay */

typedef struct
{
  GPtrArray *events;        /* unowned; "kind json" strings in arrival order */
  JsonNode *expected_result;
} ReplayCall;

static void
replay_call_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GPtrArray *events = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = node_to_string (node);
  g_ptr_array_add (events, g_strdup_printf ("result %s", text));
}

static void
replay_notification (CopilotdJsonrpc *rpc,
                     const char      *method,
                     JsonNode        *params,
                     GPtrArray       *events)
{
  g_autofree char *text = node_to_string (params);

  g_ptr_array_add (events, g_strdup_printf ("notification %s %s", method, text));
}

typedef struct
{
  CopilotdJsonrpc *rpc;     /* unowned */
  const guint8 *data;
  gsize len;
  gsize pos;
  GRand *rand;              /* unowned */
} ReplayFeed;

static gboolean
replay_feed_chunk (gpointer user_data)
{
  ReplayFeed *feed = user_data;
  gsize chunk = MIN ((gsize) g_rand_int_range (feed->rand, 1, 4097), feed->len - feed->pos);

  copilotd_jsonrpc_feed (feed->rpc, feed->data + feed->pos, chunk);
  feed->pos += chunk;
  return feed->pos < feed->len ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
test_transcript_replay (gconstpointer user_data)
{
  const char *name = user_data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261121);
  g_auto(GStrv) lines = NULL;
  ReplayFeed feed;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonNode) line = NULL;
      JsonObject *entry;
      JsonObject *msg;
      g_autofree char *body = NULL;
      g_autofree char *header = NULL;

      if (*lines[i] == '\0')
        continue;
      line = parse_json (lines[i]);
      entry = json_node_get_object (line);
      msg = json_object_get_object_member (entry, "msg");

      if (g_str_equal (json_object_get_string_member (entry, "dir"), "c2s"))
        {
          /* Our own requests: sent below with the same ids, in order. */
          if (json_object_has_member (msg, "id"))
            g_ptr_array_add (requests, json_node_ref (json_object_get_member (entry, "msg")));
          continue;
        }

      body = node_to_string (json_object_get_member (entry, "msg"));
      header = g_strdup_printf ("Content-Length: %zu\r\n\r\n", strlen (body));
      g_byte_array_append (stream, (const guint8 *) header, (guint) strlen (header));
      g_byte_array_append (stream, (const guint8 *) body, (guint) strlen (body));

      if (json_object_has_member (msg, "method"))
        {
          g_autofree char *params = node_to_string (json_object_get_member (msg, "params"));

          g_ptr_array_add (expected, g_strdup_printf ("notification %s %s",
                                                      json_object_get_string_member (msg, "method"),
                                                      params));
        }
      else
        {
          g_autofree char *result = node_to_string (json_object_get_member (msg, "result"));

          g_ptr_array_add (expected, g_strdup_printf ("result %s", result));
        }
    }
  g_assert_cmpuint (requests->len, >=, 4);
  g_assert_cmpuint (expected->len, >, 50);

  g_signal_connect (rpc, "notification", G_CALLBACK (replay_notification), events);
  for (guint i = 0; i < requests->len; i++)
    {
      JsonObject *msg = json_node_get_object (g_ptr_array_index (requests, i));

      g_assert_cmpint (json_object_get_int_member (msg, "id"), ==, i + 1);
      copilotd_jsonrpc_call_async (rpc, json_object_get_string_member (msg, "method"),
                                   json_object_get_member (msg, "params"),
                                   NULL, replay_call_cb, events);
    }
  iterate ();

  /* What we sent is what the transcript's client sent. */
  {
    g_autoptr(GPtrArray) frames = written_frames (out);

    g_assert_cmpuint (frames->len, ==, requests->len);
    for (guint i = 0; i < requests->len; i++)
      g_assert_true (json_node_equal (g_ptr_array_index (frames, i), g_ptr_array_index (requests, i)));
  }

  /* Feed from a source dispatch, as the real reads happen, so the call
   * callbacks run in line with the notifications and the order shows. */
  g_usleep (2000);
  feed = (ReplayFeed) { rpc, stream->data, stream->len, 0, rand };
  g_idle_add (replay_feed_chunk, &feed);
  while (feed.pos < feed.len)
    g_main_context_iteration (NULL, TRUE);
  iterate ();

  g_assert_cmpuint (events->len, ==, expected->len);
  for (guint i = 0; i < expected->len; i++)
    g_assert_cmpstr (g_ptr_array_index (events, i), ==, g_ptr_array_index (expected, i));
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
}

void
jsonrpc_add_streams_tests (void)
{
  g_test_add_func ("/jsonrpc/pipe/roundtrip", test_pipe_roundtrip);
  g_test_add_func ("/jsonrpc/pipe/dispose-while-reading", test_dispose_while_reading);
  g_test_add_func ("/jsonrpc/non-pollable/read", test_read_non_pollable);
  g_test_add_func ("/jsonrpc/non-pollable/dispose-while-reading", test_dispose_non_pollable_reading);
  g_test_add_data_func ("/jsonrpc/transcript/simple-turn", "simple-turn.jsonl", test_transcript_replay);
  g_test_add_data_func ("/jsonrpc/transcript/permission-and-tool-turn", "permission-and-tool-turn.jsonl",
                        test_transcript_replay);
}
