/* SPDX-License-Identifier: MIT */
/* object-manager.c: the ObjectManager and the session objects, each shown to its owner UID
 *
 * DESIGN.md §7: on the system bus a session is visible only to its owner
 * UID. GDBusObjectManagerServer cannot do that: it broadcasts
 * InterfacesAdded/Removed and answers GetManagedObjects with every object,
 * an exported skeleton broadcasts its PropertiesChanged, and GDBus answers
 * Introspect with every registered child path. So here:
 *
 * - Session skeletons are never exported themselves. One subtree at
 *   …/session serves every session path. Its enumeration (Introspect of
 *   …/session) lists the caller's UID's sessions only. Method calls go to
 *   the skeleton's own vtable (the peer gate included). Properties.Get and
 *   GetAll are answered here, to connections of the owner's UID only
 *   (AccessDenied for others). A path without a live session answers
 *   NotFound, never GDBus's UnknownMethod, for any member; Introspect shows
 *   the Session interface on every session path, live or not, so that it
 *   tells a stranger nothing.
 * - GetManagedObjects at the root lists the caller's UID's sessions only.
 * - InterfacesAdded/Removed, PropertiesChanged (coalesced in an idle, as a
 *   skeleton does) and the Manager's SessionLifecycle go out through
 *   copilotd_object_manager_emit(): with @unicast (the system bus) one copy
 *   to each connection of the owner UID that the daemon knows, that is one
 *   that has called copilotd (any member, GetManagedObjects included) and
 *   is still on the bus (the callers cache forgets names on
 *   NameOwnerChanged); without (the session bus, one user) a broadcast.
 */
#include "config.h"

#include <string.h>

#include "copilotd-dbus.h"
#include "copilotd-error.h"
#include "object-manager.h"
#include "peer-gate.h"

#define ROOT_PATH "/io/github/copilotd/Copilot1"
#define SESSION_PARENT_PATH ROOT_PATH "/session"
#define OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"
#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"

static const char object_manager_xml[] =
  "<node>"
  "  <interface name='" OBJECT_MANAGER_INTERFACE "'>"
  "    <method name='GetManagedObjects'>"
  "      <arg name='objects' type='a{oa{sa{sv}}}' direction='out'/>"
  "    </method>"
  "    <signal name='InterfacesAdded'>"
  "      <arg name='object_path' type='o'/>"
  "      <arg name='interfaces_and_properties' type='a{sa{sv}}'/>"
  "    </signal>"
  "    <signal name='InterfacesRemoved'>"
  "      <arg name='object_path' type='o'/>"
  "      <arg name='interfaces' type='as'/>"
  "    </signal>"
  "  </interface>"
  "</node>";

typedef struct {
  CopilotdObjectManager *manager;       /* unowned: it owns this */
  GDBusInterfaceSkeleton *skeleton;     /* owned */
  char *path;                           /* owned */
  uid_t uid;
  GVariant *announced;                  /* owned: a{sv} as last announced */
  gulong notify_id;
  guint flush_id;
} Exported;

struct _CopilotdObjectManager
{
  GDBusConnection *connection;          /* owned */
  CopilotdCallers *callers;             /* owned */
  gboolean unicast;
  GDBusNodeInfo *node_info;             /* owned: the ObjectManager interface */
  GHashTable *objects;                  /* owned: node name → Exported* (owned) */
  guint root_id;                        /* the ObjectManager registration */
  guint subtree_id;                     /* every session path */
};

static const char *
node_of (const char *path)
{
  const char *slash = strrchr (path, '/');

  return slash ? slash + 1 : path;
}

static Exported *
lookup_path (CopilotdObjectManager *self,
             const char            *path)
{
  if (!g_str_has_prefix (path, SESSION_PARENT_PATH "/"))
    return NULL;
  return g_hash_table_lookup (self->objects, node_of (path));
}

/* Whether @sender may see objects of @uid: it passes the peer gate and
 * runs as @uid. No sender: a peer-to-peer connection, our own. */
static gboolean
may_see (CopilotdObjectManager  *self,
         const char             *sender,
         uid_t                   uid,
         GError                **error)
{
  uid_t caller;

  if (!copilotd_peer_gate_allows (sender, error))
    return FALSE;
  if (sender == NULL)
    return TRUE;
  if (!copilotd_callers_get_uid (self->callers, sender, &caller, error))
    return FALSE;
  if (caller == uid)
    return TRUE;
  g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                       "This session belongs to another user");
  return FALSE;
}

