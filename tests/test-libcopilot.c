/* SPDX-License-Identifier: MIT */
/* test-libcopilot.c: libcopilot against an in-process copilotd
 *
 * The daemon of daemon-fixture.c (GTestDBus, the fake CLI) runs in this
 * thread, so the library is driven through its asynchronous API only —
 * which is also what it asks of a single-threaded app serving its own
 * agent.
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "copilotd-error.h"
#include "libcopilot-fixture.h"

static guint
count_type (Seen *seen, const char *type)
{
  guint n = 0;

  for (guint i = 0; i < seen->types->len; i++)
    n += strcmp (g_ptr_array_index (seen->types, i), type) == 0;
  return n;
}

/* The event types the daemon's ring holds, in serial order. */
static GPtrArray *
ring_types (Fixture *fx, const char *path)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  GPtrArray *types = g_ptr_array_new_with_free_func (g_free);
  const char *type;

  reply = call_ok (fx->client, path, SESSION_IFACE, "GetEvents", g_variant_new ("(tu)", (guint64) 1, 0u),
                   "(a(tsa{sv}s)tb)");
  g_variant_get (reply, "(a(tsa{sv}s)tb)", &iter, NULL, NULL);
  while (g_variant_iter_next (iter, "(t&sa{sv}&s)", NULL, &type, NULL, NULL))
    if (strcmp (type, "assistant.message_delta") != 0 && strcmp (type, "assistant.reasoning_delta") != 0)
      g_ptr_array_add (types, g_strdup (type));
  return types;
}

static void
assert_same_types (GPtrArray *expected, GPtrArray *seen)
{
  g_assert_cmpuint (seen->len, ==, expected->len);
  for (guint i = 0; i < seen->len; i++)
    g_assert_cmpstr (g_ptr_array_index (seen, i), ==, g_ptr_array_index (expected, i));
}

/* ---- tests ---- */

static void
test_client_new (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);

  g_assert_cmpstr (copilot_client_get_daemon_name (client), ==,
                   g_dbus_connection_get_unique_name (fx->daemon_conn));
  g_assert_cmpstr (copilot_client_get_version (client), ==, PACKAGE_VERSION);
  g_assert_cmpuint (copilot_client_get_api_version (client), >=, 1);
  g_assert_nonnull (copilot_client_get_backend_state (client));
  g_assert_true (copilot_client_get_connection (client) == fx->client);
}

static void
on_notify_flag (GObject *object, GParamSpec *pspec, gboolean *flag)
{
  *flag = TRUE;
}

static void
test_turn (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(Seen) seen = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) expected = NULL;
  g_autofree char *content = NULL;
  gboolean backend_notified = FALSE;

  g_signal_connect (client, "notify::backend-state", G_CALLBACK (on_notify_flag), &backend_notified);
  session = new_session (client, g_variant_new_parsed ("{'client-name': <'test-libcopilot'>}"));
  seen = seen_new (session);
  g_assert_true (g_str_has_prefix (copilot_session_get_object_path (session), SESSION_PATH_PREFIX));
  g_assert_nonnull (copilot_session_get_id (session));
  g_assert_cmpstr (copilot_session_get_state (session), ==, "idle");
  g_assert_nonnull (copilot_session_get_model (session));
  /* Creating the session started the CLI. */
  g_assert_true (backend_notified);
  g_assert_cmpstr (copilot_client_get_backend_state (client), ==, "running");

  content = send_and_wait (session, "hello there", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Echo: hello there");
  /* The turn's signals were delivered before the reply was. */
  g_assert_cmpstr (seen->deltas->str, ==, "Echo: hello there");
  g_assert_cmpuint (seen->messages->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (seen->messages, 0), ==, "Echo: hello there");
  g_assert_cmpuint (seen->n_idle, ==, 1);
  g_assert_false (seen->last_idle_aborted);
  g_assert_cmpuint (count_type (seen, "assistant.message"), ==, 1);
  g_assert_cmpuint (count_type (seen, "session.idle"), ==, 1);

  /* Every event from the first (session.start, before CreateSession's
   * reply was handled) once, in order. */
  expected = ring_types (fx, copilot_session_get_object_path (session));
  assert_same_types (expected, seen->types);
  g_assert_cmpstr (g_ptr_array_index (seen->types, 0), ==, "session.start");
}

