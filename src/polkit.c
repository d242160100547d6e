/* SPDX-License-Identifier: MIT */
/* polkit.c: may this caller use copilotd? (system bus only)
 *
 * On the system bus, starting a conversation or serving prompts is the
 * polkit action io.github.copilotd.Copilot1.use: by default allowed at an
 * active local seat, refused elsewhere. The daemon asks polkit's D-Bus API
 * (org.freedesktop.PolicyKit1.Authority.CheckAuthorization) directly: one
 * asynchronous call is all it needs, so libpolkit-gobject-1 would add a
 * library, its dependencies and a second way of talking to the bus for
 * nothing. The check fails closed: no polkit, an error or a challenge the
 * caller did not allow to be interactive is a refusal.
 */
#include "config.h"

#include "copilotd-error.h"
#include "polkit.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"
/* CheckAuthorizationFlags.AllowUserInteraction */
#define POLKIT_ALLOW_USER_INTERACTION 1u
/* An authentication dialog may take a person a while. */
#define POLKIT_INTERACTIVE_TIMEOUT_MS (5 * 60 * 1000)
#define POLKIT_TIMEOUT_MS (25 * 1000)

typedef struct {
  GObject *object;                      /* owned */
  GDBusMethodInvocation *invocation;    /* owned */
  CopilotdAuthorizedFunc func;
} Check;

static void
check_free (Check *check)
{
  g_object_unref (check->object);
  g_object_unref (check->invocation);
  g_free (check);
}

static void
on_checked (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Check *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean authorized = FALSE;
  gboolean challenge = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);

  if (authorized)
    check->func (check->object, check->invocation);
  else if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_warning ("Cannot ask polkit about '%s' for '%s': %s", COPILOTD_POLKIT_ACTION,
                 g_dbus_method_invocation_get_sender (check->invocation), error->message);
      g_dbus_method_invocation_return_error (check->invocation, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                             "Not authorized for %s: polkit could not be asked (%s)",
                                             COPILOTD_POLKIT_ACTION, error->message);
    }
  else if (challenge)
    g_dbus_method_invocation_return_error (check->invocation, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                           "Not authorized for %s: authentication is required; "
                                           "call with interactive authorization allowed",
                                           COPILOTD_POLKIT_ACTION);
  else
    g_dbus_method_invocation_return_error (check->invocation, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                           "Not authorized for %s", COPILOTD_POLKIT_ACTION);
  check_free (check);
}

/* Calls @func (@object, @invocation) once the caller may use copilotd;
 * otherwise answers @invocation with AccessDenied naming the action. On the
 * session bus every caller is the user: @func runs at once. */
void
copilotd_polkit_authorize (gboolean               system_bus,
                           GObject               *object,
                           GDBusMethodInvocation *invocation,
                           CopilotdAuthorizedFunc func)
{
  GDBusMessage *message = g_dbus_method_invocation_get_message (invocation);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  gboolean interactive;
  GVariantBuilder subject;
  Check *check;

  if (!system_bus || sender == NULL)
    {
      func (object, invocation);
      return;
    }

  /* The caller says whether a password dialog may be shown for it. */
  interactive = (g_dbus_message_get_flags (message) &
                 G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
  g_variant_builder_init (&subject, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&subject, "{sv}", "name", g_variant_new_string (sender));

  check = g_new0 (Check, 1);
  check->object = g_object_ref (object);
  check->invocation = g_object_ref (invocation);
  check->func = func;
  g_debug ("Asking polkit whether '%s' may use '%s'", sender, COPILOTD_POLKIT_ACTION);
  g_dbus_connection_call (g_dbus_method_invocation_get_connection (invocation),
                          POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE, "CheckAuthorization",
                          g_variant_new ("((sa{sv})sa{ss}us)", "system-bus-name", &subject,
                                         COPILOTD_POLKIT_ACTION, NULL,
                                         interactive ? POLKIT_ALLOW_USER_INTERACTION : 0u, ""),
                          G_VARIANT_TYPE ("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE,
                          interactive ? POLKIT_INTERACTIVE_TIMEOUT_MS : POLKIT_TIMEOUT_MS,
                          NULL, on_checked, check);
}
