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

#include "copilot.h"
#include "copilotd-error.h"
#include "daemon-fixture.h"

#define WAIT_S 30

/* ---- waiting for async results ---- */

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (WAIT_S, on_timeout_flag, &timed_out);

  while (*slot == NULL && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("Timed out after %u s waiting for an async result", WAIT_S);
  g_source_remove (id);
  return *slot;
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static CopilotClient *
new_client (GDBusConnection *conn)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CopilotClient *client;

  copilot_client_new_for_connection (conn, NULL, store_result, &result);
  client = copilot_client_new_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (COPILOT_IS_CLIENT (client));
  return client;
}

static CopilotSession *
new_session (CopilotClient *client,
             GVariant      *options)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CopilotSession *session;

  copilot_client_create_session (client, options, NULL, store_result, &result);
  session = copilot_client_create_session_finish (client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (COPILOT_IS_SESSION (session));
  return session;
}

static char *
send_and_wait (CopilotSession *session,
               const char     *prompt,
               GCancellable   *cancellable,
               GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  copilot_session_send_and_wait (session, prompt, NULL, cancellable, store_result, &result);
  return copilot_session_send_and_wait_finish (session, wait_result (&result), error);
}

/* ---- what a session delivered ---- */

typedef struct {
  GString *deltas;               /* owned: stream 0 */
  GPtrArray *types;              /* owned: event types in delivery order */
  GPtrArray *messages;           /* owned: message contents */
  GPtrArray *tools_started;      /* owned: tool names */
  guint n_tools_finished;
  guint n_idle;
  gboolean last_idle_aborted;
  char *closed_reason;           /* owned, nullable */
} Seen;

static void
on_delta (CopilotSession *session, guint stream, const char *text, Seen *seen)
{
  if (stream == 0)
    g_string_append (seen->deltas, text);
}

static void
on_event (CopilotSession *session, const char *type, const char *data_json, Seen *seen)
{
  g_ptr_array_add (seen->types, g_strdup (type));
}

static void
on_message (CopilotSession *session, const char *message_id, const char *content, Seen *seen)
{
  g_assert_cmpstr (message_id, !=, "");
  g_ptr_array_add (seen->messages, g_strdup (content));
}

static void
on_tool_started (CopilotSession *session, const char *id, const char *name, const char *args, Seen *seen)
{
  g_ptr_array_add (seen->tools_started, g_strdup (name));
}

static void
on_tool_finished (CopilotSession *session, const char *id, gboolean success, const char *result, Seen *seen)
{
  seen->n_tools_finished++;
}

static void
on_idle (CopilotSession *session, gboolean aborted, Seen *seen)
{
  seen->n_idle++;
  seen->last_idle_aborted = aborted;
}

static void
on_closed (CopilotSession *session, const char *reason, Seen *seen)
{
  g_free (seen->closed_reason);
  seen->closed_reason = g_strdup (reason);
}

static Seen *
seen_new (CopilotSession *session)
{
  Seen *seen = g_new0 (Seen, 1);

  seen->deltas = g_string_new (NULL);
  seen->types = g_ptr_array_new_with_free_func (g_free);
  seen->messages = g_ptr_array_new_with_free_func (g_free);
  seen->tools_started = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (session, "delta", G_CALLBACK (on_delta), seen);
  g_signal_connect (session, "event", G_CALLBACK (on_event), seen);
  g_signal_connect (session, "message", G_CALLBACK (on_message), seen);
  g_signal_connect (session, "tool-started", G_CALLBACK (on_tool_started), seen);
  g_signal_connect (session, "tool-finished", G_CALLBACK (on_tool_finished), seen);
  g_signal_connect (session, "idle", G_CALLBACK (on_idle), seen);
  g_signal_connect (session, "closed", G_CALLBACK (on_closed), seen);
  return seen;
}

static void
seen_free (Seen *seen)
{
  g_string_free (seen->deltas, TRUE);
  g_ptr_array_unref (seen->types);
  g_ptr_array_unref (seen->messages);
  g_ptr_array_unref (seen->tools_started);
  g_free (seen->closed_reason);
  g_free (seen);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Seen, seen_free)

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

