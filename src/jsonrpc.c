/* jsonrpc.c: JSON-RPC 2.0 with Content-Length framing over a stream pair
 *
 * Frames are cut out of a growing byte buffer by hand and each body is
 * parsed once with JsonParser. Reads go through GPollableInputStream when
 * the stream supports it, so that no frame ever crosses the GIO thread
 * pool: a GDataInputStream line reader costs ~36 µs per frame against
 * well under a microsecond for the framing done here.
 *
 * Writes are queued and written one after another with async writes, so
 * a peer that stops reading its stdin never blocks the main loop.
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
#include "json-fast.h"
#include "jsonrpc.h"
#include "utf8.h"

/* Bigger header blocks mean the stream is not what we think it is. */
#define MAX_HEADER_SIZE (8 * 1024)
/* The largest result seen in practice (getMessages of a long session) is a
 * few MiB; 64 MiB is far beyond that and still bounds memory. */
#define MAX_BODY_SIZE (64 * 1024 * 1024)
#define READ_CHUNK_SIZE (64 * 1024)
/* Reads per wakeup of the input source before yielding to other sources,
 * so a chatty CLI cannot starve the D-Bus side of the main loop. */
#define MAX_READS_PER_DISPATCH 16

#define JSONRPC_PARSE_ERROR (-32700)
#define JSONRPC_METHOD_NOT_FOUND (-32601)

struct _CopilotdJsonrpc
{
  GObject parent_instance;

  GInputStream *input;           /* owned */
  GOutputStream *output;         /* owned */
  GCancellable *cancellable;     /* owned; cancelled on close and dispose */
  GSource *read_source;          /* owned; pollable input only */
  JsonParser *parser;            /* owned; reused for every frame */

  /* Unparsed input: bytes before inbuf_pos are consumed. */
  GByteArray *inbuf;             /* owned */
  gsize inbuf_pos;

  GQueue write_queue;            /* owned GBytes, one frame each */
  GQueue write_ids;              /* the call id of each frame (GINT64 in a pointer), -1: none */
  gboolean writing;              /* the head of write_queue is in flight */
  gboolean reading_async;        /* a fallback read_bytes_async is in flight */

  GHashTable *pending;           /* owned; &CallData.id → owned GTask */
  gint64 next_id;

  gboolean started;
  gboolean closed;
  GError *close_error;           /* owned; why the connection closed */
};

enum {
  SIGNAL_NOTIFICATION,
  SIGNAL_REQUEST,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (CopilotdJsonrpc, copilotd_jsonrpc, G_TYPE_OBJECT)

G_DEFINE_QUARK (copilotd-jsonrpc-error-quark, copilotd_jsonrpc_error)

/* Per-call state, the GTask's task data. */
typedef struct
{
  gint64 id;
  GSource *cancel_source;        /* owned, nullable */
  gboolean written;              /* the request may have reached the peer */
} CallData;

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
static void jsonrpc_process_input (CopilotdJsonrpc *self);
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

static void
close_input (GInputStream *input)
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
  g_clear_pointer (&self->inbuf, g_byte_array_unref);
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
  signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * CopilotdJsonrpc::request:
   * @method: the method name
   * @params: (nullable): the params, %NULL when absent
   * @id: the request id, to pass to copilotd_jsonrpc_reply()
   *
   * Returns: %TRUE if the handler will reply (possibly later); if no
   *   handler does, the request is answered with -32601 at once.
   */
  signals[SIGNAL_REQUEST] =
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
  signals[SIGNAL_CLOSED] =
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
    close_input (self->input);

