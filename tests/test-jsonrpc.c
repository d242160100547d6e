/* SPDX-License-Identifier: MIT */
/* test-jsonrpc.c: framing, correlation and close semantics of CopilotdJsonrpc
 *
 * This file: writing, reading, calls and incoming messages; the program's
 * other cases are in test-jsonrpc-close.c and test-jsonrpc-streams.c, over
 * jsonrpc-fixture.h.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "jsonrpc-fixture.h"
#include "test-util.h"

/* Writing */

static void
test_write_frame_bytes (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(JsonNode) params = parse_json ("{\"prompt\":\"h\xc3\xa9llo \xe2\x86\x92 \xe4\xb8\x96\xe7\x95\x8c\"}");
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_body = NULL;
  g_autofree char *expected = NULL;
  const char *data;
  gsize size;

  copilotd_jsonrpc_call_async (rpc, "session.send", params, NULL, NULL, NULL);
  iterate ();

  expected_body = g_strdup ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session.send\","
                            "\"params\":{\"prompt\":\"h\xc3\xa9llo \xe2\x86\x92 \xe4\xb8\x96\xe7\x95\x8c\"}}");
  /* The length counts bytes, not characters. */
  g_assert_cmpuint (strlen (expected_body), ==, 88);
  g_assert_cmpint (g_utf8_strlen (expected_body, -1), ==, 81);
  expected = g_strdup_printf ("Content-Length: 88\r\n\r\n%s", expected_body);

  data = g_memory_output_stream_get_data (out);
  size = g_memory_output_stream_get_data_size (out);
  g_assert_cmpmem (data, size, expected, strlen (expected));

  /* Further frames follow in order, with ids 2, 3 and no params when NULL. */
  copilotd_jsonrpc_call_async (rpc, "ping", NULL, NULL, NULL, NULL);
  g_assert_true (copilotd_jsonrpc_notify (rpc, "session.log", params, &error));
  g_assert_no_error (error);
  copilotd_jsonrpc_call_async (rpc, "status.get", NULL, NULL, NULL, NULL);
  iterate ();

  {
    g_autoptr(GPtrArray) frames = written_frames (out);
    JsonObject *o;

    g_assert_cmpuint (frames->len, ==, 4);

    o = frame_object (frames, 1);
    g_assert_cmpstr (json_object_get_string_member (o, "jsonrpc"), ==, "2.0");
    g_assert_cmpint (json_object_get_int_member (o, "id"), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "ping");
    g_assert_false (json_object_has_member (o, "params"));

    o = frame_object (frames, 2);
    g_assert_false (json_object_has_member (o, "id"));
    g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "session.log");
    g_assert_true (json_node_equal (json_object_get_member (o, "params"), params));

    o = frame_object (frames, 3);
    g_assert_cmpint (json_object_get_int_member (o, "id"), ==, 3);
    g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "status.get");
  }

  /* The calls are still pending, and each GTask holds a reference to its
   * source object: the connection lives until closing fails them. */
  copilotd_jsonrpc_close (rpc, NULL);
  iterate ();
}

/* Reading */

static const char *delta_body =
  "{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":{\"sessionId\":\"s1\","
  "\"event\":{\"type\":\"assistant.message_delta\",\"data\":{\"deltaContent\":\"Gr\xc3\xbc\xc3\x9f\"}}}}";

static void
test_read_split_bytewise (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autofree char *f = frame (delta_body);
  gsize len = strlen (f);
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  for (gsize i = 0; i < len; i++)
    {
      g_assert_cmpuint (rec.events->len, ==, 0);
      copilotd_jsonrpc_feed (rpc, (const guint8 *) f + i, 1);
    }

  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==,
                   "session.event {\"sessionId\":\"s1\",\"event\":{\"type\":\"assistant.message_delta\","
                   "\"data\":{\"deltaContent\":\"Gr\xc3\xbc\xc3\x9f\"}}}");

  /* The buffer is in sync: the next frame parses too. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"tick\"}");
  g_assert_cmpuint (rec.events->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 1), ==, "tick (none)");
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
  g_assert_cmpuint (rec.n_closed, ==, 0);

  recorder_clear (&rec);
}

static void
test_read_several_in_one_feed (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autofree char *a = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[1]}");
  g_autofree char *b = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"b\",\"params\":{\"x\":null}}");
  g_autofree char *c = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"c\"}");
  g_autofree char *d = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"d\"}");
  g_autofree char *all = NULL;
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  /* Three whole frames and the first half of a fourth. */
  all = g_strconcat (a, b, c, d, NULL);
  copilotd_jsonrpc_feed (rpc, (const guint8 *) all, strlen (all) - strlen (d) / 2);
  g_assert_cmpuint (rec.events->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "a [1]");
  g_assert_cmpstr (g_ptr_array_index (rec.events, 1), ==, "b {\"x\":null}");
  g_assert_cmpstr (g_ptr_array_index (rec.events, 2), ==, "c (none)");

  feed_str (rpc, all + strlen (all) - strlen (d) / 2);
  g_assert_cmpuint (rec.events->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 3), ==, "d (none)");

  recorder_clear (&rec);
}

