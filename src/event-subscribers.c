/* SPDX-License-Identifier: MIT */
/* event-subscribers.c: who gets a session's signals, and merging deltas
 * under pressure
 *
 * Signals go to each subscriber with a destination, never broadcast: chat
 * content must not reach processes that merely match on the interface
 * (DESIGN.md §4).
 *
 * Under pressure only, consecutive deltas of one message to one subscriber
 * are merged (README "Performance"). GDBusConnection tells nothing of a
 * peer's queue, and copilotd's own socket never backs up (dbus-daemon
 * queues for a slow reader without pushing back on the sender), so the
 * measure is the peer's own answer: every PING_EVERY signals a Peer.Ping
 * goes to the subscriber, and its reply proves it has read everything sent
 * before it. More than coalesce-backlog signals unconfirmed means the
 * subscriber is behind: later deltas of the message it is receiving are
 * held and appended to one text, sent as one Delta (with the last one's
 * serial) when a Ping reply says it has caught up, before anything else
 * goes to it, or at MAX_MERGED_BYTES. The first delta of a message is never
 * held, the text is exactly the concatenation (each part is UTF-8, so the
 * whole is), and the ring keeps every delta as it came.
 *
 * The other pressure is on every subscriber's path at once: the CLI writes
 * faster than copilotd reads, and deltas arrive several to a read. A
 * signal each would put them all in every subscriber's queue at once;
 * instead the later deltas of a message read in such a run (no other
 * frame between them) are held, and the JSON-RPC reader's end of the run
 * (copilotd_event_relay_end_run()) decides when they go: at once before
 * another frame, and when the read brought one delta while no stream is
 * being merged (copilotd keeps up: a delta read alone is sent as it is).
 * Several deltas to a read start merging the stream; a read of one delta
 * less than RUN_QUIET_US after the last run keeps it going. What is held
 * goes out as one Delta at a read of one delta after a longer pause, when
 * no delta came for RUN_PAUSE_US, or RUN_HOLD_US (half a 60 Hz frame)
 * after the merging started; the next several-delta read starts it again.
 * A steady stream of up to 2000 deltas a second, read one at a time, is
 * never held; after a hiccup (two read at once) one delta waits for the
 * next read at the most.
 */
#include "config.h"

#include <string.h>

#include "bounded.h"
#include "event-relay-private.h"

#define SESSION_INTERFACE "io.github.copilotd.Copilot1.Session"

#define PING_EVERY 32
#define MAX_MERGED_BYTES (64 * 1024)
#define RUN_QUIET_US 500         /* a stream merged goes on */
#define RUN_PAUSE_US 2000        /* held text is sent after no delta for this long */
#define RUN_HOLD_US 8000         /* …and this long after merging started at most */

/* Subscriptions, in every session, that name an internal noise type: while
 * there are none, noise frames are dropped before they are parsed. */
static guint noise_by_name;

/* Relays holding deltas of runs (unowned), while a stream is merged: sent
 * by copilotd_event_relay_end_run() or when @run_source is ready. */
static GPtrArray *runs;
static GSource *run_source;     /* owned for the process once made */
static gint64 run_started;      /* monotonic µs the merging started, 0: none */
static gint64 run_last;         /* monotonic µs of the last run's end */

/* Internal noise: dropped before the bus unless asked for by name. */
gboolean
copilotd_event_is_noise (const char *type)
{
  return g_str_has_prefix (type, "model.") ||
         strcmp (type, "host.event") == 0 ||
         strcmp (type, "session.background_tasks_changed") == 0 ||
         strcmp (type, "assistant.streaming_delta") == 0 ||
         strcmp (type, "system.message") == 0;
}

void
copilotd_subscriber_free (Subscriber *sub)
{
  noise_by_name -= sub->noise_names;
  if (sub->ping != NULL)
    sub->ping->sub = NULL;
  g_free (sub->last_message_id);
  if (sub->held != NULL)
    g_string_free (sub->held, TRUE);
  g_free (sub->name);
  g_variant_unref (sub->destination);
  g_strfreev (sub->types);
  g_clear_pointer (&sub->patterns, g_ptr_array_unref);
  g_free (sub);
}

