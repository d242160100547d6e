/* SPDX-License-Identifier: MIT */
/* bounded.c: keeping what the daemon sends under the bus's message size
 *
 * dbus-daemon drops the connection of a peer that sends a message over
 * its limit (32 MiB by default, on the system bus too), which would end
 * every session of every user. The CLI relays text of any size from
 * models and tools, so nothing built from it goes out whole: strings are
 * cut at a character boundary to fit the configured max-message-size, and
 * what was cut says so (`truncated b` in its meta).
 */
#include "config.h"

#include <string.h>

#include "options.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "event-relay.h"

/* The longest prefix of valid UTF-8 @text within @max_bytes. */
static gsize
utf8_prefix_len (const char *text,
                 gsize       len,
                 gsize       max_bytes)
{
  gsize cut;

  if (len <= max_bytes)
    return len;
  cut = max_bytes;
  while (cut > 0 && ((guchar) text[cut] & 0xc0) == 0x80)
    cut--;
  return cut;
}

/**
 * copilotd_utf8_strdup_bounded:
 * @text: valid UTF-8
 * @out_truncated: (out) (optional): set to %TRUE when @text was cut
 *
 * Returns: (transfer full): @text, or its longest prefix of whole
 *   characters within @max_bytes.
 */
char *
copilotd_utf8_strdup_bounded (const char *text,
                              gsize       max_bytes,
                              gboolean   *out_truncated)
{
  gsize len = strlen (text);
  gsize cut = utf8_prefix_len (text, len, max_bytes);

  if (out_truncated != NULL && cut < len)
    *out_truncated = TRUE;
  return g_strndup (text, cut);
}

/* A copy of @node with every string (and member name) cut to @limit bytes;
 * never copies a long string whole. */
static JsonNode *
copy_cut (JsonNode *node,
          gsize     limit)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *copy = json_object_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          {
            g_autofree char *cut_name = copilotd_utf8_strdup_bounded (name, limit, NULL);

            json_object_set_member (copy, cut_name, copy_cut (member, limit));
          }
        JsonNode *result = json_node_alloc ();

        json_node_init (result, JSON_NODE_OBJECT);
        json_node_take_object (result, copy);
        return result;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        JsonArray *copy = json_array_sized_new (n);

        for (guint i = 0; i < n; i++)
          json_array_add_element (copy, copy_cut (json_array_get_element (array, i), limit));
        JsonNode *result = json_node_alloc ();

        json_node_init (result, JSON_NODE_ARRAY);
        json_node_take_array (result, copy);
        return result;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        {
          g_autofree char *cut = copilotd_utf8_strdup_bounded (json_node_get_string (node), limit, NULL);

          return json_node_init_string (json_node_alloc (), cut);
        }
      return json_node_copy (node);
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

/**
 * copilotd_json_to_string_bounded:
 * @out_truncated: (out): whether strings were cut (or, when cutting them
 *   was not enough, the whole value replaced by `{}`)
 *
 * Returns: (transfer full): compact JSON text of @node, at most @max_bytes
 *   long: its longest strings cut until it fits.
 */
char *
copilotd_json_to_string_bounded (JsonNode *node,
                                 gsize     max_bytes,
                                 gboolean *out_truncated)
{
  char *text = json_to_string (node, FALSE);
  gsize limit = max_bytes;

  *out_truncated = FALSE;
  while (strlen (text) > max_bytes)
    {
      g_autoptr(JsonNode) cut = NULL;

      *out_truncated = TRUE;
      g_free (text);
      /* Too many small values: no string cut makes it fit. */
      if (limit < 64)
        return g_strdup ("{}");
      cut = copy_cut (node, limit);
      text = json_to_string (cut, FALSE);
      limit /= 2;
    }
  return text;
}

static GVariant *
history_entry (JsonObject *event,
               guint       offset,
               gsize       max_bytes,
               gboolean    more)
{
  JsonNode *data = json_object_get_member (event, "data");
  g_autofree char *type = copilotd_utf8_strdup_bounded (copilotd_json_get_string (event, "type", ""),
                                                        COPILOTD_META_STRING_MAX, NULL);
  g_autofree char *data_json = NULL;
  gboolean truncated = FALSE;
  GVariantBuilder meta;

  data_json = data ? copilotd_json_to_string_bounded (data, max_bytes, &truncated) : g_strdup ("{}");
  g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
  copilotd_event_meta_add (&meta, event);
  g_variant_builder_add (&meta, "{sv}", "offset", g_variant_new_uint32 (offset));
  if (truncated)
    g_variant_builder_add (&meta, "{sv}", "truncated", g_variant_new_boolean (TRUE));
  if (more)
    g_variant_builder_add (&meta, "{sv}", "more", g_variant_new_boolean (TRUE));
  return g_variant_new ("(s@a{sv}s)", type, g_variant_builder_end (&meta), data_json);
}