static void
test_fd_attachment (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autofree char *file = g_build_filename (fx->home, "portal-file.txt", NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *content = NULL;
  g_autofree char *expected = g_base64_encode ((const guchar *) "passed by descriptor", 20);
  GVariant *attachment;
  JsonArray *sent;
  JsonObject *a;
  int fd;

  g_assert_true (g_file_set_contents (file, "passed by descriptor", -1, NULL));
  fd = g_open (file, O_RDONLY | O_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  attachment = copilot_attachment_new_for_fd (fd, "text/plain", "from-portal.txt");
  copilot_session_send_and_wait (session, "what is attached?",
                                 copilot_attachments_to_options (NULL, &attachment, 1),
                                 NULL, store_result, &result);
  /* The library passed a duplicate: the app may close its own at once. */
  g_assert_no_errno (close (fd));
  content = copilot_session_send_and_wait_finish (session, wait_result (&result), &error);
  g_assert_no_error (error);

  /* What reached the CLI: the descriptor's content, as a blob. */
  params = record_last (fx, "session.send");
  sent = json_object_get_array_member (params, "attachments");
  g_assert_cmpuint (json_array_get_length (sent), ==, 1);
  a = json_array_get_object_element (sent, 0);
  g_assert_cmpstr (json_object_get_string_member (a, "type"), ==, "blob");
  g_assert_cmpstr (json_object_get_string_member (a, "data"), ==, expected);
  g_assert_cmpstr (json_object_get_string_member (a, "mimeType"), ==, "text/plain");
  g_assert_cmpstr (json_object_get_string_member (a, "displayName"), ==, "from-portal.txt");

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
  g_autofree char *file = g_build_filename (fx->home, "asked-about.txt", NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GVariant) details = NULL;
  g_autofree char *content = NULL;
  g_autofree char *expected = g_base64_encode ((const guchar *) "asked by descriptor", 19);
  GVariant *attachment;
  JsonArray *sent;
  JsonObject *a;
  int fd;

  g_assert_true (g_file_set_contents (file, "asked by descriptor", -1, NULL));
  fd = g_open (file, O_RDONLY | O_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  attachment = copilot_attachment_new_for_fd (fd, "text/plain", "asked.txt");
  copilot_client_ask (client, "what is attached?", copilot_attachments_to_options (NULL, &attachment, 1),
                      NULL, store_result, &result);
  g_assert_no_errno (close (fd));
  content = copilot_client_ask_finish (client, wait_result (&result), &details, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Echo: what is attached?");

  /* What reached the CLI: the descriptor's content, as a blob. */
  params = record_last (fx, "session.send");
  sent = json_object_get_array_member (params, "attachments");
  g_assert_nonnull (sent);
  g_assert_cmpuint (json_array_get_length (sent), ==, 1);
  a = json_array_get_object_element (sent, 0);
  g_assert_cmpstr (json_object_get_string_member (a, "type"), ==, "blob");
  g_assert_cmpstr (json_object_get_string_member (a, "data"), ==, expected);
  g_assert_cmpstr (json_object_get_string_member (a, "mimeType"), ==, "text/plain");
  g_assert_cmpstr (json_object_get_string_member (a, "displayName"), ==, "asked.txt");

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

/* ---- agents ---- */

typedef struct {
  GPtrArray *kept;               /* owned: CopilotPrompt* kept to answer later */
  guint decision;
  gboolean keep;                 /* keep the prompt instead of answering now */
  guint n_requests;
  guint n_cancelled;
  char *last_kind;               /* owned */
  char *last_command;            /* owned */
} AgentLog;

static void
on_prompt_cancelled (CopilotPrompt *prompt, AgentLog *log)
{
  log->n_cancelled++;
}

static void
on_permission (CopilotAgent *agent, CopilotPrompt *prompt, AgentLog *log)
{
  const char *command = NULL;

  log->n_requests++;
  g_free (log->last_kind);
  log->last_kind = g_strdup (copilot_prompt_get_kind (prompt));
  g_variant_lookup (copilot_prompt_get_request (prompt), "command", "&s", &command);
  g_free (log->last_command);
  log->last_command = g_strdup (command);
  g_assert_true (g_str_has_prefix (copilot_prompt_get_session_path (prompt), SESSION_PATH_PREFIX));
  g_assert_nonnull (copilot_prompt_get_request_id (prompt));
  g_assert_nonnull (copilot_prompt_get_request_json (prompt));
  g_signal_connect (prompt, "cancelled", G_CALLBACK (on_prompt_cancelled), log);
  if (log->keep)
    g_ptr_array_add (log->kept, g_object_ref (prompt));
  else if (log->decision != G_MAXUINT)
    copilot_prompt_reply (prompt, log->decision, NULL);
  /* decision G_MAXUINT and no keep: dropped unanswered. */
}

static void
on_user_input (CopilotAgent *agent, CopilotPrompt *prompt, AgentLog *log)
{
  log->n_requests++;
  copilot_prompt_reply_answer (prompt, "blue");
}

static void
agent_log_clear (AgentLog *log)
{
  g_clear_pointer (&log->kept, g_ptr_array_unref);
  g_clear_pointer (&log->last_kind, g_free);
  g_clear_pointer (&log->last_command, g_free);
}

static CopilotAgent *
new_agent (CopilotClient *client, AgentLog *log)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CopilotAgent *agent = copilot_agent_new (client, NULL);

  log->kept = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (agent, "permission-requested", G_CALLBACK (on_permission), log);
  g_signal_connect (agent, "user-input-requested", G_CALLBACK (on_user_input), log);
  copilot_agent_register (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_register_finish (agent, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_true (copilot_agent_get_registered (agent));
  return agent;
}

static gboolean
answer_kept_cb (gpointer user_data)
{
  AgentLog *log = user_data;

  if (log->kept->len == 0)
    return G_SOURCE_CONTINUE;
  copilot_prompt_reply (g_ptr_array_index (log->kept, 0), COPILOT_PERMISSION_APPROVE_ONCE, NULL);
  return G_SOURCE_REMOVE;
}

static void
test_agent_answers_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .keep = TRUE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* The handler keeps the prompt; the app answers from a later callback,
   * while its own send_and_wait is pending: no deadlock. */
  g_timeout_add (50, answer_kept_cb, &log);
  content = send_and_wait (session, "PERMISSION: ls -l", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (log.last_kind, ==, "permission");
  g_assert_cmpstr (log.last_command, ==, "ls -l");
  g_assert_true (copilot_prompt_is_answered (g_ptr_array_index (log.kept, 0)));
  agent_log_clear (&log);
}

typedef struct {
  GArray *seen;       /* owned: gboolean, each value of :registered */
  gboolean back;      /* registered again */
} Registrations;

static void
on_registered_changed (CopilotAgent *agent, GParamSpec *pspec, Registrations *r)
{
  gboolean registered = copilot_agent_get_registered (agent);

  g_array_append_val (r->seen, registered);
  r->back = registered;
}

static void
on_released (CopilotAgent *agent, guint *n)
{
  (*n)++;
}

static void
on_daemon_quit (CopilotdDaemon *daemon, int status, gboolean *quit)
{
  *quit = TRUE;
}

/* Stops the in-process daemon and starts another on a new connection,
 * as a restart of copilotd does. */
static void
restart_daemon (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  gboolean quit = FALSE;

  g_signal_connect (fx->daemon, "quit", G_CALLBACK (on_daemon_quit), &quit);
  copilotd_daemon_shutdown (fx->daemon, 0);
  wait_flag (&quit, 20, "the daemon to quit");
  g_clear_object (&fx->daemon);
  g_dbus_connection_close_sync (fx->daemon_conn, NULL, NULL);
  g_ptr_array_add (fx->extra_clients, g_steal_pointer (&fx->daemon_conn));

  fx->daemon_conn = test_connect (g_test_dbus_get_bus_address (fx->bus));
  fx->config = copilotd_config_new ();
  fx->config->cli_path = g_strdup (FAKE_CLI_PATH);
  fx->config->copilot_home = g_strdup (fx->home);
  fx->daemon = copilotd_daemon_new (fx->config);
  g_assert_true (copilotd_daemon_start (fx->daemon, fx->daemon_conn, FALSE, &error));
  g_assert_no_error (error);
}

/* The daemon releases its agents as it shuts down; an app's agent is
 * registered with the next daemon all the same (and asks to be the
 * default again), and the next prompt reaches it. */
static void
test_agent_registered_after_restart (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (gboolean));
  Registrations r = { seen, FALSE };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) released = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  guint n_released = 0;

  copilot_agent_request_default (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_request_default_finish (agent, wait_result (&result), &error));
  g_assert_no_error (error);
  g_signal_connect (agent, "notify::registered", G_CALLBACK (on_registered_changed), &r);
  g_signal_connect (agent, "released", G_CALLBACK (on_released), &n_released);

  /* What the daemon's shutdown sends each agent, from the daemon. */
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), BUS_NAME ".Agent", "Release", NULL,
                          G_VARIANT_TYPE ("()"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &released);
  reply = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&released), &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (n_released, ==, 1);
  g_assert_false (copilot_agent_get_registered (agent));

  restart_daemon (fx);
  wait_flag (&r.back, 20, "the agent to be registered with the new daemon");
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_false (g_array_index (seen, gboolean, 0));
  g_assert_true (g_array_index (seen, gboolean, 1));

  session = new_session (client, NULL);
  content = send_and_wait (session, "PERMISSION: ls -l", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==, "Permission: approved");
  g_assert_cmpuint (log.n_requests, ==, 1);
  agent_log_clear (&log);
}

static void
test_agent_dropped_prompt_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = G_MAXUINT };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "PERMISSION: rm -rf /tmp/x", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (content, ==, "Permission: denied-interactively-by-user");
  agent_log_clear (&log);
}