static GVariant *
interface_value (void)
{
  static GVariant *value;

  if (value == NULL)
    value = g_variant_ref_sink (g_variant_new_string (SESSION_INTERFACE));
  return value;
}

/* A signal's member name, built once for the process. */
static GVariant *
member_value (const char *signal_name)
{
  static GVariant *delta, *event;
  GVariant **cached = strcmp (signal_name, "Delta") == 0 ? &delta :
                      strcmp (signal_name, "Event") == 0 ? &event : NULL;

  if (cached == NULL)
    return g_variant_new_string (signal_name);
  if (*cached == NULL)
    *cached = g_variant_ref_sink (g_variant_new_string (signal_name));
  return *cached;
}

/* What g_dbus_connection_emit_signal() sends, from header values built
 * once: it checks the names and builds the header values again for every
 * signal, a tenth of what copilotd spent on a delta (README "Performance"). */
void
copilotd_event_relay_emit (CopilotdEventRelay *relay,
                           GVariant           *destination,
                           const char         *signal_name,
                           GVariant           *parameters)
{
  g_autoptr(GDBusMessage) message = g_dbus_message_new ();
  g_autoptr(GError) error = NULL;

  g_dbus_message_set_message_type (message, G_DBUS_MESSAGE_TYPE_SIGNAL);
  g_dbus_message_set_flags (message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  g_dbus_message_set_header (message, G_DBUS_MESSAGE_HEADER_FIELD_PATH, relay->path_value);
  g_dbus_message_set_header (message, G_DBUS_MESSAGE_HEADER_FIELD_INTERFACE, interface_value ());
  g_dbus_message_set_header (message, G_DBUS_MESSAGE_HEADER_FIELD_MEMBER, member_value (signal_name));
  g_dbus_message_set_header (message, G_DBUS_MESSAGE_HEADER_FIELD_DESTINATION, destination);
  g_dbus_message_set_body (message, parameters);
  if (!g_dbus_connection_send_message (relay->connection, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                       NULL, &error))
    g_debug ("Cannot send %s to '%s': %s", signal_name,
             g_variant_get_string (destination, NULL), error->message);
}

/* ---- pressure: what a subscriber has not read yet -------------------------- */

static gboolean
subscriber_behind (Subscriber *sub)
{
  guint backlog = sub->relay->coalesce_backlog;

  return backlog > 0 && sub->sent - sub->confirmed > backlog;
}

static void
on_ping_reply (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Ping *ping = user_data;
  Subscriber *sub = ping->sub;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  /* Any answer of the peer's, an error too, comes after everything sent
   * before it. */
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_free (ping);
  if (sub == NULL)
    return;
  sub->ping = NULL;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    {
      /* The bus answered, not the peer: a bus policy without the rule of
       * data/io.github.copilotd.Copilot1.conf. Nothing is known of this
       * subscriber's queue, so nothing is merged for it. */
      g_debug ("Cannot ping subscriber '%s': %s", sub->name, error->message);
      sub->no_ping = TRUE;
    }
  sub->confirmed = sub->ping_sent;
  if (!subscriber_behind (sub))
    copilotd_subscriber_flush (sub);
}

/* Sends @parameters to @sub and asks, now and then, what it has read. */
void
copilotd_subscriber_send (Subscriber *sub,
                          const char *signal_name,
                          GVariant   *parameters)
{
  copilotd_event_relay_emit (sub->relay, sub->destination, signal_name, parameters);
  sub->sent++;
  if (sub->no_ping || sub->relay->coalesce_backlog == 0)
    sub->confirmed = sub->sent;
  else if (sub->ping == NULL && sub->sent - sub->confirmed >= PING_EVERY)
    {
      sub->ping = g_new0 (Ping, 1);
      sub->ping->sub = sub;
      sub->ping_sent = sub->sent;
      g_dbus_connection_call (sub->relay->connection, sub->name, "/", "org.freedesktop.DBus.Peer", "Ping",
                              NULL, NULL, G_DBUS_CALL_FLAGS_NONE, G_MAXINT, NULL, on_ping_reply, sub->ping);
    }
}

/* A string GVariant of @len bytes of valid UTF-8: checked once already,
 * when the frame was read (utf8.c), not again by g_variant_new_string(). */
static GVariant *
string_new_trusted (const char *text,
                    gsize       len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, len + 1);

  return g_variant_new_from_bytes (G_VARIANT_TYPE_STRING, bytes, TRUE);
}

