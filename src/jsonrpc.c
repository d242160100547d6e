/* SPDX-License-Identifier: MIT */
/* jsonrpc.c: JSON-RPC 2.0 with Content-Length framing over a stream pair
 *
 * This file holds the object, its close, and the writing half: calls,
 * notifications and replies. The reading half (reads, framing, parsing,
 * dispatch) is jsonrpc-input.c; a GDataInputStream line reader would
 * cost ~36 µs per frame against well under a microsecond for the framing
 * done there.
 *
 * Writes are queued and written one after another without blocking, so a
 * peer that stops reading its stdin never blocks the main loop. On a
 * pollable stream (the CLI's stdin pipe) each write() is made at once and
 * its outcome known at once: a request counts as written as soon as the
 * pipe took a byte of it, and one the pipe refused (the CLI is dead) as
 * never sent, even when the loss is seen before the write is reported.
 *
 * The connection closes exactly once (copilotd_jsonrpc_close(), EOF, an
 * I/O error or a framing error); every pending call then fails with
 * COPILOTD_ERROR_BACKEND_FAILED and "closed" is emitted.
 */
#include "config.h"

#include <string.h>

#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

#include "copilotd-error.h"
#include "jsonrpc-private.h"

guint copilotd_jsonrpc_signals[N_SIGNALS];

G_DEFINE_TYPE (CopilotdJsonrpc, copilotd_jsonrpc, G_TYPE_OBJECT)

typedef void (*NotificationFunc) (gpointer    instance,
                                  const char *method,
                                  gpointer    params,
                                  gpointer    user_data);

void
copilotd_marshal_VOID__STRING_BOXED (GClosure     *closure,
                                     GValue       *return_value,
                                     guint         n_param_values,
                                     const GValue *param_values,
                                     gpointer      invocation_hint,
                                     gpointer      marshal_data)
{
  GCClosure *cc = (GCClosure *) closure;
  gpointer instance, data;
  NotificationFunc callback;

  g_return_if_fail (n_param_values == 3);

  if (G_CCLOSURE_SWAP_DATA (closure))
    {
      instance = closure->data;
      data = g_value_peek_pointer (param_values + 0);
    }
  else
    {
      instance = g_value_peek_pointer (param_values + 0);
      data = closure->data;
    }
  callback = (NotificationFunc) (marshal_data ? marshal_data : cc->callback);
  callback (instance, g_value_get_string (param_values + 1), g_value_get_boxed (param_values + 2), data);
}