/* How runs of deltas end (copilotd_jsonrpc_set_run_end_func()): what the
 * delta handler took and the run ends recorded in order, "d:<text>" and
 * "end:<how>"; other frames "n:<method>". */
static GPtrArray *run_log;

static gboolean
on_run_delta (const CopilotdJsonDelta *delta,
              gpointer                 user_data)
{
  g_ptr_array_add (run_log, g_strdup_printf ("d:%s", delta->text));
  return TRUE;
}

static void
on_run_end (CopilotdJsonrpcRunEnd end)
{
  g_ptr_array_add (run_log, g_strdup (end == COPILOTD_JSONRPC_RUN_BEFORE_FRAME ? "end:before-frame" :
                                      end == COPILOTD_JSONRPC_RUN_ALONE ? "end:alone" : "end:several"));
}

static void
on_run_notification (CopilotdJsonrpc *rpc,
                     const char      *method,
                     JsonNode        *params,
                     gpointer         user_data)
{
  g_ptr_array_add (run_log, g_strdup_printf ("n:%s", method));
}

static char *
delta_frame (const char *text)
{
  g_autofree char *body = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":"
                                           "{\"sessionId\":\"s\",\"event\":{\"type\":\"assistant.message_delta\","
                                           "\"data\":{\"messageId\":\"m\",\"deltaContent\":\"%s\"}}}}", text);

  return frame (body);
}

static void
assert_run_log (const char * const *expected)
{
  g_autofree char *got = NULL;
  g_autofree char *want = g_strjoinv (" ", (char **) expected);

  g_ptr_array_add (run_log, NULL);
  got = g_strjoinv (" ", (char **) run_log->pdata);
  g_assert_cmpstr (got, ==, want);
  g_ptr_array_set_size (run_log, 0);
}

/* Deltas read together are one run: it ends before any other frame (what
 * follows comes after them) or when everything read is handled (alone or
 * several: the CLI writes faster than copilotd reads). */
static void
test_read_delta_runs (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autofree char *a = delta_frame ("a");
  g_autofree char *b = delta_frame ("b");
  g_autofree char *c = delta_frame ("c");
  g_autofree char *other = frame ("{\"jsonrpc\":\"2.0\",\"method\":\"other\"}");
  g_autofree char *three = g_strconcat (a, b, c, NULL);
  g_autofree char *two_then_other = g_strconcat (a, b, other, c, NULL);

  run_log = g_ptr_array_new_with_free_func (g_free);
  copilotd_jsonrpc_set_delta_func (rpc, on_run_delta, NULL);
  copilotd_jsonrpc_set_run_end_func (on_run_end);
  g_signal_connect (rpc, "notification", G_CALLBACK (on_run_notification), NULL);

  feed_str (rpc, three);
  assert_run_log ((const char *[]) { "d:a", "d:b", "d:c", "end:several", NULL });
  feed_str (rpc, a);
  assert_run_log ((const char *[]) { "d:a", "end:alone", NULL });
  feed_str (rpc, two_then_other);
  assert_run_log ((const char *[]) { "d:a", "d:b", "end:before-frame", "n:other", "d:c", "end:alone", NULL });
  /* Half a frame: the run ends with what was read. */
  copilotd_jsonrpc_feed (rpc, (const guint8 *) three, strlen (a) + strlen (b) / 2);
  assert_run_log ((const char *[]) { "d:a", "end:alone", NULL });
  feed_str (rpc, three + strlen (a) + strlen (b) / 2);
  assert_run_log ((const char *[]) { "d:b", "d:c", "end:several", NULL });
  /* Nothing taken, nothing ended. */
  feed_str (rpc, other);
  assert_run_log ((const char *[]) { "n:other", NULL });

  copilotd_jsonrpc_set_run_end_func (NULL);
  g_clear_pointer (&run_log, g_ptr_array_unref);
}

