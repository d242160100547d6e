/* SPDX-License-Identifier: MIT */
/* lifecycle.c: the Manager's SessionLifecycle signal
 *
 * The CLI's session.lifecycle notifications become SessionLifecycle
 * signals carrying times only (the summary is chat content). They go out
 * through the object manager: on the system bus only to connections of
 * the UID whose CLI told, on the session bus as a broadcast. "updated"
 * follows almost every persisted event: it goes out at most once per
 * session per interval, the latest metadata winning.
 */
#include "config.h"

#include <string.h>

#include "bounded.h"
#include "options.h"
#include "lifecycle.h"

#define ROOT_PATH "/io/github/copilotd/Copilot1"
#define MANAGER_INTERFACE "io.github.copilotd.Copilot1.Manager"

#define UPDATE_INTERVAL_MS 1000

struct _CopilotdLifecycle
{
  CopilotdObjectManager *objects; /* unowned: the manager owns both */
  GHashTable *last;              /* owned: id → gint64* last "updated" (µs) */
  GHashTable *pending;           /* owned: id → GVariant* (u uid, a{sv} metadata) to send */
  guint flush_id;
};

static void
add_time (GVariantBuilder *builder,
          const char      *key,
          JsonObject      *object,
          const char      *member)
{
  const char *value = object ? copilotd_json_get_string (object, member, NULL) : NULL;

  /* The signal reaches every peer: no CLI text makes it too large. */
  if (value != NULL)
    g_variant_builder_add (builder, "{sv}", key,
                           g_variant_new_take_string (copilotd_utf8_strdup_bounded (value, COPILOTD_META_STRING_MAX,
                                                                                    NULL)));
}

static void
emit_lifecycle (CopilotdLifecycle *self,
                uid_t              uid,
                const char        *type,
                const char        *session_id,
                GVariant          *metadata)
{
  copilotd_object_manager_emit (self->objects, uid, ROOT_PATH, MANAGER_INTERFACE, "SessionLifecycle",
                                g_variant_new ("(ss@a{sv})", type, session_id, metadata));
}

static gboolean
is_recent (gint64 *time)
{
  return g_get_monotonic_time () - *time < UPDATE_INTERVAL_MS * 1000;
}

static gboolean
is_stale (gpointer key,
          gpointer value,
          gpointer user_data)
{
  return !is_recent (value);
}

static void
emit_updated (CopilotdLifecycle *self,
              uid_t              uid,
              const char        *id,
              GVariant          *metadata)
{
  gint64 *now = g_new (gint64, 1);

  /* An old time says no more than no time: forget them, so that the
   * table holds only sessions updated within the interval. */
  g_hash_table_foreach_remove (self->last, is_stale, NULL);
  *now = g_get_monotonic_time ();
  g_hash_table_replace (self->last, g_strdup (id), now);
  emit_lifecycle (self, uid, "updated", id, metadata);
}

static gboolean
flush_lifecycle_updates (gpointer user_data)
{
  CopilotdLifecycle *self = user_data;
  GHashTableIter iter;
  const char *id;
  GVariant *pending;

  self->flush_id = 0;
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, (gpointer *) &id, (gpointer *) &pending))
    {
      g_autoptr(GVariant) metadata = g_variant_get_child_value (pending, 1);
      guint32 uid;

      g_variant_get_child (pending, 0, "u", &uid);
      emit_updated (self, (uid_t) uid, id, metadata);
      g_hash_table_iter_remove (&iter);
    }
  return G_SOURCE_REMOVE;
}

void
copilotd_lifecycle_handle (CopilotdLifecycle *self,
                           uid_t              uid,
                           JsonObject        *params)
{
  const char *type = copilotd_json_get_string (params, "type", NULL);
  const char *id = copilotd_json_get_string (params, "sessionId", NULL);
  JsonNode *meta_node = json_object_get_member (params, "metadata");
  JsonObject *meta = meta_node && JSON_NODE_HOLDS_OBJECT (meta_node) ? json_node_get_object (meta_node) : NULL;
  GVariantBuilder builder;
  g_autoptr(GVariant) metadata = NULL;
  gint64 *last;

  if (type == NULL || id == NULL)
    return;
  if (strlen (type) > COPILOTD_META_STRING_MAX || !g_uuid_string_is_valid (id))
    {
      g_debug ("Dropping a session.lifecycle notification that names no session");
      return;
    }
  if (g_str_has_prefix (type, "session."))
    type += strlen ("session.");

  /* Only times: the summary is chat content. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  add_time (&builder, "start-time", meta, "startTime");
  add_time (&builder, "modified-time", meta, "modifiedTime");
  metadata = g_variant_ref_sink (g_variant_builder_end (&builder));

  if (strcmp (type, "updated") != 0)
    {
      if (strcmp (type, "deleted") == 0)
        {
          g_hash_table_remove (self->last, id);
          g_hash_table_remove (self->pending, id);
        }
      emit_lifecycle (self, uid, type, id, metadata);
      return;
    }

  /* "updated" comes after almost every persisted event: at most one per
   * session per interval, the latest metadata winning. */
  last = g_hash_table_lookup (self->last, id);
  if (last == NULL || !is_recent (last))
    {
      g_hash_table_remove (self->pending, id);
      emit_updated (self, uid, id, metadata);
      return;
    }
  g_hash_table_replace (self->pending, g_strdup (id),
                        g_variant_ref_sink (g_variant_new ("(u@a{sv})", (guint32) uid, metadata)));
  if (self->flush_id == 0)
    self->flush_id = g_timeout_add (UPDATE_INTERVAL_MS, flush_lifecycle_updates, self);
}

CopilotdLifecycle *
copilotd_lifecycle_new (CopilotdObjectManager *objects)
{
  CopilotdLifecycle *self = g_new0 (CopilotdLifecycle, 1);

  self->objects = objects;
  self->last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_variant_unref);
  return self;
}

void
copilotd_lifecycle_free (CopilotdLifecycle *self)
{
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_hash_table_unref (self->last);
  g_hash_table_unref (self->pending);
  g_free (self);
}
