/* SPDX-License-Identifier: MIT */
/* backend.h: the CLI process (or TCP server): spawn, handshake, restart */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

#include "daemon-config.h"

G_BEGIN_DECLS

typedef enum {
  COPILOTD_BACKEND_STOPPED,
  COPILOTD_BACKEND_STARTING,
  COPILOTD_BACKEND_RUNNING,
  COPILOTD_BACKEND_RESTARTING,
  COPILOTD_BACKEND_FAILED,
} CopilotdBackendState;

#define COPILOTD_REQUIRED_PROTOCOL_VERSION 3

#define COPILOTD_TYPE_BACKEND (copilotd_backend_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdBackend, copilotd_backend, COPILOTD, BACKEND, GObject)

/* Signals:
 *  "notification" (const char *method, JsonNode *params)
 *  "delta" (const CopilotdJsonDelta *delta) → gboolean: a `session.event`
 *      of a plain delta, read without a tree; unless a handler returns
 *      TRUE (it did all the notification would have made it do), it comes
 *      again as "notification".
 *  "request" (const char *method, JsonNode *params, JsonNode *id) → gboolean:
 *      TRUE when the handler will answer with copilotd_backend_reply*();
 *      unclaimed requests are answered -32601 at once.
 *  "ready" (gboolean restarted): the handshake succeeded; when @restarted
 *      the CLI was restarted after it was lost and sessions must be resumed.
 *  "lost" (GError *reason): the CLI exited or its stream broke; every
 *      pending call has failed with COPILOTD_ERROR_BACKEND_FAILED.
 *  notify::state */

const char          *copilotd_backend_state_to_string (CopilotdBackendState state);
char                *copilotd_backend_find_cli        (const CopilotdConfig *config,
                                                       GError              **error);

CopilotdBackend     *copilotd_backend_new             (const CopilotdConfig *config);
/* A CLI that runs as @uid, in that user's home (system bus). */
CopilotdBackend     *copilotd_backend_new_for_user    (const CopilotdConfig *config,
                                                       uid_t                 uid);
CopilotdBackendState copilotd_backend_get_state       (CopilotdBackend *self);
const char          *copilotd_backend_get_version     (CopilotdBackend *self);
guint                copilotd_backend_get_protocol_version (CopilotdBackend *self);
/* Whom the CLI runs as: its user (system bus), or (uid_t) -1, the daemon's. */
uid_t                copilotd_backend_get_user        (CopilotdBackend *self);
/* Why the state is "failed"; NULL in any other state. */
const GError        *copilotd_backend_get_failure     (CopilotdBackend *self);

/* Live sessions and registered agents hold the backend: with no hold and
 * no call pending, the CLI stops after backend-idle-timeout (state
 * "stopped") and the next call starts it again. */
void                 copilotd_backend_hold            (CopilotdBackend *self);
void                 copilotd_backend_release    (CopilotdBackend *self);

/* Starts the CLI first when needed; @params is not consumed (nullable).
 * Fails with COPILOTD_ERROR_TIMEOUT after call-timeout, and with
 * COPILOTD_ERROR_BACKEND_FAILED when the CLI is lost (or wedged). */
void                 copilotd_backend_call_async      (CopilotdBackend     *self,
                                                       const char          *method,
                                                       JsonNode            *params,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
/* The same with its own deadline: 0 for a call that may legitimately run
 * long (the CLI's liveness is still watched). */
void                 copilotd_backend_call_full_async (CopilotdBackend     *self,
                                                       const char          *method,
                                                       JsonNode            *params,
                                                       guint                timeout_ms,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
JsonNode            *copilotd_backend_call_finish     (CopilotdBackend     *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
/* For a call that failed BackendFailed: TRUE when the CLI was lost before
 * the request was written, so that it never reached it and may go to the
 * next CLI (DESIGN.md §7). FALSE when it may have been received, and for
 * calls that failed because the CLI could not be started. */
gboolean             copilotd_backend_call_was_unsent (GAsyncResult        *result);
void                 copilotd_backend_reply           (CopilotdBackend     *self,
                                                       JsonNode            *id,
                                                       JsonNode            *result);
void                 copilotd_backend_reply_error     (CopilotdBackend     *self,
                                                       JsonNode            *id,
                                                       int                  code,
                                                       const char          *message);
/* Sets (@value NULL: unsets) a variable of the environment of the CLIs
 * this backend starts from now on; a running CLI keeps its own. */
void                 copilotd_backend_set_cli_env     (CopilotdBackend     *self,
                                                       const char          *name,
                                                       const char          *value);
/* Replaces the running CLI by a new process, for what only a new process
 * forgets (a token it holds in memory): the old one is terminated and
 * reaped first, its pending calls fail BackendFailed, and live sessions
 * are resumed in the new one as after a loss ("lost", then "ready" with
 * @restarted). Does nothing when no CLI process of this backend runs
 * (stopped, starting, or a --cli-url server, which is not ours). */
void                 copilotd_backend_restart         (CopilotdBackend     *self);
/* runtime.shutdown, then SIGTERM and (after stop-timeout) SIGKILL; finishes
 * once every CLI process this backend started has been reaped. */
void                 copilotd_backend_stop_async      (CopilotdBackend     *self,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean             copilotd_backend_stop_finish     (CopilotdBackend     *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

G_END_DECLS
