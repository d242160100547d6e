/* SPDX-License-Identifier: MIT */
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
#include "test-agent.h"
#include "test-util.h"

G_BEGIN_DECLS

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
/* Stops the daemon and starts another of a fresh configuration on a new
 * connection, as a restart of copilotd does (it does not wait for its
 * name). */
void             fixture_restart_daemon (Fixture   *fx);

/* ---- properties and sessions ---- */

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

/* ---- what the fake CLI sends (its RAW: directive) ---- */

/* Writes @lines (frames, `@SESSION@` for the session id) to a file in the
 * fixture's home; returns the prompt `RAW: <file>` that makes the fake
 * send them. */
char       *raw_prompt    (Fixture            *fx,
                           const char * const *lines);

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

G_END_DECLS
