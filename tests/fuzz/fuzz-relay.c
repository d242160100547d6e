/* SPDX-License-Identifier: MIT */
/* fuzz-relay.c: one CLI event envelope to Event and Delta signals
 *
 * The input is the JSON text of a session.event's `event`. It is repaired,
 * parsed and checked as jsonrpc.c does (utf8.c), relayed to two subscribers (everything;
 * `assistant.*` and the delta types by name) over a private peer-to-peer
 * D-Bus connection whose other end reads and drops, replayed through
 * GetEvents, and paged as GetMessages history under a small size limit so
 * that the cutting of strings runs too. Every GVariant built on the way
 * must be valid (GVariant criticals abort).
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "bounded.h"
#include "event-relay.h"
#include "fuzz-common.h"
#include "utf8.h"

static GDBusConnection *daemon_side;  /* owned, for the whole run */
static GDBusConnection *reader_side;  /* owned, for the whole run */
static JsonParser *parser;            /* owned, for the whole run */

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

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) s0 = NULL;
  g_autoptr(GSocket) s1 = NULL;
  g_autoptr(GSocketConnection) c0 = NULL;
  g_autoptr(GSocketConnection) c1 = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();

  fuzz_init_logging ();
  g_assert (socketpair (AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  s0 = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  s1 = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  c0 = g_socket_connection_factory_create_connection (s0);
  c1 = g_socket_connection_factory_create_connection (s1);
  g_dbus_connection_new (G_IO_STREAM (c0), guid, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER,
                         NULL, NULL, on_connection, &reader_side);
  g_dbus_connection_new (G_IO_STREAM (c1), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                         NULL, NULL, on_connection, &daemon_side);
  while (reader_side == NULL || daemon_side == NULL)
    g_main_context_iteration (NULL, TRUE);
  parser = json_parser_new ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static const char * const narrow[] = { "assistant.*", "assistant.message_delta", "model.call_*", NULL };
  g_autoptr(CopilotdEventRelay) relay = NULL;
  g_autofree char *fixed = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonArray) history = NULL;
  g_autoptr(GVariant) replay = NULL;
  g_autoptr(GVariant) page = NULL;
  gsize len = size;
  const char *text = (const char *) data;

  fixed = copilotd_json_text_make_valid (text, size, &len);
  if (fixed != NULL)
    text = fixed;
  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL))
    return 0;
  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return 0;
  copilotd_json_node_make_valid (root);

  relay = copilotd_event_relay_new (daemon_side, "/io/github/copilotd/Copilot1/session/fuzz", 8, 4096);
  copilotd_event_relay_set_max_message_size (relay, 0);
  copilotd_event_relay_subscribe (relay, ":1.1", NULL);
  copilotd_event_relay_subscribe (relay, ":1.2", narrow);
  copilotd_event_relay_relay (relay, json_node_get_object (root));
  copilotd_event_relay_relay (relay, json_node_get_object (root));
  replay = g_variant_ref_sink (copilotd_event_relay_get_events (relay, 0, 0));
  g_assert (g_variant_is_normal_form (replay));

  /* A history of it, paged under a limit that makes long strings cut. */
  history = json_array_new ();
  json_array_add_element (history, json_node_copy (root));
  json_array_add_element (history, json_node_copy (root));
  page = g_variant_ref_sink (copilotd_history_page (history, 0, 0, 512));
  g_assert (g_variant_n_children (page) >= 1);
  g_assert (g_variant_is_normal_form (page));

  /* data_json stays JSON however hard it is cut. */
  {
    JsonNode *event_data = json_object_get_member (json_node_get_object (root), "data");
    gboolean truncated;

    if (event_data != NULL)
      {
        g_autofree char *cut = copilotd_json_to_string_bounded (event_data, 100, &truncated);

        g_assert (strlen (cut) <= 100);
        g_assert (json_parser_load_from_data (parser, cut, -1, NULL));
      }
  }
  return 0;
}