/**
 * copilotd_history_page:
 * @events: (nullable): the CLI's persisted events
 * @max_count: at most this many entries, 0 for no count limit
 *
 * The GetMessages reply a(sa{sv}s), floating: the entries from @offset on,
 * as many as fit in @max_bytes (at least one, cut to fit). Each entry's
 * meta has `offset u`; the last one has `more b` = true when the page
 * stops before the end of the history.
 */
GVariant *
copilotd_history_page (JsonArray *events,
                       guint      offset,
                       guint      max_count,
                       gsize      max_bytes)
{
  guint n = events ? json_array_get_length (events) : 0;
  gsize entry_max = max_bytes > 2 * COPILOTD_MESSAGE_RESERVE ? max_bytes - COPILOTD_MESSAGE_RESERVE
                                                             : max_bytes / 2;
  gsize total = 0;
  GVariantBuilder builder;
  g_autoptr(GVariant) pending = NULL;
  guint pending_index = 0;
  guint i;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sa{sv}s)"));
  for (i = offset; i < n && (max_count == 0 || i - offset < max_count); i++)
    {
      JsonNode *node = json_array_get_element (events, i);
      g_autoptr(GVariant) entry = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      entry = g_variant_ref_sink (history_entry (json_node_get_object (node), i, entry_max, FALSE));
      if (pending != NULL && total + g_variant_get_size (entry) > entry_max)
        break;
      total += g_variant_get_size (entry);
      if (pending != NULL)
        g_variant_builder_add_value (&builder, pending);
      g_clear_pointer (&pending, g_variant_unref);
      pending = g_steal_pointer (&entry);
      pending_index = i;
    }
  /* The last entry goes in once it is known whether more follow. */
  if (pending != NULL && i < n)
    {
      JsonNode *node = json_array_get_element (events, pending_index);

      g_clear_pointer (&pending, g_variant_unref);
      pending = g_variant_ref_sink (history_entry (json_node_get_object (node), pending_index, entry_max, TRUE));
    }
  if (pending != NULL)
    g_variant_builder_add_value (&builder, pending);
  return g_variant_builder_end (&builder);
}

/**
 * copilotd_check_subscribe_types:
 * @types: (nullable): the `as` of Subscribe's `types` option
 *
 * Every relayed event is matched against every pattern of every
 * subscriber on the one main loop, so their number and length are bounded.
 *
 * Returns: %FALSE with COPILOTD_ERROR_LIMITS_EXCEEDED past a bound
 */
gboolean
copilotd_check_subscribe_types (GVariant  *types,
                                GError   **error)
{
  gsize n;

  if (types == NULL)
    return TRUE;
  n = g_variant_n_children (types);
  if (n > COPILOTD_MAX_SUBSCRIBE_TYPES)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                   "At most %d types may be given, not %" G_GSIZE_FORMAT,
                   COPILOTD_MAX_SUBSCRIBE_TYPES, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      const char *type;

      g_variant_get_child (types, i, "&s", &type);
      if (strlen (type) > COPILOTD_MAX_SUBSCRIBE_TYPE_BYTES)
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                       "A type pattern may be at most %d bytes long",
                       COPILOTD_MAX_SUBSCRIBE_TYPE_BYTES);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * copilotd_return_value_bounded:
 * @reply: (transfer floating): the reply's parameters
 * @max_bytes: max-message-size
 *
 * Answers @invocation with @reply, or, when that message could exceed
 * @max_bytes (its header included), with LimitsExceeded: a reply the bus
 * refuses would disconnect the daemon. For replies built from what the
 * CLI sent (lists, results, echoes), which no client bounds.
 */
void
copilotd_return_value_bounded (GDBusMethodInvocation *invocation,
                               GVariant              *reply,
                               gsize                  max_bytes)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (reply);
  gsize size = g_variant_get_size (owned);

  if (size + COPILOTD_MESSAGE_RESERVE > MAX (max_bytes, 2 * COPILOTD_MESSAGE_RESERVE))
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                                             "The reply to %s would be %" G_GSIZE_FORMAT " bytes, "
                                             "over max-message-size (%" G_GSIZE_FORMAT ")",
                                             g_dbus_method_invocation_get_method_name (invocation),
                                             size, max_bytes);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, owned);
}