/* Never floating. */
static GVariant *
dup_properties (Exported *exported)
{
  return g_dbus_interface_skeleton_get_properties (exported->skeleton);
}

/* ---- signals ------------------------------------------------------------- */

void
copilotd_object_manager_emit (CopilotdObjectManager *self,
                              uid_t                  uid,
                              const char            *path,
                              const char            *interface_name,
                              const char            *signal_name,
                              GVariant              *parameters)
{
  g_autoptr(GVariant) params = g_variant_ref_sink (parameters);
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->unicast)
    {
      if (!g_dbus_connection_emit_signal (self->connection, NULL, path, interface_name,
                                          signal_name, params, &error))
        g_warning ("Cannot emit %s: %s", signal_name, error->message);
      return;
    }

  names = copilotd_callers_list_names (self->callers, uid);
  for (guint i = 0; i < names->len; i++)
    if (!g_dbus_connection_emit_signal (self->connection, g_ptr_array_index (names, i), path,
                                        interface_name, signal_name, params, &error))
      {
        g_warning ("Cannot emit %s to “%s”: %s", signal_name,
                   (const char *) g_ptr_array_index (names, i), error->message);
        g_clear_error (&error);
      }
}

/* PropertiesChanged with what differs from what was announced last. */
static void
flush_properties (Exported *exported)
{
  g_autoptr(GVariant) now = dup_properties (exported);
  const char *interface_name = g_dbus_interface_skeleton_get_info (exported->skeleton)->name;
  GVariantBuilder changed;
  GVariantIter iter;
  const char *name;
  GVariant *value;
  gboolean any = FALSE;

  g_clear_handle_id (&exported->flush_id, g_source_remove);
  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, now);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_autoptr(GVariant) before = g_variant_lookup_value (exported->announced, name, NULL);

      if (before == NULL || !g_variant_equal (before, value))
        {
          g_variant_builder_add (&changed, "{sv}", name, value);
          any = TRUE;
        }
      g_variant_unref (value);
    }
  if (!any)
    {
      g_variant_builder_clear (&changed);
      return;
    }
  g_variant_unref (exported->announced);
  exported->announced = g_steal_pointer (&now);
  copilotd_object_manager_emit (exported->manager, exported->uid, exported->path,
                                PROPERTIES_INTERFACE, "PropertiesChanged",
                                g_variant_new ("(sa{sv}as)", interface_name, &changed, NULL));
}

static gboolean
on_flush_idle (gpointer user_data)
{
  Exported *exported = user_data;

  exported->flush_id = 0;
  flush_properties (exported);
  return G_SOURCE_REMOVE;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  Exported *exported = user_data;

  /* Several changes in one main-loop turn make one signal. */
  if (exported->flush_id == 0)
    exported->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, on_flush_idle, exported, NULL);
}

static void
exported_free (Exported *exported)
{
  g_clear_handle_id (&exported->flush_id, g_source_remove);
  g_clear_signal_handler (&exported->notify_id, exported->skeleton);
  g_clear_object (&exported->skeleton);
  g_clear_pointer (&exported->announced, g_variant_unref);
  g_free (exported->path);
  g_free (exported);
}

void
copilotd_object_manager_export (CopilotdObjectManager  *self,
                                GDBusInterfaceSkeleton *skeleton,
                                const char             *path,
                                uid_t                   uid)
{
  Exported *exported;
  GVariantBuilder interfaces;

  g_return_if_fail (g_str_has_prefix (path, SESSION_PARENT_PATH "/"));
  g_return_if_fail (!g_hash_table_contains (self->objects, node_of (path)));

  exported = g_new0 (Exported, 1);
  exported->manager = self;
  exported->skeleton = g_object_ref (skeleton);
  exported->path = g_strdup (path);
  exported->uid = uid;
  exported->announced = dup_properties (exported);
  exported->notify_id = g_signal_connect (skeleton, "notify", G_CALLBACK (on_notify), exported);
  g_hash_table_insert (self->objects, g_strdup (node_of (path)), exported);

  g_variant_builder_init (&interfaces, G_VARIANT_TYPE ("a{sa{sv}}"));
  g_variant_builder_add (&interfaces, "{s@a{sv}}",
                         g_dbus_interface_skeleton_get_info (skeleton)->name, exported->announced);
  copilotd_object_manager_emit (self, uid, ROOT_PATH, OBJECT_MANAGER_INTERFACE, "InterfacesAdded",
                                g_variant_new ("(oa{sa{sv}})", path, &interfaces));
}

