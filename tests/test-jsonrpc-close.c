/* SPDX-License-Identifier: MIT */
/* test-jsonrpc-close.c: CopilotdJsonrpc on input it cannot read on (the
 * connection closes, failing its calls) or skips (an oversized frame),
 * and its closing: EOF, write errors, whether a call's request was
 * written */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "copilotd-error.h"
#include "jsonrpc-fixture.h"

/* Input the framing cannot read on */

/* Feeds @input and checks that the connection closes with a framing
 * error mentioning @problem, failing the pending call. */
static void
check_fatal_input (const char   *input,
                   GQuark        domain,
                   int           code,
                   const char   *problem)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  CallResult res = { 0 };
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  copilotd_jsonrpc_call_async (rpc, "m", NULL, NULL, call_done_cb, &res);
  feed_str (rpc, input);

  g_assert_true (copilotd_jsonrpc_is_closed (rpc));
  g_assert_cmpuint (rec.n_closed, ==, 1);
  g_assert_error (rec.closed, domain, code);
  g_assert_nonnull (strstr (rec.closed->message, problem));

  wait_call (&res);
  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_true (g_str_has_prefix (res.error->message, "Connection to the CLI lost: "));
  g_assert_nonnull (strstr (res.error->message, problem));

  /* Input after the close is ignored. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"late\"}");
  g_assert_cmpuint (rec.events->len, ==, 0);
  g_assert_cmpuint (rec.n_closed, ==, 1);

  call_result_clear (&res);
  recorder_clear (&rec);
}

static void
test_close_missing_length (void)
{
  check_fatal_input ("Content-Type: application/json\r\n\r\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no Content-Length");
  /* A bare JSON line, as a confused peer might write. */
  check_fatal_input ("{\"jsonrpc\": \"2.0\", \"method\": \"x\"}\r\n\r\n",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "malformed header line");
}

static void
test_close_bad_length (void)
{
  check_fatal_input ("Content-Length: twelve\r\n\r\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a number");
  check_fatal_input ("Content-Length: -2\r\n\r\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a number");
  check_fatal_input ("Content-Length: \r\n\r\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a number");
  check_fatal_input ("Content-Length: 1073741825\r\n\r\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "too large");
  check_fatal_input ("Content-Length: 2\n\n{}",
                     G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "line feed");
}

/* Feeds a frame whose body starts with @head and is padded with spaces
 * to @body_len bytes, in 1 MiB pieces. */
static void
feed_padded_frame (CopilotdJsonrpc *rpc,
                   const char      *head,
                   gsize            body_len)
{
  g_autofree char *header = g_strdup_printf ("Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", body_len);
  g_autofree guint8 *piece = g_malloc (1024 * 1024);
  gsize left = body_len - strlen (head);

  memset (piece, ' ', 1024 * 1024);
  feed_str (rpc, header);
  feed_str (rpc, head);
  while (left > 0)
    {
      gsize n = MIN (left, 1024 * 1024);

      copilotd_jsonrpc_feed (rpc, piece, n);
      left -= n;
    }
}

/* Issue 8: a body over 64 MiB closed the connection (and so restarted the
 * CLI, for every session). Now it is skipped as it streams; its call
 * fails with LimitsExceeded, and the frames after it are read. */
static void
test_skip_oversized (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  gsize big = 64 * 1024 * 1024 + 10;
  CallResult res = { 0 };
  CallResult other = { 0 };
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);
  copilotd_jsonrpc_call_async (rpc, "session.getMessages", NULL, NULL, call_done_cb, &res);
  copilotd_jsonrpc_call_async (rpc, "ping", NULL, NULL, call_done_cb, &other);

  g_test_expect_message ("copilotd", G_LOG_LEVEL_WARNING, "*answer to call 1*over the 64 MiB limit*");
  feed_padded_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"events\":[]}", big);
  g_test_assert_expected_messages ();
  g_test_expect_message ("copilotd", G_LOG_LEVEL_WARNING, "*message of*over the 64 MiB limit*");
  feed_padded_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{}}", big);
  g_test_assert_expected_messages ();
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"after\",\"params\":{}}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"ok\":true}}");

  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
  wait_call (&res);
  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED);
  wait_call (&other);
  g_assert_no_error (other.error);
  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "after {}");
  g_assert_cmpuint (rec.n_closed, ==, 0);

  call_result_clear (&res);
  call_result_clear (&other);
  recorder_clear (&rec);
}

