/* SPDX-License-Identifier: MIT */
/* test-jsonrpc.c: framing, correlation and close semantics of CopilotdJsonrpc */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

#include "copilotd-error.h"
#include "jsonrpc.h"
#include "test-util.h"

/* Helpers */

static void
iterate (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static char *
frame (const char *body)
{
  return g_strdup_printf ("Content-Length: %zu\r\n\r\n%s", strlen (body), body);
}

static void
feed_str (CopilotdJsonrpc *rpc,
          const char      *data)
{
  copilotd_jsonrpc_feed (rpc, (const guint8 *) data, strlen (data));
}

static void
feed_frame (CopilotdJsonrpc *rpc,
            const char      *body)
{
  g_autofree char *f = frame (body);

  feed_str (rpc, f);
}

static char *
node_to_string (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("(none)");
  return json_to_string (node, FALSE);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

/* Splits what was written into frames, asserting the exact header shape
 * the CLI expects: one Content-Length header with the byte count. */
static GPtrArray *
split_written (const guint8 *data,
               gsize         len)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  gsize pos = 0;

  while (pos < len)
    {
      const char *prefix = "Content-Length: ";
      g_autofree char *body = NULL;
      char *end = NULL;
      guint64 n;

      g_assert_cmpuint (len - pos, >, strlen (prefix));
      g_assert_cmpmem (data + pos, strlen (prefix), prefix, strlen (prefix));
      pos += strlen (prefix);
      n = g_ascii_strtoull ((const char *) data + pos, &end, 10);
      g_assert_true (end != (const char *) data + pos);
      pos = (gsize) ((const guint8 *) end - data);
      g_assert_cmpuint (len - pos, >=, 4);
      g_assert_cmpmem (data + pos, 4, "\r\n\r\n", 4);
      pos += 4;
      g_assert_cmpuint (len - pos, >=, n);
      body = g_strndup ((const char *) data + pos, n);
      g_assert_cmpuint (strlen (body), ==, n);
      g_ptr_array_add (frames, parse_json (body));
      pos += n;
    }

  return frames;
}

static GPtrArray *
written_frames (GMemoryOutputStream *out)
{
  return split_written (g_memory_output_stream_get_data (out),
                        g_memory_output_stream_get_data_size (out));
}

static JsonObject *
frame_object (GPtrArray *frames,
              guint      i)
{
  g_assert_cmpuint (i, <, frames->len);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (g_ptr_array_index (frames, i)));
  return json_node_get_object (g_ptr_array_index (frames, i));
}

/* Records what the connection reports. */
typedef struct
{
  GPtrArray *events;        /* owned; "method params" strings, in order */
  GError *closed;           /* owned */
  guint n_closed;
  gboolean handle_requests;
  GPtrArray *request_ids;   /* owned JsonNode refs of handled requests */
} Recorder;

static void
recorder_init (Recorder *rec)
{
  memset (rec, 0, sizeof *rec);
  rec->events = g_ptr_array_new_with_free_func (g_free);
  rec->request_ids = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
}

static void
recorder_clear (Recorder *rec)
{
  g_clear_pointer (&rec->events, g_ptr_array_unref);
  g_clear_pointer (&rec->request_ids, g_ptr_array_unref);
  g_clear_error (&rec->closed);
}

static void
on_notification (CopilotdJsonrpc *rpc,
                 const char      *method,
                 JsonNode        *params,
                 Recorder        *rec)
{
  g_autofree char *text = node_to_string (params);

  g_ptr_array_add (rec->events, g_strdup_printf ("%s %s", method, text));
}

static gboolean
on_request (CopilotdJsonrpc *rpc,
            const char      *method,
            JsonNode        *params,
            JsonNode        *id,
            Recorder        *rec)
{
  g_autofree char *text = node_to_string (params);

  g_assert_nonnull (id);
  g_ptr_array_add (rec->events, g_strdup_printf ("request %s %s", method, text));
  if (rec->handle_requests)
    g_ptr_array_add (rec->request_ids, json_node_copy (id));
  return rec->handle_requests;
}

static void
on_closed (CopilotdJsonrpc *rpc,
           const GError    *reason,
           Recorder        *rec)
{
  g_assert_nonnull (reason);
  g_assert_true (copilotd_jsonrpc_is_closed (rpc));
  rec->n_closed++;
  g_clear_error (&rec->closed);
  rec->closed = g_error_copy (reason);
}

static void
recorder_connect (Recorder        *rec,
                  CopilotdJsonrpc *rpc)
{
  g_signal_connect (rpc, "notification", G_CALLBACK (on_notification), rec);
  g_signal_connect (rpc, "request", G_CALLBACK (on_request), rec);
  g_signal_connect (rpc, "closed", G_CALLBACK (on_closed), rec);
}

