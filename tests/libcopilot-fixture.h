/* SPDX-License-Identifier: MIT */
/* libcopilot-fixture.h: what the libcopilot tests share (test-libcopilot.c,
 * test-libcopilot-providers.c), over daemon-fixture.h */
#pragma once

#include "copilot.h"
#include "daemon-fixture.h"

G_BEGIN_DECLS

/* Iterates the main context until *@slot is set (a GAsyncReadyCallback of
 * store_result() stores it); fails after 30 s. */
GAsyncResult   *wait_result   (GAsyncResult   **slot);
void            store_result  (GObject         *source,
                               GAsyncResult    *result,
                               gpointer         user_data);
CopilotClient  *new_client    (GDBusConnection *conn);
CopilotSession *new_session   (CopilotClient   *client,
                               GVariant        *options);
char           *send_and_wait (CopilotSession  *session,
                               const char      *prompt,
                               GCancellable    *cancellable,
                               GError         **error);

/* What a session delivered, through its signals. */
typedef struct {
  GString *deltas;               /* owned: stream 0 */
  GPtrArray *types;              /* owned: event types in delivery order */
  GPtrArray *messages;           /* owned: message contents */
  GPtrArray *tools_started;      /* owned: tool names */
  guint n_tools_finished;
  guint n_idle;
  gboolean last_idle_aborted;
  char *closed_reason;           /* owned, nullable */
} Seen;

Seen           *seen_new      (CopilotSession  *session);
void            seen_free     (Seen            *seen);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Seen, seen_free)

G_END_DECLS
