/* SPDX-License-Identifier: MIT */
/* test-session-access.c: who may see and use a session: subscribers,
 * the replay of its events, privacy, its owner vanishing, persistent
 * sessions (tests/daemon-fixture.h) */
#include "config.h"

#include <string.h>

#include "session-fixture.h"

/* Whether an ObjectManager InterfacesRemoved in @log named @path. */
static gboolean
interfaces_removed (SignalLog  *log,
                    const char *path)
{
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      const char *removed_path;

      if (strcmp (sig->member, "InterfacesRemoved") != 0)
        continue;
      g_variant_get_child (sig->params, 0, "&o", &removed_path);
      if (strcmp (removed_path, path) == 0)
        return TRUE;
    }
  return FALSE;
}

/* ---- access and subscribers ---- */

static void
test_subscribe (Fixture       *fx,
                gconstpointer  data)
{
  GDBusConnection *other = fixture_connect (fx);
  GDBusConnection *third = fixture_connect (fx);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (other, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  guint64 next_serial;

  fx->config->max_subscribers = 2;

  reply = session_call (other, path, "Send", g_variant_new ("(sa{sv})", "intruder", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = session_call (other, path, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0), NULL, &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 0);

  settle (fx, path);
  reply = call_ok (other, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  g_variant_get (reply, "(t)", &next_serial);
  g_assert_cmpuint (next_serial, >, 1);

  /* Owner + one subscriber is the limit here. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (third, path, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)", &error);
  assert_dbus_error (error, "LimitsExceeded", NULL);
  g_clear_error (&error);

  content = send_and_wait_ok (other, path, "member", NULL);
  g_assert_cmpstr (content, ==, "Echo: member");
  signal_log_wait (log, 0, "Event", "session.idle", 5);
  g_assert_cmpuint (signal_serial (signal_log_get (log, 0)), ==, next_serial);
  g_assert_cmpuint (signal_log_count (log, "Delta", NULL), >=, 2);

  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (other, path, SESSION_IFACE, "Unsubscribe", NULL, "()");
  g_clear_pointer (&reply, g_variant_unref);
  reply = session_call (other, path, "Send", g_variant_new ("(sa{sv})", "gone", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);
  g_clear_error (&error);
  reply = session_call (other, path, "Unsubscribe", NULL, "()", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  /* Its slot is free again. */
  reply = call_ok (third, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
}

static void
test_get_events (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "replay", NULL);
  g_autoptr(GVariant) all = NULL, some = NULL, rest = NULL;
  g_autoptr(GVariant) events = NULL;
  guint64 next, next_some, next_rest, last = 0;
  gboolean truncated;
  gsize n_all;

  all = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0),
                 "(a(tsa{sv}s)tb)");
  g_variant_get (all, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  n_all = g_variant_n_children (events);
  g_assert_false (truncated);
  g_assert_cmpuint (n_all, >, 5);
  for (gsize i = 0; i < n_all; i++)
    {
      guint64 serial;
      const char *type;

      g_variant_get_child (events, i, "(t&s@a{sv}&s)", &serial, &type, NULL, NULL);
      g_assert_cmpuint (serial, >, last);
      last = serial;
      /* Noise is not kept for replay; deltas are (what was relayed). */
      if (is_noise (type) && strcmp (type, "assistant.message_delta") != 0)
        g_error ("Noise event %s in the replay ring", type);
    }
  g_assert_cmpuint (next, ==, last + 1);
  g_clear_pointer (&events, g_variant_unref);

  some = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 3),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (some, "(@a(tsa{sv}s)tb)", &events, &next_some, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 3);
  g_assert_true (truncated);
  g_clear_pointer (&events, g_variant_unref);

  rest = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", next_some, 0),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (rest, "(@a(tsa{sv}s)tb)", &events, &next_rest, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, n_all - 3);
  g_assert_false (truncated);
  g_assert_cmpuint (next_rest, ==, next);
  g_clear_pointer (&events, g_variant_unref);

  /* Nothing new: empty, next stays. */
  g_clear_pointer (&rest, g_variant_unref);
  rest = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", next, 0),
                  "(a(tsa{sv}s)tb)");
  g_variant_get (rest, "(@a(tsa{sv}s)tb)", &events, &next_rest, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 0);
  g_assert_cmpuint (next_rest, ==, next);
  g_assert_false (truncated);
}