  if (self->writing)
    {
      /* The in-flight head belongs to its WriteOp now; it may have
       * reached the peer. */
      mark_written (self);
      g_bytes_unref (g_queue_pop_head (&self->write_queue));
    }
  else
    close_output (self->output);
  g_queue_clear_full (&self->write_queue, (GDestroyNotify) g_bytes_unref);
  g_queue_clear (&self->write_ids);
  self->writing = FALSE;

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
    g_signal_emit (self, signals[SIGNAL_CLOSED], 0, self->close_error);

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

static void
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

static void
jsonrpc_write_next (CopilotdJsonrpc *self)
{
  GBytes *head;
  WriteOp *op;
  gsize size;
  gconstpointer data;

  if (self->writing || self->closed)
    return;

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

/* Dispatching incoming messages */

/* Reads a JSON-RPC error object without trusting its member types. */
static void
read_error_object (JsonNode    *error_node,
                   gint64      *out_code,
                   const char **out_message)
{
  JsonObject *error = json_node_get_object (error_node);
  JsonNode *code = json_object_get_member (error, "code");
  JsonNode *message = json_object_get_member (error, "message");

  *out_code = 0;
  if (code != NULL && JSON_NODE_HOLDS_VALUE (code) &&
      json_node_get_value_type (code) == G_TYPE_INT64)
    *out_code = json_node_get_int (code);

  *out_message = "";
  if (message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
      json_node_get_value_type (message) == G_TYPE_STRING)
    *out_message = json_node_get_string (message);
}

static void
handle_response (CopilotdJsonrpc *self,
                 JsonObject      *message)
{
  JsonNode *id_node = json_object_get_member (message, "id");
  JsonNode *error_node = json_object_get_member (message, "error");
  JsonNode *result_node = json_object_get_member (message, "result");
  g_autoptr(GTask) task = NULL;
  CallData *data;
  gint64 id;

  if (error_node != NULL && JSON_NODE_HOLDS_OBJECT (error_node) &&
      (id_node == NULL || JSON_NODE_HOLDS_NULL (id_node)))
    {
      gint64 code;
      const char *text;

      read_error_object (error_node, &code, &text);
      /* PROTOCOL.md §1.4: after this the CLI never answers again. */
      if (code == JSONRPC_PARSE_ERROR)
        {
          g_autoptr(GError) reason =
            g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         "The CLI could not parse our input (%s)", text);
          copilotd_jsonrpc_close (self, reason);
          return;
        }

      g_warning ("The CLI rejected a message: %" G_GINT64_FORMAT " %s", code, text);
      return;
    }

  if (id_node == NULL || !JSON_NODE_HOLDS_VALUE (id_node) ||
      json_node_get_value_type (id_node) != G_TYPE_INT64)
    {
      g_debug ("Dropping a JSON-RPC response with an id we never send");
      return;
    }

  id = json_node_get_int (id_node);
  if (!g_hash_table_steal_extended (self->pending, &id, NULL, (gpointer *) &task))
    {
      g_debug ("Dropping a JSON-RPC response to unknown id %" G_GINT64_FORMAT, id);
      return;
    }

  data = g_task_get_task_data (task);
  if (data->cancel_source != NULL)
    g_source_destroy (data->cancel_source);

  if (error_node != NULL && JSON_NODE_HOLDS_OBJECT (error_node))
    {
      gint64 code;
      const char *text;

      read_error_object (error_node, &code, &text);
      g_debug ("JSON-RPC call %" G_GINT64_FORMAT " failed: %" G_GINT64_FORMAT " “%s”",
               id, code, text);
      g_task_return_new_error (task, COPILOTD_JSONRPC_ERROR, (int) code, "%s", text);
    }
  else if (result_node != NULL)
    {
      g_task_return_pointer (task, json_node_copy (result_node),
                             (GDestroyNotify) json_node_unref);
    }
  else
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "The CLI answered call %" G_GINT64_FORMAT
                               " with neither result nor error", id);
    }
}

