/* SPDX-License-Identifier: MIT */
/* copilot-tool-call.h: one call of a CopilotTool by the model */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

/**
 * CopilotToolResultType:
 * @COPILOT_TOOL_RESULT_SUCCESS: the tool did its job
 * @COPILOT_TOOL_RESULT_FAILURE: the tool failed
 * @COPILOT_TOOL_RESULT_REJECTED: the user rejected the call
 * @COPILOT_TOOL_RESULT_DENIED: a policy denied the call
 * @COPILOT_TOOL_RESULT_TIMEOUT: the tool took too long
 *
 * The result types of `ToolProvider.Invoke`.
 */
typedef enum {
  COPILOT_TOOL_RESULT_SUCCESS = 0,
  COPILOT_TOOL_RESULT_FAILURE = 1,
  COPILOT_TOOL_RESULT_REJECTED = 2,
  COPILOT_TOOL_RESULT_DENIED = 3,
  COPILOT_TOOL_RESULT_TIMEOUT = 4,
} CopilotToolResultType;

#define COPILOT_TYPE_TOOL_CALL (copilot_tool_call_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotToolCall, copilot_tool_call, COPILOT, TOOL_CALL, GObject)

COPILOT_PUBLIC
const char *copilot_tool_call_get_session_path   (CopilotToolCall       *self);
COPILOT_PUBLIC
const char *copilot_tool_call_get_tool_call_id   (CopilotToolCall       *self);
COPILOT_PUBLIC
const char *copilot_tool_call_get_tool_name      (CopilotToolCall       *self);
COPILOT_PUBLIC
const char *copilot_tool_call_get_arguments_json (CopilotToolCall       *self);
COPILOT_PUBLIC
GVariant   *copilot_tool_call_get_context        (CopilotToolCall       *self);
COPILOT_PUBLIC
gboolean    copilot_tool_call_is_cancelled       (CopilotToolCall       *self);
COPILOT_PUBLIC
void        copilot_tool_call_return_result      (CopilotToolCall       *self,
                                                  CopilotToolResultType  result_type,
                                                  const char            *text_for_model,
                                                  GVariant              *extra);
COPILOT_PUBLIC
void        copilot_tool_call_return_success     (CopilotToolCall       *self,
                                                  const char            *text_for_model);
COPILOT_PUBLIC
void        copilot_tool_call_return_failure     (CopilotToolCall       *self,
                                                  const char            *error_message);

G_END_DECLS
