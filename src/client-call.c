/* SPDX-License-Identifier: MIT */
/* client-call.c: call a method on a client's object with a daemon-side deadline
 *
 * Agents, tool providers, hook providers and command providers are objects
 * on clients' connections that the daemon calls while the CLI waits. Such a
 * call must never outlive its purpose: it ends at the daemon's deadline (not
 * GDBus's 25 s default, since a person may be answering), when the caller
 * withdraws it, or as soon as the peer leaves the bus, whichever comes
 * first. This is the one place that does that.
 *
 * Each call is a GTask whose task data is the ClientCall below. The D-Bus
 * call has its own cancellable, cancelled when the task finishes, so a late
 * reply is dropped by GDBus; the reply callback holds a task reference.
 */
#include "config.h"

#include "client-call.h"
#include "copilotd-error.h"

typedef struct {
  GTask *task;                    /* unowned: owns this as task data */
  GDBusConnection *connection;    /* owned */
  CopilotdCallers *callers;       /* owned */
  char *peer;                     /* owned */
  char *path;                     /* owned */
  char *interface;                /* owned */
  char *method;                   /* owned */
  GVariant *cancel_parameters;    /* owned, nullable */
  GCancellable *call_cancellable; /* owned */
  GCancellable *cancellable;      /* owned, nullable: the caller's */
  gulong cancelled_id;
  gulong vanished_id;
  guint timeout_id;
  gboolean done;
} ClientCall;

static void
client_call_free (gpointer data)
{
  ClientCall *call = data;

  g_assert (call->timeout_id == 0);
  g_assert (call->cancelled_id == 0);
  g_assert (call->vanished_id == 0);

  g_object_unref (call->connection);
  g_object_unref (call->callers);
  g_free (call->peer);
  g_free (call->path);
  g_free (call->interface);
  g_free (call->method);
  g_clear_pointer (&call->cancel_parameters, g_variant_unref);
  g_object_unref (call->call_cancellable);
  g_clear_object (&call->cancellable);
  g_free (call);
}

/* Takes @reply or @error. */
static void
client_call_finish (ClientCall *call,
                    GVariant   *reply,
                    GError     *error,
                    gboolean    send_cancel)
{
  g_autoptr(GTask) task = g_object_ref (call->task);

  g_assert (!call->done);
  call->done = TRUE;

  g_clear_handle_id (&call->timeout_id, g_source_remove);
  g_clear_signal_handler (&call->cancelled_id, call->cancellable);
  g_clear_signal_handler (&call->vanished_id, call->callers);
  g_cancellable_cancel (call->call_cancellable);

  if (send_cancel && call->cancel_parameters != NULL)
    {
      g_debug ("Sending Cancel to %s %s (%s withdrawn)", call->peer, call->path, call->method);
      /* No callback: GDBus sends it with NO_REPLY_EXPECTED. */
      g_dbus_connection_call (call->connection, call->peer, call->path, call->interface,
                              "Cancel", call->cancel_parameters, NULL,
                              G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
    }

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ClientCall *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (call->done)
    {
      g_clear_pointer (&reply, g_variant_unref);
      return;
    }

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_debug ("%s %s did not answer %s: %s", call->peer, call->path, call->method, error->message);
      client_call_finish (call, NULL, g_steal_pointer (&error), FALSE);
    }
  else
    client_call_finish (call, reply, NULL, FALSE);
}

static gboolean
on_timeout (gpointer user_data)
{
  ClientCall *call = user_data;

  call->timeout_id = 0;
  g_debug ("%s %s did not answer %s in time", call->peer, call->path, call->method);
  client_call_finish (call, NULL,
                      g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                                   "%s did not answer %s in time", call->peer, call->method),
                      TRUE);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  ClientCall *call = user_data;

  client_call_finish (call, NULL,
                      g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "The call to %s was withdrawn", call->method),
                      TRUE);
}

static void
on_vanished (CopilotdCallers *callers,
             const char      *unique_name,
             gpointer         user_data)
{
  ClientCall *call = user_data;

  if (!g_str_equal (unique_name, call->peer))
    return;

  client_call_finish (call, NULL,
                      g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                                   "%s left the bus", call->peer),
                      FALSE);
}

void
copilotd_client_call_async (GDBusConnection     *connection,
                            CopilotdCallers     *callers,
                            const char          *peer,
                            const char          *object_path,
                            const char          *interface_name,
                            const char          *method_name,
                            GVariant            *parameters,
                            const GVariantType  *reply_type,
                            guint                timeout_ms,
                            GVariant            *cancel_parameters,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ClientCall *call;

  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));
  g_return_if_fail (COPILOTD_IS_CALLERS (callers));
  g_return_if_fail (peer != NULL && g_dbus_is_unique_name (peer));
  g_return_if_fail (g_variant_is_object_path (object_path));
  g_return_if_fail (parameters != NULL);

  g_variant_ref_sink (parameters);
  if (cancel_parameters != NULL)
    g_variant_ref_sink (cancel_parameters);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilotd_client_call_async);

  call = g_new0 (ClientCall, 1);
  call->task = task;
  call->connection = g_object_ref (connection);
  call->callers = g_object_ref (callers);
  call->peer = g_strdup (peer);
  call->path = g_strdup (object_path);
  call->interface = g_strdup (interface_name);
  call->method = g_strdup (method_name);
  call->cancel_parameters = cancel_parameters;
  call->call_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, call, client_call_free);

  if (g_task_return_error_if_cancelled (task))
    {
      g_variant_unref (parameters);
      return;
    }

  if (cancellable != NULL)
    {
      call->cancellable = g_object_ref (cancellable);
      call->cancelled_id = g_signal_connect (cancellable, "cancelled",
                                             G_CALLBACK (on_cancelled), call);
    }

  /* Not g_timeout_add_seconds: its first tick may come up to a second early. */
  if (timeout_ms > 0)
    call->timeout_id = g_timeout_add (timeout_ms, on_timeout, call);

  /* A peer that is already gone is reported from an idle by the watch. */
  call->vanished_id = g_signal_connect (callers, "vanished", G_CALLBACK (on_vanished), call);
  copilotd_callers_watch (callers, peer);

  /* G_MAXINT: no D-Bus timeout; the deadline above is the daemon's own. */
  g_dbus_connection_call (connection, peer, object_path, interface_name, method_name,
                          parameters, reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START, G_MAXINT,
                          call->call_cancellable, on_call_done, g_object_ref (task));
  g_variant_unref (parameters);
}

GVariant *
copilotd_client_call_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_client_call_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
