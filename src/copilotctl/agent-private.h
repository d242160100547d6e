/* SPDX-License-Identifier: MIT */
/* agent-private.h: the terminal agent's requests, shared by agent.c and
 * agent-requests.c (forms, plans and mode switches) */
#pragma once

#include <stdio.h>

#include "copilotctl.h"

#define FEEDBACK_REJECTED N_("The user said no")

typedef enum {
  REQUEST_PERMISSION,
  REQUEST_USER_INPUT,
  REQUEST_ELICITATION,
  REQUEST_PLAN,
  REQUEST_MODE_SWITCH,
} RequestKind;

typedef enum {
  STAGE_ASK,        /* the main question */
  STAGE_REASON,     /* after "no": why, for the model */
  STAGE_FIELD,      /* a form's field (Request.field) */
} RequestStage;

typedef struct {
  CtlAgent *agent;                    /* unowned */
  RequestKind kind;
  RequestStage stage;
  GDBusMethodInvocation *invocation;  /* owned */
  char *session_path;                 /* owned */
  char *request_id;                   /* owned */
  GVariant *request;                  /* owned, a{sv} */
  char *schema_json;                  /* owned, nullable: RequestElicitation */
  JsonObject *properties;             /* owned, nullable: the form's fields */
  GPtrArray *field_names;             /* owned, nullable: in order */
  guint field;                        /* the field being asked */
  JsonObject *content;                /* owned, nullable: what was filled in */
  GHashTable *strings;                /* owned, nullable: key → string copy (or NULL) */
  gboolean shown;
} Request;

struct _CtlAgent {
  Ctl *ctl;                           /* unowned */
  CopilotdDbusAgent *skeleton;        /* owned */
  CtlAnswerMode mode;
  gboolean show_session;
  gboolean exported;
  CtlTerm *term;                      /* unowned, nullable: no terminal */
  GQueue requests;                    /* owned Request *; the head is being asked */
  CtlAgentPromptFunc prompt_func;     /* nullable */
  gpointer prompt_data;               /* unowned */
  GCallback release_func;             /* nullable */
  gpointer release_data;              /* unowned */
};


/* agent-requests.c: RequestElicitation, RequestPlanApproval and
 * RequestModeSwitch on the terminal. */
void     agent_show_asker          (CtlAgent   *self,
                                    Request    *request,
                                    FILE       *out);
void     agent_request_show        (CtlAgent   *self,
                                    Request    *request,
                                    FILE       *out);
void     agent_request_show_question (CtlAgent *self,
                                      Request  *request,
                                      FILE     *out);
/* TRUE when @answer completed @request. */
gboolean agent_request_handle_line (CtlAgent   *self,
                                    Request    *request,
                                    const char *answer);
void     agent_request_answer_without_asking (CtlAgent *self,
                                              Request  *request);
/* The neutral answer: cancel, not approved, no. */
void     agent_request_refuse      (Request    *request);
void     agent_request_clear       (Request    *request);
const char *agent_request_string   (Request    *request,
                                    const char *key);
/* Parses what a request brings (a form's fields) when it arrives. */
void     agent_request_prepare     (Request    *request);
