/* SPDX-License-Identifier: MIT */
/* event-relay.h: CLI events to unicast Event/Delta signals, and a replay ring */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "json-fast.h"
#include "jsonrpc.h"

G_BEGIN_DECLS

typedef struct _CopilotdEventRelay CopilotdEventRelay;

CopilotdEventRelay *copilotd_event_relay_new    (GDBusConnection     *connection,
                                                 const char          *object_path,
                                                 guint                ring_max_events,
                                                 gsize                ring_max_bytes);
void      copilotd_event_relay_free             (CopilotdEventRelay  *relay);
/* Event, Delta and GetEvents stay within @max_message_size (bounded.c). */
void      copilotd_event_relay_set_max_message_size (CopilotdEventRelay *relay,
                                                     gsize               max_message_size);
/* Unconfirmed signals before deltas to a subscriber are merged; 0: never. */
void      copilotd_event_relay_set_coalesce_backlog (CopilotdEventRelay *relay,
                                                     guint               backlog);

/* @types: glob patterns, or NULL for every relayed event. Replaces an
 * earlier subscription of @name. */
void      copilotd_event_relay_subscribe        (CopilotdEventRelay  *relay,
                                                 const char          *name,
                                                 const char * const  *types);
gboolean  copilotd_event_relay_unsubscribe      (CopilotdEventRelay  *relay,
                                                 const char          *name);
gboolean  copilotd_event_relay_is_subscribed    (CopilotdEventRelay  *relay,
                                                 const char          *name);
guint     copilotd_event_relay_get_n_subscribers (CopilotdEventRelay *relay);
guint64   copilotd_event_relay_get_next_serial  (CopilotdEventRelay  *relay);

/* Filters, numbers, keeps and sends one CLI event envelope. */
void      copilotd_event_relay_relay            (CopilotdEventRelay  *relay,
                                                 JsonObject          *event);
/* The same for a plain delta read without a tree; FALSE (nothing done):
 * relay it as a tree. */
gboolean  copilotd_event_relay_relay_delta      (CopilotdEventRelay      *relay,
                                                 const CopilotdJsonDelta *delta);
/* Ends a run of deltas read together (copilotd_jsonrpc_set_run_end_func()). */
void      copilotd_event_relay_end_run          (CopilotdJsonrpcRunEnd end);
/* Closed (details) to every subscriber. */
void      copilotd_event_relay_emit_closed      (CopilotdEventRelay  *relay,
                                                 const char          *reason);
/* The (a(tsa{sv}s)tb) reply of GetEvents, floating. */
GVariant *copilotd_event_relay_get_events       (CopilotdEventRelay  *relay,
                                                 guint64              since,
                                                 guint                max);
/* The Event meta a{sv} of an envelope, floating. */
GVariant *copilotd_event_meta                   (JsonObject          *event);
void      copilotd_event_meta_add               (GVariantBuilder     *builder,
                                                 JsonObject          *event);

/* Drops internal noise nobody asked for before it is parsed. */
gboolean  copilotd_event_relay_drop_frame       (const char          *body,
                                                 gsize                len,
                                                 const char          *event_type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CopilotdEventRelay, copilotd_event_relay_free)

G_END_DECLS
