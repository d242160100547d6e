/* test-util.c: a private bus and blocking-by-iterating calls for tests */
#include "test-util.h"

GDBusConnection *
test_connect (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

typedef struct {
  GVariant *reply;
  GError *error;
  gboolean done;
} CallData;

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CallData *data = user_data;

  data->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &data->error);
  data->done = TRUE;
}

GVariant *
test_call (GDBusConnection     *connection,
           const char          *bus_name,
           const char          *object_path,
           const char          *interface_name,
           const char          *method_name,
           GVariant            *parameters,
           const GVariantType  *reply_type,
           GError             **error)
{
  CallData data = { NULL, };

  g_dbus_connection_call (connection, bus_name, object_path, interface_name, method_name,
                          parameters, reply_type, G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                          on_call_done, &data);
  test_wait_for (&data.done, 15);

  if (data.error != NULL)
    g_propagate_error (error, data.error);
  return data.reply;
}

static gboolean
on_wait_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

void
test_wait_for (const gboolean *flag,
               guint           timeout_s)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, on_wait_timeout, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
test_wait_until (gboolean (*done) (gpointer data),
                 gpointer  data,
                 guint     timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  /* Wakes the loop so that the deadline is checked without events. */
  guint tick = g_timeout_add (100, on_tick, NULL);

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (tick);
  g_assert_true (done (data));
}

void
test_spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_wait_timeout, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}
