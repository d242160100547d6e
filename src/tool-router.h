/* SPDX-License-Identifier: MIT */
/* tool-router.h: custom tools served by clients over ToolProvider */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "callers.h"
#include "daemon-config.h"

G_BEGIN_DECLS

typedef struct _CopilotdTool CopilotdTool;

/* Parses and validates the `tools` option (aa{sv}) of CreateSession /
 * ResumeSession, binding each tool to @sender. Returns an array of
 * CopilotdTool (with its free func) or NULL with COPILOTD_ERROR_INVALID_ARGS
 * / COPILOTD_ERROR_LIMITS_EXCEEDED naming the problem. */
GPtrArray  *copilotd_tools_parse        (GVariant   *tools,
                                         const char *sender,
                                         guint       max_tools,
                                         GError    **error);
/* The `tools` array for session.create/resume. */
JsonNode   *copilotd_tools_to_json      (GPtrArray  *tools);
CopilotdTool *copilotd_tools_find       (GPtrArray  *tools,
                                         const char *name);
const char *copilotd_tool_get_name      (CopilotdTool *tool);
void        copilotd_tool_free          (CopilotdTool *tool);

#define COPILOTD_TYPE_TOOL_ROUTER (copilotd_tool_router_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdToolRouter, copilotd_tool_router, COPILOTD, TOOL_ROUTER, GObject)

CopilotdToolRouter *copilotd_tool_router_new (GDBusConnection      *connection,
                                              CopilotdCallers      *callers,
                                              const CopilotdConfig *config);

/* Calls ToolProvider.Invoke for an external_tool.requested event's @data.
 * Always finishes with the `result` object to pass to
 * session.tools.handlePendingToolCall (failures, a vanished provider and
 * tool-timeout become failure/timeout results), except when @cancellable
 * is cancelled: then G_IO_ERROR_CANCELLED and the provider got Cancel. */
void      copilotd_tool_router_invoke_async  (CopilotdToolRouter  *self,
                                              const char          *session_path,
                                              CopilotdTool        *tool,
                                              JsonObject          *data,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
JsonNode *copilotd_tool_router_invoke_finish (CopilotdToolRouter  *self,
                                              GAsyncResult        *result,
                                              GError             **error);

G_END_DECLS
