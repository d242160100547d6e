/* SPDX-License-Identifier: MIT */
/* event-relay.c: CLI events to unicast Event/Delta signals, and a replay ring
 *
 * Signals go to each subscriber with g_dbus_connection_emit_signal and a
 * destination, never broadcast: chat content must not reach processes
 * that merely match on the interface (DESIGN.md §4). Serials increase
 * across Event and Delta; a bounded ring keeps what was relayed for
 * GetEvents.
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
 */
#include "config.h"

#include <string.h>

#include "options.h"
#include "bounded.h"
#include "event-relay.h"
#include "json-fast.h"

#define SESSION_INTERFACE "io.github.copilotd.Copilot1.Session"

#define PING_EVERY 32
#define MAX_MERGED_BYTES (64 * 1024)

typedef struct _Subscriber Subscriber;

/* A Ping in flight; outlives its subscriber, which clears @sub. */
typedef struct {
  Subscriber *sub;             /* unowned, nullable */
} Ping;

struct _Subscriber {
  CopilotdEventRelay *relay;   /* unowned: owns this */
  char *name;                  /* owned: unique name */
  GStrv types;                 /* owned, nullable: NULL receives everything */
  GPtrArray *patterns;         /* owned, nullable: GPatternSpec* */
  guint64 sent;                /* signals sent to it */
  guint64 confirmed;           /* of those, how many it has read */
  Ping *ping;                  /* nullable, owned by the call */
  gboolean no_ping;            /* the bus refuses our Ping: never merge */
  guint64 ping_sent;           /* @sent when @ping went out */
  char *last_message_id;       /* owned, nullable: of the last Delta sent or held */
  guint last_stream;
  GString *held;               /* owned, nullable: merged text not sent yet */
  guint64 held_serial;
  guint noise_names;           /* of @types, how many name noise */
};

/* Subscriptions, in every session, that name an internal noise type: while
 * there are none, noise frames are dropped before they are parsed. */
static guint noise_by_name;

struct _CopilotdEventRelay
{
  GDBusConnection *connection; /* owned */
  char *path;                  /* owned */
  GHashTable *subscribers;     /* owned: name → Subscriber* */
  guint64 next_serial;
  GQueue ring;                 /* GVariant* (tsa{sv}s) owned: what Event carried */
  gsize ring_bytes;
  guint64 ring_dropped_up_to;  /* serials below this were dropped */
  guint ring_max_events;
  gsize ring_max_bytes;
  gsize max_message_size;      /* no signal nor reply grows past this */
  guint coalesce_backlog;      /* 0: never merge */
};

/* Internal noise: dropped before the bus unless asked for by name. */
static gboolean
is_noise (const char *type)
{
  return g_str_has_prefix (type, "model.") ||
         strcmp (type, "host.event") == 0 ||
         strcmp (type, "session.background_tasks_changed") == 0 ||
         strcmp (type, "assistant.streaming_delta") == 0 ||
         strcmp (type, "system.message") == 0;
}

static void
subscriber_free (Subscriber *sub)
{
  noise_by_name -= sub->noise_names;
  if (sub->ping != NULL)
    sub->ping->sub = NULL;
  g_free (sub->last_message_id);
  if (sub->held != NULL)
    g_string_free (sub->held, TRUE);
  g_free (sub->name);
  g_strfreev (sub->types);
  g_clear_pointer (&sub->patterns, g_ptr_array_unref);
  g_free (sub);
}

CopilotdEventRelay *
copilotd_event_relay_new (GDBusConnection *connection,
                          const char      *object_path,
                          guint            ring_max_events,
                          gsize            ring_max_bytes)
{
  CopilotdEventRelay *relay = g_new0 (CopilotdEventRelay, 1);

  relay->connection = g_object_ref (connection);
  relay->path = g_strdup (object_path);
  relay->subscribers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) subscriber_free);
  g_queue_init (&relay->ring);
  relay->next_serial = 1;
  relay->ring_max_events = ring_max_events;
  relay->ring_max_bytes = ring_max_bytes;
  relay->max_message_size = 8 * 1024 * 1024;
  relay->coalesce_backlog = 128;
  return relay;
}

/* Text beyond this is cut (bounded.c); at least twice the reserve. */
void
copilotd_event_relay_set_max_message_size (CopilotdEventRelay *relay,
                                           gsize               max_message_size)
{
  relay->max_message_size = MAX (max_message_size, 2 * COPILOTD_MESSAGE_RESERVE);
}

