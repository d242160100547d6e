/* SPDX-License-Identifier: MIT */
/* test-agent.h: an Agent and a ToolProvider served by the test itself
 *
 * Part of the C test fixture library (see test-util.h). Each object is
 * exported on a connection the test gives; it records what it was asked
 * and answers as configured.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* ---- an Agent ---- */

typedef enum {
  TEST_AGENT_ANSWER,              /* answer (after delay_ms, if set); RequestElicitation
                                   * → ('accept', '{"color":"green"}'), RequestPlanApproval
                                   * → true, RequestModeSwitch → 'yes' */
  TEST_AGENT_HOLD,                /* keep every request until the test answers it */
  TEST_AGENT_ERROR,               /* answer org.example.Error.Broken */
} TestAgentMode;

typedef struct {
  GDBusConnection *conn;          /* owned */
  char *path;                     /* owned */
  guint reg_id;
  char *label;                    /* owned, nullable: "answered-by" in results */
  GPtrArray *log;                 /* unowned, nullable: @label is added on each request */
  /* How it answers */
  TestAgentMode mode;
  guint decision;                 /* RequestPermission (default 1) */
  char *feedback;                 /* owned, nullable */
  guint response;                 /* RequestUserInput: 0 answered, 1 cancelled */
  char *answer;                   /* owned, nullable */
  guint delay_ms;                 /* TEST_AGENT_ANSWER: answer this much later */
  /* What it saw */
  guint n_permission;
  guint n_input;
  guint n_release;
  GPtrArray *requests;            /* owned: request ids, in order */
  char *last_method;              /* owned, nullable: RequestPermission… */
  char *last_session;             /* owned, nullable */
  GVariant *last_request;         /* owned, nullable: a{sv} */
  char *last_request_json;        /* owned, nullable: the 4th argument, if any */
  char *last_request_id;          /* owned, nullable */
  GPtrArray *cancels;             /* owned: request ids */
  GPtrArray *held;                /* owned: GDBusMethodInvocation* not answered yet */
  GPtrArray *delayed;             /* owned: pending delayed answers */
} TestAgent;

/* Exports an Agent at @path on @conn (not registered yet). */
TestAgent *test_agent_new      (GDBusConnection *conn,
                                const char      *path);
/* AgentManager.RegisterAgent from the agent's connection, to BUS_NAME. */
void       test_agent_register (TestAgent       *agent);
/* Answers every held request as configured (decision, response…). */
void       test_agent_answer_held (TestAgent    *agent);
/* Answers the oldest held request with @reply (floating: "(ua{sv})"). */
void       test_agent_return_held (TestAgent    *agent,
                                   GVariant     *reply);
/* Answers what is held, then unexports and frees. */
void       test_agent_free     (TestAgent       *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestAgent, test_agent_free)

/* ---- a ToolProvider ---- */

typedef struct _TestTool TestTool;

/* Answers an Invoke (the last_* fields describe it) and returns TRUE, or
 * returns FALSE to leave it to the default (hold, or result_text). */
typedef gboolean (*TestToolAnswer) (TestTool              *tool,
                                    GDBusMethodInvocation *invocation);

struct _TestTool {
  GDBusConnection *conn;          /* owned */
  char *path;                     /* owned */
  guint reg_id;
  /* How it answers */
  TestToolAnswer answer;          /* nullable: tried first */
  char *result_text;              /* owned: (0, result_text, {}) */
  gboolean hold;                  /* never answer Invoke (until freed) */
  /* What it saw */
  guint n_invoke;
  char *last_session;             /* owned, nullable */
  char *last_call_id;             /* owned, nullable */
  char *last_tool;                /* owned, nullable */
  char *last_args;                /* owned, nullable */
  GVariant *last_context;         /* owned, nullable: a{sv} */
  GPtrArray *held;                /* owned: GDBusMethodInvocation* */
  GPtrArray *cancels;             /* owned: tool call ids */
};

TestTool *test_tool_new  (GDBusConnection *conn,
                          const char      *path,
                          const char      *result_text);
/* Answers the oldest held Invoke with @reply (floating: "(usa{sv})"). */
void      test_tool_return_held (TestTool  *tool,
                                 GVariant  *reply);
void      test_tool_free (TestTool        *tool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestTool, test_tool_free)

G_END_DECLS
