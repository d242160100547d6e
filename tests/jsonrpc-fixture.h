/* SPDX-License-Identifier: MIT */
/* jsonrpc-fixture.h: what the CopilotdJsonrpc tests share
 *
 * The program test-jsonrpc is test-jsonrpc.c (writing, reading, calls,
 * incoming messages), test-jsonrpc-close.c (fatal input and closing) and
 * test-jsonrpc-streams.c (real pipes, non-pollable streams, transcript
 * replay), over these helpers.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jsonrpc.h"

G_BEGIN_DECLS

/* Dispatches what is ready on the default main context, without blocking. */
void       iterate        (void);

/* Frames */
char      *frame          (const char      *body);
void       feed_str       (CopilotdJsonrpc *rpc,
                           const char      *data);
void       feed_frame     (CopilotdJsonrpc *rpc,
                           const char      *body);
char      *node_to_string (JsonNode        *node);
JsonNode  *parse_json     (const char      *text);
GPtrArray *split_written  (const guint8    *data,
                           gsize            len);
GPtrArray *written_frames (GMemoryOutputStream *out);
JsonObject *frame_object  (GPtrArray       *frames,
                           guint            i);

/* Records what the connection reports. */
typedef struct
{
  GPtrArray *events;        /* owned; "method params" strings, in order */
  GError *closed;           /* owned */
  guint n_closed;
  gboolean handle_requests;
  GPtrArray *request_ids;   /* owned JsonNode refs of handled requests */
} Recorder;

void recorder_init    (Recorder        *rec);
void recorder_clear   (Recorder        *rec);
void recorder_connect (Recorder        *rec,
                       CopilotdJsonrpc *rpc);

/* A connection fed by hand, writing to memory. */
CopilotdJsonrpc *new_memory_rpc (GMemoryOutputStream **out);

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

void call_result_clear (CallResult   *res);
void call_done_cb      (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data);
void wait_call         (CallResult   *res);

/* A connection over two real pipes, the test playing the CLI. */
typedef struct
{
  int in_write_fd;          /* the peer's stdout, written by the test */
  int out_read_fd;          /* the peer's stdin, read by the test */
  CopilotdJsonrpc *rpc;     /* owned */
} PipePair;

void        pipe_pair_init  (PipePair   *pp);
void        pipe_pair_clear (PipePair   *pp);
void        write_fd_all    (int         fd,
                             const char *data,
                             gsize       len);
GByteArray *read_fd_until   (int         fd,
                             gsize       until);

/* The cases of the other sources, in test-jsonrpc.c's order. */
void jsonrpc_add_close_tests   (void);
void jsonrpc_add_streams_tests (void);

G_END_DECLS
