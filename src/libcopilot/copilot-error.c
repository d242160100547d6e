/* SPDX-License-Identifier: MIT */
/* copilot-error.c: copilotd's D-Bus errors as a GError domain */
#include "config.h"

#include <string.h>

#include "copilot-error.h"
#include "copilot-private.h"

static const GDBusErrorEntry copilot_error_entries[] = {
  { COPILOT_ERROR_FAILED, "io.github.copilotd.Copilot1.Error.Failed" },
  { COPILOT_ERROR_INVALID_ARGS, "io.github.copilotd.Copilot1.Error.InvalidArgs" },
  { COPILOT_ERROR_NOT_FOUND, "io.github.copilotd.Copilot1.Error.NotFound" },
  { COPILOT_ERROR_ACCESS_DENIED, "io.github.copilotd.Copilot1.Error.AccessDenied" },
  { COPILOT_ERROR_ALREADY_EXISTS, "io.github.copilotd.Copilot1.Error.AlreadyExists" },
  { COPILOT_ERROR_BUSY, "io.github.copilotd.Copilot1.Error.Busy" },
  { COPILOT_ERROR_LIMITS_EXCEEDED, "io.github.copilotd.Copilot1.Error.LimitsExceeded" },
  { COPILOT_ERROR_TIMEOUT, "io.github.copilotd.Copilot1.Error.Timeout" },
  { COPILOT_ERROR_CANCELLED, "io.github.copilotd.Copilot1.Error.Cancelled" },
  { COPILOT_ERROR_CLOSED, "io.github.copilotd.Copilot1.Error.Closed" },
  { COPILOT_ERROR_BACKEND_FAILED, "io.github.copilotd.Copilot1.Error.BackendFailed" },
  { COPILOT_ERROR_NOT_AUTHENTICATED, "io.github.copilotd.Copilot1.Error.NotAuthenticated" },
  { COPILOT_ERROR_PROTOCOL_MISMATCH, "io.github.copilotd.Copilot1.Error.ProtocolMismatch" },
  { COPILOT_ERROR_RATE_LIMITED, "io.github.copilotd.Copilot1.Error.RateLimited" },
};

/**
 * copilot_error_quark:
 *
 * The quark of %COPILOT_ERROR. Registers the domain with GDBus, so that a
 * reply naming `io.github.copilotd.Copilot1.Error.NotFound` becomes
 * %COPILOT_ERROR_NOT_FOUND (use g_dbus_error_strip_remote_error() for a
 * message without the D-Bus name).
 *
 * Returns: the error quark
 */
GQuark
copilot_error_quark (void)
{
  static gsize quark = 0;

  /* Not g_dbus_error_register_error_domain(): it warns when a name is
   * registered already, which copilotd's own domain does in a process
   * that runs both (tests); copilot_error_normalize() covers that case. */
  if (g_once_init_enter (&quark))
    {
      GQuark q = g_quark_from_static_string ("copilot-error-quark");

      for (guint i = 0; i < G_N_ELEMENTS (copilot_error_entries); i++)
        g_dbus_error_register_error (q, copilot_error_entries[i].error_code,
                                     copilot_error_entries[i].dbus_error_name);
      g_once_init_leave (&quark, q);
    }
  return (GQuark) quark;
}

/* The daemon's own domain may be registered for the same D-Bus names in
 * this process (an in-process daemon in tests), and then wins: map any
 * copilotd error to COPILOT_ERROR so that apps can match on one domain.
 * The message loses GDBus's "GDBus.Error:name: " prefix either way: it is
 * what an app shows the user. */
void
copilot_error_normalize (GError *error)
{
  g_autofree char *name = NULL;

  if (error == NULL)
    return;
  if (error->domain == COPILOT_ERROR)
    {
      g_dbus_error_strip_remote_error (error);
      return;
    }
  name = g_dbus_error_encode_gerror (error);
  for (guint i = 0; i < G_N_ELEMENTS (copilot_error_entries); i++)
    {
      if (g_strcmp0 (name, copilot_error_entries[i].dbus_error_name) == 0)
        {
          g_dbus_error_strip_remote_error (error);
          error->domain = COPILOT_ERROR;
          error->code = copilot_error_entries[i].error_code;
          return;
        }
    }
}
