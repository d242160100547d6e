/* SPDX-License-Identifier: MIT */
/* session-fixture.h: what the Session tests share
 *
 * The program test-session is test-session.c (turns, the backend's
 * failures), test-session-access.c (subscribers, replay, privacy, owners)
 * and test-session-prompts.c (State, permissions, questions, tools,
 * hooks), each case with its own daemon (daemon-fixture.h).
 */
#pragma once

#include "daemon-fixture.h"

G_BEGIN_DECLS

/* A call on the Session interface at @path, iterating the main loop. */
GVariant *session_call         (GDBusConnection *conn,
                                const char      *path,
                                const char      *method,
                                GVariant        *params,
                                const char      *reply_type,
                                GError         **error);
/* SendAndWait that must succeed with a message id; returns the content.
 * @out_aborted NULL asserts that the turn was not aborted. */
char     *send_and_wait_ok     (GDBusConnection *conn,
                                const char      *path,
                                const char      *prompt,
                                gboolean        *out_aborted);
/* Returns once CreateSession's events have been relayed. */
void      settle               (Fixture         *fx,
                                const char      *path);
/* The serial of a logged Event signal. */
guint64   signal_serial        (LoggedSignal    *sig);
/* Waits for the Closed signal in @log and checks its reason. */
void      assert_closed_reason (SignalLog       *log,
                                const char      *reason);
/* The session at @path is neither managed nor callable (NotFound). */
void      assert_object_gone   (GDBusConnection *conn,
                                const char      *path);
/* Event types a turn emits besides its story (model, system, streaming,
 * deltas), which the checks of a turn's events pass over. */
gboolean  is_noise             (const char      *type);

/* The cases of the other sources, in test-session.c's order. */
void session_add_access_tests  (void);
void session_add_prompts_tests (void);

G_END_DECLS
