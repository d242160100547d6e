/* SPDX-License-Identifier: MIT */
/* cli-process.h: the CLI child: a clean environment, an end the kernel
 * enforces, SIGTERM then SIGKILL */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "daemon-config.h"

G_BEGIN_DECLS

/* Spawns @argv with stdin/stdout/stderr pipes; as @run_as in that user's
 * home when it is not (uid_t) -1 (system bus); @env (nullable): more
 * NAME=VALUE variables. The child dies with the
 * daemon (PR_SET_PDEATHSIG) and sees none of the daemon's own variables. */
GSubprocess *copilotd_cli_process_spawn            (const CopilotdConfig *config,
                                                    uid_t                 run_as,
                                                    const char * const   *argv,
                                                    const char * const   *env,
                                                    GError              **error);
/* SIGTERM, then SIGKILL after @grace_ms unless it exited; completes once
 * the process has been reaped. */
void         copilotd_cli_process_terminate_async  (GSubprocess          *process,
                                                    guint                 grace_ms,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
void         copilotd_cli_process_terminate_finish (GSubprocess          *process,
                                                    GAsyncResult         *result);

G_END_DECLS