static void
test_agent_user_input (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { 0 };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  content = send_and_wait (session, "ASK: Which colour? | red | blue", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log.n_requests, ==, 1);
  g_assert_cmpstr (content, ==, "Answer: blue");
  agent_log_clear (&log);
}

static void
test_agent_cancel (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .keep = TRUE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(CopilotSession) session = new_session (client, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  CopilotPrompt *prompt;

  copilot_session_send_and_wait (session, "PERMISSION: sleep 100", NULL, cancellable, store_result, &result);
  while (log.kept->len == 0)
    g_main_context_iteration (NULL, TRUE);
  prompt = g_ptr_array_index (log.kept, 0);
  g_cancellable_cancel (cancellable);
  content = copilot_session_send_and_wait_finish (session, wait_result (&result), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The daemon withdrew the prompt: the dialog is told; a late answer is
   * ignored without complaint. */
  while (log.n_cancelled == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (copilot_prompt_is_cancelled (prompt));
  copilot_prompt_reply (prompt, COPILOT_PERMISSION_APPROVE_ONCE, NULL);
  agent_log_clear (&log);
}

static void
test_agent_checks_sender (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  GDBusConnection *other = fixture_connect (fx);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *remote = NULL;

  /* Anybody but the daemon calling the agent is refused. */
  g_dbus_connection_call (other, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), AGENT_IFACE, "RequestPermission",
                          g_variant_new_parsed ("(objectpath '/x', 'r1', @a{sv} {'kind': <'shell'>}, '{}')"),
                          G_VARIANT_TYPE ("(ua{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          store_result, &result);
  reply = g_dbus_connection_call_finish (other, wait_result (&result), &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, BUS_NAME ".Error.AccessDenied");
  g_assert_cmpuint (log.n_requests, ==, 0);
  agent_log_clear (&log);
}

/* Answers each Contract 2 prompt kind, or drops it when *answer is FALSE. */
static void
on_elicitation (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "elicitation");
  g_assert_cmpstr (copilot_prompt_get_request_json (prompt), ==, "{\"type\":\"object\"}");
  if (*answer)
    copilot_prompt_reply_elicitation (prompt, "accept", "{\"color\":\"green\"}", NULL);
}

static void
on_plan_approval (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "plan-approval");
  if (*answer)
    copilot_prompt_reply (prompt, 1, g_variant_new_parsed ("{'action': <'autopilot'>}"));
}

static void
on_mode_switch (CopilotAgent *agent, CopilotPrompt *prompt, gboolean *answer)
{
  g_assert_cmpstr (copilot_prompt_get_kind (prompt), ==, "mode-switch");
  if (*answer)
    copilot_prompt_reply_mode_switch (prompt, "yes-always", NULL);
}

/* Calls the agent as the daemon would (from the daemon's connection). */
static GVariant *
call_agent (Fixture *fx, CopilotAgent *agent, const char *method, const char *params,
            const char *reply_type, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          copilot_agent_get_object_path (agent), AGENT_IFACE, method,
                          g_variant_new_parsed (params), G_VARIANT_TYPE (reply_type),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result);
  return g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result), error);
}

