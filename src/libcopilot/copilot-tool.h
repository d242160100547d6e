/* SPDX-License-Identifier: MIT */
/* copilot-tool.h: a tool this app serves to the model */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_TOOL (copilot_tool_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotTool, copilot_tool, COPILOT, TOOL, GObject)

COPILOT_PUBLIC
CopilotTool *copilot_tool_new                 (const char  *name,
                                               const char  *description,
                                               const char  *parameters_json);
COPILOT_PUBLIC
const char  *copilot_tool_get_name            (CopilotTool *self);
COPILOT_PUBLIC
const char  *copilot_tool_get_description     (CopilotTool *self);
COPILOT_PUBLIC
const char  *copilot_tool_get_parameters      (CopilotTool *self);
COPILOT_PUBLIC
gboolean     copilot_tool_get_skip_permission (CopilotTool *self);
COPILOT_PUBLIC
void         copilot_tool_set_skip_permission (CopilotTool *self,
                                               gboolean     skip_permission);

G_END_DECLS