static void
test_send_signals (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message_id = NULL;

  copilot_session_send (session, "streamed", NULL, NULL, store_result, &result);
  message_id = copilot_session_send_finish (session, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (message_id);

  while (seen->n_idle == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (seen->deltas->str, ==, "Echo: streamed");
  g_assert_cmpuint (seen->messages->len, ==, 1);
}

static void
test_invalid_send (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "", NULL, &error);
  g_assert_null (content);
  /* The daemon's error reaches the app in the library's domain. */
  g_assert_error (error, COPILOT_ERROR, COPILOT_ERROR_INVALID_ARGS);
  g_assert_null (strstr (error->message, "GDBus.Error"));
}

static void
on_first_delta_cancel (CopilotSession *session, guint stream, const char *text, GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

static void
test_cancel_aborts (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  g_signal_connect (session, "delta", G_CALLBACK (on_first_delta_cancel), cancellable);
  content = send_and_wait (session, "SLOW: 50", cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (content);
  /* The turn was aborted in the CLI, not merely forgotten here. */
  g_assert_cmpuint (record_count (fx, "session.abort"), ==, 1);
  g_assert_cmpuint (count_type (seen, "abort"), ==, 1);
  g_assert_cmpuint (seen->n_idle, ==, 1);
  g_assert_true (seen->last_idle_aborted);
  /* Far fewer than the 50 ticks. */
  g_assert_cmpuint (strlen (seen->deltas->str), <, 10 * strlen ("tick 10 "));
}

static void
test_cancel_send (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message_id = NULL;

  /* send() finishes when the turn starts; its cancellable still aborts
   * the turn until it is idle. */
  copilot_session_send (session, "SLOW: 50", NULL, cancellable, store_result, &result);
  message_id = copilot_session_send_finish (session, wait_result (&result), &error);
  g_assert_no_error (error);
  while (seen->deltas->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (cancellable);
  while (seen->n_idle == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (seen->last_idle_aborted);
  g_assert_cmpuint (record_count (fx, "session.abort"), ==, 1);
}

/* Drops the Event and Delta signals whose serial is in [drop_from, drop_to]
 * before the library sees them, as a connection that missed them would. */
typedef struct {
  guint64 drop_from, drop_to;
  guint n_dropped;               /* atomic: the filter runs in GDBus' thread */
} DropFilter;

static GDBusMessage *
drop_filter (GDBusConnection *connection,
             GDBusMessage    *message,
             gboolean         incoming,
             gpointer         user_data)
{
  DropFilter *drop = user_data;
  GVariant *body;
  guint64 serial;

  if (!incoming || g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_SIGNAL ||
      g_strcmp0 (g_dbus_message_get_interface (message), SESSION_IFACE) != 0)
    return message;
  body = g_dbus_message_get_body (message);
  if (body == NULL || !g_str_has_prefix (g_variant_get_type_string (body), "(t"))
    return message;
  g_variant_get_child (body, 0, "t", &serial);
  if (serial < drop->drop_from || serial > drop->drop_to)
    return message;
  g_atomic_int_inc (&drop->n_dropped);
  g_object_unref (message);
  return NULL;
}

static void
test_backfill (Fixture *fx, gconstpointer data)
{
  DropFilter drop = { 3, 6, 0 };
  guint filter_id = g_dbus_connection_add_filter (fx->client, drop_filter, &drop, NULL);
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GPtrArray) expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "fill the gap", NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_remove_filter (fx->client, filter_id);
  g_assert_cmpuint (g_atomic_int_get (&drop.n_dropped), ==, 4);

  /* Each event once, in order, the four dropped ones from GetEvents. */
  expected = ring_types (fx, copilot_session_get_object_path (session));
  assert_same_types (expected, seen->types);
  g_assert_cmpstr (seen->deltas->str, ==, "Echo: fill the gap");
}

static void
emit_event (GDBusConnection *from,
            const char      *to,
            const char      *path,
            guint64          serial,
            const char      *type)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_emit_signal (from, to, path, SESSION_IFACE, "Event",
                                 g_variant_new ("(ts@a{sv}s)", serial, type,
                                                g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0),
                                                "{\"content\":\"forged\",\"messageId\":\"x\"}"),
                                 &error);
  g_assert_no_error (error);
}

static void
test_duplicates_and_forgeries (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  g_autofree char *again = NULL;
  GDBusConnection *other = fixture_connect (fx);
  const char *me = g_dbus_connection_get_unique_name (fx->client);
  const char *path;
  guint n_types;

  content = send_and_wait (session, "once", NULL, &error);
  g_assert_no_error (error);
  n_types = seen->types->len;
  path = copilot_session_get_object_path (session);

  /* A replayed serial from the daemon, and a new one from an impostor. */
  emit_event (fx->daemon_conn, me, path, 2, "assistant.message");
  emit_event (other, me, path, 1000, "assistant.message");
  g_dbus_connection_flush_sync (other, NULL, NULL);
  /* The next turn's reply comes after both signals. */
  again = send_and_wait (session, "twice", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seen->messages->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen->messages, 0), ==, "Echo: once");
  g_assert_cmpstr (g_ptr_array_index (seen->messages, 1), ==, "Echo: twice");
  g_assert_cmpuint (count_type (seen, "assistant.message"), ==, 2);
  g_assert_cmpuint (seen->types->len, >, n_types);
}

static void
test_attachments (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autofree char *file = g_build_filename (fx->home, "notes.txt", NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("\x89PNG", 4);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *content = NULL;
  GVariant *attachments[2];
  GVariant *options;
  JsonArray *sent;
  JsonObject *a;

  g_assert_true (g_file_set_contents (file, "remember the milk", -1, NULL));
  attachments[0] = copilot_attachment_new_file (file, NULL);
  attachments[1] = copilot_attachment_new_blob (bytes, "image/png", "shot.png");
  options = copilot_attachments_to_options (g_variant_new_parsed ("{'display-prompt': <'Look'>}"), attachments, 2);
  copilot_session_send_and_wait (session, "what is attached?", options, NULL, store_result, &result);
  content = copilot_session_send_and_wait_finish (session, wait_result (&result), &error);
  g_assert_no_error (error);

  /* What reached the CLI: both attachments, the blob as base64. */
  params = record_last (fx, "session.send");
  sent = json_object_get_array_member (params, "attachments");
  g_assert_cmpuint (json_array_get_length (sent), ==, 2);
  a = json_array_get_object_element (sent, 0);
  g_assert_cmpstr (json_object_get_string_member (a, "type"), ==, "file");
  g_assert_cmpstr (json_object_get_string_member (a, "path"), ==, file);
  a = json_array_get_object_element (sent, 1);
  g_assert_cmpstr (json_object_get_string_member (a, "type"), ==, "blob");
  g_assert_cmpstr (json_object_get_string_member (a, "data"), ==, "iVBORw==");
  g_assert_cmpstr (json_object_get_string_member (a, "mimeType"), ==, "image/png");
  g_assert_cmpstr (json_object_get_string_member (a, "displayName"), ==, "shot.png");
}

/* An fd attachment of a file holding @text (in COPILOT_HOME); *@fd is the
 * app's descriptor. */
static GVariant *
new_fd_attachment (Fixture    *fx,
                   const char *text,
                   const char *display_name,
                   int        *fd)
{
  g_autofree char *file = g_build_filename (fx->home, display_name, NULL);

  g_assert_true (g_file_set_contents (file, text, -1, NULL));
  *fd = g_open (file, O_RDONLY | O_CLOEXEC, 0);
  g_assert_cmpint (*fd, >=, 0);
  return copilot_attachment_new_for_fd (*fd, "text/plain", display_name);
}

/* The last session.send reached the CLI with one attachment: @text as a
 * text/plain blob named @display_name. */
static void
assert_sent_text_blob (Fixture    *fx,
                       const char *text,
                       const char *display_name)
{
  g_autoptr(JsonObject) params = record_last (fx, "session.send");
  g_autofree char *expected = g_base64_encode ((const guchar *) text, strlen (text));
  JsonArray *sent = json_object_get_array_member (params, "attachments");
  JsonObject *a;

  g_assert_nonnull (sent);
  g_assert_cmpuint (json_array_get_length (sent), ==, 1);
  a = json_array_get_object_element (sent, 0);
  g_assert_cmpstr (json_object_get_string_member (a, "type"), ==, "blob");
  g_assert_cmpstr (json_object_get_string_member (a, "data"), ==, expected);
  g_assert_cmpstr (json_object_get_string_member (a, "mimeType"), ==, "text/plain");
  g_assert_cmpstr (json_object_get_string_member (a, "displayName"), ==, display_name);
}

static void
test_fd_attachment (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  GVariant *attachment;
  int fd;

  attachment = new_fd_attachment (fx, "passed by descriptor", "from-portal.txt", &fd);
  copilot_session_send_and_wait (session, "what is attached?",
                                 copilot_attachments_to_options (NULL, &attachment, 1),
                                 NULL, store_result, &result);
  /* The library passed a duplicate: the app may close its own at once. */
  g_assert_no_errno (close (fd));
  content = copilot_session_send_and_wait_finish (session, wait_result (&result), &error);
  g_assert_no_error (error);
  /* What reached the CLI: the descriptor's content, as a blob. */
  assert_sent_text_blob (fx, "passed by descriptor", "from-portal.txt");

  /* A descriptor that is not open fails the call, naming the attachment,
   * and nothing reaches the CLI. */
  attachment = copilot_attachment_new_for_fd (G_MAXINT32, NULL, NULL);
  copilot_session_send (session, "never sent", copilot_attachments_to_options (NULL, &attachment, 1),
                        NULL, store_result, &bad_result);
  g_assert_null (copilot_session_send_finish (session, wait_result (&bad_result), &error));
  g_assert_error (error, COPILOT_ERROR, COPILOT_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "Attachment 0"));
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 1);
}