static void
handle_message (CopilotdJsonrpc *self,
                JsonObject      *message)
{
  JsonNode *method_node = json_object_get_member (message, "method");
  JsonNode *id_node;
  JsonNode *params;
  const char *method;
  gboolean handled = FALSE;

  if (method_node == NULL)
    {
      handle_response (self, message);
      return;
    }

  if (!JSON_NODE_HOLDS_VALUE (method_node) ||
      json_node_get_value_type (method_node) != G_TYPE_STRING)
    {
      g_warning ("Skipping a JSON-RPC message whose method is not a string");
      return;
    }

  method = json_node_get_string (method_node);
  params = json_object_get_member (message, "params");
  id_node = json_object_get_member (message, "id");

  if (id_node == NULL || JSON_NODE_HOLDS_NULL (id_node))
    {
      g_signal_emit (self, signals[SIGNAL_NOTIFICATION], 0, method, params);
      return;
    }

  g_debug ("JSON-RPC request “%s” from the CLI", method);
  g_signal_emit (self, signals[SIGNAL_REQUEST], 0, method, params, id_node, &handled);

  /* The CLI stalls a turn on a request nobody answers. */
  if (!handled)
    {
      g_autofree char *text = g_strdup_printf ("Method not found: %s", method);

      copilotd_jsonrpc_reply_error (self, id_node, JSONRPC_METHOD_NOT_FOUND, text);
    }
}

static void
handle_body (CopilotdJsonrpc *self,
             const guint8    *body,
             gsize            len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *repaired = NULL;

  /* Every string must reach GVariant as UTF-8 (utf8.c). */
  repaired = copilotd_json_text_make_valid ((const char *) body, len, &len);
  if (repaired != NULL)
    {
      g_debug ("Replaced text that is not UTF-8 in a frame from the CLI");
      body = (const guint8 *) repaired;
    }

  /* json-fast.c reads the common frames; json-glib has the last word. */
  root = copilotd_json_parse_fast ((const char *) body, len);
  if (root == NULL)
    {
      if (!json_parser_load_from_data (self->parser, (const char *) body, (gssize) len, &error))
        {
          /* The frame was well delimited, so the stream is still in sync. */
          g_warning ("Skipping a frame from the CLI that is not valid JSON: %s", error->message);
          return;
        }
      root = json_parser_steal_root (self->parser);
    }
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_warning ("Skipping a frame from the CLI that is not a JSON object");
      return;
    }

  handle_message (self, json_node_get_object (root));
}

/* Framing */