/* A connection fed by hand, writing to memory. */
static CopilotdJsonrpc *
new_memory_rpc (GMemoryOutputStream **out)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new ();

  *out = G_MEMORY_OUTPUT_STREAM (g_memory_output_stream_new_resizable ());
  return copilotd_jsonrpc_new (in, G_OUTPUT_STREAM (*out));
}

/* The outcome of one call. */
typedef struct
{
  gboolean done;
  JsonNode *result;         /* owned */
  GError *error;            /* owned */
  GPtrArray *order;         /* unowned; completion order, if set */
  guint tag;
  gboolean written;         /* copilotd_jsonrpc_call_was_written() */
} CallResult;

static void
call_result_clear (CallResult *res)
{
  g_clear_pointer (&res->result, json_node_unref);
  g_clear_error (&res->error);
}

static void
call_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CallResult *res = user_data;

  g_assert_false (res->done);
  res->result = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &res->error);
  g_assert_true ((res->result == NULL) != (res->error == NULL));
  res->written = copilotd_jsonrpc_call_was_written (result);
  res->done = TRUE;
  if (res->order != NULL)
    g_ptr_array_add (res->order, GUINT_TO_POINTER (res->tag));
}

static void
wait_call (CallResult *res)
{
  while (!res->done)
    g_main_context_iteration (NULL, TRUE);
}

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

typedef struct
{
  int in_write_fd;          /* the peer's stdout, written by the test */
  int out_read_fd;          /* the peer's stdin, read by the test */
  CopilotdJsonrpc *rpc;     /* owned */
} PipePair;

static void
pipe_pair_init (PipePair *pp)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;
  int a[2];
  int b[2];

  g_assert_true (g_unix_open_pipe (a, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_true (g_unix_open_pipe (b, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_true (g_unix_set_fd_nonblocking (b[0], TRUE, &error));
  g_assert_no_error (error);

  in = g_unix_input_stream_new (a[0], TRUE);
  out = g_unix_output_stream_new (b[1], TRUE);
  pp->in_write_fd = a[1];
  pp->out_read_fd = b[0];
  pp->rpc = copilotd_jsonrpc_new (in, out);
}

static void
pipe_pair_clear (PipePair *pp)
{
  g_clear_object (&pp->rpc);
  if (pp->in_write_fd >= 0)
    close (pp->in_write_fd);
  if (pp->out_read_fd >= 0)
    close (pp->out_read_fd);
  pp->in_write_fd = pp->out_read_fd = -1;
  /* Let the async closes of the streams finish. */
  iterate ();
}

static void
write_fd_all (int         fd,
              const char *data,
              gsize       len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      data += n;
      len -= (gsize) n;
    }
}

/* Reads everything the connection wrote until it has written @until bytes
 * in total or the pipe reaches EOF. */
static GByteArray *
read_fd_until (int   fd,
               gsize until)
{
  GByteArray *buf = g_byte_array_new ();

  while (buf->len < until)
    {
      guint8 chunk[4096];
      gssize n = read (fd, chunk, sizeof chunk);

      if (n > 0)
        g_byte_array_append (buf, chunk, (guint) n);
      else if (n == 0)
        break;
      else if (errno == EAGAIN)
        g_main_context_iteration (NULL, TRUE);
      else
        g_assert_cmpint (errno, ==, EINTR);
    }
  return buf;
}

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
  g_test_add_func ("/jsonrpc/read/header-variants", test_read_header_variants);
  g_test_add_func ("/jsonrpc/read/bad-json-skipped", test_bad_json_skipped);
  g_test_add_func ("/jsonrpc/call/out-of-order", test_call_out_of_order);
  g_test_add_func ("/jsonrpc/call/error", test_call_error);
  g_test_add_func ("/jsonrpc/call/null-result", test_call_null_result);
  g_test_add_func ("/jsonrpc/call/cancel", test_call_cancel);
  g_test_add_func ("/jsonrpc/incoming/notification", test_notification);
  g_test_add_func ("/jsonrpc/incoming/request-handled", test_request_handled);
  g_test_add_func ("/jsonrpc/incoming/request-unhandled", test_request_unhandled);
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
  g_test_add_func ("/jsonrpc/pipe/roundtrip", test_pipe_roundtrip);
  g_test_add_func ("/jsonrpc/pipe/dispose-while-reading", test_dispose_while_reading);
  g_test_add_func ("/jsonrpc/non-pollable/read", test_read_non_pollable);
  g_test_add_func ("/jsonrpc/non-pollable/dispose-while-reading", test_dispose_non_pollable_reading);
  g_test_add_data_func ("/jsonrpc/transcript/simple-turn", "simple-turn.jsonl", test_transcript_replay);
  g_test_add_data_func ("/jsonrpc/transcript/permission-and-tool-turn", "permission-and-tool-turn.jsonl",
                        test_transcript_replay);

  return g_test_run ();
}
