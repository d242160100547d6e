/* SPDX-License-Identifier: MIT */
/* session-subscribers.c: who hears a session
 *
 * Subscribe, Unsubscribe and GetEvents: the owner hears its session from
 * the start; another connection of the owner's UID hears it (and may call
 * it) once subscribed, narrowed by its `types` globs, and catches up from
 * the replay ring with GetEvents. A persistent session whose owner left is
 * adopted by its next subscriber.
 */
#include "config.h"

#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "session-private.h"

gboolean
session_handle_subscribe (CopilotdDbusSession   *iface,
                          GDBusMethodInvocation *invocation,
                          GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) types = NULL;
  g_autofree const char **strv = NULL;
  uid_t uid;

  if (self->closed)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                                             "Session %s is closed", self->id);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!copilotd_option_lookup (options, "types", G_VARIANT_TYPE_STRING_ARRAY, &types, &error) ||
      !copilotd_check_subscribe_types (types, &error) ||
      !copilotd_callers_get_uid (self->ctx.callers, sender, &uid, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (uid != self->uid)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                             "Session %s belongs to another user", self->id);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!copilotd_event_relay_is_subscribed (self->relay, sender) &&
      copilotd_event_relay_get_n_subscribers (self->relay) >= self->ctx.config->max_subscribers)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                                             "Session %s already has %u subscribers",
                                             self->id, self->ctx.config->max_subscribers);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  if (types != NULL)
    strv = g_variant_get_strv (types, NULL);
  copilotd_event_relay_subscribe (self->relay, sender, strv);
  copilotd_callers_watch (self->ctx.callers, sender);

  /* A persistent session whose owner left gets a new one. */
  if (self->owner == NULL)
    {
      g_debug ("Session '%s' adopted by '%s'", self->id, sender);
      self->owner = g_strdup (sender);
    }

  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(t)", copilotd_event_relay_get_next_serial (self->relay)));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
session_handle_unsubscribe (CopilotdDbusSession   *iface,
                            GDBusMethodInvocation *invocation)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  if (!copilotd_event_relay_unsubscribe (self->relay, sender))
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND,
                                             "The caller is not subscribed to session %s", self->id);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
session_handle_get_events (CopilotdDbusSession   *iface,
                           GDBusMethodInvocation *invocation,
                           guint64                since,
                           guint                  max)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    g_dbus_method_invocation_return_value (invocation,
                                           copilotd_event_relay_get_events (self->relay, since, max));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