void
copilotd_marshal_VOID__STRING_BOXEDv (GClosure *closure,
                                      GValue   *return_value,
                                      gpointer  instance,
                                      va_list   args,
                                      gpointer  marshal_data,
                                      int       n_params,
                                      GType    *param_types)
{
  GCClosure *cc = (GCClosure *) closure;
  gpointer data1, data2;
  NotificationFunc callback;
  char *method;
  gpointer params;
  va_list copy;

  G_VA_COPY (copy, args);
  method = (char *) va_arg (copy, char *);
  params = (gpointer) va_arg (copy, gpointer);
  va_end (copy);

  /* Arguments without G_SIGNAL_TYPE_STATIC_SCOPE are copied for the
   * emission, as the generic marshaller does. */
  if ((param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0 && method != NULL)
    method = g_strdup (method);
  if ((param_types[1] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0 && params != NULL)
    params = g_boxed_copy (param_types[1] & ~G_SIGNAL_TYPE_STATIC_SCOPE, params);

  if (G_CCLOSURE_SWAP_DATA (closure))
    {
      data1 = closure->data;
      data2 = instance;
    }
  else
    {
      data1 = instance;
      data2 = closure->data;
    }
  callback = (NotificationFunc) (marshal_data ? marshal_data : cc->callback);
  callback (data1, method, params, data2);

  if ((param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0)
    g_free (method);
  if ((param_types[1] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0 && params != NULL)
    g_boxed_free (param_types[1] & ~G_SIGNAL_TYPE_STATIC_SCOPE, params);
}

typedef gboolean (*DeltaFunc) (gpointer data1, gpointer delta, gpointer data2);

void
copilotd_marshal_BOOLEAN__POINTER (GClosure     *closure,
                                   GValue       *return_value,
                                   guint         n_param_values,
                                   const GValue *param_values,
                                   gpointer      invocation_hint,
                                   gpointer      marshal_data)
{
  GCClosure *cc = (GCClosure *) closure;
  gpointer data1, data2;
  DeltaFunc callback;

  g_return_if_fail (return_value != NULL);
  g_return_if_fail (n_param_values == 2);

  if (G_CCLOSURE_SWAP_DATA (closure))
    {
      data1 = closure->data;
      data2 = g_value_peek_pointer (param_values + 0);
    }
  else
    {
      data1 = g_value_peek_pointer (param_values + 0);
      data2 = closure->data;
    }
  callback = (DeltaFunc) (marshal_data ? marshal_data : cc->callback);
  g_value_set_boolean (return_value, callback (data1, g_value_get_pointer (param_values + 1), data2));
}

void
copilotd_marshal_BOOLEAN__POINTERv (GClosure *closure,
                                    GValue   *return_value,
                                    gpointer  instance,
                                    va_list   args,
                                    gpointer  marshal_data,
                                    int       n_params,
                                    GType    *param_types)
{
  GCClosure *cc = (GCClosure *) closure;
  gpointer data1, data2, pointer;
  DeltaFunc callback;
  va_list copy;

  g_return_if_fail (return_value != NULL);

  G_VA_COPY (copy, args);
  pointer = va_arg (copy, gpointer);
  va_end (copy);

  if (G_CCLOSURE_SWAP_DATA (closure))
    {
      data1 = closure->data;
      data2 = instance;
    }
  else
    {
      data1 = instance;
      data2 = closure->data;
    }
  callback = (DeltaFunc) (marshal_data ? marshal_data : cc->callback);
  g_value_set_boolean (return_value, callback (data1, pointer, data2));
}

G_DEFINE_QUARK (copilotd-jsonrpc-error-quark, copilotd_jsonrpc_error)

static void
call_data_free (CallData *data)
{
  if (data->cancel_source != NULL)
    {
      g_source_destroy (data->cancel_source);
      g_clear_pointer (&data->cancel_source, g_source_unref);
    }
  g_free (data);
}

/* The frame being written: the buffer must outlive the async write even
 * if the CopilotdJsonrpc is disposed meanwhile. */
typedef struct
{
  CopilotdJsonrpc *self;         /* unowned; only valid unless cancelled */
  GBytes *bytes;                 /* owned */
} WriteOp;

static void jsonrpc_close_internal (CopilotdJsonrpc *self,
                                    const GError    *reason,
                                    gboolean         emit);
static void jsonrpc_write_next (CopilotdJsonrpc *self);
static void mark_written (CopilotdJsonrpc *self);

static void
close_stream_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (G_IS_INPUT_STREAM (source))
    g_input_stream_close_finish (G_INPUT_STREAM (source), result, &error);
  else
    g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error);

  if (error != NULL)
    g_debug ("Closing a stream to the CLI failed: %s", error->message);
}

void
jsonrpc_close_input (GInputStream *input)
{
  if (!g_input_stream_is_closed (input))
    g_input_stream_close_async (input, G_PRIORITY_DEFAULT, NULL,
                                close_stream_cb, NULL);
}

static void
close_output (GOutputStream *output)
{
  if (!g_output_stream_is_closed (output) &&
      !g_output_stream_is_closing (output))
    g_output_stream_close_async (output, G_PRIORITY_DEFAULT, NULL,
                                 close_stream_cb, NULL);
}

static void
copilotd_jsonrpc_dispose (GObject *object)
{
  CopilotdJsonrpc *self = COPILOTD_JSONRPC (object);

  if (!self->closed)
    {
      g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                      "The connection was disposed");

      /* Nobody is left to listen to "closed". */
      jsonrpc_close_internal (self, reason, FALSE);
    }

  g_clear_object (&self->cancellable);
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->parser);
  g_clear_pointer (&self->pending, g_hash_table_unref);

  G_OBJECT_CLASS (copilotd_jsonrpc_parent_class)->dispose (object);
}

static void
copilotd_jsonrpc_finalize (GObject *object)
{
  CopilotdJsonrpc *self = COPILOTD_JSONRPC (object);

  g_queue_clear (&self->write_ids);
  g_queue_clear_full (&self->write_queue, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&self->write_error);
  g_clear_pointer (&self->inbuf, g_byte_array_unref);
  if (self->delta_strings != NULL)
    g_string_free (self->delta_strings, TRUE);
  g_clear_error (&self->close_error);

  G_OBJECT_CLASS (copilotd_jsonrpc_parent_class)->finalize (object);
}