static void
test_agent_contract2_kinds (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotAgent) agent = copilot_agent_new (client, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean answer = TRUE;
  const char *elicit = "(objectpath '/s', 'e1', @a{sv} {'message': <'Pick'>}, '{\"type\":\"object\"}')";
  const char *plan = "(objectpath '/s', 'p1', @a{sv} {'summary': <'Plan'>})";
  const char *mode = "(objectpath '/s', 'm1', @a{sv} {'error-code': <'rate_limit'>})";
  struct { const char *method, *params, *type, *answered, *dropped; } cases[] = {
    { "RequestElicitation", elicit, "(ssa{sv})", "('accept', '{\"color\":\"green\"}', @a{sv} {})", "('cancel', '{}', @a{sv} {})" },
    { "RequestPlanApproval", plan, "(ba{sv})", "(true, {'action': <'autopilot'>})", "(false, @a{sv} {})" },
    { "RequestModeSwitch", mode, "(sa{sv})", "('yes-always', @a{sv} {})", "('no', @a{sv} {})" },
  };

  g_signal_connect (agent, "elicitation-requested", G_CALLBACK (on_elicitation), &answer);
  g_signal_connect (agent, "plan-approval-requested", G_CALLBACK (on_plan_approval), &answer);
  g_signal_connect (agent, "mode-switch-requested", G_CALLBACK (on_mode_switch), &answer);
  copilot_agent_register (agent, NULL, store_result, &result);
  g_assert_true (copilot_agent_register_finish (agent, wait_result (&result), &error));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint dropped = 0; dropped < 2; dropped++)
      {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) expected = g_variant_ref_sink (g_variant_new_parsed (dropped ? cases[i].dropped : cases[i].answered));

        answer = !dropped;
        reply = call_agent (fx, agent, cases[i].method, cases[i].params, cases[i].type, &error);
        g_assert_no_error (error);
        /* Answered as the handler said; dropped: the refusal of its kind. */
        if (!g_variant_equal (reply, expected))
          g_error ("%s: got %s, expected %s", cases[i].method,
                   g_variant_print (reply, TRUE), g_variant_print (expected, TRUE));
      }
}

