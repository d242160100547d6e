/* SPDX-License-Identifier: MIT */
/* test-relay.c: what GetEvents replays is what the Event signal carried
 *
 * event-relay.c keeps most deltas in its replay ring as a few strings and
 * builds their Event tuple only when GetEvents asks. Each envelope here is
 * relayed twice: to a relay whose subscriber names the delta type (so it
 * gets the delta as an Event too, and the ring keeps that very tuple) and
 * to one whose subscriber takes everything (the ring keeps the strings).
 * Both rings must replay the same bytes. A third relay gets each envelope
 * as the daemon does, read without a tree when json-fast.c can
 * (copilotd_event_relay_relay_delta()): its ring and its Delta signals
 * must be those of the tree path, byte for byte.
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "event-relay.h"
#include "test-util.h"

typedef struct {
  GDBusConnection *daemon_side;  /* owned */
  GDBusConnection *reader_side;  /* owned */
} Peers;

static void
on_connection (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GDBusConnection **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = g_dbus_connection_new_finish (result, &error);
  g_assert_no_error (error);
}

/* A private peer-to-peer connection; the reader end reads and drops. */
static void
peers_init (Peers *peers)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) s0 = NULL;
  g_autoptr(GSocket) s1 = NULL;
  g_autoptr(GSocketConnection) c0 = NULL;
  g_autoptr(GSocketConnection) c1 = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  s0 = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  s1 = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  c0 = g_socket_connection_factory_create_connection (s0);
  c1 = g_socket_connection_factory_create_connection (s1);
  g_dbus_connection_new (G_IO_STREAM (c0), guid, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER,
                         NULL, NULL, on_connection, &peers->reader_side);
  g_dbus_connection_new (G_IO_STREAM (c1), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                         NULL, NULL, on_connection, &peers->daemon_side);
  while (peers->reader_side == NULL || peers->daemon_side == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
peers_clear (Peers *peers)
{
  g_dbus_connection_close_sync (peers->daemon_side, NULL, NULL);
  g_clear_object (&peers->daemon_side);
  g_clear_object (&peers->reader_side);
}

/* Delta signals that reached the reader: (path, body) in order. */
typedef struct {
  GMutex lock;
  GPtrArray *compact;          /* owned GVariant* of the "/test" relay */
  GPtrArray *fast;             /* owned GVariant* of the "/fast" relay */
} Deltas;

static GDBusMessage *
on_reader_message (GDBusConnection *connection,
                   GDBusMessage    *message,
                   gboolean         incoming,
                   gpointer         user_data)
{
  Deltas *deltas = user_data;

  const char *path = g_dbus_message_get_path (message);

  if (incoming && g_strcmp0 (g_dbus_message_get_member (message), "Delta") == 0 &&
      (g_strcmp0 (path, "/fast") == 0 || g_strcmp0 (path, "/test") == 0))
    {
      g_mutex_lock (&deltas->lock);
      g_ptr_array_add (g_str_equal (path, "/fast") ? deltas->fast : deltas->compact,
                       g_variant_ref (g_dbus_message_get_body (message)));
      g_mutex_unlock (&deltas->lock);
      /* This runs in GDBus's worker thread: wake the test's loop. */
      g_main_context_wakeup (NULL);
    }
  return message;
}

/* A private connection whose reader end records the Delta signals of
 * "/test" and "/fast"; returns the reader's name, for subscribing. */
static const char *
peers_watch_deltas (Peers  *peers,
                    Deltas *deltas,
                    guint  *filter)
{
  const char *name;

  deltas->compact = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  deltas->fast = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_mutex_init (&deltas->lock);
  peers_init (peers);
  *filter = g_dbus_connection_add_filter (peers->reader_side, on_reader_message, deltas, NULL);
  name = g_dbus_connection_get_unique_name (peers->reader_side);
  return name != NULL ? name : ":1.0";
}

static void
peers_unwatch_deltas (Peers  *peers,
                      Deltas *deltas,
                      guint   filter)
{
  g_dbus_connection_remove_filter (peers->reader_side, filter);
  peers_clear (peers);
  g_ptr_array_unref (deltas->compact);
  g_ptr_array_unref (deltas->fast);
  g_mutex_clear (&deltas->lock);
}

static guint
deltas_count (Deltas    *deltas,
              GPtrArray *array)
{
  guint n;

  g_mutex_lock (&deltas->lock);
  n = array->len;
  g_mutex_unlock (&deltas->lock);
  return n;
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static const char * const envelopes[] = {
  /* The real CLI's delta */
  "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m-1\",\"deltaContent\":\"Hello\"},"
  "\"id\":\"e-1\",\"timestamp\":\"2026-12-01T10:00:00.000Z\",\"parentId\":\"e-0\",\"ephemeral\":true}",
  /* Escapes, multi-byte text, a subagent's delta, not ephemeral */
  "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m-1\",\"deltaContent\":"
  "\"a \\\"quote\\\"\\n\\ttab \\u0001 é€😀 \\\\ /\"},\"id\":\"e-2\",\"agentId\":\"sub\"}",
  /* Members in the other order; no meta at all */
  "{\"type\":\"assistant.message_delta\",\"data\":{\"deltaContent\":\"x\",\"messageId\":\"m-1\"}}",
  /* A reasoning delta */
  "{\"type\":\"assistant.reasoning_delta\",\"data\":{\"reasoningId\":\"r-1\",\"deltaContent\":\"hm\"},"
  "\"id\":\"e-3\",\"ephemeral\":false}",
  /* Data it cannot rebuild from two strings: kept as the tuple */
  "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m-1\",\"deltaContent\":\"y\","
  "\"parentToolCallId\":\"t-1\"},\"id\":\"e-4\"}",
  "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":7,\"deltaContent\":\"z\"},\"id\":8}",
  "{\"type\":\"assistant.message_delta\",\"data\":{\"deltaContent\":\"only text\"}}",
  "{\"type\":\"assistant.message_delta\",\"data\":\"not an object\"}",
  "{\"type\":\"assistant.message_delta\"}",
  /* An empty delta; an event between deltas */
  "{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"\",\"deltaContent\":\"\"},\"id\":\"\"}",
  "{\"type\":\"assistant.message\",\"data\":{\"messageId\":\"m-1\",\"content\":\"Hello\"},\"id\":\"e-5\"}",
};

static void
test_compact_replay (void)
{
  static const char * const by_name[] = { "assistant.message_delta", "assistant.reasoning_delta",
                                          "assistant.message", NULL };
  Peers peers = { NULL, };
  g_autoptr(CopilotdEventRelay) full = NULL;
  g_autoptr(CopilotdEventRelay) compact = NULL;
  g_autoptr(CopilotdEventRelay) fast = NULL;
  g_autoptr(GVariant) full_events = NULL;
  g_autoptr(GVariant) compact_events = NULL;
  g_autoptr(GVariant) fast_events = NULL;
  g_autoptr(GVariant) page = NULL;
  g_autoptr(GString) strings = g_string_new (NULL);
  g_autofree char *long_text = NULL;
  g_autofree char *long_envelope = NULL;
  Deltas deltas;
  guint filter, n_fast = 0;
  const char *name;

  name = peers_watch_deltas (&peers, &deltas, &filter);
  full = copilotd_event_relay_new (peers.daemon_side, "/full", 100, 4 * 1024 * 1024);
  compact = copilotd_event_relay_new (peers.daemon_side, "/test", 100, 4 * 1024 * 1024);
  copilotd_event_relay_subscribe (full, name, by_name);
  copilotd_event_relay_subscribe (compact, name, NULL);
  fast = copilotd_event_relay_new (peers.daemon_side, "/fast", 100, 4 * 1024 * 1024);
  copilotd_event_relay_subscribe (fast, name, NULL);

  /* Longer than Event and Delta may carry: cut, and marked truncated. */
  copilotd_event_relay_set_max_message_size (full, 256 * 1024);
  copilotd_event_relay_set_max_message_size (compact, 256 * 1024);
  copilotd_event_relay_set_max_message_size (fast, 256 * 1024);
  long_text = g_strnfill (300 * 1024, 'w');
  long_envelope = g_strdup_printf ("{\"type\":\"assistant.message_delta\",\"data\":{\"messageId\":\"m-1\","
                                   "\"deltaContent\":\"%s\"},\"id\":\"e-9\"}", long_text);

  for (guint i = 0; i <= G_N_ELEMENTS (envelopes); i++)
    {
      const char *envelope = i < G_N_ELEMENTS (envelopes) ? envelopes[i] : long_envelope;
      g_autoptr(JsonObject) event = parse_object (envelope);
      g_autofree char *frame = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\","
                                                "\"params\":{\"sessionId\":\"s\",\"event\":%s}}", envelope);
      CopilotdJsonDelta delta;

      copilotd_event_relay_relay (full, event);
      copilotd_event_relay_relay (compact, event);
      /* Each read alone: a run of one. */
      if (copilotd_json_read_delta (frame, strlen (frame), strings, &delta) &&
          copilotd_event_relay_relay_delta (fast, &delta))
        n_fast++;
      else
        copilotd_event_relay_relay (fast, event);
      copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_BEFORE_FRAME);
    }
  /* The plain ones (not the long one, which is kept as its tuple). */
  g_assert_cmpuint (n_fast, ==, 5);

  full_events = g_variant_ref_sink (copilotd_event_relay_get_events (full, 0, 0));
  compact_events = g_variant_ref_sink (copilotd_event_relay_get_events (compact, 0, 0));
  fast_events = g_variant_ref_sink (copilotd_event_relay_get_events (fast, 0, 0));
  g_assert_true (g_variant_is_normal_form (compact_events));
  g_assert_true (g_variant_equal (fast_events, compact_events));
  g_assert_cmpmem (g_variant_get_data (fast_events), g_variant_get_size (fast_events),
                   g_variant_get_data (compact_events), g_variant_get_size (compact_events));

  /* The same Delta signals, in the same order: one for each envelope but
   * the assistant.message, and the long one. */
  while (deltas_count (&deltas, deltas.fast) < G_N_ELEMENTS (envelopes) ||
         deltas_count (&deltas, deltas.compact) < G_N_ELEMENTS (envelopes))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (deltas.fast->len, ==, deltas.compact->len);
  for (guint i = 0; i < deltas.fast->len; i++)
    {
      GVariant *a = g_ptr_array_index (deltas.fast, i), *b = g_ptr_array_index (deltas.compact, i);

      g_assert_cmpmem (g_variant_get_data (a), g_variant_get_size (a), g_variant_get_data (b), g_variant_get_size (b));
    }
  {
    g_autoptr(GVariant) all = g_variant_get_child_value (full_events, 0);

    g_assert_cmpuint (g_variant_n_children (all), ==, G_N_ELEMENTS (envelopes) + 1);
  }
  for (gsize i = 0; i < g_variant_n_children (full_events); i++)
    {
      g_autoptr(GVariant) a = g_variant_get_child_value (full_events, i);
      g_autoptr(GVariant) b = g_variant_get_child_value (compact_events, i);

      if (g_variant_is_container (a) && g_variant_n_children (a) > 0 && !g_variant_equal (a, b))
        for (gsize j = 0; j < g_variant_n_children (a) && j < g_variant_n_children (b); j++)
          {
            g_autoptr(GVariant) x = g_variant_get_child_value (a, j);
            g_autoptr(GVariant) y = g_variant_get_child_value (b, j);

            if (!g_variant_equal (x, y))
              {
                g_autofree char *px = g_variant_print (x, FALSE);
                g_autofree char *py = g_variant_print (y, FALSE);

                g_test_message ("entry %" G_GSIZE_FORMAT " as Event: %.300s", j, px);
                g_test_message ("entry %" G_GSIZE_FORMAT " as kept:  %.300s", j, py);
              }
          }
    }
  g_assert_true (g_variant_equal (full_events, compact_events));

  /* A page from a serial on, and of a few, is the same slice. */
  page = g_variant_ref_sink (copilotd_event_relay_get_events (compact, 3, 2));
  {
    g_autoptr(GVariant) events = g_variant_get_child_value (page, 0);
    g_autoptr(GVariant) all = g_variant_get_child_value (full_events, 0);
    guint64 next;
    gboolean truncated;

    g_variant_get_child (page, 1, "t", &next);
    g_variant_get_child (page, 2, "b", &truncated);
    g_assert_cmpuint (g_variant_n_children (events), ==, 2);
    g_assert_cmpuint (next, ==, 5);
    g_assert_true (truncated);
    for (guint i = 0; i < 2; i++)
      {
        g_autoptr(GVariant) a = g_variant_get_child_value (events, i);
        g_autoptr(GVariant) b = g_variant_get_child_value (all, i + 2);

        g_assert_true (g_variant_equal (a, b));
      }
  }

  g_clear_pointer (&full, copilotd_event_relay_free);
  g_clear_pointer (&compact, copilotd_event_relay_free);
  g_clear_pointer (&fast, copilotd_event_relay_free);
  peers_unwatch_deltas (&peers, &deltas, filter);
}