static void
test_read_header_variants (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  const char *body = "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"\xe2\x82\xac\"}";
  const char *templates[] = {
    "content-length: %zu\r\n\r\n%s",
    "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
    "Content-Length: %zu\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n%s",
    "CONTENT-LENGTH:%zu\r\nX-Whatever:\r\n\r\n%s",
    "Content-Length:   %zu  \r\n\r\n%s",
  };
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  for (guint i = 0; i < G_N_ELEMENTS (templates); i++)
    {
      g_autofree char *f = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      f = g_strdup_printf (templates[i], strlen (body), body);
#pragma GCC diagnostic pop
      feed_str (rpc, f);
      g_assert_cmpuint (rec.events->len, ==, i + 1);
      g_assert_cmpstr (g_ptr_array_index (rec.events, i), ==, "m \"\xe2\x82\xac\"");
    }

  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
  recorder_clear (&rec);
}

/* Calls */

static void
test_call_out_of_order (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  CallResult res[3] = { { 0 } };

  for (guint i = 0; i < 3; i++)
    {
      res[i].order = order;
      res[i].tag = i + 1;
      copilotd_jsonrpc_call_async (rpc, "m", NULL, NULL, call_done_cb, &res[i]);
    }
  iterate ();

  {
    g_autoptr(GPtrArray) frames = written_frames (out);

    g_assert_cmpuint (frames->len, ==, 3);
    for (guint i = 0; i < 3; i++)
      g_assert_cmpint (json_object_get_int_member (frame_object (frames, i), "id"), ==, i + 1);
  }

  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"n\":\"three\"}}");
  iterate ();
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"n\":\"one\"}}");
  iterate ();
  g_assert_false (res[1].done);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[2]}");
  iterate ();

  g_assert_cmpuint (order->len, ==, 3);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_ptr_array_index (order, 0)), ==, 3);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_ptr_array_index (order, 1)), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_ptr_array_index (order, 2)), ==, 2);

  g_assert_no_error (res[0].error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (res[0].result), "n"), ==, "one");
  g_assert_no_error (res[2].error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (res[2].result), "n"), ==, "three");
  g_assert_no_error (res[1].error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (res[1].result));

  /* A duplicate or unknown id is dropped without effect. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[2]}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":[2]}");
  iterate ();
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));

  for (guint i = 0; i < 3; i++)
    call_result_clear (&res[i]);
}

static void
test_call_error (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  CallResult res = { 0 };

  copilotd_jsonrpc_call_async (rpc, "session.create", NULL, NULL, call_done_cb, &res);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,"
              "\"message\":\"Request session.create failed with message: Model \\\"x\\\" is not available.\"}}");
  wait_call (&res);

  g_assert_error (res.error, COPILOTD_JSONRPC_ERROR, -32603);
  g_assert_cmpstr (res.error->message, ==,
                   "Request session.create failed with message: Model \"x\" is not available.");
  g_assert_null (res.result);
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
  call_result_clear (&res);

  /* An error object with members of the wrong types still fails the call. */
  res = (CallResult) { 0 };
  copilotd_jsonrpc_call_async (rpc, "m", NULL, NULL, call_done_cb, &res);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":\"x\",\"message\":[5]}}");
  wait_call (&res);
  g_assert_error (res.error, COPILOTD_JSONRPC_ERROR, 0);
  g_assert_cmpstr (res.error->message, ==, "");
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));

  call_result_clear (&res);
}

static void
test_call_null_result (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  CallResult res = { 0 };

  copilotd_jsonrpc_call_async (rpc, "runtime.shutdown", NULL, NULL, call_done_cb, &res);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}");
  wait_call (&res);

  g_assert_no_error (res.error);
  g_assert_nonnull (res.result);
  g_assert_cmpint (json_node_get_node_type (res.result), ==, JSON_NODE_NULL);

  call_result_clear (&res);
}

