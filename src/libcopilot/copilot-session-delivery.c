/* SPDX-License-Identifier: MIT */
/* copilot-session-delivery.c: a session's events, once and in order
 *
 * The daemon relays a session's events as Event and Delta signals that
 * share one serial counter. A CopilotSession delivers each of them once,
 * in serial order: a serial below the next expected one is a duplicate and
 * dropped; a serial above it means signals were missed, and the gap is
 * filled from the daemon's replay ring (GetEvents) before anything newer
 * is delivered. Each event becomes its typed signal.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "copilot-session-private.h"

#define BACKFILL_MAX 0  /* GetEvents: everything the ring holds */

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_ref (json_node_get_object (node));
}

static char *
member_to_json (JsonObject *object,
                const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL)
    return g_strdup ("null");
  return json_to_string (node, FALSE);
}

static void
deliver_event (CopilotSession *self,
               const char     *type,
               const char     *data_json)
{
  g_autoptr(JsonObject) data = parse_object (data_json);
  const char *s;

  /* Deltas replayed from the ring travel as Delta when live. */
  if (strcmp (type, "assistant.message_delta") == 0 ||
      strcmp (type, "assistant.reasoning_delta") == 0)
    {
      const char *text = data ? json_object_get_string_member_with_default (data, "deltaContent", "") : "";

      g_signal_emit (self, copilot_session_signals[SIGNAL_DELTA], 0,
                     strcmp (type, "assistant.reasoning_delta") == 0 ? 1u : 0u, text);
      return;
    }

  g_signal_emit (self, copilot_session_signals[SIGNAL_EVENT], g_quark_try_string (type), type, data_json);

  if (strcmp (type, "assistant.message") == 0)
    {
      /* A sub-agent's messages carry parentToolCallId: not the answer. */
      if (data != NULL && !json_object_has_member (data, "parentToolCallId"))
        g_signal_emit (self, copilot_session_signals[SIGNAL_MESSAGE], 0,
                       json_object_get_string_member_with_default (data, "messageId", ""),
                       json_object_get_string_member_with_default (data, "content", ""));
    }
  else if (strcmp (type, "tool.execution_start") == 0)
    {
      g_autofree char *args = member_to_json (data, "arguments");

      g_signal_emit (self, copilot_session_signals[SIGNAL_TOOL_STARTED], 0,
                     data ? json_object_get_string_member_with_default (data, "toolCallId", "") : "",
                     data ? json_object_get_string_member_with_default (data, "toolName", "") : "",
                     args);
    }
  else if (strcmp (type, "tool.execution_complete") == 0)
    {
      gboolean success = data ? json_object_get_boolean_member_with_default (data, "success", FALSE) : FALSE;
      g_autofree char *result = member_to_json (data, success ? "result" : "error");

      g_signal_emit (self, copilot_session_signals[SIGNAL_TOOL_FINISHED], 0,
                     data ? json_object_get_string_member_with_default (data, "toolCallId", "") : "",
                     success, result);
    }
  else if (strcmp (type, "session.idle") == 0)
    {
      copilot_session_end_turn (self);
      g_signal_emit (self, copilot_session_signals[SIGNAL_IDLE], 0,
                     data ? json_object_get_boolean_member_with_default (data, "aborted", FALSE) : FALSE);
    }
  else if (strcmp (type, "session.error") == 0)
    {
      g_signal_emit (self, copilot_session_signals[SIGNAL_ERROR], 0,
                     data ? json_object_get_string_member_with_default (data, "errorType", "") : "",
                     data ? json_object_get_string_member_with_default (data, "message", "") : "");
    }
  else if (strcmp (type, "session.mode_changed") == 0 && data != NULL &&
           (s = json_object_get_string_member_with_default (data, "newMode", NULL)) != NULL)
    copilot_session_update_mode (self, s);
}

static void
deliver_closed (CopilotSession *self,
                GVariant       *details)
{
  const char *reason = "destroyed";

  if (self->closed)
    return;
  self->closed = TRUE;
  g_variant_lookup (details, "reason", "&s", &reason);
  copilot_session_end_turn (self);
  copilot_session_update_state (self, "closed");
  g_signal_emit (self, copilot_session_signals[SIGNAL_CLOSED], 0, reason);
}

static guint64
record_serial (GVariant *record)
{
  g_autoptr(GVariant) params = g_variant_get_child_value (record, 1);
  guint64 serial = G_MAXUINT64;  /* Closed comes after everything */

  if (g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsa{sv}s)")) ||
      g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsus)")))
    g_variant_get_child (params, 0, "t", &serial);
  return serial;
}

/* Delivers one signal whose serial is the next one (or, after a backfill,
 * the next one known). */
static void
deliver_record (CopilotSession *self,
                const char     *member,
                GVariant       *params)
{
  if (strcmp (member, "Closed") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) details = g_variant_get_child_value (params, 0);

      deliver_closed (self, details);
    }
  else if (strcmp (member, "Event") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsa{sv}s)")))
    {
      guint64 serial;
      const char *type, *data_json;

      g_variant_get (params, "(t&s@a{sv}&s)", &serial, &type, NULL, &data_json);
      self->next_serial = serial + 1;
      g_clear_pointer (&self->delta_message_id, g_free);
      deliver_event (self, type, data_json);
    }
  else if (strcmp (member, "Delta") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsus)")))
    {
      guint64 serial;
      guint32 stream;
      const char *message_id, *text;

      g_variant_get (params, "(t&su&s)", &serial, &message_id, &stream, &text);
      self->next_serial = serial + 1;
      g_free (self->delta_message_id);
      self->delta_message_id = g_strdup (message_id);
      g_signal_emit (self, copilot_session_signals[SIGNAL_DELTA], 0, stream, text);
    }
}

