/* SPDX-License-Identifier: MIT */
/* session-fallback.c: a named error for calls to sessions that are gone
 *
 * Once a session is closed its object is unexported, and GDBus would
 * answer a late call with org.freedesktop.DBus.Error.UnknownMethod, which
 * a client cannot tell from a typo. A subtree registered at the parent of
 * every session path answers Session calls to paths that have no live
 * object with io.github.copilotd.Copilot1.Error.NotFound instead. GDBus
 * asks a subtree only after the objects registered at the exact path, so
 * live sessions are untouched. Introspecting a gone path shows the Session
 * interface (GDBus only dispatches interfaces a node lists); reading its
 * properties fails.
 */
#include "config.h"

#include "copilotd-dbus.h"
#include "copilotd-error.h"
#include "session-fallback.h"

#define SESSION_PARENT_PATH "/io/github/copilotd/Copilot1/session"
#define SESSION_INTERFACE "io.github.copilotd.Copilot1.Session"

static void
gone_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                         "No live session at %s: it was closed, or never existed",
                                         object_path);
}

static const GDBusInterfaceVTable gone_vtable = {
  .method_call = gone_method_call,
};

static char **
subtree_enumerate (GDBusConnection *connection,
                   const char      *sender,
                   const char      *object_path,
                   gpointer         user_data)
{
  return g_new0 (char *, 1);
}

/* GDBus dispatches a call to a subtree node only for interfaces it lists. */
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
  if (node == NULL || g_strcmp0 (interface_name, SESSION_INTERFACE) != 0)
    return NULL;
  *out_user_data = NULL;
  return &gone_vtable;
}

static const GDBusSubtreeVTable subtree_vtable = {
  .enumerate = subtree_enumerate,
  .introspect = subtree_introspect,
  .dispatch = subtree_dispatch,
};

/**
 * copilotd_session_fallback_register:
 *
 * Returns: the registration id (g_dbus_connection_unregister_subtree()),
 *   or 0 with @error set
 */
guint
copilotd_session_fallback_register (GDBusConnection  *connection,
                                    GError          **error)
{
  return g_dbus_connection_register_subtree (connection, SESSION_PARENT_PATH, &subtree_vtable,
                                             G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES,
                                             NULL, NULL, error);
}