static void
test_call_cancel (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  CallResult res = { 0 };
  CallResult other = { 0 };
  CallResult early = { 0 };

  copilotd_jsonrpc_call_async (rpc, "slow", NULL, cancellable, call_done_cb, &res);
  copilotd_jsonrpc_call_async (rpc, "other", NULL, NULL, call_done_cb, &other);
  iterate ();
  g_assert_false (res.done);

  g_cancellable_cancel (cancellable);
  wait_call (&res);
  g_assert_error (res.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The late response is dropped; the other call is unaffected. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":false}");
  wait_call (&other);
  g_assert_no_error (other.error);
  g_assert_false (json_node_get_boolean (other.result));

  /* Already cancelled: fails without sending anything. */
  g_cancellable_cancel (cancelled);
  copilotd_jsonrpc_call_async (rpc, "never", NULL, cancelled, call_done_cb, &early);
  wait_call (&early);
  g_assert_error (early.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  iterate ();
  {
    g_autoptr(GPtrArray) frames = written_frames (out);

    g_assert_cmpuint (frames->len, ==, 2);
  }
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));

  call_result_clear (&res);
  call_result_clear (&other);
  call_result_clear (&early);
}

/* Incoming notifications and requests */

static void
test_notification (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);

  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"session.lifecycle\",\"params\":{\"type\":\"session.created\"}}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"no.params\"}");
  /* A null id is not a request either: there is nobody to answer. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"null.id\",\"id\":null,\"params\":7}");
  iterate ();

  g_assert_cmpuint (rec.events->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "session.lifecycle {\"type\":\"session.created\"}");
  g_assert_cmpstr (g_ptr_array_index (rec.events, 1), ==, "no.params (none)");
  g_assert_cmpstr (g_ptr_array_index (rec.events, 2), ==, "null.id 7");
  /* Notifications are never answered. */
  g_assert_cmpuint (g_memory_output_stream_get_data_size (out), ==, 0);

  recorder_clear (&rec);
}

static void
test_request_handled (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  g_autoptr(JsonNode) result = parse_json ("{\"result\":{\"kind\":\"approved\"}}");
  Recorder rec;

  recorder_init (&rec);
  rec.handle_requests = TRUE;
  recorder_connect (&rec, rpc);

  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"permission.request\",\"params\":{\"sessionId\":\"s\"}}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tool.call\"}");
  iterate ();

  g_assert_cmpuint (rec.events->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "request permission.request {\"sessionId\":\"s\"}");
  g_assert_cmpstr (g_ptr_array_index (rec.events, 1), ==, "request tool.call (none)");
  g_assert_cmpuint (rec.request_ids->len, ==, 2);
  /* Handled: nothing is written until the handler replies. */
  g_assert_cmpuint (g_memory_output_stream_get_data_size (out), ==, 0);

  /* Replies in the other order, echoing each id as it came. */
  copilotd_jsonrpc_reply_error (rpc, g_ptr_array_index (rec.request_ids, 1), -32000, "no such tool");
  copilotd_jsonrpc_reply (rpc, g_ptr_array_index (rec.request_ids, 0), result);
  iterate ();

  {
    g_autoptr(GPtrArray) frames = written_frames (out);
    JsonObject *o;
    JsonObject *err;

    g_assert_cmpuint (frames->len, ==, 2);
    o = frame_object (frames, 0);
    g_assert_cmpstr (json_object_get_string_member (o, "jsonrpc"), ==, "2.0");
    g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, "abc");
    g_assert_false (json_object_has_member (o, "result"));
    err = json_object_get_object_member (o, "error");
    g_assert_cmpint (json_object_get_int_member (err, "code"), ==, -32000);
    g_assert_cmpstr (json_object_get_string_member (err, "message"), ==, "no such tool");

    o = frame_object (frames, 1);
    g_assert_cmpint (json_object_get_int_member (o, "id"), ==, 1);
    g_assert_false (json_object_has_member (o, "error"));
    g_assert_true (json_node_equal (json_object_get_member (o, "result"), result));
  }

  recorder_clear (&rec);
}