/* Relays @text as a delta of @message_id read without a tree. */
static void
relay_fast_delta (CopilotdEventRelay *relay,
                  const char         *message_id,
                  const char         *text)
{
  g_autoptr(GString) strings = g_string_new (NULL);
  g_autofree char *frame = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":"
                                            "{\"sessionId\":\"s\",\"event\":{\"type\":\"assistant.message_delta\","
                                            "\"data\":{\"messageId\":\"%s\",\"deltaContent\":\"%s\"}}}}",
                                            message_id, text);
  CopilotdJsonDelta delta;

  g_assert_true (copilotd_json_read_delta (frame, strlen (frame), strings, &delta));
  g_assert_true (copilotd_event_relay_relay_delta (relay, &delta));
}

/* The next Delta signal on "/fast" as "serial message_id text". */
static char *
next_delta (Deltas *deltas,
            guint  *seen)
{
  GVariant *body;
  guint64 serial;
  const char *message_id, *text;

  while (deltas_count (deltas, deltas->fast) <= *seen)
    g_main_context_iteration (NULL, TRUE);
  g_mutex_lock (&deltas->lock);
  body = g_ptr_array_index (deltas->fast, (*seen)++);
  g_mutex_unlock (&deltas->lock);
  g_variant_get (body, "(t&su&s)", &serial, &message_id, NULL, &text);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " %s %s", serial, message_id, text);
}