static int
compare_records (gconstpointer a,
                 gconstpointer b)
{
  guint64 sa = record_serial (*(GVariant **) a);
  guint64 sb = record_serial (*(GVariant **) b);

  return sa < sb ? -1 : sa > sb;
}

static void
on_backfill_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CopilotSession) self = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) held = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply != NULL)
    {
      g_autoptr(GVariantIter) iter = NULL;
      guint64 serial;
      const char *type, *data_json;

      g_variant_get (reply, "(a(tsa{sv}s)tb)", &iter, NULL, NULL);
      while (g_variant_iter_next (iter, "(t&sa{sv}&s)", &serial, &type, NULL, &data_json))
        {
          if (serial < self->next_serial)
            continue;
          self->next_serial = serial + 1;
          g_clear_pointer (&self->delta_message_id, g_free);
          deliver_event (self, type, data_json);
        }
    }
  else
    g_debug ("libcopilot: GetEvents on %s failed: %s", self->path, error->message);

  /* What arrived meanwhile, in order; a gap left now is one the ring no
   * longer holds (or noise relayed to another subscriber). */
  self->backfilling = FALSE;
  held = g_steal_pointer (&self->held);
  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_ptr_array_sort (held, compare_records);
  for (guint i = 0; i < held->len; i++)
    {
      GVariant *record = g_ptr_array_index (held, i);
      const char *member;
      g_autoptr(GVariant) params = NULL;

      if (record_serial (record) != G_MAXUINT64 && record_serial (record) < self->next_serial)
        continue;
      g_variant_get (record, "(&s@*)", &member, &params);
      deliver_record (self, member, params);
    }
}

/* A slow subscriber gets the deltas of one message merged into one Delta
 * that bears the serial of the last: not a gap. */
static gboolean
is_merged_delta (CopilotSession *self,
                 GVariant       *record)
{
  g_autoptr(GVariant) params = g_variant_get_child_value (record, 1);
  const char *member, *message_id;

  g_variant_get_child (record, 0, "&s", &member);
  if (self->delta_message_id == NULL || strcmp (member, "Delta") != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsus)")))
    return FALSE;
  g_variant_get_child (params, 1, "&s", &message_id);
  return *message_id != '\0' && strcmp (message_id, self->delta_message_id) == 0;
}

static void
process_record (CopilotSession *self,
                GVariant       *record)
{
  guint64 serial = record_serial (record);
  const char *member;
  g_autoptr(GVariant) params = NULL;

  if (self->backfilling)
    {
      g_ptr_array_add (self->held, g_variant_ref (record));
      return;
    }
  if (serial != G_MAXUINT64 && self->next_serial != 0)
    {
      if (serial < self->next_serial)
        return;  /* delivered already (from the ring) */
      if (serial > self->next_serial && !is_merged_delta (self, record))
        {
          g_debug ("libcopilot: %s missed serials %" G_GUINT64_FORMAT "…%" G_GUINT64_FORMAT ", backfilling",
                   self->path, self->next_serial, serial - 1);
          self->backfilling = TRUE;
          g_ptr_array_add (self->held, g_variant_ref (record));
          copilot_client_call (self->client, self->path, COPILOT_IFACE_SESSION, "GetEvents",
                               g_variant_new ("(tu)", self->next_serial, (guint32) BACKFILL_MAX),
                               G_VARIANT_TYPE ("(a(tsa{sv}s)tb)"), -1, self->cancellable,
                               on_backfill_done, g_object_ref (self));
          return;
        }
    }
  g_variant_get (record, "(&s@*)", &member, &params);
  deliver_record (self, member, params);
}

void
copilot_session_daemon_vanished (CopilotSession *self)
{
  g_autoptr(GVariant) details = g_variant_ref_sink (g_variant_new_parsed ("{'reason': <'daemon-vanished'>}"));

  deliver_closed (self, details);
}

void
copilot_session_handle_signal (CopilotSession *self,
                               const char     *member,
                               GVariant       *params)
{
  g_autoptr(GVariant) record = g_variant_ref_sink (g_variant_new ("(s@*)", member, params));

  if (!self->delivering)
    {
      g_queue_push_tail (&self->early, g_steal_pointer (&record));
      return;
    }
  process_record (self, record);
}

static gboolean
start_delivery_cb (gpointer user_data)
{
  CopilotSession *self = user_data;
  GVariant *record;

  self->delivering = TRUE;
  while ((record = g_queue_pop_head (&self->early)) != NULL)
    {
      process_record (self, record);
      g_variant_unref (record);
    }
  return G_SOURCE_REMOVE;
}

void
copilot_session_start_delivery (CopilotSession *self)
{
  if (self->delivering)
    return;
  /* Below the priority of the GTask callback that hands the session out. */
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, start_delivery_cb, g_object_ref (self), g_object_unref);
}
