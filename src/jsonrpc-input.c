/* SPDX-License-Identifier: MIT */
/* jsonrpc-input.c: the reading half of CopilotdJsonrpc
 *
 * Bytes from the CLI are read straight into a growing buffer (through
 * GPollableInputStream when the stream supports it, so that no frame ever
 * crosses the GIO thread pool), cut into Content-Length frames by hand,
 * parsed (json-fast.c, else json-glib) and dispatched: a response completes
 * its call, a request or notification becomes a signal. A framing error
 * closes the connection; a body that is not JSON is skipped, and so is a
 * body over MAX_BODY_SIZE (as it streams: see skip_oversized()).
 */
#include "config.h"

#include <string.h>

#include "copilotd-error.h"
#include "json-fast.h"
#include "jsonrpc-private.h"
#include "utf8.h"

static void jsonrpc_read_async (CopilotdJsonrpc *self);

static CopilotdJsonrpcDropFunc drop_func;

void
copilotd_jsonrpc_set_drop_func (CopilotdJsonrpcDropFunc func)
{
  drop_func = func;
}

static CopilotdJsonrpcRunEndFunc run_end_func;

void
copilotd_jsonrpc_set_run_end_func (CopilotdJsonrpcRunEndFunc func)
{
  run_end_func = func;
}

/* @read_all: the run ends because everything read is handled. */
static void
jsonrpc_end_delta_run (CopilotdJsonrpc *self,
                       gboolean         read_all)
{
  guint n = self->run_deltas;

  if (n == 0)
    return;
  self->run_deltas = 0;
  if (run_end_func != NULL)
    run_end_func (!read_all ? COPILOTD_JSONRPC_RUN_BEFORE_FRAME :
                  n > 1 ? COPILOTD_JSONRPC_RUN_SEVERAL : COPILOTD_JSONRPC_RUN_ALONE);
}

/**
 * copilotd_jsonrpc_set_delta_func:
 *
 * Sets (or with %NULL clears) the handler of plain deltas read without a
 * tree: the stream's hot frame (README "Performance").
 */
void
copilotd_jsonrpc_set_delta_func (CopilotdJsonrpc          *self,
                                 CopilotdJsonrpcDeltaFunc  func,
                                 gpointer                  user_data)
{
  g_return_if_fail (COPILOTD_IS_JSONRPC (self));

  self->delta_func = func;
  self->delta_data = user_data;
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
      g_signal_emit (self, copilotd_jsonrpc_signals[SIGNAL_NOTIFICATION], 0, method, params);
      return;
    }

  g_debug ("JSON-RPC request “%s” from the CLI", method);
  g_signal_emit (self, copilotd_jsonrpc_signals[SIGNAL_REQUEST], 0, method, params, id_node, &handled);

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
  CopilotdJsonDelta delta = { .type = NULL };

  /* Every string must reach GVariant as UTF-8 (utf8.c). */
  repaired = copilotd_json_text_make_valid ((const char *) body, len, &len);
  if (repaired != NULL)
    {
      g_debug ("Replaced text that is not UTF-8 in a frame from the CLI");
      body = (const guint8 *) repaired;
    }

  if (self->delta_func != NULL)
    {
      if (self->delta_strings == NULL)
        self->delta_strings = g_string_sized_new (256);
      /* A delta the handler leaves goes the tree path; either way the
       * drop filter below is given the type read here, not a second read. */
      if (copilotd_json_read_delta ((const char *) body, len, self->delta_strings, &delta) &&
          self->delta_func (&delta, self->delta_data))
        {
          self->run_deltas++;
          return;
        }
    }

  if (drop_func != NULL && drop_func ((const char *) body, len, delta.type))
    return;

  /* What follows a run of deltas comes after them. */
  jsonrpc_end_delta_run (self, FALSE);

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
      /* json-glib turns malformed escapes into bytes that are not UTF-8. */
      if (root != NULL)
        copilotd_json_node_make_valid (root);
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
  if (length > MAX_SKIP_SIZE)
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
/* Finds `"name"` followed by a colon in @data. */
static const guint8 *
find_member (const guint8 *data,
             gsize         len,
             const char   *quoted_name)
{
  gsize n = strlen (quoted_name);

  for (gsize i = 0; i + n <= len; i++)
    {
      gsize j = i + n;

      if (memcmp (data + i, quoted_name, n) != 0)
        continue;
      while (j < len && (data[j] == ' ' || data[j] == '\t' || data[j] == '\r' || data[j] == '\n'))
        j++;
      if (j < len && data[j] == ':')
        return data + j + 1;
    }
  return NULL;
}

