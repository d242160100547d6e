/* SPDX-License-Identifier: MIT */
/* session-fixture.c: what the Session tests (test-session*.c) share:
 * calls, turns, waits and checks on signal logs */
#include "config.h"

#include <string.h>

#include "session-fixture.h"

GVariant *
session_call (GDBusConnection *conn,
              const char      *path,
              const char      *method,
              GVariant        *params,
              const char      *reply_type,
              GError         **error)
{
  return call_sync_iterate (conn, path, SESSION_IFACE, method, params, reply_type, error);
}

char *
send_and_wait_ok (GDBusConnection *conn,
                  const char      *path,
                  const char      *prompt,
                  gboolean        *out_aborted)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "SendAndWait",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");
  g_autoptr(GVariant) details = g_variant_get_child_value (reply, 1);
  const char *message_id;
  gboolean aborted;
  char *content;

  g_variant_get_child (reply, 0, "s", &content);
  g_assert_true (g_variant_lookup (details, "message-id", "&s", &message_id));
  g_assert_cmpstr (message_id, !=, "");
  g_assert_true (g_variant_lookup (details, "aborted", "b", &aborted));
  if (out_aborted != NULL)
    *out_aborted = aborted;
  else
    g_assert_false (aborted);
  return content;
}

/* Waits until the events of CreateSession have been relayed, so a log
 * cleared after this holds the next turn only: the CLI wrote them before
 * it read the session.getMessages of a GetMessages, and copilotd relays
 * the CLI's frames in order, so they reach the client before its reply. */
void
settle (Fixture    *fx,
        const char *path)
{
  g_autoptr(GVariant) reply = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                       g_variant_new ("(a{sv})", NULL), NULL);
}

guint64
signal_serial (LoggedSignal *sig)
{
  guint64 serial;

  g_variant_get_child (sig->params, 0, "t", &serial);
  return serial;
}

void
assert_closed_reason (SignalLog  *log,
                      const char *reason)
{
  guint index = signal_log_wait (log, 0, "Closed", NULL, 10);
  g_autoptr(GVariant) details = g_variant_get_child_value (signal_log_get (log, index)->params, 0);
  const char *got;

  g_assert_true (g_variant_lookup (details, "reason", "&s", &got));
  g_assert_cmpstr (got, ==, reason);
}

void
assert_object_gone (GDBusConnection *conn,
                    const char      *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *remote = NULL;

  g_assert_false (object_is_managed (conn, path));
  reply = call_sync_iterate (conn, path, PROPERTIES_IFACE, "GetAll",
                             g_variant_new ("(s)", SESSION_IFACE), "(a{sv})", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  /* Gone sessions answer NotFound (object-manager.c). */
  g_assert_cmpstr (remote, ==, "io.github.copilotd.Copilot1.Error.NotFound");
}

gboolean
is_noise (const char *type)
{
  return g_str_has_prefix (type, "model.") ||
         strcmp (type, "system.message") == 0 ||
         strcmp (type, "assistant.streaming_delta") == 0 ||
         strcmp (type, "session.background_tasks_changed") == 0 ||
         strcmp (type, "host.event") == 0 ||
         strcmp (type, "assistant.message_delta") == 0 ||
         strcmp (type, "assistant.reasoning_delta") == 0;
}
