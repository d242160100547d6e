/* SPDX-License-Identifier: MIT */
/* copilot-session-private.h: what copilot-session.c and
 * copilot-session-delivery.c share, not installed
 *
 * A CopilotSession is one object written in two files: copilot-session.c
 * holds the object, copilot-session-delivery.c the in-order delivery of
 * the daemon's signals as its typed signals.
 */
#pragma once

#include "copilot-private.h"

G_BEGIN_DECLS

struct _CopilotSession
{
  GObject parent_instance;

  CopilotClient *client;         /* owned */
  char *path;                    /* owned */
  char *id;                      /* owned */
  char *state;                   /* owned */
  char *model;                   /* owned */
  char *mode;                    /* owned */

  guint64 next_serial;           /* 0: take whatever comes first */
  gboolean delivering;           /* FALSE until the creator had the object */
  GQueue early;                  /* owned: GVariant (member, params) before delivering */
  gboolean backfilling;          /* a GetEvents call is in flight */
  GPtrArray *held;               /* owned: GVariant (member, params) during backfill */
  gboolean closed;
  char *delta_message_id;        /* owned, nullable: of the last thing delivered, a Delta */

  GPtrArray *turn_cancels;       /* owned: TurnCancel*: cancellables that abort the turn */
  GCancellable *cancellable;     /* owned: cancelled in dispose */
};

enum {
  SIGNAL_EVENT,
  SIGNAL_DELTA,
  SIGNAL_MESSAGE,
  SIGNAL_TOOL_STARTED,
  SIGNAL_TOOL_FINISHED,
  SIGNAL_IDLE,
  SIGNAL_ERROR,
  SIGNAL_CLOSED,
  N_SIGNALS
};

extern guint copilot_session_signals[N_SIGNALS];

/* Set the property and notify when it changed. */
void copilot_session_update_state (CopilotSession *self,
                                   const char     *state);
void copilot_session_update_mode  (CopilotSession *self,
                                   const char     *mode);
/* The turn ended (idle, closed): its cancellables no longer abort. */
void copilot_session_end_turn     (CopilotSession *self);

G_END_DECLS