static void
test_agent_without_handler_passes (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  AgentLog log = { .decision = COPILOT_PERMISSION_APPROVE_ONCE };
  g_autoptr(CopilotAgent) agent = new_agent (client, &log);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *remote = NULL;

  /* No plan-approval handler: an error, so that the daemon asks the next
   * agent instead of taking a refusal. */
  reply = call_agent (fx, agent, "RequestPlanApproval", "(objectpath '/s', 'p1', @a{sv} {})",
                      "(ba{sv})", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, BUS_NAME ".Error.Failed");
  agent_log_clear (&log);
}

/* ---- tools ---- */

static void
on_invoke (CopilotTool *tool, CopilotToolCall *call, GPtrArray *kept)
{
  g_ptr_array_add (kept, g_object_ref (call));
}

static gboolean
answer_tool_cb (gpointer user_data)
{
  GPtrArray *kept = user_data;
  CopilotToolCall *call;
  g_autofree char *text = NULL;

  if (kept->len == 0)
    return G_SOURCE_CONTINUE;
  call = g_ptr_array_index (kept, 0);
  text = g_strdup_printf ("42 apples on %s", copilot_tool_call_get_arguments_json (call));
  copilot_tool_call_return_success (call, text);
  return G_SOURCE_REMOVE;
}

static void
test_tool (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotTool) tool = copilot_tool_new ("count_apples", "Counts apples",
                                                  "{\"type\":\"object\",\"properties\":{\"tree\":{\"type\":\"string\"}}}");
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(Seen) seen = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  g_autoptr(JsonObject) params = NULL;
  JsonObject *def;

  g_signal_connect (tool, "invoke", G_CALLBACK (on_invoke), kept);
  copilot_client_add_tool (client, tool);
  session = new_session (client, NULL);
  seen = seen_new (session);
  params = record_last (fx, "session.create");
  def = json_array_get_object_element (json_object_get_array_member (params, "tools"), 0);
  g_assert_cmpstr (json_object_get_string_member (def, "name"), ==, "count_apples");
  g_assert_cmpstr (json_object_get_string_member (def, "description"), ==, "Counts apples");

  g_timeout_add (20, answer_tool_cb, kept);
  content = send_and_wait (session, "TOOL: count_apples {\"tree\":\"oak\"}", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kept->len, ==, 1);
  g_assert_cmpstr (copilot_tool_call_get_tool_name (g_ptr_array_index (kept, 0)), ==, "count_apples");
  g_assert_cmpstr (copilot_tool_call_get_session_path (g_ptr_array_index (kept, 0)), ==,
                   copilot_session_get_object_path (session));
  /* The fake CLI shows the result the daemon gave it. */
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "42 apples on "));
  g_assert_nonnull (strstr (content, "oak"));
  g_assert_nonnull (strstr (content, "\"resultType\":\"success\""));
  g_assert_cmpuint (seen->tools_started->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (seen->tools_started, 0), ==, "count_apples");
  g_assert_cmpuint (seen->n_tools_finished, ==, 1);
}

