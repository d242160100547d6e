/* SPDX-License-Identifier: MIT */
/* session.h: one live CLI session exported on D-Bus */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

#include "agent-registry.h"
#include "backend.h"
#include "callers.h"
#include "daemon-config.h"
#include "copilotd-dbus.h"
#include "json-fast.h"
#include "tool-router.h"

G_BEGIN_DECLS

#define COPILOTD_SESSION_INTERFACE "io.github.copilotd.Copilot1.Session"

#define COPILOTD_TYPE_SESSION (copilotd_session_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdSession, copilotd_session, COPILOTD, SESSION, CopilotdDbusSessionSkeleton)

/* Signal "cli-event" (const char *type, JsonObject *data): a CLI event of
 * the session, after it was relayed (and SendAndWait answered). */

/* Signal "session-closed" (const char *reason): emitted once by
 * copilotd_session_close(), after Closed went out and before the manager
 * drops the object. Not "closed": the generated interface already has that
 * GObject signal for the D-Bus Closed signal. */

typedef struct {
  GDBusConnection       *connection;  /* unowned */
  CopilotdBackend       *backend;     /* unowned */
  CopilotdCallers       *callers;     /* unowned */
  CopilotdAgentRegistry *agents;      /* unowned, nullable */
  CopilotdToolRouter    *tools;       /* unowned, nullable */
  const CopilotdConfig  *config;      /* unowned */
} CopilotdSessionContext;

char            *copilotd_session_path_for_id   (const char *session_id);

CopilotdSession *copilotd_session_new           (const CopilotdSessionContext *context,
                                                 const char      *session_id,
                                                 const char      *owner,
                                                 uid_t            uid,
                                                 gboolean         persist);
const char      *copilotd_session_get_id        (CopilotdSession *self);
const char      *copilotd_session_get_path      (CopilotdSession *self);
uid_t            copilotd_session_get_uid       (CopilotdSession *self);
CopilotdBackend *copilotd_session_get_backend   (CopilotdSession *self);
/* The connection that started the current turn (Send, SendAndWait, Ask,
 * ExecuteCommand): its agent is asked right after the owner's (§5). */
void             copilotd_session_set_turn_sender (CopilotdSession *self,
                                                   const char      *sender);

/* The session.create / session.resume params (without sessionId), kept so
 * that a restarted CLI gets the same tools and flags; takes @tools. */
void             copilotd_session_set_params    (CopilotdSession *self,
                                                 JsonNode        *params,
                                                 GPtrArray       *tools);
JsonNode        *copilotd_session_dup_params   (CopilotdSession *self);
JsonNode        *copilotd_session_dup_resume_params (CopilotdSession *self);
/* The hook and command providers (providers.c) bound by the creator;
 * takes @providers. */
void             copilotd_session_set_providers (CopilotdSession *self,
                                                 GPtrArray       *providers);
/* A live ResumeSession: @providers (taken) join the session's, and
 * @params (the caller's, merged into the session's) gets the combined
 * `hooks` and `commands`. FALSE with LimitsExceeded, and nothing joined,
 * past COPILOTD_MAX_PROVIDERS. */
gboolean         copilotd_session_join_providers (CopilotdSession *self,
                                                  GPtrArray       *providers,
                                                  JsonObject      *params,
                                                  GError         **error);
void             copilotd_session_set_cli_property (CopilotdSession *self,
                                                    const char      *name,
                                                    const char      *value);
/* After session.create/resume answered: start time and model. */
void             copilotd_session_set_started   (CopilotdSession *self,
                                                 JsonObject      *result);

/* While held, CLI events are queued and not relayed (a reply that must go
 * out first is on its way). */
void             copilotd_session_hold          (CopilotdSession *self);
void             copilotd_session_release       (CopilotdSession *self);

void             copilotd_session_handle_event  (CopilotdSession *self,
                                                 JsonObject      *event);
/* The same for a plain delta read without a tree; FALSE (nothing done):
 * handle it as a tree. */
gboolean         copilotd_session_handle_delta  (CopilotdSession         *self,
                                                 const CopilotdJsonDelta *delta);
gboolean         copilotd_session_handle_request (CopilotdSession *self,
                                                  const char     *method,
                                                  JsonObject     *params,
                                                  JsonNode       *id);
void             copilotd_session_peer_vanished (CopilotdSession *self,
                                                 const char      *name);
/* Daemon exit: session.destroy for each of @sessions whose CLI runs, all
 * closed "destroyed" (after @timeout_ms at the latest). */
void             copilotd_sessions_destroy_all_async  (GPtrArray           *sessions,
                                                       guint                timeout_ms,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
void             copilotd_sessions_destroy_all_finish (GAsyncResult        *result);
/* The manager tells a session of its CLI's fate; the session brings
 * itself back: a lost turn is reported, calls wait, and on "ready" the
 * session is resumed (or created again) before they go out. */
void             copilotd_session_backend_lost  (CopilotdSession *self);
void             copilotd_session_backend_ready (CopilotdSession *self);
void             copilotd_session_backend_restarted (CopilotdSession *self);
/* Idempotent: Closed to every subscriber, state "closed", "session-closed".
 * Tells the CLI (session.destroy) for "owner-vanished" and "idle-timeout",
 * when the CLI still has the session. */
void             copilotd_session_close         (CopilotdSession *self,
                                                 const char      *reason);
gboolean         copilotd_session_is_closed     (CopilotdSession *self);

/* Whether the caller may use the session (its owner or a subscriber, and
 * the session not closed); when not, @invocation was answered with Closed
 * or AccessDenied. Every Session method handler calls it first. */
gboolean         copilotd_session_check_caller  (CopilotdSession       *self,
                                                 GDBusMethodInvocation *invocation);

/* Every call of the session's CLI goes through these (session-link.c):
 * @params (owned, nullable) gets "sessionId"; the call uses the session's
 * GCancellable, waits while the session is being started or brought back
 * into a restarted CLI, and goes out in order once the CLI has it. Fails
 * with Closed when the session closes first. */
void             copilotd_session_call_async    (CopilotdSession     *self,
                                                 const char          *method,
                                                 JsonObject          *params,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
JsonNode        *copilotd_session_call_finish   (CopilotdSession     *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* session.create (or session.resume when @resume) in the session's CLI.
 * Holds the session's events: release them after replying to the client
 * (also on failure). */
void             copilotd_session_start_async   (CopilotdSession     *self,
                                                 gboolean             resume,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean         copilotd_session_start_finish  (CopilotdSession     *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);
/* session.destroy, then closed with "destroyed"; fails (still open) only
 * when the CLI refused. */
void             copilotd_session_destroy_async (CopilotdSession     *self,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean         copilotd_session_destroy_finish (CopilotdSession    *self,
                                                  GAsyncResult       *result,
                                                  GError            **error);

/* session.send params (with sessionId) for @prompt and Send's @options;
 * @invocation carries passed file descriptors. */
gboolean         copilotd_session_parse_send    (CopilotdSession       *self,
                                                 GDBusMethodInvocation *invocation,
                                                 const char            *prompt,
                                                 GVariant              *options,
                                                 JsonObject           **out_params,
                                                 GError               **error);

G_END_DECLS
