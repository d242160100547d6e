/* SPDX-License-Identifier: MIT */
/* agent-registry.h: agents per connection, routing order, timeouts, cancel */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "callers.h"
#include "daemon-config.h"
#include "copilotd-dbus.h"

G_BEGIN_DECLS

#define COPILOTD_TYPE_AGENT_REGISTRY (copilotd_agent_registry_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdAgentRegistry, copilotd_agent_registry, COPILOTD, AGENT_REGISTRY,
                      CopilotdDbusAgentManagerSkeleton)

typedef enum {
  COPILOTD_PROMPT_PERMISSION,
  COPILOTD_PROMPT_USER_INPUT,
  COPILOTD_PROMPT_ELICITATION,
  COPILOTD_PROMPT_PLAN_APPROVAL,
  COPILOTD_PROMPT_MODE_SWITCH,
} CopilotdPromptKind;

/* Who a prompt is for; strings unowned, valid for the call only. */
typedef struct {
  const char *session_path;
  const char *owner;          /* unique name of the session owner, nullable */
  const char *turn_sender;    /* unique name that sent the current turn, nullable */
  uid_t       uid;            /* the session's owner UID */
  /* Who is asking, added to every request (DESIGN.md §9); nullable / 0. */
  const char *client_name;
  guint32     client_pid;
  const char *working_directory;
} CopilotdPromptTarget;

/* The registry is also the exported AgentManager skeleton. */
CopilotdAgentRegistry *copilotd_agent_registry_new (GDBusConnection *connection,
                                                    CopilotdCallers *callers,
                                                    const CopilotdConfig *config);

guint    copilotd_agent_registry_get_n_agents (CopilotdAgentRegistry *self);
/* The agents registered by connections of @uid. */
guint    copilotd_agent_registry_get_n_agents_of (CopilotdAgentRegistry *self,
                                                  uid_t                  uid);

/* Asks one agent at a time in routing order, among the agents with the
 * capability of @kind. @request is a{sv} (sunk); @request_json is only sent
 * for permissions (the CLI's request) and elicitations (the schema). Finishes with the agent's
 * answer, or with COPILOTD_ERROR_NOT_FOUND (no agent left),
 * COPILOTD_ERROR_TIMEOUT (permission-timeout) or G_IO_ERROR_CANCELLED
 * (@cancellable; the agent was sent Cancel). */
void     copilotd_agent_registry_ask_async  (CopilotdAgentRegistry      *self,
                                             CopilotdPromptKind          kind,
                                             const CopilotdPromptTarget *target,
                                             const char                 *request_id,
                                             GVariant                   *request,
                                             const char                 *request_json,
                                             GCancellable               *cancellable,
                                             GAsyncReadyCallback         callback,
                                             gpointer                    user_data);
gboolean copilotd_agent_registry_ask_finish (CopilotdAgentRegistry  *self,
                                             GAsyncResult           *result,
                                             guint                  *out_answer,
                                             GVariant              **out_results,
                                             GError                **error);
/* The agent's whole reply, of the method's reply type; for every kind. */
GVariant *copilotd_agent_registry_ask_finish_reply (CopilotdAgentRegistry  *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);

G_END_DECLS