void
copilotd_event_relay_set_coalesce_backlog (CopilotdEventRelay *relay,
                                           guint               backlog)
{
  relay->coalesce_backlog = backlog;
}

void
copilotd_event_relay_free (CopilotdEventRelay *relay)
{
  g_object_unref (relay->connection);
  g_free (relay->path);
  g_hash_table_unref (relay->subscribers);
  g_queue_clear_full (&relay->ring, (GDestroyNotify) g_variant_unref);
  g_free (relay);
}

static void
emit_to (CopilotdEventRelay *relay,
         const char         *destination,
         const char         *signal_name,
         GVariant           *parameters)
{
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (relay->connection, destination, relay->path,
                                      SESSION_INTERFACE, signal_name, parameters, &error))
    g_debug ("Cannot send %s to '%s': %s", signal_name, destination, error->message);
}

/* ---- pressure: what a subscriber has not read yet -------------------------- */

static void subscriber_flush (Subscriber *sub);

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
  if (sub->held != NULL && !subscriber_behind (sub))
    subscriber_flush (sub);
}

/* Sends @parameters to @sub and asks, now and then, what it has read. */
static void
subscriber_send (Subscriber *sub,
                 const char *signal_name,
                 GVariant   *parameters)
{
  emit_to (sub->relay, sub->name, signal_name, parameters);
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

/* Sends the merged text held for @sub, if any. */
static void
subscriber_flush (Subscriber *sub)
{
  g_autoptr(GVariant) params = NULL;
  GString *held = g_steal_pointer (&sub->held);

  if (held == NULL)
    return;
  params = g_variant_ref_sink (g_variant_new_tuple ((GVariant *[]) {
                                                      g_variant_new_uint64 (sub->held_serial),
                                                      g_variant_new_string (sub->last_message_id),
                                                      g_variant_new_uint32 (sub->last_stream),
                                                      g_variant_new_take_string (g_string_free (held, FALSE)) }, 4));
  subscriber_send (sub, "Delta", params);
}

static void
subscriber_send_delta (Subscriber *sub,
                       GVariant   *params,
                       guint64     serial,
                       const char *message_id,
                       guint       stream,
                       const char *text)
{
  gboolean same = sub->last_stream == stream && g_strcmp0 (sub->last_message_id, message_id) == 0;

  if (sub->held != NULL)
    {
      gsize max = MIN (MAX_MERGED_BYTES, sub->relay->max_message_size - COPILOTD_MESSAGE_RESERVE);

      if (same && sub->held->len + strlen (text) <= max)
        {
          g_string_append (sub->held, text);
          sub->held_serial = serial;
          return;
        }
      subscriber_flush (sub);
    }
  if (same && subscriber_behind (sub))
    {
      sub->held = g_string_new (text);
      sub->held_serial = serial;
      return;
    }
  if (!same)
    {
      g_free (sub->last_message_id);
      sub->last_message_id = g_strdup (message_id);
      sub->last_stream = stream;
    }
  subscriber_send (sub, "Delta", params);
}

void
copilotd_event_relay_subscribe (CopilotdEventRelay *relay,
                                const char         *name,
                                const char * const *types)
{
  Subscriber *sub = g_new0 (Subscriber, 1);
  Subscriber *old = g_hash_table_lookup (relay->subscribers, name);

  if (old != NULL)
    subscriber_flush (old);
  sub->relay = relay;
  sub->name = g_strdup (name);
  if (types != NULL)
    {
      sub->types = g_strdupv ((char **) types);
      sub->patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_pattern_spec_free);
      for (guint i = 0; types[i] != NULL; i++)
        {
          g_ptr_array_add (sub->patterns, g_pattern_spec_new (types[i]));
          if (is_noise (types[i]))
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

guint64
copilotd_event_relay_get_next_serial (CopilotdEventRelay *relay)
{
  return relay->next_serial;
}


static gboolean
is_delta (const char *type)
{
  return strcmp (type, "assistant.message_delta") == 0 ||
         strcmp (type, "assistant.reasoning_delta") == 0;
}

/* @exact: only a pattern naming @type exactly counts. */
static gboolean
subscriber_wants (Subscriber *sub,
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

/* A {sv} entry with a string value cut to COPILOTD_META_STRING_MAX. Built
 * with the typed constructors: g_variant_builder_add() parses its format
 * string on every call, which made up a tenth of the cost of relaying a
 * delta (README "Performance"). */
static GVariant *
meta_string_entry (const char *key,
                   const char *value)
{
  GVariant *string;

  if (strlen (value) <= COPILOTD_META_STRING_MAX)
    string = g_variant_new_string (value);
  else
    string = g_variant_new_take_string (copilotd_utf8_strdup_bounded (value, COPILOTD_META_STRING_MAX, NULL));
  return g_variant_new_dict_entry (g_variant_new_string (key), g_variant_new_variant (string));
}

static void
add_meta_string (GVariant  **entries,
                 gsize      *n,
                 JsonObject *event,
                 const char *member,
                 const char *key)
{
  JsonNode *node = json_object_get_member (event, member);

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    entries[(*n)++] = meta_string_entry (key, json_node_get_string (node));
}

/* The Event meta of @event; with "truncated" when @truncated. */
static GVariant *
event_meta (JsonObject *event,
            gboolean    truncated)
{
  GVariant *entries[6];
  gsize n = 0;

  add_meta_string (entries, &n, event, "id", "id");
  add_meta_string (entries, &n, event, "parentId", "parent-id");
  add_meta_string (entries, &n, event, "timestamp", "timestamp");
  entries[n++] = g_variant_new_dict_entry (g_variant_new_string ("ephemeral"),
                                           g_variant_new_variant (g_variant_new_boolean (
                                             copilotd_json_get_boolean (event, "ephemeral", FALSE))));
  add_meta_string (entries, &n, event, "agentId", "agent-id");
  if (truncated)
    entries[n++] = g_variant_new_dict_entry (g_variant_new_string ("truncated"),
                                             g_variant_new_variant (g_variant_new_boolean (TRUE)));
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n);
}

/* Adds the Event meta entries of an envelope to an a{sv} @builder. */
void
copilotd_event_meta_add (GVariantBuilder *builder,
                         JsonObject      *event)
{
  g_autoptr(GVariant) meta = g_variant_ref_sink (event_meta (event, FALSE));
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, meta);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add_value (builder, entry);
      g_variant_unref (entry);
    }
}

GVariant *
copilotd_event_meta (JsonObject *event)
{
  return event_meta (event, FALSE);
}

static guint64
entry_serial (GVariant *entry)
{
  guint64 serial;

  g_variant_get_child (entry, 0, "t", &serial);
  return serial;
}

/* Keeps @entry (sunk), dropping the oldest past either limit. */
static void
ring_push (CopilotdEventRelay *relay,
           GVariant           *entry)
{
  g_queue_push_tail (&relay->ring, g_variant_ref_sink (entry));
  relay->ring_bytes += g_variant_get_size (entry);

  while (relay->ring.length > 1 &&
         (relay->ring.length > relay->ring_max_events || relay->ring_bytes > relay->ring_max_bytes))
    {
      GVariant *old = g_queue_pop_head (&relay->ring);

      relay->ring_bytes -= g_variant_get_size (old);
      relay->ring_dropped_up_to = entry_serial (old) + 1;
      g_variant_unref (old);
    }
}

void
copilotd_event_relay_relay (CopilotdEventRelay *relay,
                            JsonObject         *event)
{
  const char *type = copilotd_json_get_string (event, "type", NULL);
  JsonNode *data = json_object_get_member (event, "data");
  gboolean noise, delta;
  GHashTableIter iter;
  Subscriber *sub;
  g_autoptr(GPtrArray) event_to = g_ptr_array_new ();
  g_autoptr(GPtrArray) delta_to = g_ptr_array_new ();
  g_autofree char *data_json = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autofree char *cut_type = NULL;
  gsize text_max = relay->max_message_size - COPILOTD_MESSAGE_RESERVE;
  gboolean truncated = FALSE;
  guint64 serial;

  if (type == NULL)
    return;
  noise = is_noise (type);
  delta = is_delta (type);

  g_hash_table_iter_init (&iter, relay->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &sub))
    {
      if (delta && subscriber_wants (sub, type, FALSE))
        g_ptr_array_add (delta_to, sub);
      if (((noise || delta) && subscriber_wants (sub, type, TRUE)) ||
          (!noise && !delta && subscriber_wants (sub, type, FALSE)))
        g_ptr_array_add (event_to, sub);
    }

  /* Noise nobody asked for by name costs nothing: not serialised, no serial. */
  if (noise && event_to->len == 0)
    return;

  serial = relay->next_serial++;
  data_json = data ? copilotd_json_to_string_bounded (data, text_max, &truncated) : g_strdup ("{}");
  cut_type = copilotd_utf8_strdup_bounded (type, COPILOTD_META_STRING_MAX, NULL);
  /* Built once: the Event signal's parameters and the ring's entry. */
  entry = g_variant_ref_sink (g_variant_new_tuple ((GVariant *[]) {
                                                   g_variant_new_uint64 (serial),
                                                   g_variant_new_take_string (g_steal_pointer (&cut_type)),
                                                   event_meta (event, truncated),
                                                   g_variant_new_take_string (g_steal_pointer (&data_json)) }, 4));
  if (!noise)
    ring_push (relay, entry);

  if (delta_to->len > 0)
    {
      JsonObject *d = data && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data) : NULL;
      gboolean reasoning = strcmp (type, "assistant.reasoning_delta") == 0;
      const char *message_id = d ? copilotd_json_get_string (d, reasoning ? "reasoningId" : "messageId", "") : "";
      const char *text = d ? copilotd_json_get_string (d, "deltaContent", "") : "";
      g_autofree char *cut_id = copilotd_utf8_strdup_bounded (message_id ? message_id : "", COPILOTD_META_STRING_MAX, NULL);
      g_autofree char *cut_text = copilotd_utf8_strdup_bounded (text ? text : "", text_max, NULL);
      g_autoptr(GVariant) params = g_variant_ref_sink (g_variant_new_tuple ((GVariant *[]) {
                                                                          g_variant_new_uint64 (serial),
                                                                          g_variant_new_string (cut_id),
                                                                          g_variant_new_uint32 (reasoning ? 1u : 0u),
                                                                          g_variant_new_string (cut_text) }, 4));

      for (guint i = 0; i < delta_to->len; i++)
        subscriber_send_delta (g_ptr_array_index (delta_to, i), params, serial, cut_id,
                               reasoning ? 1u : 0u, cut_text);
    }

  for (guint i = 0; i < event_to->len; i++)
    {
      Subscriber *to = g_ptr_array_index (event_to, i);

      /* Held text goes first: a subscriber sees everything in order. */
      subscriber_flush (to);
      subscriber_send (to, "Event", entry);
    }
}