static void
copilotd_jsonrpc_class_init (CopilotdJsonrpcClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_jsonrpc_dispose;
  object_class->finalize = copilotd_jsonrpc_finalize;

  /* Arguments are only valid during the emission (static scope, no
   * copies on the hot path): json_node_ref() or copy what you keep. */

  /**
   * CopilotdJsonrpc::notification:
   * @method: the method name
   * @params: (nullable): the params, %NULL when absent
   */
  copilotd_jsonrpc_signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, copilotd_marshal_VOID__STRING_BOXED,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (copilotd_jsonrpc_signals[SIGNAL_NOTIFICATION],
                              G_TYPE_FROM_CLASS (klass),
                              copilotd_marshal_VOID__STRING_BOXEDv);

  /**
   * CopilotdJsonrpc::request:
   * @method: the method name
   * @params: (nullable): the params, %NULL when absent
   * @id: the request id, to pass to copilotd_jsonrpc_reply()
   *
   * Returns: %TRUE if the handler will reply (possibly later); if no
   *   handler does, the request is answered with -32601 at once.
   */
  copilotd_jsonrpc_signals[SIGNAL_REQUEST] =
    g_signal_new ("request",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * CopilotdJsonrpc::closed:
   * @reason: why the connection closed
   *
   * Emitted once. Handlers may drop their last reference.
   */
  copilotd_jsonrpc_signals[SIGNAL_CLOSED] =
    g_signal_new ("closed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
copilotd_jsonrpc_init (CopilotdJsonrpc *self)
{
  self->cancellable = g_cancellable_new ();
  self->parser = json_parser_new ();
  self->inbuf = g_byte_array_sized_new (READ_CHUNK_SIZE);
  g_queue_init (&self->write_queue);
  g_queue_init (&self->write_ids);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                         NULL, g_object_unref);
  self->next_id = 1;
}

/**
 * copilotd_jsonrpc_new:
 * @input: the stream the peer writes to (the CLI's stdout)
 * @output: the stream the peer reads (the CLI's stdin)
 *
 * Nothing is read before copilotd_jsonrpc_start().
 */
CopilotdJsonrpc *
copilotd_jsonrpc_new (GInputStream  *input,
                      GOutputStream *output)
{
  CopilotdJsonrpc *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (input), NULL);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (output), NULL);

  /* GUnixOutputStream's "non-blocking" write is a poll() followed by a
   * blocking write() of the whole buffer, which stalls the main loop
   * until the peer has read all of a frame bigger than the free pipe
   * space. On an O_NONBLOCK pipe the write is partial instead, and
   * write_all_async() waits for room from the main loop. */
  if (G_IS_UNIX_OUTPUT_STREAM (output) &&
      g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (output)))
    {
      g_autoptr(GError) error = NULL;

      if (!g_unix_set_fd_nonblocking (g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (output)),
                                      TRUE, &error))
        g_warning ("Writes to the CLI may block: %s", error->message);
    }

  self = g_object_new (COPILOTD_TYPE_JSONRPC, NULL);
  self->input = g_object_ref (input);
  self->output = g_object_ref (output);

  return self;
}

/* Closing */

static GError *
lost_error (CopilotdJsonrpc *self)
{
  return g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                      "Connection to the CLI lost: %s",
                      self->close_error != NULL ? self->close_error->message : "closed");
}

