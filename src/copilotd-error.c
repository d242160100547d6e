/* SPDX-License-Identifier: MIT */
/* copilotd-error.c: the error domain every D-Bus client sees
 *
 * Registered with GDBus so that every GError the daemon returns reaches
 * clients as io.github.copilotd.Copilot1.Error.*, never as
 * org.gtk.GDBus.UnmappedGError.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "options.h"
#include "copilotd-error.h"

static const GDBusErrorEntry copilotd_error_entries[] = {
  { COPILOTD_ERROR_FAILED, "io.github.copilotd.Copilot1.Error.Failed" },
  { COPILOTD_ERROR_INVALID_ARGS, "io.github.copilotd.Copilot1.Error.InvalidArgs" },
  { COPILOTD_ERROR_NOT_FOUND, "io.github.copilotd.Copilot1.Error.NotFound" },
  { COPILOTD_ERROR_ACCESS_DENIED, "io.github.copilotd.Copilot1.Error.AccessDenied" },
  { COPILOTD_ERROR_ALREADY_EXISTS, "io.github.copilotd.Copilot1.Error.AlreadyExists" },
  { COPILOTD_ERROR_BUSY, "io.github.copilotd.Copilot1.Error.Busy" },
  { COPILOTD_ERROR_LIMITS_EXCEEDED, "io.github.copilotd.Copilot1.Error.LimitsExceeded" },
  { COPILOTD_ERROR_TIMEOUT, "io.github.copilotd.Copilot1.Error.Timeout" },
  { COPILOTD_ERROR_CANCELLED, "io.github.copilotd.Copilot1.Error.Cancelled" },
  { COPILOTD_ERROR_CLOSED, "io.github.copilotd.Copilot1.Error.Closed" },
  { COPILOTD_ERROR_BACKEND_FAILED, "io.github.copilotd.Copilot1.Error.BackendFailed" },
  { COPILOTD_ERROR_NOT_AUTHENTICATED, "io.github.copilotd.Copilot1.Error.NotAuthenticated" },
  { COPILOTD_ERROR_PROTOCOL_MISMATCH, "io.github.copilotd.Copilot1.Error.ProtocolMismatch" },
  { COPILOTD_ERROR_RATE_LIMITED, "io.github.copilotd.Copilot1.Error.RateLimited" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (copilotd_error_entries) == COPILOTD_N_ERRORS);

GQuark
copilotd_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("copilotd-error-quark",
                                      &quark,
                                      copilotd_error_entries,
                                      G_N_ELEMENTS (copilotd_error_entries));
  return (GQuark) quark;
}

static gboolean
contains_any (const char         *haystack,
              const char * const *needles)
{
  g_autofree char *lower = NULL;

  if (haystack == NULL)
    return FALSE;
  lower = g_ascii_strdown (haystack, -1);
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (lower, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

CopilotdError
copilotd_error_code_for_cli (const char   *message,
                             const char   *error_type,
                             gint64        status_code,
                             CopilotdError fallback)
{
  static const char * const auth_types[] = { "authorization", "authentication", "unauthorized", NULL };
  static const char * const limit_types[] = { "rate_limit", "rate-limit", "ratelimit", "quota", NULL };
  static const char * const auth_texts[] = {
    "oauth token", "not authenticated", "not logged in", "unauthorized", "http 401", "status 401",
    "authentication failed", NULL
  };
  static const char * const limit_texts[] = {
    "rate limit", "rate-limit", "rate_limit", "quota exceeded", "quota exhausted",
    "too many requests", "http 429", "status 429", NULL
  };

  if (status_code == 401 || contains_any (error_type, auth_types))
    return COPILOTD_ERROR_NOT_AUTHENTICATED;
  if (status_code == 429 || contains_any (error_type, limit_types))
    return COPILOTD_ERROR_RATE_LIMITED;
  if (contains_any (message, auth_texts))
    return COPILOTD_ERROR_NOT_AUTHENTICATED;
  if (contains_any (message, limit_texts))
    return COPILOTD_ERROR_RATE_LIMITED;
  return fallback;
}

GError *
copilotd_error_new_for_session_error (gpointer data)
{
  JsonObject *object = data;
  const char *message = copilotd_json_get_string (object, "message", "The turn failed");
  JsonNode *status = json_object_get_member (object, "statusCode");
  gint64 code = 0;

  if (status != NULL && JSON_NODE_HOLDS_VALUE (status) && json_node_get_value_type (status) == G_TYPE_INT64)
    code = json_node_get_int (status);
  return g_error_new (COPILOTD_ERROR,
                      copilotd_error_code_for_cli (message,
                                                   copilotd_json_get_string (object, "errorType", NULL),
                                                   code, COPILOTD_ERROR_FAILED),
                      "%s", message);
}