void
copilotd_event_relay_emit_closed (CopilotdEventRelay *relay,
                                  const char         *reason)
{
  GVariantBuilder details;
  g_autoptr(GVariant) params = NULL;
  GHashTableIter iter;
  Subscriber *sub;

  g_variant_builder_init (&details, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&details, "{sv}", "reason", g_variant_new_string (reason));
  params = g_variant_ref_sink (g_variant_new ("(a{sv})", &details));
  g_hash_table_iter_init (&iter, relay->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &sub))
    {
      subscriber_flush (sub);
      emit_to (relay, sub->name, "Closed", params);
    }
}

GVariant *
copilotd_event_relay_get_events (CopilotdEventRelay *relay,
                                 guint64             since,
                                 guint               max)
{
  GVariantBuilder builder;
  guint64 next = since;
  gboolean truncated = since < relay->ring_dropped_up_to;
  gsize bytes = 0;
  guint n = 0;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(tsa{sv}s)"));
  for (GList *l = relay->ring.head; l != NULL; l = l->next)
    {
      guint64 serial = entry_serial (l->data);

      if (serial < since)
        continue;
      if ((max > 0 && n >= max) ||
          (n > 0 && bytes + g_variant_get_size (l->data) > relay->max_message_size - COPILOTD_MESSAGE_RESERVE))
        {
          truncated = TRUE;
          break;
        }
      bytes += g_variant_get_size (l->data);
      g_variant_builder_add_value (&builder, l->data);
      next = serial + 1;
      n++;
    }
  if (n == 0 && !truncated)
    next = MAX (since, relay->next_serial);

  return g_variant_new ("(a(tsa{sv}s)tb)", &builder, next, truncated);
}

/**
 * copilotd_event_relay_drop_frame:
 *
 * The JSON-RPC drop filter (copilotd_jsonrpc_set_drop_func()): a
 * `session.event` of internal noise that no subscriber anywhere named is
 * dropped before json-fast.c or json-glib builds its tree. With the real
 * CLI that is every `assistant.streaming_delta` (one per delta) and the
 * `model.*` and `system.message` events of each model call (tens of KiB).
 */
gboolean
copilotd_event_relay_drop_frame (const char *body,
                                 gsize       len)
{
  g_autofree char *method = NULL;
  g_autofree char *type = NULL;

  if (noise_by_name > 0 || !copilotd_json_peek_event (body, len, &method, &type))
    return FALSE;
  return strcmp (method, "session.event") == 0 && is_noise (type);
}