/* The integer id in the first bytes of a body, if one is there. */
static gboolean
peek_id (const guint8 *data,
         gsize         len,
         gint64       *out_id)
{
  const guint8 *p = find_member (data, len, "\"id\"");
  const guint8 *end = data + len;
  gint64 id = 0;
  guint digits = 0;

  if (p == NULL)
    return FALSE;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  for (; p < end && g_ascii_isdigit (*p) && digits < 18; p++, digits++)
    id = id * 10 + (*p - '0');
  *out_id = id;
  return digits > 0 && p < end && !g_ascii_isdigit (*p);
}

/* A body over MAX_BODY_SIZE: dropped as it streams. Its first bytes
 * (@peek) say whose it is: a response fails its call with
 * LimitsExceeded, a request is answered with an error, a notification
 * (an event the CLI could not have meant to be that large) is lost. */
static void
skip_oversized (CopilotdJsonrpc *self,
                const guint8    *peek,
                gsize            peek_len,
                guint64          body_len)
{
  gboolean has_method = find_member (peek, peek_len, "\"method\"") != NULL;
  gint64 id;

  self->skip_remaining = body_len;
  if (!peek_id (peek, peek_len, &id))
    {
      g_warning ("Skipping a message of %" G_GUINT64_FORMAT " bytes from the CLI: over the %d MiB limit",
                 body_len, MAX_BODY_SIZE / (1024 * 1024));
      return;
    }
  if (has_method)
    {
      g_autoptr(JsonNode) id_node = json_node_new (JSON_NODE_VALUE);

      g_warning ("Refusing a request of %" G_GUINT64_FORMAT " bytes from the CLI: over the %d MiB limit",
                 body_len, MAX_BODY_SIZE / (1024 * 1024));
      json_node_set_int (id_node, id);
      copilotd_jsonrpc_reply_error (self, id_node, -32600, "Request too large");
    }
  else
    {
      g_autoptr(GTask) task = NULL;

      g_warning ("Skipping the answer to call %" G_GINT64_FORMAT " (%" G_GUINT64_FORMAT
                 " bytes): over the %d MiB limit", id, body_len, MAX_BODY_SIZE / (1024 * 1024));
      if (g_hash_table_steal_extended (self->pending, &id, NULL, (gpointer *) &task))
        {
          CallData *data = g_task_get_task_data (task);

          if (data->cancel_source != NULL)
            g_source_destroy (data->cancel_source);
          g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                                   "The CLI's answer is %" G_GUINT64_FORMAT " bytes, over the %d MiB "
                                   "copilotd reads", body_len, MAX_BODY_SIZE / (1024 * 1024));
        }
    }
}

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

      if (self->skip_remaining > 0)
        {
          gsize n = (gsize) MIN (self->skip_remaining, (guint64) avail);

          self->inbuf_pos += n;
          self->skip_remaining -= n;
          continue;
        }

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

      if (body_len > MAX_BODY_SIZE)
        {
          gsize peek_len = MIN (body_len, SKIP_PEEK_SIZE);

          if (avail < (gsize) header_len + 4 + peek_len)
            break;
          self->inbuf_pos += (gsize) header_len + 4;
          skip_oversized (self, data + header_len + 4, peek_len, body_len);
          continue;
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

  /* Handlers may drop the last reference. */
  g_object_ref (self);
  g_byte_array_append (self->inbuf, data, (guint) len);
  jsonrpc_process_input (self);
  /* Everything read is handled. */
  jsonrpc_end_delta_run (self, TRUE);
  g_object_unref (self);
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

  /* Everything there was to read is handled. */
  jsonrpc_end_delta_run (self, TRUE);
  if (self->closed)
    keep = G_SOURCE_REMOVE;

  g_object_unref (self);
  return keep;
}

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
      jsonrpc_close_input (G_INPUT_STREAM (source));
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
