/* SPDX-License-Identifier: MIT */
/* peer-gate.c: on a session bus, only the daemon's own user gets in
 *
 * A session bus may admit other UIDs (root always; any user when it is
 * configured to). In --session mode copilotd runs the CLI as its own user,
 * so a peer of another UID could read this user's history and run
 * commands as this user. Every method call and property read on the
 * Manager, AgentManager and Session objects first passes this gate, which
 * answers AccessDenied to a caller whose UID is not the daemon's. On the
 * system bus the gate is open: there every user has a CLI of their own and
 * the objects check their owner UID themselves. The open gate still looks
 * every caller's UID up (cached): the connections of a UID that have called
 * copilotd are where signals about that UID's sessions go
 * (object-manager.c).
 *
 * The gate wraps the GDBusInterfaceVTable that gdbus-codegen's skeleton
 * returns (GDBusInterfaceSkeletonClass.get_vtable), so it runs in the main
 * thread, in the order calls arrive, before any handler.
 */
#include "config.h"

#include "copilotd-error.h"
#include "peer-gate.h"

typedef GDBusInterfaceVTable *(*GetVTable) (GDBusInterfaceSkeleton *skeleton);

typedef struct {
  GDBusInterfaceVTable vtable;           /* what GDBus calls */
  const GDBusInterfaceVTable *inner;     /* unowned: the skeleton's own */
} GatedVTable;

static CopilotdCallers *gate_callers;    /* unowned, nullable: nobody looked up */
static gboolean gate_only_uid;           /* closed to UIDs but gate_uid */
static uid_t gate_uid;

static GQuark
inner_get_vtable_quark (void)
{
  return g_quark_from_static_string ("copilotd-peer-gate-inner");
}

static GQuark
gated_vtable_quark (void)
{
  return g_quark_from_static_string ("copilotd-peer-gate-vtable");
}

/**
 * copilotd_peer_gate_set:
 * @callers: (nullable): where UIDs come from; %NULL opens the gate
 *
 * The daemon calls this in --session mode with its own UID; it must stay
 * alive while the gate is set.
 */
void
copilotd_peer_gate_set (CopilotdCallers *callers,
                        uid_t            uid)
{
  gate_callers = callers;
  gate_only_uid = callers != NULL;
  gate_uid = uid;
}

/**
 * copilotd_peer_gate_set_open:
 * @callers: where UIDs are looked up and kept
 *
 * The system bus: everybody gets in, and is known by UID.
 */
void
copilotd_peer_gate_set_open (CopilotdCallers *callers)
{
  gate_callers = callers;
  gate_only_uid = FALSE;
}

gboolean
copilotd_peer_gate_allows (const char  *sender,
                           GError     **error)
{
  uid_t uid;

  /* No sender: a peer-to-peer connection, which is always our own. */
  if (gate_callers == NULL || sender == NULL)
    return TRUE;
  if (!gate_only_uid)
    {
      /* A caller already gone is no reason to refuse it: the handlers,
       * which need its UID, say why. */
      copilotd_callers_get_uid (gate_callers, sender, NULL, NULL);
      return TRUE;
    }
  if (!copilotd_callers_get_uid (gate_callers, sender, &uid, error))
    return FALSE;
  if (uid == gate_uid)
    return TRUE;
  g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
               "This copilotd serves UID %u on its session bus, not UID %u",
               (guint) gate_uid, (guint) uid);
  return FALSE;
}

static const GDBusInterfaceVTable *
inner_vtable (gpointer skeleton)
{
  GatedVTable *gated = g_object_get_qdata (skeleton, gated_vtable_quark ());

  return gated->inner;
}

static void
gated_method_call (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *object_path,
                   const char            *interface_name,
                   const char            *method_name,
                   GVariant              *parameters,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  g_autoptr(GError) error = NULL;

  if (!copilotd_peer_gate_allows (sender, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  inner_vtable (user_data)->method_call (connection, sender, object_path, interface_name,
                                         method_name, parameters, invocation, user_data);
}

static GVariant *
gated_get_property (GDBusConnection  *connection,
                    const char       *sender,
                    const char       *object_path,
                    const char       *interface_name,
                    const char       *property_name,
                    GError          **error,
                    gpointer          user_data)
{
  if (!copilotd_peer_gate_allows (sender, error))
    return NULL;
  return inner_vtable (user_data)->get_property (connection, sender, object_path, interface_name,
                                                 property_name, error, user_data);
}

static gboolean
gated_set_property (GDBusConnection  *connection,
                    const char       *sender,
                    const char       *object_path,
                    const char       *interface_name,
                    const char       *property_name,
                    GVariant         *value,
                    GError          **error,
                    gpointer          user_data)
{
  if (!copilotd_peer_gate_allows (sender, error))
    return FALSE;
  return inner_vtable (user_data)->set_property (connection, sender, object_path, interface_name,
                                                 property_name, value, error, user_data);
}

static GDBusInterfaceVTable *
gated_get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  GatedVTable *gated = g_object_get_qdata (G_OBJECT (skeleton), gated_vtable_quark ());

  if (gated == NULL)
    {
      GetVTable inner = g_type_get_qdata (G_OBJECT_TYPE (skeleton), inner_get_vtable_quark ());

      gated = g_new0 (GatedVTable, 1);
      gated->inner = inner (skeleton);
      gated->vtable.method_call = gated_method_call;
      gated->vtable.get_property = gated->inner->get_property ? gated_get_property : NULL;
      gated->vtable.set_property = gated->inner->set_property ? gated_set_property : NULL;
      g_object_set_qdata_full (G_OBJECT (skeleton), gated_vtable_quark (), gated, g_free);
    }
  return &gated->vtable;
}

void
copilotd_peer_gate_install (GDBusInterfaceSkeletonClass *klass)
{
  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), inner_get_vtable_quark (), klass->get_vtable);
  klass->get_vtable = gated_get_vtable;
}
