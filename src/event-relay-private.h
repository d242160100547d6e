/* SPDX-License-Identifier: MIT */
/* event-relay-private.h: what the relay (event-relay.c) and its
 * subscribers (event-subscribers.c) share */
#pragma once

#include "event-relay.h"

G_BEGIN_DECLS

typedef struct _Subscriber Subscriber;

/* A Ping in flight; outlives its subscriber, which clears @sub. */
typedef struct {
  Subscriber *sub;             /* unowned, nullable */
} Ping;

struct _Subscriber {
  CopilotdEventRelay *relay;   /* unowned: owns this */
  char *name;                  /* owned: unique name */
  GVariant *destination;       /* owned: @name, the signals' header value */
  GStrv types;                 /* owned, nullable: NULL receives everything */
  GPtrArray *patterns;         /* owned, nullable: GPatternSpec* */
  guint64 sent;                /* signals sent to it */
  guint64 confirmed;           /* of those, how many it has read */
  Ping *ping;                  /* nullable, owned by the call */
  gboolean no_ping;            /* the bus refuses our Ping: never merge */
  guint64 ping_sent;           /* @sent when @ping went out */
  char *last_message_id;       /* owned, nullable: of the last Delta sent or held */
  guint last_stream;
  GString *held;               /* owned, nullable: merged text not sent yet */
  guint64 held_serial;
  guint noise_names;           /* of @types, how many name noise */
};

struct _CopilotdEventRelay
{
  GDBusConnection *connection; /* owned */
  char *path;                  /* owned */
  GVariant *path_value;        /* owned: @path, the signals' header value */
  GHashTable *subscribers;     /* owned: name → Subscriber* */
  guint64 next_serial;
  GQueue ring;                 /* RingEntry* owned: what was relayed */
  gsize ring_bytes;
  guint64 ring_dropped_up_to;  /* serials below this were dropped */
  guint ring_max_events;
  gsize ring_max_bytes;
  gsize max_message_size;      /* no signal nor reply grows past this */
  guint coalesce_backlog;      /* 0: never merge */
  gboolean in_run;             /* in runs: holds a run's deltas */
};

/* A delta on its way to subscribers: its Delta tuple is built only when
 * one gets it as it is. */
typedef struct {
  guint64 serial;
  const char *message_id;      /* valid UTF-8, cut to size */
  gsize id_len;
  guint stream;
  const char *text;            /* valid UTF-8, cut to size */
  gsize text_len;
  GVariant *params;            /* owned, nullable */
} DeltaOut;

gboolean copilotd_event_is_noise         (const char          *type);
/* Whether a subscription anywhere names a noise type. */
gboolean copilotd_event_noise_named      (void);
/* Sends a signal to @destination (a unique name's header value). */
void     copilotd_event_relay_emit       (CopilotdEventRelay  *relay,
                                          GVariant            *destination,
                                          const char          *signal_name,
                                          GVariant            *parameters);
/* Forgets @relay's part in runs of deltas (before it is freed). */
void     copilotd_event_relay_leave_runs (CopilotdEventRelay  *relay);

void     copilotd_subscriber_free        (Subscriber          *sub);
/* @exact: only a pattern naming @type exactly counts. */
gboolean copilotd_subscriber_wants       (Subscriber          *sub,
                                          const char          *type,
                                          gboolean             exact);
/* Sends @parameters to @sub and asks, now and then, what it has read. */
void     copilotd_subscriber_send        (Subscriber          *sub,
                                          const char          *signal_name,
                                          GVariant            *parameters);
/* Sends the merged text held for @sub, if any. */
void     copilotd_subscriber_flush       (Subscriber          *sub);
/* Sends @delta to @sub or holds it; @in_run: it was read with others. */
void     copilotd_subscriber_send_delta  (Subscriber          *sub,
                                          DeltaOut            *delta,
                                          gboolean             in_run);

G_END_DECLS
