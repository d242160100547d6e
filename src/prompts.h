/* SPDX-License-Identifier: MIT */
/* prompts.h: a session's permission prompts, questions and tool calls */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "agent-registry.h"
#include "backend.h"
#include "tool-router.h"

G_BEGIN_DECLS

#define COPILOTD_TYPE_PROMPTS (copilotd_prompts_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdPrompts, copilotd_prompts, COPILOTD, PROMPTS, GObject)

/* Fills in who a prompt is for, when it is asked. */
typedef void (*CopilotdPromptsTargetFunc)  (gpointer              user_data,
                                            CopilotdPromptTarget *target);
/* The number of prompts waiting for an agent changed. */
typedef void (*CopilotdPromptsChangedFunc) (gpointer              user_data);

/* @agents and @tools may be NULL: prompts are then refused (fail closed).
 * @shared_cli: other clients of the CLI may serve unknown tools. */
CopilotdPrompts *copilotd_prompts_new            (const char                 *session_id,
                                                  const char                 *session_path,
                                                  CopilotdBackend            *backend,
                                                  CopilotdAgentRegistry      *agents,
                                                  CopilotdToolRouter         *tools,
                                                  gboolean                    shared_cli,
                                                  CopilotdPromptsTargetFunc   target_func,
                                                  CopilotdPromptsChangedFunc  changed_func,
                                                  gpointer                    user_data);
/* permission.*, user_input.*, external_tool.* events; @tools are the
 * session's custom tools (nullable). Other types are ignored. */
void             copilotd_prompts_handle_event   (CopilotdPrompts *self,
                                                  const char      *type,
                                                  JsonObject      *data,
                                                  GPtrArray       *tools);
/* userInput.request; FALSE for any other method. */
gboolean         copilotd_prompts_handle_request (CopilotdPrompts *self,
                                                  const char      *method,
                                                  JsonObject      *params,
                                                  JsonNode        *id);
/* Withdraws every prompt and tool call (agents and providers get Cancel). */
void             copilotd_prompts_cancel_all     (CopilotdPrompts *self);
guint            copilotd_prompts_get_n_waiting  (CopilotdPrompts *self);
/* Cancels everything; no answer goes to the CLI and no callback runs after. */
void             copilotd_prompts_close          (CopilotdPrompts *self);

G_END_DECLS