static void
test_tool_without_answer_fails (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotTool) tool = copilot_tool_new ("count_pears", "Counts pears", NULL);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;

  /* No handler: the call fails at once instead of hanging the turn. */
  copilot_client_add_tool (client, tool);
  session = new_session (client, NULL);
  content = send_and_wait (session, "TOOL: count_pears {}", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (content, "Tool: "));
  g_assert_nonnull (strstr (content, "\"resultType\":\"failure\""));
}

/* ---- hooks and commands ---- */

static char *
on_hook (CopilotClient *client, const char *session, const char *type, const char *input, guint *n)
{
  g_autoptr(JsonObject) in = parse_json_object (input);

  (*n)++;
  g_assert_cmpstr (type, ==, "userPromptSubmitted");
  g_assert_cmpstr (json_object_get_string_member (in, "prompt"), ==, "HOOK:");
  return g_strdup ("{\"modifiedPrompt\":\"hooked\"}");
}

/* A session of @client, which serves userPromptSubmitted hooks with
 * @handler connected to @signal. */
static CopilotSession *
new_hooked_session (CopilotClient *client,
                    const char    *signal,
                    GCallback      handler,
                    gpointer       data)
{
  const char * const types[] = { "userPromptSubmitted", NULL };

  copilot_client_add_hooks (client, types);
  g_signal_connect (client, signal, handler, data);
  return new_session (client, NULL);
}

static void
test_hooks (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *content = NULL;
  guint n = 0;

  session = new_hooked_session (client, "hook::userPromptSubmitted", G_CALLBACK (on_hook), &n);
  params = record_last (fx, "session.create");
  g_assert_true (json_object_get_boolean_member (params, "hooks"));

  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  /* The fake CLI says its hooks.invoke got a result (not an error). */
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
}

static char *
on_command (CopilotClient *client, const char *session, const char *name, const char *args, GPtrArray *seen)
{
  g_ptr_array_add (seen, g_strdup_printf ("%s %s", name, args));
  return strcmp (args, "fail") == 0 ? g_strdup ("It failed") : NULL;
}

static void
test_commands (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GVariant) ok = NULL;
  g_autoptr(GVariant) failed = NULL;
  g_autoptr(GVariant) ok_results = NULL;
  g_autoptr(GVariant) failed_results = NULL;
  const char *message;
  JsonObject *command;

  copilot_client_add_command (client, "deploy", "Deploys the app");
  g_signal_connect (client, "command::deploy", G_CALLBACK (on_command), seen);
  session = new_session (client, NULL);
  params = record_last (fx, "session.create");
  command = json_array_get_object_element (json_object_get_array_member (params, "commands"), 0);
  g_assert_cmpstr (json_object_get_string_member (command, "name"), ==, "deploy");
  g_assert_cmpstr (json_object_get_string_member (command, "description"), ==, "Deploys the app");

  /* As the daemon calls it on command.execute. */
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new_parsed ("(objectpath '/s', 'r1', 'deploy', 'prod', @a{sv} {})"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result);
  ok = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result), &error);
  g_assert_no_error (error);
  g_variant_get (ok, "(@a{sv})", &ok_results);
  g_assert_cmpuint (g_variant_n_children (ok_results), ==, 0);
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new_parsed ("(objectpath '/s', 'r2', 'deploy', 'fail', @a{sv} {})"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, &result2);
  failed = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (&result2), &error);
  g_assert_no_error (error);
  g_variant_get (failed, "(@a{sv})", &failed_results);
  g_assert_true (g_variant_lookup (failed_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "It failed");
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, "deploy prod");
}

/* ---- hooks and commands answered later ---- */

static gboolean
answer_hook_later (gpointer user_data)
{
  copilot_hook_call_return_output (user_data, "{\"modifiedPrompt\":\"hooked later\"}");
  return G_SOURCE_REMOVE;
}