/* Deltas read in one run are merged for a subscriber that keeps up: the
 * first delta of a message goes at once, the later ones as one Delta with
 * the last one's serial. A run of several starts merging the stream, a
 * run of one less than RUN_QUIET_US (500 µs) later keeps it going; held
 * text goes after RUN_PAUSE_US (2 ms) without a delta, RUN_HOLD_US (8 ms)
 * after merging started at most, at once before another frame or for a
 * delta read alone when no stream is merged. Another message's delta goes
 * after what is held; coalesce-backlog=0 merges nothing. */
static void
test_run_merged (void)
{
  Peers peers = { NULL, };
  g_autoptr(CopilotdEventRelay) fast = NULL;
  g_autoptr(GVariant) events = NULL;
  g_autoptr(GString) streamed = g_string_new (NULL);
  g_autoptr(GString) received = g_string_new (NULL);
  Deltas deltas;
  guint filter, seen = 0, n_streamed = 0, first_signal;
  const char *name;
  gint64 start;

  name = peers_watch_deltas (&peers, &deltas, &filter);
  fast = copilotd_event_relay_new (peers.daemon_side, "/fast", 1000, 4 * 1024 * 1024);
  copilotd_event_relay_subscribe (fast, name, NULL);

#define ASSERT_NEXT_DELTA(expected) \
  G_STMT_START { g_autofree char *got_ = next_delta (&deltas, &seen); g_assert_cmpstr (got_, ==, expected); } G_STMT_END

  /* The first delta of a message is not held, even in a run. */
  relay_fast_delta (fast, "m-1", "a");
  ASSERT_NEXT_DELTA ("1 m-1 a");
  relay_fast_delta (fast, "m-1", "b");
  relay_fast_delta (fast, "m-1", "\\u00e9\\u20ac");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_BEFORE_FRAME);
  ASSERT_NEXT_DELTA ("3 m-1 bé€");

  /* Merging the stream: a delta read alone right after is held too, and
   * all goes once no delta came for RUN_PAUSE_US. */
  relay_fast_delta (fast, "m-1", "c");
  relay_fast_delta (fast, "m-1", "d");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
  relay_fast_delta (fast, "m-1", "e");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_ALONE);
  ASSERT_NEXT_DELTA ("6 m-1 cde");

  /* No stream merged: a delta read alone goes at once, so the next run's
   * deltas are not added to it. */
  relay_fast_delta (fast, "m-1", "f");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_ALONE);
  relay_fast_delta (fast, "m-1", "g");
  relay_fast_delta (fast, "m-1", "h");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
  ASSERT_NEXT_DELTA ("7 m-1 f");
  ASSERT_NEXT_DELTA ("9 m-1 gh");

  /* Another frame: what is held goes first, at once. */
  relay_fast_delta (fast, "m-1", "i");
  relay_fast_delta (fast, "m-1", "j");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
  relay_fast_delta (fast, "m-1", "k");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_BEFORE_FRAME);
  relay_fast_delta (fast, "m-2", "x");
  ASSERT_NEXT_DELTA ("12 m-1 ijk");
  ASSERT_NEXT_DELTA ("13 m-2 x");

  /* A stream that never pauses, copilotd behind all along, is cut every
   * RUN_HOLD_US at most: a run of two deltas every 100 µs for 40 ms (the
   * CLI's pace, not a wait). A machine so loaded that each run came 2 ms
   * after the last would cut it at every run, never more often. */
  relay_fast_delta (fast, "m-2", "y");
  relay_fast_delta (fast, "m-2", "z");
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
  g_string_append (streamed, "yz");
  first_signal = seen;
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < 40000)
    {
      g_autofree char *text = g_strdup_printf ("%u.", ++n_streamed);

      relay_fast_delta (fast, "m-2", text);
      relay_fast_delta (fast, "m-2", "+");
      g_string_append_printf (streamed, "%s+", text);
      copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (100);
    }
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_BEFORE_FRAME);
  while (received->len < streamed->len)
    {
      g_autofree char *got = next_delta (&deltas, &seen);

      g_string_append (received, strchr (strchr (got, ' ') + 1, ' ') + 1);
    }
  g_assert_cmpstr (received->str, ==, streamed->str);
  /* Cut at least twice in 40 ms (four times on a quiet machine: a late
   * timer delays a cut), and fewer signals than runs. */
  g_assert_cmpuint (seen - first_signal, >=, 3);
  g_assert_cmpuint (seen - first_signal, <, n_streamed);
  g_test_message ("%u runs of two deltas in %u Delta signals", n_streamed, seen - first_signal);

  /* Merging off: every delta its own Delta. */
  copilotd_event_relay_set_coalesce_backlog (fast, 0);
  relay_fast_delta (fast, "m-3", "p");
  relay_fast_delta (fast, "m-3", "q");
  {
    g_autofree char *p = next_delta (&deltas, &seen);
    g_autofree char *q = next_delta (&deltas, &seen);

    g_assert_true (g_str_has_suffix (p, " m-3 p"));
    g_assert_true (g_str_has_suffix (q, " m-3 q"));
  }
  copilotd_event_relay_end_run (COPILOTD_JSONRPC_RUN_SEVERAL);
