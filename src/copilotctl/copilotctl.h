/* SPDX-License-Identifier: MIT */
/* copilotctl.h: what the parts of the command-line client share */
#pragma once

#include <stdio.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "copilotd-dbus.h"

G_BEGIN_DECLS

#define CTL_BUS_NAME        "io.github.copilotd.Copilot1"
#define CTL_ROOT_PATH       "/io/github/copilotd/Copilot1"
#define CTL_SESSION_PREFIX  CTL_ROOT_PATH "/session/"
#define CTL_SESSION_IFACE   "io.github.copilotd.Copilot1.Session"
#define CTL_MANAGER_IFACE   "io.github.copilotd.Copilot1.Manager"
#define CTL_AGENT_PATH      "/io/github/copilotd/copilotctl/agent"
#define CTL_CLIENT_NAME     "copilotctl"

/* Long enough for the first call that starts the CLI (it unpacks itself). */
#define CTL_CALL_TIMEOUT_MS (5 * 60 * 1000)

enum {
  CTL_EXIT_OK = 0,
  CTL_EXIT_FAILURE = 1,
  CTL_EXIT_USAGE = 2,
  /* Ended by Ctrl-C, as a shell reports it (128 + SIGINT). */
  CTL_EXIT_INTERRUPTED = 130,
};

/* How the agent answers prompts. */
typedef enum {
  CTL_ANSWER_ASK,   /* on the terminal, when there is one */
  CTL_ANSWER_YES,   /* --yes */
  CTL_ANSWER_NO,    /* --no */
} CtlAnswerMode;

typedef struct {
  GDBusConnection *bus;          /* owned */
  CopilotdDbusManager *manager;  /* owned */
  GMainLoop *loop;               /* owned */
  char *daemon_owner;            /* owned, nullable: unique name of the daemon */
  gboolean json;
  int exit_status;
} Ctl;

/* copilotctl.c */
gboolean    ctl_connect            (Ctl          *ctl);
const char *ctl_daemon_owner       (Ctl          *ctl,
                                    GError      **error);
gboolean    ctl_sender_is_daemon   (Ctl          *ctl,
                                    const char   *sender);
char       *ctl_session_path_from_id (const char *session_id);
char       *ctl_session_id_from_path (const char *object_path);
gboolean    ctl_error_is_gone_session (const GError *error);
char       *ctl_resolve_session_id   (Ctl        *ctl,
                                      const char *arg,
                                      GError    **error);
CopilotdDbusSession *ctl_session_proxy_new (Ctl        *ctl,
                                            const char *object_path,
                                            GError    **error);
/* Options of a command without options of its own; 0 when the arguments
 * are fine and the bus is connected, else the exit status. */
int         ctl_parse_simple       (Ctl          *ctl,
                                    const char   *parameters,
                                    const char   *summary,
                                    int          *argc,
                                    char       ***argv,
                                    int           min_args,
                                    int           max_args);
GVariant   *ctl_empty_options      (void);
void        ctl_usage_error        (const char   *command,
                                    const char   *format,
                                    ...) G_GNUC_PRINTF (2, 3);

/* output.c */
enum {
  CTL_STYLE_RESET,
  CTL_STYLE_BOLD,
  CTL_STYLE_DIM,
  CTL_STYLE_RED,
  CTL_STYLE_GREEN,
  CTL_STYLE_YELLOW,
  CTL_STYLE_CYAN,
};

gboolean    ctl_use_color          (FILE         *stream);
const char *ctl_style              (FILE         *stream,
                                    int           style);
const char *ctl_glyph              (const char   *utf8,
                                    const char   *ascii);
void        ctl_print_error        (const GError *error);
void        ctl_printerr           (const char   *format,
                                    ...) G_GNUC_PRINTF (1, 2);
guint       ctl_terminal_width     (FILE         *stream);
guint       ctl_display_width      (const char   *text);
char       *ctl_truncate           (const char   *text,
                                    guint         width);
char       *ctl_one_line           (const char   *text);
char       *ctl_format_time        (const char   *iso8601);
void        ctl_json_print         (JsonNode     *node);
void        ctl_json_print_builder (JsonBuilder  *builder);
JsonNode   *ctl_json_parse         (const char   *text);
const char *ctl_json_get_string    (JsonNode     *node,
                                    const char   *member);
gboolean    ctl_json_get_boolean   (JsonNode     *node,
                                    const char   *member);
