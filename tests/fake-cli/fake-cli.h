/* SPDX-License-Identifier: MIT */
/* fake-cli.h: what the files of the fake Copilot CLI share
 *
 * The fake is one process with one GMainLoop and one global state, `cli`.
 * Where each concern lives (see main.c for the overview):
 *
 *   main.c         start-up and shutdown
 *   framing.c      Content-Length framing on stdin/stdout, replies, requests
 *   faults.c       FAKE_CLI_* environment knobs: failures on demand
 *   methods.c      the method table and the connection-level methods
 *   sessions.c     session.* methods: create, resume, send, list, model…
 *   state.c        sessions on "disk" ($COPILOT_HOME) and event emission
 *   transcripts.c  the recorded real transcripts turns are built from
 *   turns.c        a turn: a queue of actions pumped from the main loop
 *   prompts.c      prompt directives (PERMISSION:, ASK:, TOOL:…) and the
 *                  client's answers to the prompts they raise
 *   util.c         JSON helpers
 */
#pragma once

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <json-glib/json-glib.h>

#ifndef FAKE_CLI_DATADIR
#define FAKE_CLI_DATADIR "."
#endif

#define FAKE_VERSION "1.0.102-fake"
#define DEFAULT_MODEL "claude-sonnet-4.5"

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INTERNAL_ERROR -32603

typedef enum {
  WAIT_NONE,
  WAIT_PERMISSION,
  WAIT_USER_INPUT,
  WAIT_TOOL,
  WAIT_HOOK,
} WaitKind;

typedef enum {
  ACTION_EVENT,
  ACTION_NOTIFY,
  ACTION_DELAY,
  ACTION_CALL,
  ACTION_END,
} ActionKind;

typedef struct _Session Session;
typedef struct _Turn Turn;

typedef void (*TurnCall) (Turn *turn);

typedef struct {
  ActionKind kind;
  char *name;           /* owned: event type or notification method */
  JsonObject *object;   /* owned: event data or notification params */
  gboolean ephemeral;
  guint delay_ms;
  TurnCall call;
} Action;

struct _Turn {
  Session *session;     /* unowned */
  char *prompt;         /* owned */
  char *message_id;     /* owned: the user message id returned by send */
  char *interaction_id; /* owned */
  char *delivery;       /* owned: "idle" or "queued" */
  char *turn_id;        /* owned: "0", "1"… (one per model round) */
  char *answer_id;      /* owned: assistant messageId of the current answer */
  char *answer_text;    /* owned */
  gboolean turn_started;
  gint64 start_time;

  GQueue actions;       /* owned: Action* */
  guint source_id;
  gboolean waiting;

  /* What the turn is parked on, if anything. */
  WaitKind wait;
  char *request_id;     /* owned */
  char *tool_call_id;   /* owned */
  char *tool_name;      /* owned */
  char *perm_kind;      /* owned: shell, write, custom-tool */
  gboolean resolved_by_hook;  /* PERMISSION-HOOK: decided before asking */
  char *question;       /* owned */
  JsonObject *tool_args;  /* owned, nullable */
  gint64 rpc_ids[2];    /* our outgoing requests the turn waits on */
  char *hook_replies[2];  /* owned: how each hook request was answered */
};

struct _Session {
  char *id;             /* owned */
  char *model;          /* owned */
  gboolean model_explicit;
  char *reasoning_effort;  /* owned, nullable */
  char *cwd;            /* owned */
  char *summary;        /* owned, nullable: the first prompt */
  char *client_name;    /* owned */
  char *start_time;     /* owned */
  char *modified_time;  /* owned */
  char *last_event_id;  /* owned, nullable: last persisted event */
  JsonArray *history;   /* owned: persisted events */
  JsonObject *params;   /* owned, nullable: last create/resume params */
  gboolean loaded;
  gboolean streaming;
  Turn *turn;           /* owned, nullable */
  GQueue queued;        /* owned: Turn* waiting for the current one */
};

typedef struct {
  JsonArray *frames;    /* owned: {"dir","t","msg"} lines */
  char *session_id;     /* owned: the session id used in the recording */
} Transcript;

typedef struct {
  GMainLoop *loop;              /* owned */
  GInputStream *in;             /* owned */
  GOutputStream *out;           /* owned */
  GSource *in_source;           /* owned */
  GByteArray *inbuf;            /* owned */
  GHashTable *sessions;         /* owned: id → Session* (loaded or on disk) */
  Transcript simple;
  Transcript perm;
  /* Ranges of `simple` (indices into frames) replayed for every turn. */
  guint prelude_start, prelude_end, tail_start, tail_end;

  char *copilot_home;           /* owned, nullable */
  char *state_path;             /* owned, nullable */
  guint save_id;
  gint64 next_rpc_id;
  guint n_responses;
  gboolean dead;                /* stdout desynchronised: write nothing more */
  gboolean desync_in;           /* stdin framing broken: ignore input */

  /* Knobs */
  char *protocol_version;       /* owned */
  char *version;                /* owned */
  gboolean no_connect;
  gint64 garbage_after;         /* -1 when off */
  char **hang;                  /* owned */
  char **delay;                 /* owned: "method:ms" entries */
  gint64 wedge_after;           /* -1 when off */
  gboolean ignore_sigterm;
  FILE *record;                 /* owned, nullable */
} FakeCli;


extern FakeCli cli;

/* A JSON-RPC method of the fake: it must answer @id (now or later). */
typedef void (*MethodHandler) (JsonNode   *id,
                               const char *method,
                               JsonObject *params);