static gboolean
is_token_char (guint8 c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Parses the header block @headers (without the final CRLF CRLF) and
 * returns the body length. */
static gboolean
parse_headers (const guint8  *headers,
               gsize          len,
               gsize         *out_length,
               char         **out_problem)
{
  gboolean have_length = FALSE;
  guint64 length = 0;
  gsize pos = 0;

  while (pos <= len)
    {
      const guint8 *line = headers + pos;
      const guint8 *end = memchr (line, '\r', len - pos);
      gsize line_len = end != NULL ? (gsize) (end - line) : len - pos;
      gsize name_len = 0;
      gsize value_start;
      gsize value_end;

      while (name_len < line_len && is_token_char (line[name_len]))
        name_len++;
      if (name_len == 0 || name_len >= line_len || line[name_len] != ':')
        {
          *out_problem = g_strdup ("malformed header line");
          return FALSE;
        }

      value_start = name_len + 1;
      while (value_start < line_len && (line[value_start] == ' ' || line[value_start] == '\t'))
        value_start++;
      value_end = line_len;
      while (value_end > value_start && (line[value_end - 1] == ' ' || line[value_end - 1] == '\t'))
        value_end--;

      if (name_len == strlen ("Content-Length") &&
          g_ascii_strncasecmp ((const char *) line, "Content-Length", name_len) == 0)
        {
          guint64 value = 0;

          if (value_end == value_start || value_end - value_start > 19)
            {
              *out_problem = g_strdup ("Content-Length is not a number");
              return FALSE;
            }
          for (gsize i = value_start; i < value_end; i++)
            {
              if (!g_ascii_isdigit (line[i]))
                {
                  *out_problem = g_strdup ("Content-Length is not a number");
                  return FALSE;
                }
              value = value * 10 + (guint64) (line[i] - '0');
            }
          if (have_length && value != length)
            {
              *out_problem = g_strdup ("conflicting Content-Length headers");
              return FALSE;
            }
          have_length = TRUE;
          length = value;
        }

      /* Lines are separated by CRLF: the block scanner checked that
       * every CR is followed by LF. */
      pos += line_len + 2;
    }

  if (!have_length)
    {
      *out_problem = g_strdup ("no Content-Length header");
      return FALSE;
    }
  if (length > MAX_BODY_SIZE)
    {
      *out_problem = g_strdup_printf ("body of %" G_GUINT64_FORMAT " bytes is too large", length);
      return FALSE;
    }

  *out_length = (gsize) length;
  return TRUE;
}

/* Looks for the CRLF CRLF that ends the header block starting at @data.
 * Returns the header block length, 0 when more input is needed, or -1
 * with @out_problem set when this cannot be a header block. */
static gssize
find_header_end (const guint8  *data,
                 gsize          len,
                 char         **out_problem)
{
  gsize limit = MIN (len, MAX_HEADER_SIZE + 4);

  for (gsize i = 0; i < limit; i++)
    {
      if (data[i] == '\n')
        {
          /* LF-only separators desynchronise the CLI too (PROTOCOL.md
           * §1.4); failing at once beats waiting for 8 KiB. */
          *out_problem = g_strdup ("line feed without carriage return in the header");
          return -1;
        }
      if (data[i] != '\r')
        continue;
      if (i + 1 >= len)
        return 0;
      if (data[i + 1] != '\n')
        {
          *out_problem = g_strdup ("carriage return without line feed in the header");
          return -1;
        }
      if (i + 3 >= len)
        return 0;
      if (data[i + 2] == '\r' && data[i + 3] == '\n')
        {
          if (i == 0)
            {
              *out_problem = g_strdup ("empty header block");
              return -1;
            }
          return (gssize) i;
        }
      i++;
    }

  if (len > MAX_HEADER_SIZE + 4)
    {
      *out_problem = g_strdup_printf ("header block longer than %d bytes", MAX_HEADER_SIZE);
      return -1;
    }
  return 0;
}

/* Cuts every complete frame out of inbuf and dispatches it. The only
 * entry point for input: reads and copilotd_jsonrpc_feed() both land
 * here. */
static void
jsonrpc_process_input (CopilotdJsonrpc *self)
{
  /* Handlers may drop the last reference or close us mid-loop. */
  g_object_ref (self);

  while (!self->closed)
    {
      const guint8 *data = self->inbuf->data + self->inbuf_pos;
      gsize avail = self->inbuf->len - self->inbuf_pos;
      g_autofree char *problem = NULL;
      gssize header_len;
      gsize body_len = 0;
      gsize frame_len;

      if (avail == 0)
        break;

      header_len = find_header_end (data, avail, &problem);
      if (header_len == 0)
        break;
      if (header_len < 0 ||
          !parse_headers (data, (gsize) header_len, &body_len, &problem))
        {
          g_autofree char *message = g_strdup_printf ("Malformed frame from the CLI: %s", problem);

          jsonrpc_close_literal (self, G_IO_ERROR_INVALID_DATA, message);
          break;
        }

      frame_len = (gsize) header_len + 4 + body_len;
      if (avail < frame_len)
        break;

      /* Consume before dispatching: handlers may feed or close. */
      self->inbuf_pos += frame_len;
      handle_body (self, data + header_len + 4, body_len);
    }

  /* Compact once per batch rather than once per frame. */
  if (!self->closed && self->inbuf_pos > 0)
    {
      g_byte_array_remove_range (self->inbuf, 0, (guint) self->inbuf_pos);
      self->inbuf_pos = 0;
    }

  g_object_unref (self);
}

/**
 * copilotd_jsonrpc_feed:
 *
 * Processes @data as if it had been read from the input stream.
 */
void
copilotd_jsonrpc_feed (CopilotdJsonrpc *self,
                       const guint8    *data,
                       gsize            len)
{
  g_return_if_fail (COPILOTD_IS_JSONRPC (self));
  g_return_if_fail (data != NULL || len == 0);

  if (self->closed)
    return;

  g_byte_array_append (self->inbuf, data, (guint) len);
  jsonrpc_process_input (self);
}

/* Reading */

static void
jsonrpc_read_failed (CopilotdJsonrpc *self,
                     const GError    *error)
{
  g_autoptr(GError) reason = g_error_new (error->domain, error->code,
                                          "Reading from the CLI failed: %s",
                                          error->message);

  copilotd_jsonrpc_close (self, reason);
}

static gboolean
pollable_readable_cb (GObject  *stream,
                      gpointer  user_data)
{
  CopilotdJsonrpc *self = user_data;
  gboolean keep = G_SOURCE_CONTINUE;

  g_object_ref (self);

  for (guint i = 0; i < MAX_READS_PER_DISPATCH && !self->closed; i++)
    {
      g_autoptr(GError) error = NULL;
      guint old_len = self->inbuf->len;
      gssize n;

      /* Read straight into the buffer's tail: no extra copy. */
      g_byte_array_set_size (self->inbuf, old_len + READ_CHUNK_SIZE);
      n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                    self->inbuf->data + old_len,
                                                    READ_CHUNK_SIZE,
                                                    self->cancellable, &error);
      g_byte_array_set_size (self->inbuf, old_len + (guint) MAX (n, 0));

      if (n > 0)
        {
          jsonrpc_process_input (self);
          continue;
        }
      if (n == 0)
        jsonrpc_close_literal (self, G_IO_ERROR_CLOSED, "The CLI closed its output");
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        jsonrpc_read_failed (self, error);
      break;
    }

  if (self->closed)
    keep = G_SOURCE_REMOVE;

  g_object_unref (self);
  return keep;
}