/* Ask takes the attachments of Send: an fd one travels with the call. */
static void
test_ask_fd_attachment (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) details = NULL;
  g_autofree char *content = NULL;
  GVariant *attachment;
  int fd;

  attachment = new_fd_attachment (fx, "asked by descriptor", "asked.txt", &fd);
  copilot_client_ask (client, "what is attached?", copilot_attachments_to_options (NULL, &attachment, 1),
                      NULL, store_result, &result);
  g_assert_no_errno (close (fd));
  content = copilot_client_ask_finish (client, wait_result (&result), &details, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Echo: what is attached?");
  assert_sent_text_blob (fx, "asked by descriptor", "asked.txt");

  /* A descriptor that is not open fails before anything is sent. */
  attachment = copilot_attachment_new_for_fd (G_MAXINT32, NULL, NULL);
  copilot_client_ask (client, "never asked", copilot_attachments_to_options (NULL, &attachment, 1),
                      NULL, store_result, &bad_result);
  g_assert_null (copilot_client_ask_finish (client, wait_result (&bad_result), NULL, &error));
  g_assert_error (error, COPILOT_ERROR, COPILOT_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "Attachment 0"));
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 1);
}

static void
test_closed (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(Seen) seen = seen_new (session);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  copilot_session_destroy (session, NULL, store_result, &result);
  g_assert_true (copilot_session_destroy_finish (session, wait_result (&result), &error));
  g_assert_no_error (error);
  while (seen->closed_reason == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (seen->closed_reason, ==, "destroyed");
  g_assert_cmpstr (copilot_session_get_state (session), ==, "closed");
}

static void
test_list_and_resume (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(CopilotSession) resumed = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GAsyncResult) result3 = NULL;
  g_autoptr(GAsyncResult) result4 = NULL;
  g_autoptr(GVariant) sessions = NULL;
  g_autoptr(GVariant) models = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  g_autofree char *id = g_strdup (copilot_session_get_id (session));
  gboolean found = FALSE;
  GVariantIter iter;
  GVariant *entry;

  content = send_and_wait (session, "remember me", NULL, &error);
  g_assert_no_error (error);

  copilot_client_list_sessions (client, NULL, NULL, store_result, &result);
  sessions = copilot_client_list_sessions_finish (client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (sessions, G_VARIANT_TYPE ("aa{sv}")));
  g_variant_iter_init (&iter, sessions);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *sid;

      if (g_variant_lookup (entry, "session-id", "&s", &sid) && strcmp (sid, id) == 0)
        found = TRUE;
      g_variant_unref (entry);
    }
  g_assert_true (found);

  copilot_client_list_models (client, NULL, NULL, store_result, &result2);
  models = copilot_client_list_models_finish (client, wait_result (&result2), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (models), >, 0);

  /* Ended, then brought back under the same id. */
  copilot_session_destroy (session, NULL, store_result, &result3);
  g_assert_true (copilot_session_destroy_finish (session, wait_result (&result3), &error));
  copilot_client_resume_session (client, id, NULL, NULL, store_result, &result4);
  resumed = copilot_client_resume_session_finish (client, wait_result (&result4), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (copilot_session_get_id (resumed), ==, id);
  g_clear_pointer (&content, g_free);
  content = send_and_wait (resumed, "still there", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Echo: still there");
}

static void
test_unknown_session (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) metadata = NULL;
  g_autoptr(GError) error = NULL;

  copilot_client_get_session_metadata (client, "8d3a1f4e-0000-4000-8000-000000000000", NULL,
                                       store_result, &result);
  metadata = copilot_client_get_session_metadata_finish (client, wait_result (&result), &error);
  g_assert_null (metadata);
  g_assert_error (error, COPILOT_ERROR, COPILOT_ERROR_NOT_FOUND);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* The daemon's domain first: it insists on owning the error names; the
   * library maps them to COPILOT_ERROR all the same. */
  (void) copilotd_error_quark ();

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/libcopilot/client/new", test_client_new);
  ADD ("/libcopilot/client/list-and-resume", test_list_and_resume);
  ADD ("/libcopilot/client/unknown-session", test_unknown_session);
  ADD ("/libcopilot/session/turn", test_turn);
  ADD ("/libcopilot/session/send-signals", test_send_signals);
  ADD ("/libcopilot/session/invalid-send", test_invalid_send);
  ADD ("/libcopilot/session/cancel-aborts", test_cancel_aborts);
  ADD ("/libcopilot/session/cancel-send", test_cancel_send);
  ADD ("/libcopilot/session/backfill", test_backfill);
  ADD ("/libcopilot/session/duplicates-and-forgeries", test_duplicates_and_forgeries);
  ADD ("/libcopilot/session/closed", test_closed);
  ADD ("/libcopilot/session/attachments", test_attachments);
  ADD ("/libcopilot/session/fd-attachment", test_fd_attachment);
  ADD ("/libcopilot/client/ask-fd-attachment", test_ask_fd_attachment);
#undef ADD

  return g_test_run ();
}
