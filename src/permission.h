/* SPDX-License-Identifier: MIT */
/* permission.h: CLI permission requests to D-Bus and decisions back */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  COPILOTD_DECISION_REJECT = 0,
  COPILOTD_DECISION_APPROVE_ONCE = 1,
  COPILOTD_DECISION_APPROVE_FOR_SESSION = 2,
  COPILOTD_DECISION_APPROVE_FOR_LOCATION = 3,
} CopilotdDecision;

/* The a{sv} "request" summary of Agent.RequestPermission, floating. */
GVariant *copilotd_permission_summarize      (JsonObject *permission_request);

/* The `result` object of session.permissions.handlePendingPermissionRequest
 * for a decision and the agent's results (a{sv}, nullable). Unknown
 * decisions reject. */
JsonNode *copilotd_permission_build_result   (JsonObject *permission_request,
                                              guint       decision,
                                              GVariant   *results);

/* {"kind":"user-not-available"} */
JsonNode *copilotd_permission_build_unavailable (void);

G_END_DECLS
