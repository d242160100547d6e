/* SPDX-License-Identifier: MIT */
/* test-util.c: private-bus helpers every C test shares */
#include "config.h"

#include <string.h>

#include "test-util.h"

#define CALL_TIMEOUT_S 30

void
test_init (int    *argc,
           char ***argv)
{
  /* Log lines go to stderr: stdout carries only TAP. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (argc, argv, NULL);
}

GDBusConnection *
test_connect (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *conn;

  conn = g_dbus_connection_new_for_address_sync (address,
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (conn, FALSE);
  return conn;
}

guint
next_seq (void)
{
  static guint seq;

  return ++seq;
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

void
spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

void
wait_flag (const gboolean *flag,
           guint           timeout_s,
           const char     *what)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, on_timeout_flag, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  if (timed_out)
    g_error ("Timed out after %u s waiting for %s", timeout_s, what);
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

guint
test_tick_start (void)
{
  return g_timeout_add (50, on_tick, NULL);
}

void
wait_until (gboolean  (*done) (gpointer data),
            gpointer    data,
            guint       timeout_s,
            const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  /* Wakes the loop so that the deadline and conditions that no event
   * announces are checked. */
  guint tick = g_timeout_add (100, on_tick, NULL);

  while (!done (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u s waiting for %s", timeout_s, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

/* ---- calls ---- */

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PendingCall *call = user_data;

  call->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call->error);
  call->seq = next_seq ();
  call->done = TRUE;
}

PendingCall *
call_start_to (GDBusConnection *conn,
               const char      *bus_name,
               const char      *path,
               const char      *iface,
               const char      *method,
               GVariant        *params,
               const char      *reply_type)
{
  PendingCall *call = g_new0 (PendingCall, 1);

  g_dbus_connection_call (conn, bus_name ? bus_name : BUS_NAME, path, iface, method, params,
                          reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_S * 1000, NULL,
                          on_call_done, call);
  return call;
}

PendingCall *
call_start (GDBusConnection *conn,
            const char      *path,
            const char      *iface,
            const char      *method,
            GVariant        *params,
            const char      *reply_type)
{
  return call_start_to (conn, NULL, path, iface, method, params, reply_type);
}

void
pending_wait (PendingCall *call,
              guint        timeout_s)
{
  wait_flag (&call->done, timeout_s, "a D-Bus reply");
}

void
pending_free (PendingCall *call)
{
  /* A call still on its way would write into freed memory. */
  if (!call->done)
    pending_wait (call, CALL_TIMEOUT_S + 5);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
  g_free (call);
}

GVariant *
test_call (GDBusConnection *conn,
           const char      *bus_name,
           const char      *path,
           const char      *iface,
           const char      *method,
           GVariant        *params,
           const char      *reply_type,
           GError         **error)
{
  g_autoptr(PendingCall) call = call_start_to (conn, bus_name, path, iface, method, params,
                                               reply_type);

  pending_wait (call, CALL_TIMEOUT_S + 5);
  if (call->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&call->error));
      return NULL;
    }
  return g_steal_pointer (&call->reply);
}

void
test_sync (GDBusConnection *conn,
           const char      *peer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = test_call (conn, peer, "/", "org.freedesktop.DBus.Peer", "Ping",
                                         NULL, "()", &error);

  g_assert_no_error (error);
}

GVariant *
call_sync_iterate (GDBusConnection *conn,
                   const char      *path,
                   const char      *iface,
                   const char      *method,
                   GVariant        *params,
                   const char      *reply_type,
                   GError         **error)
{
  return test_call (conn, NULL, path, iface, method, params, reply_type, error);
}

GVariant *
call_ok (GDBusConnection *conn,
         const char      *path,
         const char      *iface,
         const char      *method,
         GVariant        *params,
         const char      *reply_type)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call_sync_iterate (conn, path, iface, method, params, reply_type, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return reply;
}

