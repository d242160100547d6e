/* SPDX-License-Identifier: MIT */
/* copilot-hook-call.h: one run of a hook this app serves */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_HOOK_CALL (copilot_hook_call_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotHookCall, copilot_hook_call, COPILOT, HOOK_CALL, GObject)

COPILOT_PUBLIC
const char *copilot_hook_call_get_session_path (CopilotHookCall *self);
COPILOT_PUBLIC
const char *copilot_hook_call_get_hook_type    (CopilotHookCall *self);
COPILOT_PUBLIC
const char *copilot_hook_call_get_input_json   (CopilotHookCall *self);
COPILOT_PUBLIC
GVariant   *copilot_hook_call_get_context      (CopilotHookCall *self);
COPILOT_PUBLIC
gboolean    copilot_hook_call_is_answered      (CopilotHookCall *self);
COPILOT_PUBLIC
gboolean    copilot_hook_call_is_cancelled     (CopilotHookCall *self);
COPILOT_PUBLIC
void        copilot_hook_call_return_output    (CopilotHookCall *self,
                                                const char      *output_json);

G_END_DECLS
