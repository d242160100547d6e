/* SPDX-License-Identifier: MIT */
/* daemon.h: the composition root: bus, backend, registry, manager */
#pragma once

#include <gio/gio.h>

#include "daemon-config.h"

G_BEGIN_DECLS

#define COPILOTD_BUS_NAME "io.github.copilotd.Copilot1"

#define COPILOTD_TYPE_DAEMON (copilotd_daemon_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdDaemon, copilotd_daemon, COPILOTD, DAEMON, GObject)

/* Signal "quit" (int exit_status): the daemon wants the main loop to end. */

CopilotdDaemon *copilotd_daemon_new      (CopilotdConfig  *config);
gboolean        copilotd_daemon_start    (CopilotdDaemon  *self,
                                          GDBusConnection *connection,
                                          gboolean         replace,
                                          GError         **error);
/* Destroys sessions and stops the CLI, then emits "quit". */
void            copilotd_daemon_shutdown (CopilotdDaemon  *self,
                                          int              exit_status);

G_END_DECLS