void
copilotd_object_manager_unexport (CopilotdObjectManager *self,
                                  const char            *path)
{
  Exported *exported = lookup_path (self, path);
  const char *names[2] = { NULL, NULL };

  if (exported == NULL)
    return;
  /* The last changes (State "closed") first, then the object goes. */
  flush_properties (exported);
  names[0] = g_dbus_interface_skeleton_get_info (exported->skeleton)->name;
  copilotd_object_manager_emit (self, exported->uid, ROOT_PATH, OBJECT_MANAGER_INTERFACE,
                                "InterfacesRemoved", g_variant_new ("(o^as)", path, names));
  g_hash_table_remove (self->objects, node_of (path));
}

/* ---- the root: GetManagedObjects ---------------------------------------- */

static void
root_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  CopilotdObjectManager *self = user_data;
  g_autoptr(GError) error = NULL;
  GVariantBuilder objects;
  GHashTableIter iter;
  Exported *exported;
  uid_t uid = 0;

  if (!copilotd_peer_gate_allows (sender, &error) ||
      (sender != NULL && !copilotd_callers_get_uid (self->callers, sender, &uid, &error)))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }

  g_variant_builder_init (&objects, G_VARIANT_TYPE ("a{oa{sa{sv}}}"));
  g_hash_table_iter_init (&iter, self->objects);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &exported))
    {
      g_autoptr(GVariant) properties = NULL;

      if (sender != NULL && exported->uid != uid)
        continue;
      properties = dup_properties (exported);
      g_variant_builder_open (&objects, G_VARIANT_TYPE ("{oa{sa{sv}}}"));
      g_variant_builder_add (&objects, "o", exported->path);
      g_variant_builder_open (&objects, G_VARIANT_TYPE ("a{sa{sv}}"));
      g_variant_builder_add (&objects, "{s@a{sv}}",
                             g_dbus_interface_skeleton_get_info (exported->skeleton)->name, properties);
      g_variant_builder_close (&objects);
      g_variant_builder_close (&objects);
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a{oa{sa{sv}}})", &objects));
}

static const GDBusInterfaceVTable root_vtable = {
  .method_call = root_method_call,
};

/* ---- session paths ------------------------------------------------------- */

static void
reply_properties (Exported              *exported,
                  GDBusConnection       *connection,
                  const char            *sender,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation)
{
  const GDBusInterfaceVTable *vtable = g_dbus_interface_skeleton_get_vtable (exported->skeleton);
  g_autoptr(GError) error = NULL;
  const char *interface_name, *property;
  g_autoptr(GVariant) value = NULL;

  if (strcmp (method_name, "GetAll") == 0)
    {
      g_autoptr(GVariant) all = dup_properties (exported);

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", all));
      return;
    }
  if (strcmp (method_name, "Get") != 0 || vtable->get_property == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_PROPERTY_READ_ONLY,
                                             "The properties of a session are read-only");
      return;
    }
  g_variant_get (parameters, "(&s&s)", &interface_name, &property);
  value = vtable->get_property (connection, sender, exported->path, interface_name, property,
                                &error, exported->skeleton);
  if (value == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  /* A floating value is ours to consume, like GDBus does. */
  g_variant_take_ref (value);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
}

/* Every member of every session path: the subtree hands over @self, not
 * the object, which may be gone by the time the call is dispatched. */