static GVariant *
delta_out_params (DeltaOut *delta)
{
  if (delta->params == NULL)
    delta->params = g_variant_ref_sink (g_variant_new_tuple ((GVariant *[]) {
                                                               g_variant_new_uint64 (delta->serial),
                                                               string_new_trusted (delta->message_id, delta->id_len),
                                                               g_variant_new_uint32 (delta->stream),
                                                               string_new_trusted (delta->text, delta->text_len) }, 4));
  return delta->params;
}

/* Sends the merged text held for @sub, if any. */
void
copilotd_subscriber_flush (Subscriber *sub)
{
  g_autoptr(GVariant) params = NULL;
  g_autoptr(GBytes) text = NULL;
  GString *held = g_steal_pointer (&sub->held);
  gsize len;

  if (held == NULL)
    return;
  /* Every part was UTF-8 (checked when read), so the whole is. */
  len = held->len;
  text = g_bytes_new_take (g_string_free (held, FALSE), len + 1);
  params = g_variant_ref_sink (g_variant_new_tuple ((GVariant *[]) {
                                                      g_variant_new_uint64 (sub->held_serial),
                                                      string_new_trusted (sub->last_message_id,
                                                                          strlen (sub->last_message_id)),
                                                      g_variant_new_uint32 (sub->last_stream),
                                                      g_variant_new_from_bytes (G_VARIANT_TYPE_STRING, text, TRUE) }, 4));
  copilotd_subscriber_send (sub, "Delta", params);
}

/* Sends @delta to @sub or holds it; @in_run: it was read with others. */
void
copilotd_subscriber_send_delta (Subscriber *sub,
                                DeltaOut   *delta,
                                gboolean    in_run)
{
  CopilotdEventRelay *relay = sub->relay;
  gboolean same = sub->last_stream == delta->stream &&
                  g_strcmp0 (sub->last_message_id, delta->message_id) == 0;

  if (sub->held != NULL)
    {
      gsize max = MIN (MAX_MERGED_BYTES, relay->max_message_size - COPILOTD_MESSAGE_RESERVE);

      if (!same || sub->held->len + delta->text_len > max)
        copilotd_subscriber_flush (sub);
    }
  /* Never the first delta of a message. */
  if (same && (sub->held != NULL || subscriber_behind (sub) || (in_run && relay->coalesce_backlog > 0)))
    {
      if (sub->held == NULL)
        sub->held = g_string_sized_new (MAX (256, 4 * delta->text_len));
      g_string_append_len (sub->held, delta->text, (gssize) delta->text_len);
      sub->held_serial = delta->serial;
      if (in_run && !relay->in_run)
        {
          if (runs == NULL)
            runs = g_ptr_array_new ();
          g_ptr_array_add (runs, relay);
          relay->in_run = TRUE;
        }
      return;
    }
  if (!same)
    {
      g_free (sub->last_message_id);
      sub->last_message_id = g_strndup (delta->message_id, delta->id_len);
      sub->last_stream = delta->stream;
    }
  copilotd_subscriber_send (sub, "Delta", delta_out_params (delta));
}

void
copilotd_event_relay_subscribe (CopilotdEventRelay *relay,
                                const char         *name,
                                const char * const *types)
{
  Subscriber *sub = g_new0 (Subscriber, 1);
  Subscriber *old = g_hash_table_lookup (relay->subscribers, name);

  if (old != NULL)
    copilotd_subscriber_flush (old);
  sub->relay = relay;
  sub->name = g_strdup (name);
  sub->destination = g_variant_ref_sink (g_variant_new_string (name));
  if (types != NULL)
    {
      sub->types = g_strdupv ((char **) types);
      sub->patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_pattern_spec_free);
      for (guint i = 0; types[i] != NULL; i++)
        {
          g_ptr_array_add (sub->patterns, g_pattern_spec_new (types[i]));
          if (copilotd_event_is_noise (types[i]))
            sub->noise_names++;
        }
      noise_by_name += sub->noise_names;
    }
  g_hash_table_replace (relay->subscribers, g_strdup (name), sub);
}

