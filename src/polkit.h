/* SPDX-License-Identifier: MIT */
/* polkit.h: may this caller use copilotd? (system bus only) */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define COPILOTD_POLKIT_ACTION "io.github.copilotd.Copilot1.use"

typedef void (*CopilotdAuthorizedFunc) (GObject               *object,
                                        GDBusMethodInvocation *invocation);

void copilotd_polkit_authorize (gboolean               system_bus,
                                GObject               *object,
                                GDBusMethodInvocation *invocation,
                                CopilotdAuthorizedFunc func);

G_END_DECLS
