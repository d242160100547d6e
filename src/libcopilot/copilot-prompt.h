/* SPDX-License-Identifier: MIT */
/* copilot-prompt.h: one request of the daemon to an agent */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

/**
 * CopilotPermissionDecision:
 * @COPILOT_PERMISSION_REJECT: refuse
 * @COPILOT_PERMISSION_APPROVE_ONCE: allow this once
 * @COPILOT_PERMISSION_APPROVE_SESSION: allow the same for the rest of the session
 * @COPILOT_PERMISSION_APPROVE_LOCATION: allow the same in this location
 *
 * The decisions of `Agent.RequestPermission`.
 */
typedef enum {
  COPILOT_PERMISSION_REJECT = 0,
  COPILOT_PERMISSION_APPROVE_ONCE = 1,
  COPILOT_PERMISSION_APPROVE_SESSION = 2,
  COPILOT_PERMISSION_APPROVE_LOCATION = 3,
} CopilotPermissionDecision;

#define COPILOT_TYPE_PROMPT (copilot_prompt_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotPrompt, copilot_prompt, COPILOT, PROMPT, GObject)

COPILOT_PUBLIC
const char *copilot_prompt_get_kind          (CopilotPrompt *self);
COPILOT_PUBLIC
const char *copilot_prompt_get_session_path  (CopilotPrompt *self);
COPILOT_PUBLIC
const char *copilot_prompt_get_request_id    (CopilotPrompt *self);
COPILOT_PUBLIC
GVariant   *copilot_prompt_get_request       (CopilotPrompt *self);
COPILOT_PUBLIC
const char *copilot_prompt_get_request_json  (CopilotPrompt *self);
COPILOT_PUBLIC
char       *copilot_prompt_dup_client_name   (CopilotPrompt *self);
COPILOT_PUBLIC
gboolean    copilot_prompt_is_answered       (CopilotPrompt *self);
COPILOT_PUBLIC
gboolean    copilot_prompt_is_cancelled      (CopilotPrompt *self);

COPILOT_PUBLIC
void        copilot_prompt_reply             (CopilotPrompt *self,
                                              guint          decision,
                                              GVariant      *results);
COPILOT_PUBLIC
void        copilot_prompt_reply_answer      (CopilotPrompt *self,
                                              const char    *answer_text);
COPILOT_PUBLIC
void        copilot_prompt_reply_elicitation (CopilotPrompt *self,
                                              const char    *action,
                                              const char    *content_json,
                                              GVariant      *results);
COPILOT_PUBLIC
void        copilot_prompt_reply_mode_switch (CopilotPrompt *self,
                                              const char    *answer_text,
                                              GVariant      *results);

G_END_DECLS