static gboolean
on_handle_hook (CopilotClient *client, CopilotHookCall *call, guint *n)
{
  g_autoptr(JsonObject) in = parse_json_object (copilot_hook_call_get_input_json (call));

  (*n)++;
  g_assert_cmpstr (copilot_hook_call_get_hook_type (call), ==, "userPromptSubmitted");
  g_assert_true (g_str_has_prefix (copilot_hook_call_get_session_path (call), "/io/github/copilotd/Copilot1/session/"));
  g_assert_true (g_variant_is_of_type (copilot_hook_call_get_context (call), G_VARIANT_TYPE_VARDICT));
  g_assert_cmpstr (json_object_get_string_member (in, "prompt"), ==, "HOOK:");
  g_idle_add_full (G_PRIORITY_DEFAULT, answer_hook_later, g_object_ref (call), g_object_unref);
  return TRUE;
}

static char *
on_hook_never (CopilotClient *client, const char *session, const char *type, const char *input, gpointer data)
{
  g_assert_not_reached ();
  return NULL;
}

/* The `output` of the daemon's answer to the fake's hooks.invoke. */
static JsonObject *
hook_output_sent (Fixture *fx)
{
  g_autoptr(GPtrArray) frames = record_frames (fx);

  for (guint i = 0; i < frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (frames, i);
      JsonObject *result = json_object_has_member (frame, "result") ?
                           json_object_get_object_member (frame, "result") : NULL;

      if (result != NULL && json_object_has_member (result, "output"))
        return json_object_ref (json_object_get_object_member (result, "output"));
    }
  return NULL;
}

static void
test_hook_answered_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) output = NULL;
  g_autofree char *content = NULL;
  guint n = 0;

  /* A handler that took the call: the synchronous signal is not emitted. */
  g_signal_connect (client, "hook", G_CALLBACK (on_hook_never), NULL);
  session = new_hooked_session (client, "handle-hook::userPromptSubmitted", G_CALLBACK (on_handle_hook), &n);

  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
  /* The answer given after the handler returned is what reached the CLI. */
  output = hook_output_sent (fx);
  g_assert_nonnull (output);
  g_assert_cmpstr (json_object_get_string_member (output, "modifiedPrompt"), ==, "hooked later");
}

typedef struct {
  CopilotHookCall *call;  /* owned, nullable: kept unanswered */
  guint cancelled;
} KeptHook;

static void
on_kept_hook_cancelled (CopilotHookCall *call, KeptHook *kept)
{
  g_assert_true (copilot_hook_call_is_cancelled (call));
  kept->cancelled++;
}

static gboolean
on_handle_hook_keep (CopilotClient *client, CopilotHookCall *call, KeptHook *kept)
{
  g_assert_null (kept->call);
  g_assert_true (g_variant_lookup (copilot_hook_call_get_context (call), "hook-call-id", "&s", NULL));
  kept->call = g_object_ref (call);
  g_signal_connect (call, "cancelled", G_CALLBACK (on_kept_hook_cancelled), kept);
  return TRUE;
}

/* A hook kept past the daemon's hook-timeout learns it was cancelled; the
 * turn went on without its output, and an answer now is ignored. */