static void jsonrpc_read_async (CopilotdJsonrpc *self);

static void
read_bytes_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  CopilotdJsonrpc *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  /* Cancelled means closed or disposed: self may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      close_input (G_INPUT_STREAM (source));
      return;
    }

  self->reading_async = FALSE;

  if (bytes == NULL)
    {
      jsonrpc_read_failed (self, error);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      jsonrpc_close_literal (self, G_IO_ERROR_CLOSED, "The CLI closed its output");
      return;
    }

  g_object_ref (self);
  copilotd_jsonrpc_feed (self, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  jsonrpc_read_async (self);
  g_object_unref (self);
}

static void
jsonrpc_read_async (CopilotdJsonrpc *self)
{
  if (self->closed)
    return;

  self->reading_async = TRUE;
  g_input_stream_read_bytes_async (self->input, READ_CHUNK_SIZE, G_PRIORITY_DEFAULT,
                                   self->cancellable, read_bytes_cb, self);
}

/**
 * copilotd_jsonrpc_start:
 *
 * Starts reading the input stream. Call once, after connecting signals.
 */
void
copilotd_jsonrpc_start (CopilotdJsonrpc *self)
{
  g_return_if_fail (COPILOTD_IS_JSONRPC (self));

  if (self->started || self->closed)
    return;
  self->started = TRUE;

  if (G_IS_POLLABLE_INPUT_STREAM (self->input) &&
      g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (self->input)))
    {
      self->read_source =
        g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->input),
                                               self->cancellable);
      g_source_set_static_name (self->read_source, "[copilotd] jsonrpc read");
      g_source_set_callback (self->read_source,
                             G_SOURCE_FUNC (pollable_readable_cb), self, NULL);
      g_source_attach (self->read_source, NULL);
    }
  else
    {
      jsonrpc_read_async (self);
    }
}
