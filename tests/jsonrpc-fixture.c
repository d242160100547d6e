/* SPDX-License-Identifier: MIT */
/* jsonrpc-fixture.c: what the CopilotdJsonrpc tests share: frames,
 * a recorder of signals, call results, connections over memory and pipes */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

#include "jsonrpc-fixture.h"

void
iterate (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

char *
frame (const char *body)
{
  return g_strdup_printf ("Content-Length: %zu\r\n\r\n%s", strlen (body), body);
}

void
feed_str (CopilotdJsonrpc *rpc,
          const char      *data)
{
  copilotd_jsonrpc_feed (rpc, (const guint8 *) data, strlen (data));
}

void
feed_frame (CopilotdJsonrpc *rpc,
            const char      *body)
{
  g_autofree char *f = frame (body);

  feed_str (rpc, f);
}

char *
node_to_string (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("(none)");
  return json_to_string (node, FALSE);
}

JsonNode *
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
GPtrArray *
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

GPtrArray *
written_frames (GMemoryOutputStream *out)
{
  return split_written (g_memory_output_stream_get_data (out),
                        g_memory_output_stream_get_data_size (out));
}

JsonObject *
frame_object (GPtrArray *frames,
              guint      i)
{
  g_assert_cmpuint (i, <, frames->len);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (g_ptr_array_index (frames, i)));
  return json_node_get_object (g_ptr_array_index (frames, i));
}

void
recorder_init (Recorder *rec)
{
  memset (rec, 0, sizeof *rec);
  rec->events = g_ptr_array_new_with_free_func (g_free);
  rec->request_ids = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
}

void
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

void
recorder_connect (Recorder        *rec,
                  CopilotdJsonrpc *rpc)
{
  g_signal_connect (rpc, "notification", G_CALLBACK (on_notification), rec);
  g_signal_connect (rpc, "request", G_CALLBACK (on_request), rec);
  g_signal_connect (rpc, "closed", G_CALLBACK (on_closed), rec);
}

/* A connection fed by hand, writing to memory. */
CopilotdJsonrpc *
new_memory_rpc (GMemoryOutputStream **out)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new ();

  *out = G_MEMORY_OUTPUT_STREAM (g_memory_output_stream_new_resizable ());
  return copilotd_jsonrpc_new (in, G_OUTPUT_STREAM (*out));
}

void
call_result_clear (CallResult *res)
{
  g_clear_pointer (&res->result, json_node_unref);
  g_clear_error (&res->error);
}

void
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

void
wait_call (CallResult *res)
{
  while (!res->done)
    g_main_context_iteration (NULL, TRUE);
}

/* Real pipes */

void
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

void
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

void
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
GByteArray *
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
