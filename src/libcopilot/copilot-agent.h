/* SPDX-License-Identifier: MIT */
/* copilot-agent.h: answers copilotd's prompts for this app */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_AGENT (copilot_agent_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotAgent, copilot_agent, COPILOT, AGENT, GObject)

COPILOT_PUBLIC
CopilotAgent  *copilot_agent_new                     (CopilotClient       *client,
                                                      GVariant            *options);
COPILOT_PUBLIC
CopilotClient *copilot_agent_get_client              (CopilotAgent        *self);
COPILOT_PUBLIC
const char    *copilot_agent_get_object_path         (CopilotAgent        *self);
COPILOT_PUBLIC
gboolean       copilot_agent_get_registered          (CopilotAgent        *self);

COPILOT_PUBLIC
void           copilot_agent_register                (CopilotAgent        *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_agent_register_finish         (CopilotAgent        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
COPILOT_PUBLIC
void           copilot_agent_unregister              (CopilotAgent        *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_agent_unregister_finish       (CopilotAgent        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
COPILOT_PUBLIC
void           copilot_agent_request_default         (CopilotAgent        *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_agent_request_default_finish  (CopilotAgent        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

G_END_DECLS
