/* SPDX-License-Identifier: MIT */
/* event-relay.c: CLI events to unicast Event/Delta signals, and a replay ring
 *
 * Each CLI event gets the session's next serial (increasing across Event
 * and Delta), goes to the subscribers that want it (event-subscribers.c:
 * unicast, deltas merged under pressure) and into a bounded ring that
 * GetEvents reads.
 */
#include "config.h"

#include <string.h>

#include "options.h"
#include "bounded.h"
#include "event-relay-private.h"
#include "json-fast.h"

/* What the replay ring keeps of one relayed event. Most are deltas that no
 * subscriber asked to get as Event: for those the ring keeps the few
 * strings their Event tuple is made of and builds it only when GetEvents
 * asks (README "Performance": building the meta, the data JSON and the
 * tuple of every delta, and freeing them, was a sixth of its cost). */
typedef enum {
  COMPACT_REASONING = 1 << 0,  /* assistant.reasoning_delta, reasoningId */
  COMPACT_ID_LAST   = 1 << 1,  /* data is {"deltaContent", id} in that order */
  COMPACT_EPHEMERAL = 1 << 2,
  COMPACT_HAS_ID    = 1 << 3,  /* meta strings present, in this order */
  COMPACT_HAS_PARENT = 1 << 4,
  COMPACT_HAS_TIMESTAMP = 1 << 5,
  COMPACT_HAS_AGENT = 1 << 6,
} CompactFlags;

typedef struct {
  guint64 serial;
  gsize size;                  /* counted against ring-max-bytes */
  GVariant *event;             /* owned, nullable: the Event tuple; NULL for a compact delta */
  guint flags;                 /* CompactFlags, of a compact delta */
  char strings[];              /* a compact delta: message id, text, then the meta
                                * strings of the flags, each NUL-terminated */
} RingEntry;

static void
ring_entry_free (RingEntry *entry)
{
  g_clear_pointer (&entry->event, g_variant_unref);
  g_free (entry);
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
  relay->path_value = g_variant_ref_sink (g_variant_new_object_path (object_path));
  relay->subscribers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) copilotd_subscriber_free);
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
  copilotd_event_relay_leave_runs (relay);
  g_object_unref (relay->connection);
  g_free (relay->path);
  g_variant_unref (relay->path_value);
  g_hash_table_unref (relay->subscribers);
  g_queue_clear_full (&relay->ring, (GDestroyNotify) ring_entry_free);
  g_free (relay);
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

static const char *
meta_string (JsonObject *event,
             const char *member)
{
  JsonNode *node = json_object_get_member (event, member);

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  return NULL;
}

/* The Event meta a{sv}, floating: the nullable strings are left out. */
static GVariant *
meta_new (const char *id,
          const char *parent_id,
          const char *timestamp,
          gboolean    ephemeral,
          const char *agent_id,
          gboolean    truncated)
{
  GVariant *entries[6];
  gsize n = 0;

  if (id != NULL)
    entries[n++] = meta_string_entry ("id", id);
  if (parent_id != NULL)
    entries[n++] = meta_string_entry ("parent-id", parent_id);
  if (timestamp != NULL)
    entries[n++] = meta_string_entry ("timestamp", timestamp);
  entries[n++] = g_variant_new_dict_entry (g_variant_new_string ("ephemeral"),
                                           g_variant_new_variant (g_variant_new_boolean (ephemeral != FALSE)));
  if (agent_id != NULL)
    entries[n++] = meta_string_entry ("agent-id", agent_id);
  if (truncated)
    entries[n++] = g_variant_new_dict_entry (g_variant_new_string ("truncated"),
                                             g_variant_new_variant (g_variant_new_boolean (TRUE)));
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n);
}