static void
jsonrpc_close_internal (CopilotdJsonrpc *self,
                        const GError    *reason,
                        gboolean         emit)
{
  g_autoptr(GList) tasks = NULL;

  if (self->closed)
    return;

  /* Handlers and task callbacks below may drop the last reference. */
  g_object_ref (self);

  self->closed = TRUE;
  self->close_error = g_error_copy (reason);
  g_debug ("JSON-RPC connection closed: %s", reason->message);

  g_cancellable_cancel (self->cancellable);

  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  /* A stream with an operation in flight refuses to close: the cancelled
   * callback closes it instead. */
  if (!self->reading_async)
    jsonrpc_close_input (self->input);

  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  g_clear_error (&self->write_error);
  if (self->writing)
    {
      /* The in-flight head belongs to its WriteOp now; it may have
       * reached the peer. */
      mark_written (self);
      g_bytes_unref (g_queue_pop_head (&self->write_queue));
    }
  else
    close_output (self->output);
  /* Pollable output: what is left was never taken by the pipe (a frame
   * taken in part was marked written when its first bytes went). */
  g_queue_clear_full (&self->write_queue, (GDestroyNotify) g_bytes_unref);
  g_queue_clear (&self->write_ids);
  self->writing = FALSE;
  self->write_offset = 0;

  self->inbuf_pos = 0;
  g_byte_array_set_size (self->inbuf, 0);

  /* Steal first: callbacks may run synchronously and call back in. */
  tasks = g_hash_table_get_values (self->pending);
  g_hash_table_steal_all (self->pending);
  for (GList *l = tasks; l != NULL; l = l->next)
    {
      g_autoptr(GTask) task = l->data;
      CallData *data = g_task_get_task_data (task);

      if (data->cancel_source != NULL)
        g_source_destroy (data->cancel_source);
      g_task_return_error (task, lost_error (self));
    }

  if (emit)
    g_signal_emit (self, copilotd_jsonrpc_signals[SIGNAL_CLOSED], 0, self->close_error);

  g_object_unref (self);
}

/**
 * copilotd_jsonrpc_close:
 * @reason: (nullable): why; defaults to G_IO_ERROR_CLOSED
 *
 * Idempotent. Fails every pending call and emits "closed".
 */
void
copilotd_jsonrpc_close (CopilotdJsonrpc *self,
                        const GError    *reason)
{
  g_autoptr(GError) fallback = NULL;

  g_return_if_fail (COPILOTD_IS_JSONRPC (self));

  if (reason == NULL)
    {
      fallback = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                      "The connection was closed");
      reason = fallback;
    }

  jsonrpc_close_internal (self, reason, TRUE);
}

gboolean
copilotd_jsonrpc_is_closed (CopilotdJsonrpc *self)
{
  g_return_val_if_fail (COPILOTD_IS_JSONRPC (self), TRUE);

  return self->closed;
}

void
jsonrpc_close_literal (CopilotdJsonrpc *self,
                       GIOErrorEnum     code,
                       const char      *message)
{
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, code, message);

  copilotd_jsonrpc_close (self, reason);
}

/* Writing */

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  WriteOp *op = user_data;
  CopilotdJsonrpc *self = op->self;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_bytes_unref (op->bytes);
  g_free (op);

  /* Cancelled means closed or disposed: self may be gone, but the
   * stream still needs closing now that it is idle. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      close_output (G_OUTPUT_STREAM (source));
      return;
    }

  if (error != NULL)
    {
      g_autoptr(GError) reason = NULL;

      /* The failed write is over: let the close path close the stream.
       * Its call never reached the peer. */
      self->writing = FALSE;
      g_bytes_unref (g_queue_pop_head (&self->write_queue));
      g_queue_pop_head (&self->write_ids);
      reason = g_error_new (error->domain, error->code,
                            "Writing to the CLI failed: %s", error->message);
      copilotd_jsonrpc_close (self, reason);
      return;
    }

  self->writing = FALSE;
  mark_written (self);
  g_bytes_unref (g_queue_pop_head (&self->write_queue));
  jsonrpc_write_next (self);
}

static gboolean
write_failed_cb (gpointer user_data)
{
  CopilotdJsonrpc *self = user_data;
  g_autoptr(GError) reason = g_steal_pointer (&self->write_error);

  g_clear_pointer (&self->write_source, g_source_unref);
  copilotd_jsonrpc_close (self, reason);
  return G_SOURCE_REMOVE;
}

static gboolean write_ready_cb (GObject  *stream,
                                gpointer  user_data);