static void
test_close_header_too_large (void)
{
  g_autofree char *huge = NULL;
  GString *s = g_string_new ("Content-Length: 2\r\n");

  while (s->len <= 9000)
    g_string_append (s, "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  /* The end of the header block never comes. */
  huge = g_string_free (s, FALSE);
  check_fatal_input (huge, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "header block longer");
}

static void
test_close_parse_error_null_id (void)
{
  g_autofree char *f =
    frame ("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
           "\"message\":\"Parse error: missing Content-Length\"}}");

  check_fatal_input (f, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "missing Content-Length");
}

/* Closing */

static void
test_close_eof (void)
{
  PipePair pp;
  CallResult res = { 0 };
  g_autofree char *f = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"last.words\"}");
  Recorder rec;

  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  copilotd_jsonrpc_call_async (pp.rpc, "session.send", NULL, NULL, call_done_cb, &res);
  write_fd_all (pp.in_write_fd, f, strlen (f));
  close (pp.in_write_fd);
  pp.in_write_fd = -1;

  wait_call (&res);
  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "last.words (none)");
  g_assert_cmpuint (rec.n_closed, ==, 1);
  g_assert_error (rec.closed, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpstr (rec.closed->message, ==, "The CLI closed its output");
  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_cmpstr (res.error->message, ==, "Connection to the CLI lost: The CLI closed its output");
  g_assert_true (copilotd_jsonrpc_is_closed (pp.rpc));

  /* The request went out before the close, and the close reaches the
   * peer as EOF on its stdin. */
  {
    g_autoptr(GByteArray) written = read_fd_until (pp.out_read_fd, G_MAXSIZE);
    g_autoptr(GPtrArray) frames = split_written (written->data, written->len);

    g_assert_cmpuint (frames->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (frame_object (frames, 0), "method"), ==, "session.send");
  }

  call_result_clear (&res);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

static void
test_close_after_close (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "The CLI exited with status 3");
  g_autoptr(GError) error = NULL;
  CallResult pending = { 0 };
  CallResult late = { 0 };
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  copilotd_jsonrpc_call_async (rpc, "pending", NULL, NULL, call_done_cb, &pending);
  copilotd_jsonrpc_close (rpc, reason);
  copilotd_jsonrpc_close (rpc, NULL);
  g_assert_true (copilotd_jsonrpc_is_closed (rpc));
  g_assert_cmpuint (rec.n_closed, ==, 1);
  g_assert_error (rec.closed, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpstr (rec.closed->message, ==, "The CLI exited with status 3");

  wait_call (&pending);
  g_assert_error (pending.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_cmpstr (pending.error->message, ==, "Connection to the CLI lost: The CLI exited with status 3");

  copilotd_jsonrpc_call_async (rpc, "late", NULL, NULL, call_done_cb, &late);
  wait_call (&late);
  g_assert_error (late.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_cmpstr (late.error->message, ==, "Connection to the CLI lost: The CLI exited with status 3");

  g_assert_false (copilotd_jsonrpc_notify (rpc, "late", NULL, &error));
  g_assert_error (error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_cmpuint (rec.n_closed, ==, 1);

  iterate ();
  g_assert_true (g_output_stream_is_closed (G_OUTPUT_STREAM (out)));

  call_result_clear (&pending);
  call_result_clear (&late);
  recorder_clear (&rec);
}

static void
unref_on_closed (CopilotdJsonrpc *rpc,
                 const GError    *reason,
                 gboolean        *seen)
{
  *seen = TRUE;
  g_object_unref (rpc);
}

static void
test_close_handler_drops_last_ref (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  CopilotdJsonrpc *rpc = new_memory_rpc (&out);
  g_autofree char *f = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"x\"}");
  gboolean seen = FALSE;
  GWeakRef weak;

  g_weak_ref_init (&weak, rpc);
  g_signal_connect (rpc, "closed", G_CALLBACK (unref_on_closed), &seen);
  /* A frame then garbage, in one feed: the close happens mid-batch. */
  feed_str (rpc, f);
  feed_str (rpc, "garbage\r\n\r\n");
  g_assert_true (seen);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
  iterate ();
}

static void
test_close_write_error (void)
{
  PipePair pp;
  CallResult res = { 0 };
  Recorder rec;

  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  /* The peer is gone: its stdin has no reader any more. */
  close (pp.out_read_fd);
  pp.out_read_fd = -1;
  copilotd_jsonrpc_call_async (pp.rpc, "m", NULL, NULL, call_done_cb, &res);
  wait_call (&res);

  g_assert_cmpuint (rec.n_closed, ==, 1);
  g_assert_error (rec.closed, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_true (g_str_has_prefix (rec.closed->message, "Writing to the CLI failed: "));
  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  /* Its request never reached anyone: it may go to the next CLI. */
  g_assert_false (res.written);

  call_result_clear (&res);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

/* A request the peer could read before it went away may have been
 * received: it must not be sent again. */
static void
test_close_after_write (void)
{
  PipePair pp;
  CallResult sent = { 0 };
  CallResult queued = { 0 };
  Recorder rec;
  char buf[256];

  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  copilotd_jsonrpc_call_async (pp.rpc, "sent", NULL, NULL, call_done_cb, &sent);
  /* The request is in the pipe once it can be read. */
  while (read (pp.out_read_fd, buf, sizeof buf) <= 0)
    g_main_context_iteration (NULL, FALSE);
  /* The peer's output ends: the connection is lost. */
  close (pp.in_write_fd);
  pp.in_write_fd = -1;
  wait_call (&sent);
  g_assert_error (sent.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_true (sent.written);

  /* Once closed, a call fails at once, unwritten. */
  copilotd_jsonrpc_call_async (pp.rpc, "late", NULL, NULL, call_done_cb, &queued);
  wait_call (&queued);
  g_assert_error (queued.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_false (queued.written);

  call_result_clear (&sent);
  call_result_clear (&queued);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

/* The peer died before the request went out, and its end of the
 * connection is seen (EOF, exit) before the failed write reports back: the
 * request never reached it and may go to the next CLI. (copilotd held a
 * SendAndWait made right after a SIGKILL and failed it BackendFailed.) */
static void
test_close_before_write_reported (void)
{
  PipePair pp;
  CallResult res = { 0 };
  Recorder rec;
  g_autoptr(GError) eof = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "EOF");

  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  close (pp.out_read_fd);
  close (pp.in_write_fd);
  pp.out_read_fd = pp.in_write_fd = -1;
  copilotd_jsonrpc_call_async (pp.rpc, "m", NULL, NULL, call_done_cb, &res);
  /* No main loop iteration in between: the close comes first. */
  copilotd_jsonrpc_close (pp.rpc, eof);
  wait_call (&res);

  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_false (res.written);

  call_result_clear (&res);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

/* A frame the pipe took in part before the peer went away may have been
 * read: its request counts as written. */
static void
test_close_partial_write (void)
{
  PipePair pp;
  CallResult res = { 0 };
  Recorder rec;
  g_autoptr(JsonNode) params = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree char *big = g_strnfill (1024 * 1024, 'x');
  char buf[4096];

  json_object_set_string_member (object, "text", big);
  json_node_set_object (params, object);
  pipe_pair_init (&pp);
  recorder_init (&rec);
  recorder_connect (&rec, pp.rpc);
  copilotd_jsonrpc_start (pp.rpc);

  /* 1 MiB does not fit a pipe: the peer reads a little and dies. */
  copilotd_jsonrpc_call_async (pp.rpc, "m", params, NULL, call_done_cb, &res);
  while (read (pp.out_read_fd, buf, sizeof buf) <= 0)
    g_main_context_iteration (NULL, FALSE);
  close (pp.out_read_fd);
  close (pp.in_write_fd);
  pp.out_read_fd = pp.in_write_fd = -1;
  wait_call (&res);

  g_assert_error (res.error, COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED);
  g_assert_true (res.written);

  call_result_clear (&res);
  recorder_clear (&rec);
  pipe_pair_clear (&pp);
}

void
jsonrpc_add_close_tests (void)
{
  g_test_add_func ("/jsonrpc/close/missing-length", test_close_missing_length);
  g_test_add_func ("/jsonrpc/close/bad-length", test_close_bad_length);
  g_test_add_func ("/jsonrpc/skip-oversized", test_skip_oversized);
  g_test_add_func ("/jsonrpc/close/header-too-large", test_close_header_too_large);
  g_test_add_func ("/jsonrpc/close/parse-error-null-id", test_close_parse_error_null_id);
  g_test_add_func ("/jsonrpc/close/eof", test_close_eof);
  g_test_add_func ("/jsonrpc/close/after-close", test_close_after_close);
  g_test_add_func ("/jsonrpc/close/handler-drops-last-ref", test_close_handler_drops_last_ref);
  g_test_add_func ("/jsonrpc/close/write-error", test_close_write_error);
  g_test_add_func ("/jsonrpc/close/before-write-reported", test_close_before_write_reported);
  g_test_add_func ("/jsonrpc/close/partial-write", test_close_partial_write);
  g_test_add_func ("/jsonrpc/close/after-write", test_close_after_write);
}