static void
test_get_events_ring (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) events = NULL;
  guint64 next, first;
  gboolean truncated;

  fx->config->ring_max_events = 5;
  path = create_session (fx->client, NULL);
  content = send_and_wait_ok (fx->client, path, "trim", NULL);
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 0, 0),
                   "(a(tsa{sv}s)tb)");
  g_variant_get (reply, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 5);
  g_assert_true (truncated);
  g_variant_get_child (events, 0, "(t&s@a{sv}&s)", &first, NULL, NULL, NULL);
  g_assert_cmpuint (first, >, 1);
  /* The newest are kept: the last one is the idle of the turn. */
  {
    const char *type;

    g_variant_get_child (events, 4, "(t&s@a{sv}&s)", NULL, &type, NULL, NULL);
    g_assert_cmpstr (type, ==, "session.idle");
  }
  g_clear_pointer (&events, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);
  /* From the first kept serial on, nothing is missing. */
  reply = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", first, 0),
                   "(a(tsa{sv}s)tb)");
  g_variant_get (reply, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  g_assert_false (truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 5);
}

static void
test_privacy (Fixture       *fx,
              gconstpointer  data)
{
  GDBusConnection *snoop = fixture_connect (fx);
  g_autoptr(SignalLog) snoop_log = signal_log_new (snoop, SESSION_IFACE, NULL);
  g_autoptr(SignalLog) snoop_any = signal_log_new (snoop, NULL, NULL);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) owner_log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *content = send_and_wait_ok (fx->client, path, "secret", NULL);

  signal_log_wait (owner_log, 0, "Event", "session.idle", 5);
  /* Anything copilotd sent the snoop before a round trip is in. */
  test_sync (snoop, BUS_NAME);
  g_assert_cmpuint (signal_log_count (owner_log, "Event", NULL), >, 3);
  g_assert_cmpuint (snoop_log->signals->len, ==, 0);
  for (guint i = 0; i < snoop_any->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (snoop_any, i);
      g_autofree char *printed = g_variant_print (sig->params, FALSE);

      g_assert_cmpstr (sig->member, !=, "Event");
      g_assert_cmpstr (sig->member, !=, "Delta");
      g_assert_null (strstr (printed, "secret"));
    }
}

static void
test_owner_vanished (Fixture       *fx,
                     gconstpointer  data)
{
  GDBusConnection *owner = fixture_connect (fx);
  g_autoptr(SignalLog) om_log = signal_log_new (fx->client, OBJECT_MANAGER_IFACE, ROOT_PATH);
  g_autofree char *path = create_session (owner, NULL);
  g_autofree char *id = session_id_of (owner, path);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (object_is_managed (fx->client, path));
  /* A subscriber of the same user hears why it closed. */
  reply = call_ok (fx->client, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  g_dbus_connection_close_sync (owner, NULL, NULL);
  assert_closed_reason (log, "owner-vanished");

  WAIT_FOR (interfaces_removed (om_log, path), 5);
  assert_object_gone (fx->client, path);
  record_wait (fx, "session.destroy", 1, 5);
  {
    g_autoptr(JsonObject) params = record_last (fx, "session.destroy");

    g_assert_cmpstr (json_object_get_string_member (params, "sessionId"), ==, id);
  }
}

static void
test_persistent (Fixture       *fx,
                 gconstpointer  data)
{
  GDBusConnection *owner = fixture_connect (fx);
  g_autofree char *path = create_session (owner, g_variant_new_parsed ("{'persist': <true>}"));
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* Not yet a subscriber: no access. */
  reply = session_call (fx->client, path, "Send", g_variant_new ("(sa{sv})", "x", NULL), "(s)", &error);
  assert_dbus_error (error, "AccessDenied", NULL);

  g_dbus_connection_close_sync (owner, NULL, NULL);
  spin (500);
  g_assert_true (object_is_managed (fx->client, path));
  g_assert_cmpuint (record_count (fx, "session.destroy"), ==, 0);

  reply = call_ok (fx->client, path, SESSION_IFACE, "Subscribe", g_variant_new ("(a{sv})", NULL), "(t)");
  content = send_and_wait_ok (fx->client, path, "adopted", NULL);
  g_assert_cmpstr (content, ==, "Echo: adopted");

  /* The new owner may destroy it. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  assert_object_gone (fx->client, path);
}

void
session_add_access_tests (void)
{
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/session/subscribe", test_subscribe);
  ADD ("/session/get-events/replay", test_get_events);
  ADD ("/session/get-events/ring", test_get_events_ring);
  ADD ("/session/privacy", test_privacy);
  ADD ("/session/owner-vanished", test_owner_vanished);
  ADD ("/session/persistent", test_persistent);
#undef ADD
}