static void
watch_output (CopilotdJsonrpc *self,
              GSource         *source,
              GSourceFunc      callback)
{
  self->write_source = source;
  g_source_set_callback (source, callback, self, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
}

/* Writes queued frames until the pipe is full (then waits for room) or
 * the queue is empty. A failed write closes the connection from an idle
 * callback, never from inside the call that queued the frame. */
static void
write_pollable (CopilotdJsonrpc *self)
{
  GPollableOutputStream *output = G_POLLABLE_OUTPUT_STREAM (self->output);
  GBytes *head;

  while ((head = g_queue_peek_head (&self->write_queue)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);
      gssize n;

      n = g_pollable_output_stream_write_nonblocking (output, data + self->write_offset,
                                                      size - self->write_offset, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          watch_output (self, g_pollable_output_stream_create_source (output, NULL),
                        G_SOURCE_FUNC (write_ready_cb));
          return;
        }
      if (n <= 0)
        {
          /* A frame the pipe took none of never reached the peer. */
          if (self->write_offset == 0)
            g_queue_pop_head (&self->write_ids);
          g_bytes_unref (g_queue_pop_head (&self->write_queue));
          self->write_offset = 0;
          self->write_error = g_error_new (error ? error->domain : G_IO_ERROR,
                                           error ? error->code : G_IO_ERROR_FAILED,
                                           "Writing to the CLI failed: %s",
                                           error ? error->message : "no progress");
          watch_output (self, g_idle_source_new (), write_failed_cb);
          return;
        }
      if (self->write_offset == 0)
        mark_written (self);
      self->write_offset += n;
      if (self->write_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&self->write_queue));
          self->write_offset = 0;
        }
    }
}

static gboolean
write_ready_cb (GObject  *stream,
                gpointer  user_data)
{
  CopilotdJsonrpc *self = user_data;

  g_clear_pointer (&self->write_source, g_source_unref);
  write_pollable (self);
  return G_SOURCE_REMOVE;
}

static void
jsonrpc_write_next (CopilotdJsonrpc *self)
{
  GBytes *head;
  WriteOp *op;
  gsize size;
  gconstpointer data;

  if (self->writing || self->write_source != NULL || self->closed)
    return;

  if (G_IS_POLLABLE_OUTPUT_STREAM (self->output) &&
      g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (self->output)))
    {
      write_pollable (self);
      return;
    }

  head = g_queue_peek_head (&self->write_queue);
  if (head == NULL)
    return;

  op = g_new0 (WriteOp, 1);
  op->self = self;
  op->bytes = g_bytes_ref (head);
  data = g_bytes_get_data (head, &size);

  self->writing = TRUE;
  g_output_stream_write_all_async (self->output, data, size,
                                   G_PRIORITY_DEFAULT, self->cancellable,
                                   write_cb, op);
}

/* The head frame was written (or may have been): its call, if any. */
static void
mark_written (CopilotdJsonrpc *self)
{
  gint64 id = (gint64) GPOINTER_TO_SIZE (g_queue_pop_head (&self->write_ids)) - 1;
  GTask *task = id >= 0 ? g_hash_table_lookup (self->pending, &id) : NULL;

  if (task != NULL)
    ((CallData *) g_task_get_task_data (task))->written = TRUE;
}

/* Takes ownership of @message; @call_id is -1 for anything but a call. */
static void
jsonrpc_send (CopilotdJsonrpc *self,
              JsonObject      *message,
              gint64           call_id)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *body = NULL;
  GString *frame;
  gsize body_len;

  json_node_take_object (root, message);
  body = json_to_string (root, FALSE);
  body_len = strlen (body);

  frame = g_string_sized_new (body_len + 32);
  g_string_append_printf (frame, "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", body_len);
  g_string_append_len (frame, body, body_len);

  g_queue_push_tail (&self->write_queue, g_string_free_to_bytes (frame));
  g_queue_push_tail (&self->write_ids, GSIZE_TO_POINTER ((gsize) (call_id + 1)));
  jsonrpc_write_next (self);
}

static JsonObject *
new_message (void)
{
  JsonObject *message = json_object_new ();

  json_object_set_string_member (message, "jsonrpc", "2.0");
  return message;
}

/* Calls */

static gboolean
call_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  GTask *task = user_data;
  CopilotdJsonrpc *self = g_task_get_source_object (task);
  CallData *data = g_task_get_task_data (task);

  g_debug ("JSON-RPC call %" G_GINT64_FORMAT " cancelled", data->id);

  /* The table holds the only reference we may use. */
  if (g_hash_table_steal_extended (self->pending, &data->id, NULL, (gpointer *) &task))
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }

  return G_SOURCE_REMOVE;
}

/**
 * copilotd_jsonrpc_call_async:
 * @params: (nullable): the params; omitted from the request when %NULL
 *
 * Sends a request with the next integer id and completes with its result.
 */
