/* SPDX-License-Identifier: MIT */
/* copilotd-error.h: the error domain every D-Bus client sees */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define COPILOTD_ERROR (copilotd_error_quark ())

/* Order matters: it is the table in copilotd-error.c. */
typedef enum {
  COPILOTD_ERROR_FAILED,
  COPILOTD_ERROR_INVALID_ARGS,
  COPILOTD_ERROR_NOT_FOUND,
  COPILOTD_ERROR_ACCESS_DENIED,
  COPILOTD_ERROR_ALREADY_EXISTS,
  COPILOTD_ERROR_BUSY,
  COPILOTD_ERROR_LIMITS_EXCEEDED,
  COPILOTD_ERROR_TIMEOUT,
  COPILOTD_ERROR_CANCELLED,
  COPILOTD_ERROR_CLOSED,
  COPILOTD_ERROR_BACKEND_FAILED,
  COPILOTD_ERROR_NOT_AUTHENTICATED,
  COPILOTD_ERROR_PROTOCOL_MISMATCH,
  COPILOTD_ERROR_RATE_LIMITED,
} CopilotdError;

#define COPILOTD_N_ERRORS (COPILOTD_ERROR_RATE_LIMITED + 1)

GQuark copilotd_error_quark (void);

/* The error a CLI failure maps to, from its text (an error reply's message)
 * or a session.error's errorType and statusCode (0: none): a missing login
 * or HTTP 401 is NOT_AUTHENTICATED, a rate limit, exhausted quota or HTTP
 * 429 is RATE_LIMITED, anything else @fallback. */
CopilotdError copilotd_error_code_for_cli (const char   *message,
                                           const char   *error_type,
                                           gint64        status_code,
                                           CopilotdError fallback);

/* The error a session.error event's @data (a JsonObject) stands for. */
GError       *copilotd_error_new_for_session_error (gpointer data);

G_END_DECLS