gboolean
copilotd_event_relay_unsubscribe (CopilotdEventRelay *relay,
                                  const char         *name)
{
  return g_hash_table_remove (relay->subscribers, name);
}

gboolean
copilotd_event_relay_is_subscribed (CopilotdEventRelay *relay,
                                    const char         *name)
{
  return name != NULL && g_hash_table_contains (relay->subscribers, name);
}

guint
copilotd_event_relay_get_n_subscribers (CopilotdEventRelay *relay)
{
  return g_hash_table_size (relay->subscribers);
}

/* @exact: only a pattern naming @type exactly counts. */
gboolean
copilotd_subscriber_wants (Subscriber *sub,
                           const char *type,
                           gboolean    exact)
{
  if (sub->types == NULL)
    return !exact;
  for (guint i = 0; sub->types[i] != NULL; i++)
    {
      if (strcmp (sub->types[i], type) == 0)
        return TRUE;
      if (!exact && g_pattern_spec_match_string (g_ptr_array_index (sub->patterns, i), type))
        return TRUE;
    }
  return FALSE;
}

/* Sends what every relay holds of runs of deltas to each subscriber that is
 * not behind; the stream is no longer merged. */
static void
send_runs (void)
{
  /* The source has a ready time only while a stream is merged. */
  if (run_started != 0)
    g_source_set_ready_time (run_source, -1);
  run_started = 0;
  while (runs != NULL && runs->len > 0)
    {
      CopilotdEventRelay *relay = g_ptr_array_steal_index_fast (runs, runs->len - 1);
      GHashTableIter iter;
      Subscriber *sub;

      relay->in_run = FALSE;
      g_hash_table_iter_init (&iter, relay->subscribers);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &sub))
        if (!subscriber_behind (sub))
          copilotd_subscriber_flush (sub);
    }
}

static gboolean
run_source_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  send_runs ();
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs run_source_funcs = { .dispatch = run_source_dispatch };

/**
 * copilotd_event_relay_end_run:
 * @end: how the run ended
 *
 * Ends a run of deltas read together, for which
 * copilotd_event_relay_relay_delta() holds the later deltas of a message,
 * and sends what every relay holds of runs, or holds it on while the
 * stream is merged (see the top of this file). The JSON-RPC reader calls
 * it before any other frame and when the bytes read so far are used up
 * (copilotd_jsonrpc_set_run_end_func()).
 */
void
copilotd_event_relay_end_run (CopilotdJsonrpcRunEnd end)
{
  gint64 now = g_get_monotonic_time ();
  gboolean streaming = run_started != 0 && now - run_last < RUN_QUIET_US;

  run_last = now;
  if (end == COPILOTD_JSONRPC_RUN_BEFORE_FRAME ||
      (end == COPILOTD_JSONRPC_RUN_ALONE && !streaming) ||
      runs == NULL || runs->len == 0)
    {
      send_runs ();
      return;
    }
  if (run_started == 0)
    run_started = now;
  if (run_source == NULL)
    {
      /* One source for the process, ready when held text is due. */
      run_source = g_source_new (&run_source_funcs, sizeof (GSource));
      g_source_set_static_name (run_source, "[copilotd] merged deltas due");
      g_source_attach (run_source, NULL);
    }
  g_source_set_ready_time (run_source, MIN (run_started + RUN_HOLD_US, now + RUN_PAUSE_US));
}

gboolean
copilotd_event_noise_named (void)
{
  return noise_by_name > 0;
}

void
copilotd_event_relay_leave_runs (CopilotdEventRelay *relay)
{
  if (relay->in_run)
    g_ptr_array_remove_fast (runs, relay);
  relay->in_run = FALSE;
}