#undef ASSERT_NEXT_DELTA

  /* The ring keeps every delta as it came. */
  events = g_variant_ref_sink (copilotd_event_relay_get_events (fast, 0, 0));
  {
    g_autoptr(GVariant) all = g_variant_get_child_value (events, 0);

    g_assert_cmpuint (g_variant_n_children (all), ==, 15 + 2 * n_streamed + 2);
  }
  g_assert_cmpuint (deltas_count (&deltas, deltas.fast), ==, seen);

  g_clear_pointer (&fast, copilotd_event_relay_free);
  peers_unwatch_deltas (&peers, &deltas, filter);
}

/* Past ring-max-events the oldest go, compact or not. */
static void
test_compact_ring_limit (void)
{
  Peers peers = { NULL, };
  g_autoptr(CopilotdEventRelay) relay = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) events = NULL;
  g_autoptr(GVariant) first = NULL;
  guint64 next, serial;
  gboolean truncated;

  peers_init (&peers);
  relay = copilotd_event_relay_new (peers.daemon_side, "/test", 5, 4 * 1024 * 1024);
  copilotd_event_relay_subscribe (relay, ":1.0", NULL);
  for (guint i = 0; i < 12; i++)
    {
      g_autoptr(JsonObject) event = parse_object (envelopes[i % 4]);

      copilotd_event_relay_relay (relay, event);
    }
  reply = g_variant_ref_sink (copilotd_event_relay_get_events (relay, 0, 0));
  g_variant_get (reply, "(@a(tsa{sv}s)tb)", &events, &next, &truncated);
  g_assert_cmpuint (g_variant_n_children (events), ==, 5);
  g_assert_true (truncated);
  g_assert_cmpuint (next, ==, 13);
  first = g_variant_get_child_value (events, 0);
  g_variant_get_child (first, 0, "t", &serial);
  g_assert_cmpuint (serial, ==, 8);

  g_clear_pointer (&relay, copilotd_event_relay_free);
  peers_clear (&peers);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/compact-replay", test_compact_replay);
  g_test_add_func ("/relay/compact-ring-limit", test_compact_ring_limit);
  g_test_add_func ("/relay/run-merged", test_run_merged);
  return g_test_run ();
}
