/* SPDX-License-Identifier: MIT */
/* jsonrpc-private.h: what jsonrpc.c (the object, writes, calls) and
 * jsonrpc-input.c (reads, framing, dispatch) share */
#pragma once

#include "jsonrpc.h"

G_BEGIN_DECLS

/* Bigger header blocks mean the stream is not what we think it is. */
#define MAX_HEADER_SIZE (8 * 1024)
/* The largest result seen in practice (getMessages of a long session) is a
 * few MiB; 64 MiB is far beyond that and still bounds memory. */
#define MAX_BODY_SIZE (64 * 1024 * 1024)
/* A body between the two limits is skipped as it streams (never buffered)
 * and the connection lives on; a Content-Length past this one means the
 * stream is garbage. */
#define MAX_SKIP_SIZE (G_GUINT64_CONSTANT (1024) * 1024 * 1024)
/* How much of a skipped body is looked at to find its id. */
#define SKIP_PEEK_SIZE 256
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
  CopilotdJsonrpcDeltaFunc delta_func;  /* nullable */
  gpointer delta_data;           /* unowned */
  GString *delta_strings;        /* owned; what delta_func gets, reused */
  guint run_deltas;              /* delta_func took these; the run has not ended */

  /* Unparsed input: bytes before inbuf_pos are consumed. */
  GByteArray *inbuf;             /* owned */
  gsize inbuf_pos;
  guint64 skip_remaining;        /* bytes of an oversized body still to drop */

  GQueue write_queue;            /* owned GBytes, one frame each */
  GQueue write_ids;              /* the call id of each frame (GINT64 in a pointer), -1: none */
  gboolean writing;              /* non-pollable output: the head's async write is in flight */
  GSource *write_source;         /* owned; pollable output: waiting for room, or to report a failed write */
  gsize write_offset;            /* pollable output: bytes of the head frame the stream took */
  GError *write_error;           /* owned; a failed write, reported by write_source */
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

/* Per-call state, the GTask's task data. */
typedef struct
{
  gint64 id;
  GSource *cancel_source;        /* owned, nullable */
  gboolean written;              /* the request may have reached the peer */
} CallData;

extern guint copilotd_jsonrpc_signals[N_SIGNALS];

void jsonrpc_close_literal (CopilotdJsonrpc *self,
                            GIOErrorEnum     code,
                            const char      *message);
void jsonrpc_close_input   (GInputStream    *input);

G_END_DECLS