static void
session_method_call (GDBusConnection       *connection,
                     const char            *sender,
                     const char            *object_path,
                     const char            *interface_name,
                     const char            *method_name,
                     GVariant              *parameters,
                     GDBusMethodInvocation *invocation,
                     gpointer               user_data)
{
  CopilotdObjectManager *self = user_data;
  Exported *exported = lookup_path (self, object_path);
  const GDBusInterfaceVTable *vtable;
  g_autoptr(GError) error = NULL;

  if (exported == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                             "No live session at %s: it was closed, or never existed",
                                             object_path);
      return;
    }
  if (!may_see (self, sender, exported->uid, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (strcmp (interface_name, PROPERTIES_INTERFACE) == 0)
    {
      reply_properties (exported, connection, sender, method_name, parameters, invocation);
      return;
    }
  vtable = g_dbus_interface_skeleton_get_vtable (exported->skeleton);
  vtable->method_call (connection, sender, object_path, interface_name, method_name,
                       parameters, invocation, exported->skeleton);
}

/* No get_property: GDBus sends Properties calls to method_call, which
 * checks the caller first. */
static const GDBusInterfaceVTable session_vtable = {
  .method_call = session_method_call,
};

static char **
subtree_enumerate (GDBusConnection *connection,
                   const char      *sender,
                   const char      *object_path,
                   gpointer         user_data)
{
  CopilotdObjectManager *self = user_data;
  GPtrArray *nodes = g_ptr_array_new ();
  GHashTableIter iter;
  const char *node;
  Exported *exported;

  g_hash_table_iter_init (&iter, self->objects);
  while (g_hash_table_iter_next (&iter, (gpointer *) &node, (gpointer *) &exported))
    if (may_see (self, sender, exported->uid, NULL))
      g_ptr_array_add (nodes, g_strdup (node));
  g_ptr_array_add (nodes, NULL);
  return (char **) g_ptr_array_free (nodes, FALSE);
}

/* The same on every session path, live, gone or another user's: GDBus
 * dispatches a call to a node only for the interfaces it lists. */
static GDBusInterfaceInfo **
subtree_introspect (GDBusConnection *connection,
                    const char      *sender,
                    const char      *object_path,
                    const char      *node,
                    gpointer         user_data)
{
  GDBusInterfaceInfo **infos;

  if (node == NULL)
    return NULL;
  infos = g_new0 (GDBusInterfaceInfo *, 2);
  infos[0] = g_dbus_interface_info_ref (copilotd_dbus_session_interface_info ());
  return infos;
}

static const GDBusInterfaceVTable *
subtree_dispatch (GDBusConnection *connection,
                  const char      *sender,
                  const char      *object_path,
                  const char      *interface_name,
                  const char      *node,
                  gpointer        *out_user_data,
                  gpointer         user_data)
{
  if (node == NULL)
    return NULL;
  *out_user_data = user_data;
  return &session_vtable;
}

static const GDBusSubtreeVTable subtree_vtable = {
  .enumerate = subtree_enumerate,
  .introspect = subtree_introspect,
  .dispatch = subtree_dispatch,
};

/* ---- object -------------------------------------------------------------- */

gboolean
copilotd_object_manager_register (CopilotdObjectManager  *self,
                                  GError                **error)
{
  g_return_val_if_fail (self->root_id == 0, FALSE);

  self->root_id = g_dbus_connection_register_object (self->connection, ROOT_PATH,
                                                     self->node_info->interfaces[0],
                                                     &root_vtable, self, NULL, error);
  if (self->root_id == 0)
    return FALSE;
  self->subtree_id = g_dbus_connection_register_subtree (self->connection, SESSION_PARENT_PATH,
                                                         &subtree_vtable,
                                                         G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES,
                                                         self, NULL, error);
  return self->subtree_id != 0;
}

CopilotdObjectManager *
copilotd_object_manager_new (GDBusConnection *connection,
                             CopilotdCallers *callers,
                             gboolean         unicast)
{
  CopilotdObjectManager *self = g_new0 (CopilotdObjectManager, 1);

  self->connection = g_object_ref (connection);
  self->callers = g_object_ref (callers);
  self->unicast = unicast;
  self->node_info = g_dbus_node_info_new_for_xml (object_manager_xml, NULL);
  g_assert (self->node_info != NULL);
  self->objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) exported_free);
  return self;
}

void
copilotd_object_manager_free (CopilotdObjectManager *self)
{
  if (self->subtree_id != 0)
    g_dbus_connection_unregister_subtree (self->connection, self->subtree_id);
  if (self->root_id != 0)
    g_dbus_connection_unregister_object (self->connection, self->root_id);
  g_hash_table_unref (self->objects);
  g_dbus_node_info_unref (self->node_info);
  g_object_unref (self->callers);
  g_object_unref (self->connection);
  g_free (self);
}
