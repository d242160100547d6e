/* SPDX-License-Identifier: MIT */
/* libcopilot-fixture.c: what the libcopilot tests share
 *
 * Waiting for the library's asynchronous results while the in-process
 * daemon runs in the same thread, a client, a session and a turn in one
 * call, and a record of what a session delivered.
 */
#include "config.h"

#include <string.h>

#include "libcopilot-fixture.h"

#define WAIT_S 30

/* ---- waiting for async results ---- */

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

GAsyncResult *
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

void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

CopilotClient *
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

CopilotSession *
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

char *
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

Seen *
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

void
seen_free (Seen *seen)
{
  g_string_free (seen->deltas, TRUE);
  g_ptr_array_unref (seen->types);
  g_ptr_array_unref (seen->messages);
  g_ptr_array_unref (seen->tools_started);
  g_free (seen->closed_reason);
  g_free (seen);
}