static void
test_hook_timeout_cancels (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(CopilotSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  KeptHook kept = { NULL, 0 };

  fx->config->hook_timeout = 1;
  session = new_hooked_session (client, "handle-hook::userPromptSubmitted", G_CALLBACK (on_handle_hook_keep), &kept);
  content = send_and_wait (session, "HOOK:", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (kept.call);
  g_assert_cmpstr (content, ==, "Hook: hooks.invoke=result systemMessage.transform=error -32601");
  g_assert_null (hook_output_sent (fx));

  /* Cancel was sent before the CLI got its answer. */
  while (kept.cancelled == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (kept.cancelled, ==, 1);
  g_assert_true (copilot_hook_call_is_answered (kept.call));
  /* Ignored, and no critical (the tests run with fatal criticals). */
  copilot_hook_call_return_output (kept.call, "{\"modifiedPrompt\":\"too late\"}");
  g_assert_cmpuint (kept.cancelled, ==, 1);
  g_clear_object (&kept.call);
}

typedef struct {
  GPtrArray *calls;   /* owned: CopilotCommandCall*, kept unanswered */
  guint n;
} Commands;

static gboolean
on_handle_command (CopilotClient *client, CopilotCommandCall *call, Commands *commands)
{
  commands->n++;
  g_assert_cmpstr (copilot_command_call_get_name (call), ==, "deploy");
  if (strcmp (copilot_command_call_get_args (call), "drop") == 0)
    return TRUE;   /* dropped unanswered: fails */
  g_ptr_array_add (commands->calls, g_object_ref (call));
  return TRUE;
}

/* The results of a finished Execute. */
static GVariant *
execute_results (Fixture *fx, GAsyncResult **result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *results;

  reply = g_dbus_connection_call_finish (fx->daemon_conn, wait_result (result), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@a{sv})", &results);
  g_clear_object (result);
  return results;
}

static void
call_execute (Fixture *fx, const char *request_id, const char *args, GAsyncResult **result)
{
  g_dbus_connection_call (fx->daemon_conn, g_dbus_connection_get_unique_name (fx->client),
                          "/io/github/copilotd/libcopilot/CommandProvider", BUS_NAME ".CommandProvider", "Execute",
                          g_variant_new ("(osss@a{sv})", "/s", request_id, "deploy", args,
                                         g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, store_result, result);
}

static void
test_command_answered_later (Fixture *fx, gconstpointer data)
{
  g_autoptr(CopilotClient) client = new_client (fx->client);
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GAsyncResult) dropped = NULL;
  g_autoptr(GVariant) first_results = NULL;
  g_autoptr(GVariant) second_results = NULL;
  g_autoptr(GVariant) dropped_results = NULL;
  Commands commands = { g_ptr_array_new_with_free_func (g_object_unref), 0 };
  CopilotCommandCall *call;
  const char *message;

  copilot_client_add_command (client, "deploy", "Deploys the app");
  g_signal_connect (client, "handle-command::deploy", G_CALLBACK (on_handle_command), &commands);

  /* Two runs in flight at once; the app answers them later, in reverse. */
  call_execute (fx, "r1", "staging", &first);
  call_execute (fx, "r2", "prod", &second);
  while (commands.calls->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (first);
  g_assert_null (second);
  call = g_ptr_array_index (commands.calls, 1);
  g_assert_cmpstr (copilot_command_call_get_request_id (call), ==, "r2");
  g_assert_false (copilot_command_call_is_answered (call));
  copilot_command_call_return_error (call, "prod is frozen");
  g_assert_true (copilot_command_call_is_answered (call));
  second_results = execute_results (fx, &second);
  g_assert_true (g_variant_lookup (second_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "prod is frozen");
  g_assert_null (first);
  copilot_command_call_return_success (g_ptr_array_index (commands.calls, 0));
  first_results = execute_results (fx, &first);
  g_assert_cmpuint (g_variant_n_children (first_results), ==, 0);

  /* A handler that took the call but dropped it: the call fails. */
  call_execute (fx, "r3", "drop", &dropped);
  dropped_results = execute_results (fx, &dropped);
  g_assert_true (g_variant_lookup (dropped_results, "error", "&s", &message));
  g_assert_cmpstr (message, ==, "/deploy gave no result");
  g_assert_cmpuint (commands.n, ==, 3);
  g_ptr_array_unref (commands.calls);
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
  ADD ("/libcopilot/agent/answers-later", test_agent_answers_later);
  ADD ("/libcopilot/agent/dropped-prompt-refused", test_agent_dropped_prompt_refused);
  ADD ("/libcopilot/agent/registered-after-restart", test_agent_registered_after_restart);
  ADD ("/libcopilot/agent/user-input", test_agent_user_input);
  ADD ("/libcopilot/agent/cancel", test_agent_cancel);
  ADD ("/libcopilot/agent/checks-sender", test_agent_checks_sender);
  ADD ("/libcopilot/agent/contract2-kinds", test_agent_contract2_kinds);
  ADD ("/libcopilot/agent/without-handler-passes", test_agent_without_handler_passes);
  ADD ("/libcopilot/tool/invoke", test_tool);
  ADD ("/libcopilot/client/hooks", test_hooks);
  ADD ("/libcopilot/client/commands", test_commands);
  ADD ("/libcopilot/client/hook-answered-later", test_hook_answered_later);
  ADD ("/libcopilot/client/hook-timeout-cancels", test_hook_timeout_cancels);
  ADD ("/libcopilot/client/command-answered-later", test_command_answered_later);
  ADD ("/libcopilot/tool/no-answer-fails", test_tool_without_answer_fails);
#undef ADD

  return g_test_run ();
}
