/* SPDX-License-Identifier: MIT */
/* session-call.h: Session.Call, the long tail of CLI methods */
#pragma once

#include "session.h"

G_BEGIN_DECLS

#define COPILOTD_CALL_MAX_PARAMS_BYTES (1024 * 1024)
#define COPILOTD_CALL_MAX_RESULT_BYTES (16 * 1024 * 1024)

gboolean copilotd_session_handle_call (CopilotdDbusSession   *iface,
                                       GDBusMethodInvocation *invocation,
                                       const char            *method,
                                       const char            *params_json,
                                       GVariant              *options);

G_END_DECLS
