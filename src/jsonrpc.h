/* SPDX-License-Identifier: MIT */
/* jsonrpc.h: JSON-RPC 2.0 with Content-Length framing over a stream pair */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "json-fast.h"

G_BEGIN_DECLS

/* Errors the peer sent back: the code is the JSON-RPC error code. */
#define COPILOTD_JSONRPC_ERROR (copilotd_jsonrpc_error_quark ())
GQuark copilotd_jsonrpc_error_quark (void);

#define COPILOTD_TYPE_JSONRPC (copilotd_jsonrpc_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdJsonrpc, copilotd_jsonrpc, COPILOTD, JSONRPC, GObject)

CopilotdJsonrpc *copilotd_jsonrpc_new          (GInputStream        *input,
                                                GOutputStream       *output);
void             copilotd_jsonrpc_start        (CopilotdJsonrpc     *self);
void             copilotd_jsonrpc_call_async   (CopilotdJsonrpc     *self,
                                                const char          *method,
                                                JsonNode            *params,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
JsonNode        *copilotd_jsonrpc_call_finish  (CopilotdJsonrpc     *self,
                                                GAsyncResult        *result,
                                                GError             **error);
/* For a failed call: whether its request may have reached the peer. */
gboolean         copilotd_jsonrpc_call_was_written (GAsyncResult    *result);
gboolean         copilotd_jsonrpc_notify       (CopilotdJsonrpc     *self,
                                                const char          *method,
                                                JsonNode            *params,
                                                GError             **error);
void             copilotd_jsonrpc_reply        (CopilotdJsonrpc     *self,
                                                JsonNode            *id,
                                                JsonNode            *result);
void             copilotd_jsonrpc_reply_error  (CopilotdJsonrpc     *self,
                                                JsonNode            *id,
                                                int                  code,
                                                const char          *message);
void             copilotd_jsonrpc_close        (CopilotdJsonrpc     *self,
                                                const GError        *reason);
gboolean         copilotd_jsonrpc_is_closed    (CopilotdJsonrpc     *self);

/* Called with every body before it is parsed (after the UTF-8 repair);
 * TRUE drops it unread. @event_type is the type of the `session.event`
 * the body is when the delta reader found it already (else NULL: the body
 * may be anything). One for the process: the daemon sets the event
 * relay's noise filter. */
typedef gboolean (*CopilotdJsonrpcDropFunc) (const char *body,
                                             gsize       len,
                                             const char *event_type);
void             copilotd_jsonrpc_set_drop_func (CopilotdJsonrpcDropFunc func);

/* How a run of deltas the delta handler took, read together, ended. */
typedef enum {
  COPILOTD_JSONRPC_RUN_BEFORE_FRAME,  /* another frame follows: it comes after them */
  COPILOTD_JSONRPC_RUN_ALONE,         /* everything read is handled; it was one delta */
  COPILOTD_JSONRPC_RUN_SEVERAL,       /* the same, of several: the CLI writes faster
                                       * than copilotd reads */
} CopilotdJsonrpcRunEnd;

/* Called when such a run ends. One for the process: the event relay
 * merges the deltas of runs (copilotd_event_relay_end_run()). */
typedef void (*CopilotdJsonrpcRunEndFunc) (CopilotdJsonrpcRunEnd end);
void             copilotd_jsonrpc_set_run_end_func (CopilotdJsonrpcRunEndFunc func);

/* Called with every `session.event` of a plain delta, read without a tree
 * (copilotd_json_read_delta(); its strings live until the call returns):
 * TRUE when handled, FALSE to have it parsed and emitted as a
 * notification like any other body. Its handler must do exactly what the
 * notification would have done. */
typedef gboolean (*CopilotdJsonrpcDeltaFunc) (const CopilotdJsonDelta *delta,
                                              gpointer                 user_data);
void             copilotd_jsonrpc_set_delta_func (CopilotdJsonrpc          *self,
                                                  CopilotdJsonrpcDeltaFunc  func,
                                                  gpointer                  user_data);

/* Exposed for the unit tests and the benchmark: feeds raw bytes as if
 * they had been read from the input stream. */
void             copilotd_jsonrpc_feed         (CopilotdJsonrpc     *self,
                                                const guint8        *data,
                                                gsize                len);

/* The C and va_list marshallers of the (method, params) notification
 * signals of CopilotdJsonrpc and CopilotdBackend: the generic libffi
 * marshaller cost ~3 % of relaying a delta (README "Performance"). */
void copilotd_marshal_VOID__STRING_BOXED   (GClosure     *closure,
                                            GValue       *return_value,
                                            guint         n_param_values,
                                            const GValue *param_values,
                                            gpointer      invocation_hint,
                                            gpointer      marshal_data);
void copilotd_marshal_VOID__STRING_BOXEDv  (GClosure     *closure,
                                            GValue       *return_value,
                                            gpointer      instance,
                                            va_list       args,
                                            gpointer      marshal_data,
                                            int           n_params,
                                            GType        *param_types);
/* The same for CopilotdBackend::delta (a pointer in, a gboolean out). */
void copilotd_marshal_BOOLEAN__POINTER     (GClosure     *closure,
                                            GValue       *return_value,
                                            guint         n_param_values,
                                            const GValue *param_values,
                                            gpointer      invocation_hint,
                                            gpointer      marshal_data);
void copilotd_marshal_BOOLEAN__POINTERv    (GClosure     *closure,
                                            GValue       *return_value,
                                            gpointer      instance,
                                            va_list       args,
                                            gpointer      marshal_data,
                                            int           n_params,
                                            GType        *param_types);

G_END_DECLS
