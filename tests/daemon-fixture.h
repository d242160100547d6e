/* daemon-fixture.h: an in-process copilotd on a private bus, for tests
 *
 * Every test case gets a GTestDBus bus, a CopilotdDaemon started in this
 * process on its own connection, the fake CLI as its backend, a fresh
 * COPILOT_HOME and a client connection. The daemon runs in this thread, so
 * every client call is asynchronous and the main context is iterated until
 * it completes.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "daemon.h"

G_BEGIN_DECLS

#define BUS_NAME "io.github.copilotd.Copilot1"
#define ROOT_PATH "/io/github/copilotd/Copilot1"
#define SESSION_PATH_PREFIX ROOT_PATH "/session/"
#define MANAGER_IFACE BUS_NAME ".Manager"
#define AGENT_MANAGER_IFACE BUS_NAME ".AgentManager"
#define SESSION_IFACE BUS_NAME ".Session"
#define AGENT_IFACE BUS_NAME ".Agent"
#define TOOL_PROVIDER_IFACE BUS_NAME ".ToolProvider"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define OBJECT_MANAGER_IFACE "org.freedesktop.DBus.ObjectManager"

typedef struct {
  GTestDBus *bus;                 /* owned */
  char *home;                     /* owned: COPILOT_HOME, removed at teardown */
  char *record_path;              /* owned: FAKE_CLI_RECORD */
  CopilotdConfig *config;         /* unowned: the daemon owns it; tests may tune it */
  CopilotdDaemon *daemon;         /* owned */
  GDBusConnection *daemon_conn;   /* owned */
  GDBusConnection *client;        /* owned */
  GPtrArray *extra_clients;       /* owned: GDBusConnection* */
  gboolean allow_warnings;        /* backend loss and restarts log warnings */
} Fixture;

void             fixture_setup      (Fixture       *fx,
                                     gconstpointer  data);
void             fixture_teardown   (Fixture       *fx,
                                     gconstpointer  data);
/* Another client connection, closed at teardown (unless closed earlier). */
GDBusConnection *fixture_connect    (Fixture       *fx);
/* Warnings stop being fatal until teardown (backend loss logs them). */
void             fixture_allow_warnings (Fixture   *fx);

/* Iterates the main context for @ms milliseconds. */
void             spin               (guint          ms);
/* A strictly increasing counter shared by replies and signals. */
guint            next_seq           (void);

/* ---- calls ---- */

typedef struct {
  GVariant *reply;                /* owned, nullable */
  GError *error;                  /* owned, nullable */
  gboolean done;
  guint seq;                      /* next_seq () when the reply arrived */
} PendingCall;

PendingCall *call_start   (GDBusConnection *conn,
                           const char      *path,
                           const char      *iface,
                           const char      *method,
                           GVariant        *params,
                           const char      *reply_type);
void         pending_wait (PendingCall     *call,
                           guint            timeout_s);
void         pending_free (PendingCall     *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PendingCall, pending_free)

/* Calls and iterates until the reply; @params may be floating. */
GVariant *call_sync_iterate (GDBusConnection *conn,
                             const char      *path,
                             const char      *iface,
                             const char      *method,
                             GVariant        *params,
                             const char      *reply_type,
                             GError         **error);
/* The same, asserting success. */
GVariant *call_ok           (GDBusConnection *conn,
                             const char      *path,
                             const char      *iface,
                             const char      *method,
                             GVariant        *params,
                             const char      *reply_type);

/* Asserts @error is io.github.copilotd.Copilot1.Error.@short_name (or the
 * full name when @short_name contains a dot) and, when given, that its
 * message contains @message_part. */
#define assert_dbus_error(error, short_name, message_part) \
  assert_dbus_error_impl (G_STRLOC, error, short_name, message_part)
void assert_dbus_error_impl (const char   *loc,
                             const GError *error,
                             const char   *short_name,
                             const char   *message_part);

GVariant *get_property  (GDBusConnection *conn,
                         const char      *path,
                         const char      *iface,
                         const char      *name);
char     *get_string_property (GDBusConnection *conn,
                               const char      *path,
                               const char      *iface,
                               const char      *name);

/* CreateSession with @options (floating, nullable); returns the path. */
char     *create_session (GDBusConnection *conn,
                          GVariant        *options);
/* Creates a session, then returns its CLI id through the Id property. */
char     *session_id_of  (GDBusConnection *conn,
                          const char      *path);
/* Whether @path is among GetManagedObjects at the root. */
gboolean  object_is_managed (GDBusConnection *conn,
                             const char      *path);

