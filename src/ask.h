/* SPDX-License-Identifier: MIT */
/* ask.h: Manager.Ask, one call for one answer (contract §8) */
#pragma once

#include "manager.h"

G_BEGIN_DECLS

gboolean copilotd_manager_handle_ask (CopilotdDbusManager   *iface,
                                      GDBusMethodInvocation *invocation,
                                      const char            *prompt,
                                      GVariant              *options);

G_END_DECLS