void
copilotd_jsonrpc_call_async (CopilotdJsonrpc     *self,
                             const char          *method,
                             JsonNode            *params,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *message;
  CallData *data;

  g_return_if_fail (COPILOTD_IS_JSONRPC (self));
  g_return_if_fail (method != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilotd_jsonrpc_call_async);
  g_task_set_name (task, method);

  if (self->closed)
    {
      g_task_return_error (task, lost_error (self));
      return;
    }

  if (g_task_return_error_if_cancelled (task))
    return;

  data = g_new0 (CallData, 1);
  data->id = self->next_id++;
  g_task_set_task_data (task, data, (GDestroyNotify) call_data_free);

  if (cancellable != NULL)
    {
      data->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_static_name (data->cancel_source, "[copilotd] jsonrpc call cancelled");
      g_source_set_callback (data->cancel_source, G_SOURCE_FUNC (call_cancelled_cb), task, NULL);
      g_source_attach (data->cancel_source, g_task_get_context (task));
    }

  /* The key lives in the task data, as long as the task. */
  g_hash_table_insert (self->pending, &data->id, g_object_ref (task));

  message = new_message ();
  json_object_set_int_member (message, "id", data->id);
  json_object_set_string_member (message, "method", method);
  if (params != NULL)
    json_object_set_member (message, "params", json_node_copy (params));

  g_debug ("JSON-RPC call %" G_GINT64_FORMAT " “%s”", data->id, method);
  jsonrpc_send (self, message, data->id);
}

/**
 * copilotd_jsonrpc_call_was_written:
 *
 * For a failed call: whether its request may have reached the peer. A
 * call that failed because the connection closed before its request was
 * written was never received and may be sent again elsewhere.
 */
gboolean
copilotd_jsonrpc_call_was_written (GAsyncResult *result)
{
  CallData *data = g_task_get_task_data (G_TASK (result));

  return data != NULL && data->written;
}

/**
 * copilotd_jsonrpc_call_finish:
 *
 * Returns: (transfer full): the result; a JSON null result is a node of
 *   type %JSON_NODE_NULL. %NULL only with @error set: the peer's error in
 *   COPILOTD_JSONRPC_ERROR, G_IO_ERROR_CANCELLED, or
 *   COPILOTD_ERROR_BACKEND_FAILED when the connection is gone.
 */
JsonNode *
copilotd_jsonrpc_call_finish (CopilotdJsonrpc  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_jsonrpc_call_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
copilotd_jsonrpc_notify (CopilotdJsonrpc  *self,
                         const char       *method,
                         JsonNode         *params,
                         GError          **error)
{
  JsonObject *message;

  g_return_val_if_fail (COPILOTD_IS_JSONRPC (self), FALSE);
  g_return_val_if_fail (method != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    {
      g_propagate_error (error, lost_error (self));
      return FALSE;
    }

  message = new_message ();
  json_object_set_string_member (message, "method", method);
  if (params != NULL)
    json_object_set_member (message, "params", json_node_copy (params));
  jsonrpc_send (self, message, -1);

  return TRUE;
}

/**
 * copilotd_jsonrpc_reply:
 * @id: the id node from the "request" signal
 * @result: (nullable): the result; %NULL sends a JSON null
 */
void
copilotd_jsonrpc_reply (CopilotdJsonrpc *self,
                        JsonNode        *id,
                        JsonNode        *result)
{
  JsonObject *message;

  g_return_if_fail (COPILOTD_IS_JSONRPC (self));
  g_return_if_fail (id != NULL);

  if (self->closed)
    {
      g_debug ("Not replying on a closed JSON-RPC connection");
      return;
    }

  message = new_message ();
  json_object_set_member (message, "id", json_node_copy (id));
  json_object_set_member (message, "result",
                          result != NULL ? json_node_copy (result) : json_node_new (JSON_NODE_NULL));
  jsonrpc_send (self, message, -1);
}

void
copilotd_jsonrpc_reply_error (CopilotdJsonrpc *self,
                              JsonNode        *id,
                              int              code,
                              const char      *message_text)
{
  JsonObject *message;
  JsonObject *error;

  g_return_if_fail (COPILOTD_IS_JSONRPC (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (message_text != NULL);

  if (self->closed)
    {
      g_debug ("Not replying on a closed JSON-RPC connection");
      return;
    }

  error = json_object_new ();
  json_object_set_int_member (error, "code", code);
  json_object_set_string_member (error, "message", message_text);

  message = new_message ();
  json_object_set_member (message, "id", json_node_copy (id));
  json_object_set_object_member (message, "error", error);
  jsonrpc_send (self, message, -1);
}