/* util.c */
char *now_iso (void);
const char *obj_str (JsonObject *obj, const char *member);
JsonObject *obj_obj (JsonObject *obj, const char *member);
gboolean obj_bool (JsonObject *obj, const char *member, gboolean def);
JsonObject *parse_object (const char *json);
JsonNode *deep_copy (JsonNode *node);
JsonObject *copy_object (JsonObject *obj);
void replace_strings (JsonNode *node, const char *from, const char *to);
const char *copilot_home (void);

/* framing.c */
void send_message (JsonObject *msg /* transfer full */);
JsonObject *new_message (void);
void reply_result (JsonNode *id, JsonNode *result /* transfer full, nullable = null */);
void reply_object (JsonNode *id, JsonObject *result /* transfer full */);
void reply_success (JsonNode *id, gboolean success);
void reply_error (JsonNode *id, int code, const char *message);
void reply_failed (JsonNode *id, const char *method, const char *text);
void notify (const char *method, JsonObject *params /* transfer full */);
gint64 send_request (const char *method, JsonObject *params /* transfer full */);

/* faults.c */

/* state.c */
void save_state_now (void);
void schedule_save (void);
Session *session_new (const char *id);
void notify_lifecycle (Session *s, const char *type);
JsonObject *host_event_params (Session *s, const char *kind);
void notify_host_event (Session *s, const char *kind);
void emit_event (Session *s, const char *type, JsonObject *data /* transfer full */, gboolean ephemeral);
void emit_json (Session *s, const char *type, const char *json, gboolean ephemeral);

/* transcripts.c */
JsonObject *frame_msg (Transcript *tr, guint i);
gboolean frame_is_s2c (Transcript *tr, guint i);
JsonObject *template_data (Transcript *tr, const char *type, guint nth);

/* turns.c */
void turn_free (Turn *turn);
Action *queue_action (Turn *turn, ActionKind kind);
void queue_event (Turn *turn, const char *type, JsonObject *data /* transfer full */, gboolean ephemeral);
void queue_lifecycle_updated (Turn *turn);
void queue_call (Turn *turn, TurnCall call);
void set_str (char **field, const char *value);
void turn_end (Turn *turn);
void turn_resume (Turn *turn);
void queue_prelude (Turn *turn);
void queue_answer_chunks (Turn *turn, GPtrArray *chunks, guint delay_ms);
void queue_answer (Turn *turn, const char *text);
void queue_tool_call (Turn *turn, const char *tool_name, JsonObject *arguments /* transfer full */, gboolean shell);
void queue_tool_complete (Turn *turn, JsonObject *result /* transfer full, nullable */, const char *error_message, const char *error_code);
void queue_text_result_answer (Turn *turn, const char *prefix, const char *value);
void turn_start (Session *s, Turn *turn);
Turn *find_turn_by_rpc (gint64 id, guint *slot);
void session_abort_turn (Session *s, const char *reason, gboolean emit);

/* prompts.c */
void permission_answered (Turn *turn, JsonObject *result);
void turn_setup (Turn *turn);

/* methods.c */
gboolean model_known (const char *model);
void handle_connect (JsonNode *id, const char *method, JsonObject *params);
void handle_ping (JsonNode *id, const char *method, JsonObject *params);
void handle_status_get (JsonNode *id, const char *method, JsonObject *params);
void handle_auth_get_status (JsonNode *id, const char *method, JsonObject *params);
void handle_models_list (JsonNode *id, const char *method, JsonObject *params);
void handle_runtime_shutdown (JsonNode *id, const char *method, JsonObject *params);

/* sessions.c */
void handle_session_create (JsonNode *id, const char *method, JsonObject *params);
void handle_session_resume (JsonNode *id, const char *method, JsonObject *params);
Session *lookup_loaded (JsonNode *id, const char *method, JsonObject *params);
void handle_session_send (JsonNode *id, const char *method, JsonObject *params);
void handle_session_abort (JsonNode *id, const char *method, JsonObject *params);
void handle_session_destroy (JsonNode *id, const char *method, JsonObject *params);
void handle_session_delete (JsonNode *id, const char *method, JsonObject *params);
void handle_session_get_messages (JsonNode *id, const char *method, JsonObject *params);
void handle_session_list (JsonNode *id, const char *method, JsonObject *params);
void handle_session_get_metadata (JsonNode *id, const char *method, JsonObject *params);
void handle_session_get_last_id (JsonNode *id, const char *method, JsonObject *params);
void handle_session_get_foreground (JsonNode *id, const char *method, JsonObject *params);
void handle_session_set_foreground (JsonNode *id, const char *method, JsonObject *params);
void handle_model_switch_to (JsonNode *id, const char *method, JsonObject *params);
void handle_model_get_current (JsonNode *id, const char *method, JsonObject *params);

/* main.c */

/* framing.c */
void framing_start (void);
void framing_stop (void);

/* faults.c */
void faults_init (void);
void faults_clear (void);
void faults_record_frame (const char *text);
gboolean faults_method_hangs (const char *method);
gboolean faults_delay_method (JsonNode *id, const char *method, JsonObject *params);
gboolean faults_ignore_sigterm (void);
void faults_count_response (void);
void faults_maybe_write_garbage (void);
void faults_set_protocol_version (JsonObject *result, gboolean always);

/* methods.c */
void methods_dispatch (JsonNode *id, const char *method, JsonObject *params);

/* state.c */
void state_load (void);
void state_clear (void);

/* transcripts.c */
gboolean transcripts_load (GError **error);
void transcripts_clear (void);

/* sessions.c */
void sessions_shutdown_all (void);

/* prompts.c */
void prompts_handle_response (JsonObject *msg);
void handle_permission_answer (JsonNode *id, const char *method, JsonObject *params);
void handle_user_input_answer (JsonNode *id, const char *method, JsonObject *params);
void handle_tool_answer (JsonNode *id, const char *method, JsonObject *params);