JsonNode   *ctl_json_get_member    (JsonNode     *node,
                                    const char   *member);
const char *ctl_vardict_get_string (GVariant     *dict,
                                    const char   *key);
const char *ctl_tool_detail        (JsonNode     *data);
void        ctl_print_diff         (FILE         *stream,
                                    const char   *diff,
                                    const char   *indent);

typedef struct _CtlTable CtlTable;
CtlTable   *ctl_table_new          (guint         n_columns,
                                    ...);
void        ctl_table_add_row      (CtlTable     *table,
                                    ...);
void        ctl_table_print        (CtlTable     *table,
                                    FILE         *stream);
void        ctl_table_print_body   (CtlTable     *table,
                                    FILE         *stream);
void        ctl_table_free         (CtlTable     *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlTable, ctl_table_free)

/* term.c: lines from the terminal without blocking the main loop */
typedef struct _CtlTerm CtlTerm;
/* @line is NULL at end of input. */
typedef void (*CtlTermLineFunc) (const char *line,
                                 gpointer    user_data);

CtlTerm    *ctl_term_get_stdin      (void);
CtlTerm    *ctl_term_get_interactive (void);
FILE       *ctl_term_get_output     (CtlTerm        *term);
gboolean    ctl_term_at_eof         (CtlTerm        *term);
void        ctl_term_request_line   (CtlTerm        *term,
                                     CtlTermLineFunc func,
                                     gpointer        user_data);
void        ctl_term_request_line_with_prompt (CtlTerm        *term,
                                               const char     *prompt,
                                               CtlTermLineFunc func,
                                               gpointer        user_data);
gboolean    ctl_term_is_editing     (CtlTerm        *term);
void        ctl_term_cancel_request (CtlTerm        *term);

/* agent.c: the terminal agent */
typedef struct _CtlAgent CtlAgent;
/* Called with TRUE before a prompt is shown and FALSE after it is answered. */
typedef void (*CtlAgentPromptFunc) (gboolean prompting,
                                    gpointer user_data);

CtlAgent   *ctl_agent_new           (Ctl            *ctl,
                                     CtlAnswerMode   mode,
                                     gboolean        show_session,
                                     GError        **error);
gboolean    ctl_agent_register      (CtlAgent       *agent,
                                     gboolean        fallback,
                                     GError        **error);
void        ctl_agent_set_prompt_func (CtlAgent          *agent,
                                       CtlAgentPromptFunc func,
                                       gpointer           user_data);
void        ctl_agent_set_release_func (CtlAgent   *agent,
                                        GCallback   func,
                                        gpointer    user_data);
/* copilotd left: answers every pending request with the refusal. */
void        ctl_agent_withdraw_all  (CtlAgent       *agent);
void        ctl_agent_free          (CtlAgent       *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlAgent, ctl_agent_free)

/* Commands; each returns the exit status. */
int ctl_cmd_ask     (Ctl *ctl, int argc, char **argv);
int ctl_cmd_chat    (Ctl *ctl, int argc, char **argv);
int ctl_cmd_monitor (Ctl *ctl, int argc, char **argv);
int ctl_cmd_agent   (Ctl *ctl, int argc, char **argv);
/* control.c: the session control surface and the account */
int ctl_cmd_mode     (Ctl *ctl, int argc, char **argv);
int ctl_cmd_plan     (Ctl *ctl, int argc, char **argv);
int ctl_cmd_rename   (Ctl *ctl, int argc, char **argv);
int ctl_cmd_info     (Ctl *ctl, int argc, char **argv);
int ctl_cmd_compact  (Ctl *ctl, int argc, char **argv);
int ctl_cmd_rewind   (Ctl *ctl, int argc, char **argv);
int ctl_cmd_commands (Ctl *ctl, int argc, char **argv);
int ctl_cmd_run      (Ctl *ctl, int argc, char **argv);
int ctl_cmd_login    (Ctl *ctl, int argc, char **argv);
int ctl_cmd_logout   (Ctl *ctl, int argc, char **argv);
int ctl_cmd_whoami   (Ctl *ctl, int argc, char **argv);
/* A chat line starting with "/": TRUE when it started a turn. */
gboolean ctl_chat_command (Ctl                 *ctl,
                           CopilotdDbusSession *session,
                           const char          *line,
                           GError             **error);

/* Global options, also accepted after the command name. */
extern gboolean ctl_opt_json;
extern GOptionEntry ctl_global_entries[];

G_END_DECLS
