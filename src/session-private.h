/* SPDX-License-Identifier: MIT */
/* session-private.h: what the files of CopilotdSession share
 *
 * A CopilotdSession is one object written in several files: session.c holds
 * the object, its events and the simple D-Bus methods, session-turn.c Send
 * and SendAndWait, session-link.c the session's link to its CLI (the call
 * queue, start, recovery after a restart, close), session-subscribers.c
 * and session-providers.c what their names say.
 */
#pragma once

#include "event-relay.h"
#include "prompts.h"
#include "session.h"

/* Where the session stands with its CLI. */
typedef enum {
  SESSION_LINK_NEW,        /* not in a CLI yet: session.create/resume not sent */
  SESSION_LINK_STARTING,   /* session.create/resume sent, not answered */
  SESSION_LINK_LIVE,       /* calls go straight to the CLI */
  SESSION_LINK_LOST,       /* the CLI is gone; waiting for a new one */
  SESSION_LINK_RESUMING,   /* session.resume (or re-create) in the new CLI */
} SessionLink;

typedef struct {
  CopilotdSession *session;    /* owned */
  GDBusMethodInvocation *invocation; /* owned, nullable once answered */
  char *message_id;            /* owned, nullable until session.send answered */
  gboolean started;            /* its user.message was seen */
  guint timeout_id;
} Waiter;

struct _CopilotdSession
{
  CopilotdDbusSessionSkeleton parent_instance;

  CopilotdSessionContext ctx;  /* members unowned */
  char *id;                    /* owned */
  char *path;                  /* owned */
  char *owner;                 /* owned, nullable: unique name */
  uid_t uid;
  gboolean persist;

  /* The create/resume params as compact JSON text: as a json-glib tree
   * they weighed ~1.5 KiB in every live session (README "Performance"). */
  char *params;                /* owned, nullable: create/resume params, JSON */
  char *client_name;           /* owned, nullable: params' clientName */
  char *working_directory;     /* owned, nullable: params' workingDirectory */
  GPtrArray *tools;            /* owned, nullable: CopilotdTool* */
  GPtrArray *providers;        /* owned, nullable: CopilotdProvider* (hooks, commands) */

  CopilotdEventRelay *relay;   /* owned: subscribers, serials, replay ring */

  guint hold;
  GQueue held;                 /* JsonObject* owned: events waiting for a reply */

  /* session-link.c */
  SessionLink link;
  GCancellable *cancellable;   /* owned: every CLI call; cancelled on close */
  GQueue calls;                /* GTask* owned: calls waiting for the CLI, in order */
  guint64 next_call;           /* sequence of calls, to keep their order */
  GTask *start_task;           /* owned, nullable: copilotd_session_start_async() */
  const char *start_method;    /* static: session.create or session.resume */
  gboolean resume_recreates;   /* the resume found nothing: session.create */
  CopilotdBackend *held_backend; /* owned, nullable: kept from idling out until closed */

  char *turn_sender;           /* owned, nullable */
  char *cwd;                   /* owned, nullable: the CLI's working directory (session.start) */
  char *last_content;          /* owned, nullable */
  GList *waiters;              /* Waiter* owned */
  char *last_user_message;     /* owned, nullable: messageId of the last user.message */
  gboolean idle_owed;          /* a turn failed (session.error); its session.idle is still to come */
  CopilotdPrompts *prompts;    /* owned: permission prompts, questions, tool calls */
  gboolean busy;
  gboolean closed;
  guint idle_close_source;       /* session-idle-timeout: closes a quiet session */
};

/* session-subscribers.c: Subscribe, Unsubscribe, GetEvents */
gboolean session_handle_subscribe   (CopilotdDbusSession   *iface,
                                     GDBusMethodInvocation *invocation,
                                     GVariant              *options);
gboolean session_handle_unsubscribe (CopilotdDbusSession   *iface,
                                     GDBusMethodInvocation *invocation);
gboolean session_handle_get_events  (CopilotdDbusSession   *iface,
                                     GDBusMethodInvocation *invocation,
                                     guint64                since,
                                     guint                  max);

/* session.c */
void session_update_state    (CopilotdSession *self);
/* Relays an event copilotd itself adds to the session's stream; takes @data. */
void session_relay_synthetic (CopilotdSession *self,
                              const char      *type,
                              JsonObject      *data);

/* session-turn.c: Send, SendAndWait */
gboolean session_handle_send          (CopilotdDbusSession   *iface,
                                       GDBusMethodInvocation *invocation,
                                       const char            *prompt,
                                       GVariant              *options);
gboolean session_handle_send_and_wait (CopilotdDbusSession   *iface,
                                       GDBusMethodInvocation *invocation,
                                       const char            *prompt,
                                       GVariant              *options);
void     session_waiter_free          (Waiter          *waiter);
/* Answers the SendAndWait callers with @error, or with the turn's answer. */
void     session_finish_waiters       (CopilotdSession *self,
                                       const GError    *error,
                                       gboolean         aborted);

/* session-link.c */
/* session-providers.c */
void session_run_hooks     (CopilotdSession *self,
                            JsonObject      *params,
                            JsonNode        *id);
void session_run_command   (CopilotdSession *self,
                            JsonObject      *data);

void session_link_init     (CopilotdSession *self);
/* Once ctx is set: the session keeps its CLI from idling out. */
void session_link_attach   (CopilotdSession *self);
void session_link_dispose  (CopilotdSession *self);
/* The CLI was lost: calls wait until the session was resumed. */
void session_link_lost     (CopilotdSession *self);
/* session.destroy for a session closed on the daemon's side, when the
 * CLI still has it. */
void session_link_forget   (CopilotdSession *self);
/* Session.Destroy */
gboolean session_handle_destroy (CopilotdDbusSession   *iface,
                                 GDBusMethodInvocation *invocation,
                                 GVariant              *options);
/* Fails every queued call with @error and cancels the calls in flight. */
void session_link_close    (CopilotdSession *self,
                            const GError    *error);
