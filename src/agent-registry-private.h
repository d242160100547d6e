/* SPDX-License-Identifier: MIT */
/* agent-registry-private.h: what agent-registry.c (the registered agents)
 * and agent-ask.c (asking them) share */
#pragma once

#include "agent-registry.h"
#include "daemon-config.h"

G_BEGIN_DECLS

#define AGENT_INTERFACE "io.github.copilotd.Copilot1.Agent"

typedef struct {
  gint ref_count;
  char *sender;           /* owned: unique name of the registering connection */
  char *path;             /* owned */
  uid_t uid;
  guint capabilities;      /* 1 << CopilotdPromptKind */
  gboolean fallback;
  gboolean gone;          /* unregistered or left the bus */
  guint in_flight;        /* calls to this agent that hold a slot */
  GQueue waiting;         /* unowned Ask *: waiting for a slot, FIFO */
  GPtrArray *calling;     /* unowned Ask *: with a call in flight here */
} Agent;

/* Per kind: the capability name, the Agent method and its reply type. */
typedef struct {
  const char *capability;
  const char *method;
  const char *reply_type;
} AgentKind;

#define AGENT_N_KINDS (COPILOTD_PROMPT_MODE_SWITCH + 1)
extern const AgentKind agent_kinds[AGENT_N_KINDS];

struct _CopilotdAgentRegistry
{
  CopilotdDbusAgentManagerSkeleton parent_instance;

  GDBusConnection *connection;       /* owned */
  CopilotdCallers *callers;          /* owned */
  const CopilotdConfig *config;      /* unowned: outlives the registry */
  GPtrArray *agents;                 /* owned: Agent refs, registration order */
  GHashTable *by_sender;             /* owned: unique name → unowned Agent */
  GHashTable *default_stacks;        /* owned: uid → GPtrArray of Agent refs, newest last */
  GHashTable *asks;                  /* owned: set of unfinished GTask refs */
};

/* agent-registry.c */
Agent   *agent_ref       (Agent                 *agent);
void     agent_unref     (Agent                 *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Agent, agent_unref)
gboolean agent_can       (Agent                 *agent,
                          CopilotdPromptKind     kind);
/* A call to @agent that expects no reply (Cancel, Release). */
void     agent_send_call (CopilotdAgentRegistry *self,
                          Agent                 *agent,
                          const char            *method,
                          GVariant              *parameters);

/* agent-ask.c */
/* @agent is gone: the asks waiting on it or asking it move on to their
 * next candidate. */
void     agent_asks_move_off  (CopilotdAgentRegistry *self,
                               Agent                 *agent);
/* Finishes every unfinished ask with Closed (the registry is disposed). */
void     agent_asks_close_all (CopilotdAgentRegistry *self);

G_END_DECLS