static gboolean
decline_request (CopilotdJsonrpc *rpc,
                 const char      *method,
                 JsonNode        *params,
                 JsonNode        *id,
                 guint           *count)
{
  (*count)++;
  return FALSE;
}

static void
test_request_unhandled (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  guint declined = 0;

  /* First with no handler at all, then with one that declines. */
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tool.call\",\"params\":{}}");
  g_signal_connect (rpc, "request", G_CALLBACK (decline_request), &declined);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"r-8\",\"method\":\"user.input\"}");
  iterate ();

  g_assert_cmpuint (declined, ==, 1);
  {
    g_autoptr(GPtrArray) frames = written_frames (out);
    JsonObject *o;
    JsonObject *err;

    g_assert_cmpuint (frames->len, ==, 2);
    o = frame_object (frames, 0);
    g_assert_cmpint (json_object_get_int_member (o, "id"), ==, 7);
    err = json_object_get_object_member (o, "error");
    g_assert_cmpint (json_object_get_int_member (err, "code"), ==, -32601);
    g_assert_cmpstr (json_object_get_string_member (err, "message"), ==, "Method not found: tool.call");

    o = frame_object (frames, 1);
    g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, "r-8");
    err = json_object_get_object_member (o, "error");
    g_assert_cmpint (json_object_get_int_member (err, "code"), ==, -32601);
    g_assert_cmpstr (json_object_get_string_member (err, "message"), ==, "Method not found: user.input");
  }
}

/* Bad input */

static void
test_bad_json_skipped (void)
{
  g_autoptr(GMemoryOutputStream) out = NULL;
  g_autoptr(CopilotdJsonrpc) rpc = new_memory_rpc (&out);
  CallResult res = { 0 };
  Recorder rec;

  recorder_init (&rec);
  recorder_connect (&rec, rpc);
  /* Correctly framed, so skipped with a warning, not fatal. */
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "Skipping a frame from the CLI that is not valid JSON: *");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "Skipping a frame from the CLI that is not a JSON object");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "Skipping a frame from the CLI that is not a JSON object");

  copilotd_jsonrpc_call_async (rpc, "m", NULL, NULL, call_done_cb, &res);
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":");
  feed_frame (rpc, "[1,2,3]");
  feed_frame (rpc, "\"just a string\"");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"after\"}");
  feed_frame (rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"ok\"}");
  wait_call (&res);

  g_test_assert_expected_messages ();
  g_assert_false (copilotd_jsonrpc_is_closed (rpc));
  g_assert_cmpuint (rec.n_closed, ==, 0);
  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rec.events, 0), ==, "after (none)");
  g_assert_no_error (res.error);
  g_assert_cmpstr (json_node_get_string (res.result), ==, "ok");

  call_result_clear (&res);
  recorder_clear (&rec);
}

int
main (int    argc,
      char **argv)
{
  /* Writing to a pipe without a reader must be an error, not a signal. */
  signal (SIGPIPE, SIG_IGN);

  test_init (&argc, &argv);

  g_test_add_func ("/jsonrpc/write/frame-bytes", test_write_frame_bytes);
  g_test_add_func ("/jsonrpc/read/split-bytewise", test_read_split_bytewise);
  g_test_add_func ("/jsonrpc/read/several-in-one-feed", test_read_several_in_one_feed);
  g_test_add_func ("/jsonrpc/read/delta-runs", test_read_delta_runs);
  g_test_add_func ("/jsonrpc/read/header-variants", test_read_header_variants);
  g_test_add_func ("/jsonrpc/read/bad-json-skipped", test_bad_json_skipped);
  g_test_add_func ("/jsonrpc/call/out-of-order", test_call_out_of_order);
  g_test_add_func ("/jsonrpc/call/error", test_call_error);
  g_test_add_func ("/jsonrpc/call/null-result", test_call_null_result);
  g_test_add_func ("/jsonrpc/call/cancel", test_call_cancel);
  g_test_add_func ("/jsonrpc/incoming/notification", test_notification);
  g_test_add_func ("/jsonrpc/incoming/request-handled", test_request_handled);
  g_test_add_func ("/jsonrpc/incoming/request-unhandled", test_request_unhandled);
  jsonrpc_add_close_tests ();
  jsonrpc_add_streams_tests ();

  return g_test_run ();
}