/* ---- signals ---- */

typedef struct {
  char *member;                   /* owned */
  char *path;                     /* owned */
  GVariant *params;               /* owned */
  guint seq;
} LoggedSignal;

typedef struct {
  GDBusConnection *conn;          /* owned */
  guint sub_id;
  GPtrArray *signals;             /* owned: LoggedSignal* */
} SignalLog;

/* Logs every signal of @iface at @path (nullable: any path) that reaches
 * @conn, unicast or broadcast. */
SignalLog    *signal_log_new   (GDBusConnection *conn,
                                const char      *iface,
                                const char      *path);
void          signal_log_free  (SignalLog       *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SignalLog, signal_log_free)
void          signal_log_clear (SignalLog       *log);
LoggedSignal *signal_log_get   (SignalLog       *log,
                                guint            index);
/* Index of the first signal @member at or after @from, or -1; for "Event"
 * @event_type (nullable) must match its type too. */
int           signal_log_find  (SignalLog       *log,
                                guint            from,
                                const char      *member,
                                const char      *event_type);
/* The same, iterating until found or failing the test after @timeout_s. */
guint         signal_log_wait  (SignalLog       *log,
                                guint            from,
                                const char      *member,
                                const char      *event_type,
                                guint            timeout_s);
guint         signal_log_count (SignalLog       *log,
                                const char      *member,
                                const char      *event_type);
/* The Event's type ("" for other signals). */
const char   *logged_event_type (LoggedSignal   *sig);
/* The Event's data_json parsed. */
JsonObject   *logged_event_data (LoggedSignal   *sig);

/* ---- what the fake CLI received (FAKE_CLI_RECORD) ---- */

/* The params of every request/notification @method the fake received. */
GPtrArray  *record_params (Fixture    *fx,
                           const char *method);
/* Every frame the fake received (JsonObject*). */
GPtrArray  *record_frames (Fixture    *fx);
guint       record_count  (Fixture    *fx,
                           const char *method);
/* Iterates until the fake received @method @n times. */
void        record_wait   (Fixture    *fx,
                           const char *method,
                           guint       n,
                           guint       timeout_s);
/* The params of the last @method received; fails when there is none. */
JsonObject *record_last   (Fixture    *fx,
                           const char *method);

JsonObject *parse_json_object (const char *text);

/* ---- an Agent served on a client connection ---- */

#define AGENT_HOLD G_MAXUINT

typedef struct {
  GDBusConnection *conn;          /* owned */
  char *path;                     /* owned */
  guint reg_id;
  /* How it answers */
  guint decision;                 /* RequestPermission */
  char *feedback;                 /* owned, nullable */
  guint response;                 /* RequestUserInput: 0 answered, 1 cancelled */
  char *answer;                   /* owned, nullable */
  guint delay_ms;                 /* AGENT_HOLD: keep until agent_answer_held */
  /* What it saw */
  guint n_permission;
  guint n_input;
  GVariant *last_request;         /* owned, nullable: a{sv} */
  char *last_request_json;        /* owned, nullable */
  char *last_request_id;          /* owned, nullable */
  GPtrArray *cancels;             /* owned: request ids */
  GPtrArray *held;                /* owned: GDBusMethodInvocation* */
} TestAgent;

TestAgent *test_agent_new      (GDBusConnection *conn,
                                const char      *path);
/* AgentManager.RegisterAgent from the agent's connection. */
void       test_agent_register (TestAgent       *agent);
/* Answers every held request with the configured decision. */
void       test_agent_answer_held (TestAgent    *agent);
void       test_agent_free     (TestAgent       *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestAgent, test_agent_free)

/* ---- a ToolProvider served on a client connection ---- */

typedef struct {
  GDBusConnection *conn;          /* owned */
  char *path;                     /* owned */
  guint reg_id;
  char *result_text;              /* owned */
  guint n_invoke;
  char *last_tool;                /* owned, nullable */
  char *last_args;                /* owned, nullable */
  char *last_session;             /* owned, nullable */
  gboolean hold;                  /* never answer Invoke (until freed) */
  GPtrArray *held;                /* owned: GDBusMethodInvocation* */
  GPtrArray *cancels;             /* owned: tool call ids */
} TestTool;

TestTool *test_tool_new  (GDBusConnection *conn,
                          const char      *path,
                          const char      *result_text);
void      test_tool_free (TestTool        *tool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestTool, test_tool_free)

G_END_DECLS
