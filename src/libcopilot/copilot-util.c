/* SPDX-License-Identifier: MIT */
/* copilot-util.c: what libcopilot's classes share
 *
 * The embedded introspection data of the interfaces clients implement,
 * the calls to the daemon (each error mapped to the library's domain), the
 * check that a call to this process comes from the daemon, tables of
 * pending calls that hold no reference, and options taken as floating.
 */
#include "config.h"

#include "copilot-private.h"
/* ---- embedded interface XML ---- */

GDBusInterfaceInfo *
copilot_interface_info (const char *name)
{
  static GHashTable *infos;  /* owned for ever: interface name → info */

  if (g_once_init_enter (&infos))
    {
      static const char * const files[] = {
        "io.github.copilotd.Copilot1.Agent.xml",
        "io.github.copilotd.Copilot1.ToolProvider.xml",
        "io.github.copilotd.Copilot1.HookProvider.xml",
        "io.github.copilotd.Copilot1.CommandProvider.xml",
      };
      GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify) g_dbus_interface_info_unref);

      for (guint i = 0; i < G_N_ELEMENTS (files); i++)
        {
          g_autofree char *path = g_strconcat ("/io/github/copilotd/libcopilot/", files[i], NULL);
          g_autoptr(GBytes) bytes = NULL;
          g_autoptr(GDBusNodeInfo) node = NULL;
          g_autoptr(GError) error = NULL;

          bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
          if (bytes != NULL)
            node = g_dbus_node_info_new_for_xml (g_bytes_get_data (bytes, NULL), &error);
          if (node == NULL)
            g_error ("libcopilot: embedded %s: %s", files[i], error->message);
          for (guint j = 0; node->interfaces[j] != NULL; j++)
            {
              g_dbus_interface_info_cache_build (node->interfaces[j]);
              g_hash_table_insert (table, g_strdup (node->interfaces[j]->name),
                                   g_dbus_interface_info_ref (node->interfaces[j]));
            }
        }
      g_once_init_leave (&infos, table);
    }
  return g_hash_table_lookup (infos, name);
}

/* ---- calls ---- */

void
copilot_client_call (CopilotClient       *self,
                     const char          *path,
                     const char          *iface,
                     const char          *method,
                     GVariant            *params,
                     const GVariantType  *reply_type,
                     int                  timeout_ms,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  copilot_client_call_with_fds (self, path, iface, method, params, NULL, reply_type,
                                timeout_ms, cancellable, callback, user_data);
}

void
copilot_client_call_with_fds (CopilotClient       *self,
                              const char          *path,
                              const char          *iface,
                              const char          *method,
                              GVariant            *params,
                              GUnixFDList         *fds,
                              const GVariantType  *reply_type,
                              int                  timeout_ms,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_dbus_connection_call_with_unix_fd_list (copilot_client_get_connection (self), COPILOT_BUS_NAME,
                                            path, iface, method, params, reply_type,
                                            G_DBUS_CALL_FLAGS_NONE, timeout_ms, fds, cancellable,
                                            callback, user_data);
}

static GVariant *
call_finish (GDBusConnection  *connection,
             GAsyncResult     *result,
             GError          **error)
{
  GError *local_error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (connection, NULL, result, &local_error);
  if (reply == NULL)
    {
      copilot_error_normalize (local_error);
      g_propagate_error (error, local_error);
    }
  return reply;
}

GVariant *
copilot_client_call_finish (CopilotClient  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  return call_finish (copilot_client_get_connection (self), result, error);
}

void
copilot_client_call_return_reply (GObject      *source,
                                  GAsyncResult *result,
                                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *reply;

  reply = call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

gboolean
copilot_client_check_caller (CopilotClient         *self,
                             const char            *sender,
                             GDBusMethodInvocation *invocation)
{
  const char *daemon_name = copilot_client_get_daemon_name (self);

  if (daemon_name != NULL && g_strcmp0 (sender, daemon_name) == 0)
    return TRUE;
  /* By name: the domain may be another's in this process. */
  g_dbus_method_invocation_return_dbus_error (invocation, COPILOT_BUS_NAME ".Error.AccessDenied",
                                              "Only " COPILOT_BUS_NAME " may call this object");
  return FALSE;
}

static void
weak_table_forget (gpointer  data,
                   GObject  *where_the_object_was)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, data);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (value == (gpointer) where_the_object_was)
      g_hash_table_iter_remove (&iter);
}

GHashTable *
copilot_weak_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
copilot_weak_table_insert (GHashTable *table,
                           const char *id,
                           gpointer    object)
{
  gpointer old = g_hash_table_lookup (table, id);

  if (old != NULL)
    g_object_weak_unref (old, weak_table_forget, table);
  g_hash_table_insert (table, g_strdup (id), object);
  g_object_weak_ref (object, weak_table_forget, table);
}

void
copilot_weak_table_clear (GHashTable *table)
{
  GHashTableIter iter;
  gpointer object;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, NULL, &object))
    g_object_weak_unref (object, weak_table_forget, table);
  g_hash_table_remove_all (table);
}

GVariant *
copilot_sink_options (GVariant *options)
{
  if (options == NULL)
    return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));
  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), NULL);
  return g_variant_ref_sink (options);
}
