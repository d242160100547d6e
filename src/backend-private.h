/* SPDX-License-Identifier: MIT */
/* backend-private.h: what backend.c, backend-start.c and backend-call.c share */
#pragma once

#include "backend.h"
#include "jsonrpc.h"

G_BEGIN_DECLS

struct _CopilotdBackend
{
  GObject parent_instance;

  const CopilotdConfig *config;   /* unowned: outlives the backend */
  uid_t run_as;                   /* (uid_t) -1: the daemon's own user */
  CopilotdBackendState state;

  GSubprocess *process;           /* owned, nullable */
  GPtrArray *dying;               /* owned GSubprocess*: terminated, not reaped yet */
  GIOStream *socket;              /* owned, nullable: --cli-url */
  CopilotdJsonrpc *rpc;           /* owned, nullable */
  GCancellable *cancellable;      /* owned: the current connection attempt */

  char *version;                  /* owned, nullable */
  guint protocol_version;         /* 0: not known */

  GQueue waiting;                 /* GTask* owned: calls waiting for the handshake */
  GPtrArray *in_flight;           /* GTask* owned: calls sent, not answered yet */
  GArray *failures;               /* gint64: monotonic times of failures */
  guint restart_source;
  guint handshake_source;         /* the handshake's deadline */
  guint watchdog_source;          /* when to ping a CLI that went quiet */
  guint probe_source;             /* the liveness ping's deadline */
  GCancellable *probe;            /* owned, nullable: the liveness ping in flight */
  gint64 last_heard;              /* monotonic µs of the last frame from the CLI */
  guint idle_source;
  guint holds;                    /* live sessions and agents that need the CLI */
  gboolean restart_pending;       /* the next handshake is a restart */
  gboolean restart_when_reaped;   /* copilotd_backend_restart(): start once the old CLI is gone */
  char **cli_env;                 /* owned, nullable: NAME=VALUE for the CLIs it starts */
  gboolean single_attempt;        /* started from "failed": no backoff loop */
  gboolean stopping;
  GTask *stop_task;               /* owned, nullable: stop waits for reaping */
  gint64 stop_deadline;           /* monotonic µs: SIGKILL for all by then */
  GError *failure;                /* owned, nullable: why the state is failed */
};

/* backend.c */
enum { SIGNAL_NOTIFICATION, SIGNAL_DELTA, SIGNAL_REQUEST, SIGNAL_READY, SIGNAL_LOST, BACKEND_N_SIGNALS };
extern guint backend_signals[BACKEND_N_SIGNALS];

void   backend_set_state          (CopilotdBackend      *self,
                                   CopilotdBackendState  state);
/* A start attempt or a running CLI failed: restart with backoff, or "failed". */
void   backend_failed             (CopilotdBackend *self,
                                   const GError    *error);
/* Closes the connection; the process is terminated and reaped later. */
void   backend_tear_down          (CopilotdBackend *self);
void   backend_lost               (CopilotdBackend *self,
                                   const GError    *reason);
/* Starts or stops the idle clock after holds or calls changed. */
void   backend_update_idle        (CopilotdBackend *self);

/* backend-start.c: spawn or connect, then the handshake */
void   backend_start              (CopilotdBackend *self);

/* backend-call.c */
GTask *backend_call_task_new      (CopilotdBackend     *self,
                                   const char          *method,
                                   JsonNode            *params,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
/* Sends a call task on the running CLI (takes @task). */
void   backend_dispatch_call      (CopilotdBackend *self,
                                   GTask           *task);
void   backend_fail_waiting       (CopilotdBackend *self,
                                   const GError    *error);
/* Pings the CLI when calls go unanswered for a while. */
void   backend_arm_watchdog       (CopilotdBackend *self);

G_END_DECLS
