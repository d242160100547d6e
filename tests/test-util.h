/* SPDX-License-Identifier: MIT */
/* test-util.h: private-bus helpers every C test shares
 *
 * Part of the one C test fixture library (tests/meson.build: test_lib_dep):
 * test-util.h (bus connections, calls that iterate the main context, waits
 * on events, D-Bus error assertions, a signal log), test-agent.h (an Agent
 * and a ToolProvider served by the test) and daemon-fixture.h (an
 * in-process copilotd with the fake CLI).
 *
 * Every wait iterates the default main context until its condition holds,
 * and fails the test (g_error) after its timeout; none sleeps a fixed time.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

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

/* g_test_init() with every log line on stderr (stdout carries TAP). */
void test_init (int    *argc,
                char ***argv);

/* A new message-bus connection to @address. */
GDBusConnection *test_connect (const char *address);

/* Iterates the main context for @ms milliseconds. Only for letting
 * things that cannot be observed drain (never to wait for an event). */
void     spin       (guint           ms);
/* A strictly increasing counter shared by replies and signals. */
guint    next_seq   (void);
/* Iterates until *@flag is TRUE; after @timeout_s fails the test, naming
 * @what. */
void     wait_flag  (const gboolean *flag,
                     guint           timeout_s,
                     const char     *what);
/* Iterates until @done (@data) is TRUE; after @timeout_s fails the test.
 * @done is checked after every event (and at least every 100 ms, for
 * conditions such as a file's contents that no event announces). */
void     wait_until (gboolean      (*done) (gpointer data),
                     gpointer        data,
                     guint           timeout_s,
                     const char     *what);

/* Iterates until the expression @cond holds: it is checked after every
 * event (and at least every 50 ms, for conditions no event announces);
 * after @timeout_s the test fails, naming @cond. */
#define WAIT_FOR(cond, timeout_s) \
  G_STMT_START { \
    gint64 wait_deadline_ = g_get_monotonic_time () + (gint64) (timeout_s) * G_USEC_PER_SEC; \
    guint wait_tick_ = test_tick_start (); \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > wait_deadline_) \
          g_error ("%s: timed out after %u s waiting for %s", G_STRLOC, \
                   (guint) (timeout_s), #cond); \
        g_main_context_iteration (NULL, TRUE); \
      } \
    g_source_remove (wait_tick_); \
  } G_STMT_END
/* A source that wakes the main context every 50 ms (for WAIT_FOR). */
guint test_tick_start (void);

/* ---- calls ---- */

typedef struct {
  GVariant *reply;                /* owned, nullable */
  GError *error;                  /* owned, nullable */
  gboolean done;
  guint seq;                      /* next_seq () when the reply arrived */
} PendingCall;

/* Starts a call to @bus_name (BUS_NAME when NULL). */
PendingCall *call_start_to (GDBusConnection *conn,
                            const char      *bus_name,
                            const char      *path,
                            const char      *iface,
                            const char      *method,
                            GVariant        *params,
                            const char      *reply_type);
/* The same, to the daemon's BUS_NAME. */
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

/* Calls @bus_name (NULL: BUS_NAME) and iterates until the reply; @params
 * may be floating. A synchronous call to an object exported in this same
 * thread would deadlock. */
GVariant *test_call         (GDBusConnection *conn,
                             const char      *bus_name,
                             const char      *path,
                             const char      *iface,
                             const char      *method,
                             GVariant        *params,
                             const char      *reply_type,
                             GError         **error);
/* A Peer.Ping round trip from @conn to @peer: what @conn sent to @peer
 * before has been handled, and what @peer sent to @conn before the reply
 * has been dispatched. Use it instead of a sleep to show that something
 * did NOT happen. */
void      test_sync         (GDBusConnection *conn,
                             const char      *peer);
/* The same to BUS_NAME. */
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

JsonObject *parse_json_object (const char *text);

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

G_END_DECLS