void
assert_dbus_error_impl (const char   *loc,
                        const GError *error,
                        const char   *short_name,
                        const char   *message_part)
{
  g_autofree char *remote = NULL;
  g_autofree char *expected = NULL;

  if (error == NULL)
    g_error ("%s: expected the D-Bus error %s, got success", loc, short_name);
  remote = g_dbus_error_get_remote_error (error);
  expected = strchr (short_name, '.') ? g_strdup (short_name)
                                      : g_strconcat (BUS_NAME ".Error.", short_name, NULL);
  if (g_strcmp0 (remote, expected) != 0)
    g_error ("%s: expected the D-Bus error %s, got %s: %s", loc, expected,
             remote ? remote : "(none)", error->message);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("%s: the message of %s does not contain '%s': %s", loc, expected,
             message_part, error->message);
}


JsonObject *
parse_json_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* ---- signals ---- */

static void
logged_signal_free (LoggedSignal *sig)
{
  g_free (sig->member);
  g_free (sig->path);
  g_variant_unref (sig->params);
  g_free (sig);
}

static void
on_signal (GDBusConnection *connection,
           const char      *sender,
           const char      *path,
           const char      *iface,
           const char      *member,
           GVariant        *params,
           gpointer         user_data)
{
  SignalLog *log = user_data;
  LoggedSignal *sig = g_new0 (LoggedSignal, 1);

  sig->member = g_strdup (member);
  sig->path = g_strdup (path);
  sig->params = g_variant_ref (params);
  sig->seq = next_seq ();
  g_ptr_array_add (log->signals, sig);
}

SignalLog *
signal_log_new (GDBusConnection *conn,
                const char      *iface,
                const char      *path)
{
  SignalLog *log = g_new0 (SignalLog, 1);

  log->conn = g_object_ref (conn);
  log->signals = g_ptr_array_new_with_free_func ((GDestroyNotify) logged_signal_free);
  log->sub_id = g_dbus_connection_signal_subscribe (conn, NULL, iface, NULL, path, NULL,
                                                    G_DBUS_SIGNAL_FLAGS_NONE, on_signal, log, NULL);
  return log;
}

void
signal_log_free (SignalLog *log)
{
  g_dbus_connection_signal_unsubscribe (log->conn, log->sub_id);
  g_object_unref (log->conn);
  g_ptr_array_unref (log->signals);
  g_free (log);
}

void
signal_log_clear (SignalLog *log)
{
  g_ptr_array_set_size (log->signals, 0);
}

LoggedSignal *
signal_log_get (SignalLog *log,
                guint      index)
{
  g_assert_cmpuint (index, <, log->signals->len);
  return g_ptr_array_index (log->signals, index);
}

const char *
logged_event_type (LoggedSignal *sig)
{
  const char *type = "";

  if (strcmp (sig->member, "Event") == 0)
    g_variant_get_child (sig->params, 1, "&s", &type);
  return type;
}

JsonObject *
logged_event_data (LoggedSignal *sig)
{
  const char *data = NULL;

  g_assert_cmpstr (sig->member, ==, "Event");
  g_variant_get_child (sig->params, 3, "&s", &data);
  return parse_json_object (data);
}

int
signal_log_find (SignalLog  *log,
                 guint       from,
                 const char *member,
                 const char *event_type)
{
  for (guint i = from; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);

      if (strcmp (sig->member, member) != 0)
        continue;
      if (event_type != NULL && strcmp (logged_event_type (sig), event_type) != 0)
        continue;
      return (int) i;
    }
  return -1;
}

typedef struct {
  SignalLog *log;
  guint from;
  const char *member;
  const char *event_type;
} SignalWait;

static gboolean
signal_found (gpointer data)
{
  SignalWait *wait = data;

  return signal_log_find (wait->log, wait->from, wait->member, wait->event_type) >= 0;
}

guint
signal_log_wait (SignalLog  *log,
                 guint       from,
                 const char *member,
                 const char *event_type,
                 guint       timeout_s)
{
  SignalWait wait = { log, from, member, event_type };
  g_autofree char *what = g_strdup_printf ("the signal %s %s", member,
                                           event_type ? event_type : "");

  wait_until (signal_found, &wait, timeout_s, what);
  return (guint) signal_log_find (log, from, member, event_type);
}

guint
signal_log_count (SignalLog  *log,
                  const char *member,
                  const char *event_type)
{
  guint n = 0;

  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);

      if (strcmp (sig->member, member) == 0 &&
          (event_type == NULL || strcmp (logged_event_type (sig), event_type) == 0))
        n++;
    }
  return n;
}
