/* SPDX-License-Identifier: MIT */
/* copilot-command-call.h: one run of a slash command this app serves */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_COMMAND_CALL (copilot_command_call_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotCommandCall, copilot_command_call, COPILOT, COMMAND_CALL, GObject)

COPILOT_PUBLIC
const char *copilot_command_call_get_session_path (CopilotCommandCall *self);
COPILOT_PUBLIC
const char *copilot_command_call_get_request_id   (CopilotCommandCall *self);
COPILOT_PUBLIC
const char *copilot_command_call_get_name         (CopilotCommandCall *self);
COPILOT_PUBLIC
const char *copilot_command_call_get_args         (CopilotCommandCall *self);
COPILOT_PUBLIC
GVariant   *copilot_command_call_get_context      (CopilotCommandCall *self);
COPILOT_PUBLIC
gboolean    copilot_command_call_is_answered      (CopilotCommandCall *self);
COPILOT_PUBLIC
void        copilot_command_call_return_success   (CopilotCommandCall *self);
COPILOT_PUBLIC
void        copilot_command_call_return_error     (CopilotCommandCall *self,
                                                   const char         *message);

G_END_DECLS