/* The Event meta of @event; with "truncated" when @truncated. */
static GVariant *
event_meta (JsonObject *event,
            gboolean    truncated)
{
  return meta_new (meta_string (event, "id"), meta_string (event, "parentId"),
                   meta_string (event, "timestamp"),
                   copilotd_json_get_boolean (event, "ephemeral", FALSE),
                   meta_string (event, "agentId"), truncated);
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

/* Keeps @entry, dropping the oldest past either limit. */
static void
ring_push (CopilotdEventRelay *relay,
           RingEntry          *entry)
{
  g_queue_push_tail (&relay->ring, entry);
  relay->ring_bytes += entry->size;

  while (relay->ring.length > 1 &&
         (relay->ring.length > relay->ring_max_events || relay->ring_bytes > relay->ring_max_bytes))
    {
      RingEntry *old = g_queue_pop_head (&relay->ring);

      relay->ring_bytes -= old->size;
      relay->ring_dropped_up_to = old->serial + 1;
      ring_entry_free (old);
    }
}

static void
ring_push_event (CopilotdEventRelay *relay,
                 guint64             serial,
                 GVariant           *event)
{
  RingEntry *entry = g_new0 (RingEntry, 1);

  entry->serial = serial;
  entry->event = g_variant_ref (event);
  entry->size = g_variant_get_size (event);
  ring_push (relay, entry);
}

/* A delta's data is {"messageId"|"reasoningId": s, "deltaContent": s}, in
 * either order, and nothing else: whether its Event can be rebuilt from
 * those two strings (*@id_last: in the order deltaContent, id). */
static gboolean
delta_is_plain (JsonObject *data,
                const char *id_member,
                gboolean   *id_last)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  guint i = 0;

  if (data == NULL || json_object_get_size (data) != 2)
    return FALSE;
  json_object_iter_init_ordered (&iter, data);
  while (json_object_iter_next_ordered (&iter, &name, &node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return FALSE;
      if (strcmp (name, "deltaContent") == 0)
        *id_last = i == 0;
      else if (strcmp (name, id_member) != 0)
        return FALSE;
      i++;
    }
  return TRUE;
}

/* Keeps a plain delta (delta_is_plain()) as its strings. */
static void
ring_push_compact (CopilotdEventRelay      *relay,
                   guint64                  serial,
                   const CopilotdJsonDelta *delta)
{
  const char *meta[] = { delta->id, delta->parent_id, delta->timestamp, delta->agent_id };
  static const guint has[] = { COMPACT_HAS_ID, COMPACT_HAS_PARENT, COMPACT_HAS_TIMESTAMP, COMPACT_HAS_AGENT };
  gsize lengths[2 + G_N_ELEMENTS (meta)] = { delta->message_id_len, delta->text_len };
  const char *strings[2 + G_N_ELEMENTS (meta)] = { delta->message_id, delta->text };
  gsize n = 2, total = delta->message_id_len + delta->text_len + 2;
  RingEntry *entry;
  char *p;

  for (guint i = 0; i < G_N_ELEMENTS (meta); i++)
    if (meta[i] != NULL)
      {
        strings[n] = meta[i];
        total += (lengths[n] = strlen (meta[i])) + 1;
        n++;
      }

  entry = g_malloc (sizeof (RingEntry) + total);
  entry->serial = serial;
  entry->event = NULL;
  entry->flags = (delta->reasoning ? COMPACT_REASONING : 0) | (delta->id_last ? COMPACT_ID_LAST : 0) |
                 (delta->ephemeral ? COMPACT_EPHEMERAL : 0);
  for (guint i = 0; i < G_N_ELEMENTS (meta); i++)
    if (meta[i] != NULL)
      entry->flags |= has[i];
  p = entry->strings;
  for (gsize i = 0; i < n; i++)
    {
      memcpy (p, strings[i], lengths[i] + 1);
      p += lengths[i] + 1;
    }
  /* About what its Event tuple weighs serialised: the strings, the data
   * JSON's punctuation and member names, the meta keys and framing. */
  entry->size = total + 128;
  ring_push (relay, entry);
}

/* The Event tuple (tsa{sv}s) of a ring entry, floating or not. */
static GVariant *
ring_entry_event (CopilotdEventRelay *relay,
                  RingEntry          *entry)
{
  const char *message_id, *text, *meta[4] = { NULL, };
  static const guint has[] = { COMPACT_HAS_ID, COMPACT_HAS_PARENT, COMPACT_HAS_TIMESTAMP, COMPACT_HAS_AGENT };
  const char *id_member = entry->flags & COMPACT_REASONING ? "reasoningId" : "messageId";
  g_autoptr(JsonNode) data = NULL;
  JsonObject *object;
  const char *p;

  if (entry->event != NULL)
    return entry->event;

  message_id = entry->strings;
  text = message_id + strlen (message_id) + 1;
  p = text + strlen (text) + 1;
  for (guint i = 0; i < G_N_ELEMENTS (meta); i++)
    if (entry->flags & has[i])
      {
        meta[i] = p;
        p += strlen (p) + 1;
      }

  /* The same object json-glib read, so the same text as the Event had. */
  object = json_object_new ();
  if (!(entry->flags & COMPACT_ID_LAST))
    json_object_set_string_member (object, id_member, message_id);
  json_object_set_string_member (object, "deltaContent", text);
  if (entry->flags & COMPACT_ID_LAST)
    json_object_set_string_member (object, id_member, message_id);
  data = copilotd_json_node_take_object (object);

  return g_variant_new_tuple ((GVariant *[]) {
                                g_variant_new_uint64 (entry->serial),
                                g_variant_new_string (entry->flags & COMPACT_REASONING ? "assistant.reasoning_delta"
                                                                                        : "assistant.message_delta"),
                                meta_new (meta[0], meta[1], meta[2], (entry->flags & COMPACT_EPHEMERAL) != 0,
                                          meta[3], FALSE),
                                g_variant_new_take_string (json_to_string (data, FALSE)) }, 4);
}

/* The Event tuple of @event numbered @serial, floating. */
static GVariant *
event_new (CopilotdEventRelay *relay,
           JsonObject         *event,
           const char         *type,
           JsonNode           *data,
           guint64             serial)
{
  gsize text_max = relay->max_message_size - COPILOTD_MESSAGE_RESERVE;
  gboolean truncated = FALSE;
  char *data_json;

  data_json = data ? copilotd_json_to_string_bounded (data, text_max, &truncated) : g_strdup ("{}");
  return g_variant_new_tuple ((GVariant *[]) {
                                g_variant_new_uint64 (serial),
                                g_variant_new_take_string (copilotd_utf8_strdup_bounded (type, COPILOTD_META_STRING_MAX, NULL)),
                                event_meta (event, truncated),
                                g_variant_new_take_string (data_json) }, 4);
}

/* Whether @delta's Event can be rebuilt from its strings: its data JSON
 * (each character escaped as \u00XX at worst) fits uncut. */
static gboolean
delta_fits_compact (CopilotdEventRelay      *relay,
                    const CopilotdJsonDelta *delta)
{
  return (delta->message_id_len + delta->text_len) * 6 + 64 <=
         relay->max_message_size - COPILOTD_MESSAGE_RESERVE;
}

/* Sends @delta, numbered @serial, to the @n_to subscribers of @to that get
 * it as Delta (merged with the next ones for one that is behind, or when
 * @in_run: read with others). */
static void
send_delta (CopilotdEventRelay      *relay,
            Subscriber             **to,
            guint                    n_to,
            guint64                  serial,
            const CopilotdJsonDelta *delta,
            gboolean                 in_run)
{
  gsize text_max = relay->max_message_size - COPILOTD_MESSAGE_RESERVE;
  g_autofree char *cut_id = NULL;
  g_autofree char *cut_text = NULL;
  DeltaOut out = {
    .serial = serial,
    .message_id = delta->message_id,
    .id_len = delta->message_id_len,
    .stream = delta->reasoning ? 1u : 0u,
    .text = delta->text,
    .text_len = delta->text_len,
  };

  if (n_to == 0)
    return;
  if (out.id_len > COPILOTD_META_STRING_MAX)
    {
      out.message_id = cut_id = copilotd_utf8_strdup_bounded (out.message_id, COPILOTD_META_STRING_MAX, NULL);
      out.id_len = strlen (cut_id);
    }
  if (out.text_len > text_max)
    {
      out.text = cut_text = copilotd_utf8_strdup_bounded (out.text, text_max, NULL);
      out.text_len = strlen (cut_text);
    }
  for (guint i = 0; i < n_to; i++)
    copilotd_subscriber_send_delta (to[i], &out, in_run);
  g_clear_pointer (&out.params, g_variant_unref);
}

/**
 * copilotd_event_relay_relay_delta:
 * @delta: a plain delta read without a tree (copilotd_json_read_delta())
 *
 * Does what copilotd_event_relay_relay() does with the same event, when
 * that is keeping it as its strings and sending it as Delta.
 *
 * Returns: %FALSE, having done nothing, when it is not: a subscriber gets
 *   it as Event, or it is too large to be kept as strings.
 */
gboolean
copilotd_event_relay_relay_delta (CopilotdEventRelay      *relay,
                                  const CopilotdJsonDelta *delta)
{
  guint n_subscribers = g_hash_table_size (relay->subscribers);
  GHashTableIter iter;
  Subscriber *sub;
  Subscriber *few[4];
  g_autofree Subscriber **many = NULL;
  Subscriber **to = few;
  guint n_to = 0;
  guint64 serial;

  if (!delta_fits_compact (relay, delta))
    return FALSE;
  if (n_subscribers > G_N_ELEMENTS (few))
    to = many = g_new (Subscriber *, n_subscribers);
  g_hash_table_iter_init (&iter, relay->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &sub))
    {
      if (copilotd_subscriber_wants (sub, delta->type, TRUE))
        return FALSE;
      if (copilotd_subscriber_wants (sub, delta->type, FALSE))
        to[n_to++] = sub;
    }

  serial = relay->next_serial++;
  ring_push_compact (relay, serial, delta);
  send_delta (relay, to, n_to, serial, delta, TRUE);
  return TRUE;
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
  Subscriber *few[8];
  g_autofree Subscriber **many = NULL;
  Subscriber **event_to = few, **delta_to = few + G_N_ELEMENTS (few) / 2;
  guint n_event_to = 0, n_delta_to = 0;
  g_autoptr(GVariant) entry = NULL;
  guint64 serial;

  if (type == NULL)
    return;
  noise = copilotd_event_is_noise (type);
  delta = is_delta (type);

  /* Who gets it as Event, who as Delta: on the stack for a few. */
  if (g_hash_table_size (relay->subscribers) > G_N_ELEMENTS (few) / 2)
    {
      event_to = many = g_new (Subscriber *, 2 * g_hash_table_size (relay->subscribers));
      delta_to = many + g_hash_table_size (relay->subscribers);
    }
  g_hash_table_iter_init (&iter, relay->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &sub))
    {
      if (delta && copilotd_subscriber_wants (sub, type, FALSE))
        delta_to[n_delta_to++] = sub;
      if (((noise || delta) && copilotd_subscriber_wants (sub, type, TRUE)) ||
          (!noise && !delta && copilotd_subscriber_wants (sub, type, FALSE)))
        event_to[n_event_to++] = sub;
    }

  /* Noise nobody asked for by name costs nothing: not serialised, no serial. */
  if (noise && n_event_to == 0)
    return;

  serial = relay->next_serial++;

  if (delta)
    {
      JsonObject *d = data && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data) : NULL;
      gboolean reasoning = strcmp (type, "assistant.reasoning_delta") == 0;
      const char *id_member = reasoning ? "reasoningId" : "messageId";
      CopilotdJsonDelta plain = {
        .type = type,
        .id = meta_string (event, "id"),
        .parent_id = meta_string (event, "parentId"),
        .timestamp = meta_string (event, "timestamp"),
        .agent_id = meta_string (event, "agentId"),
        .ephemeral = copilotd_json_get_boolean (event, "ephemeral", FALSE),
        .reasoning = reasoning,
        .message_id = d ? copilotd_json_get_string (d, id_member, "") : "",
        .text = d ? copilotd_json_get_string (d, "deltaContent", "") : "",
      };

      plain.message_id_len = strlen (plain.message_id);
      plain.text_len = strlen (plain.text);
      /* Kept as its strings when nobody gets it as Event and its data
       * JSON fits uncut. */
      if (n_event_to == 0 && delta_fits_compact (relay, &plain) &&
          delta_is_plain (d, id_member, &plain.id_last))
        ring_push_compact (relay, serial, &plain);
      else
        {
          entry = g_variant_ref_sink (event_new (relay, event, type, data, serial));
          ring_push_event (relay, serial, entry);
        }
      send_delta (relay, delta_to, n_delta_to, serial, &plain, FALSE);
    }
  else
    {
      entry = g_variant_ref_sink (event_new (relay, event, type, data, serial));
      if (!noise)
        ring_push_event (relay, serial, entry);
    }

  for (guint i = 0; i < n_event_to; i++)
    {
      Subscriber *to = event_to[i];

      /* Held text goes first: a subscriber sees everything in order. */
      copilotd_subscriber_flush (to);
      copilotd_subscriber_send (to, "Event", entry);
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
      copilotd_subscriber_flush (sub);
      copilotd_event_relay_emit (relay, sub->destination, "Closed", params);
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
      RingEntry *ring_entry = l->data;
      g_autoptr(GVariant) entry = NULL;
      gsize size;

      if (ring_entry->serial < since)
        continue;
      if (max > 0 && n >= max)
        {
          truncated = TRUE;
          break;
        }
      entry = g_variant_ref_sink (ring_entry_event (relay, ring_entry));
      size = g_variant_get_size (entry);
      if (n > 0 && bytes + size > relay->max_message_size - COPILOTD_MESSAGE_RESERVE)
        {
          truncated = TRUE;
          break;
        }
      bytes += size;
      g_variant_builder_add_value (&builder, entry);
      next = ring_entry->serial + 1;
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
                                 gsize       len,
                                 const char *event_type)
{
  g_autofree char *method = NULL;
  g_autofree char *type = NULL;

  if (copilotd_event_noise_named ())
    return FALSE;
  /* The delta reader read the type of this session.event already. */
  if (event_type != NULL)
    return copilotd_event_is_noise (event_type);
  if (!copilotd_json_peek_event (body, len, &method, &type))
    return FALSE;
  return strcmp (method, "session.event") == 0 && copilotd_event_is_noise (type);
}
