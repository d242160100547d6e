/* SPDX-License-Identifier: MIT */
/* copilot-error.h: copilotd's D-Bus errors as a GError domain */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

/**
 * COPILOT_ERROR:
 *
 * The error domain of copilotd's D-Bus errors
 * (`io.github.copilotd.Copilot1.Error.*`). Errors a method of the library
 * returns are in this domain when the daemon named one of them; a local
 * failure (no bus, a cancelled call) keeps its GIO domain.
 */
#define COPILOT_ERROR (copilot_error_quark ())

/**
 * CopilotError:
 * @COPILOT_ERROR_FAILED: `Error.Failed`: the request failed (its message says why)
 * @COPILOT_ERROR_INVALID_ARGS: `Error.InvalidArgs`: a bad argument or option, named in the message
 * @COPILOT_ERROR_NOT_FOUND: `Error.NotFound`: no such session, agent or object
 * @COPILOT_ERROR_ACCESS_DENIED: `Error.AccessDenied`: the caller may not do this
 * @COPILOT_ERROR_ALREADY_EXISTS: `Error.AlreadyExists`: e.g. a second agent on one connection
 * @COPILOT_ERROR_BUSY: `Error.Busy`
 * @COPILOT_ERROR_LIMITS_EXCEEDED: `Error.LimitsExceeded`: a configured limit was reached
 * @COPILOT_ERROR_TIMEOUT: `Error.Timeout`
 * @COPILOT_ERROR_CANCELLED: `Error.Cancelled`
 * @COPILOT_ERROR_CLOSED: `Error.Closed`: the session is closed
 * @COPILOT_ERROR_BACKEND_FAILED: `Error.BackendFailed`: the Copilot CLI failed or restarted
 * @COPILOT_ERROR_NOT_AUTHENTICATED: `Error.NotAuthenticated`: nobody is signed in
 * @COPILOT_ERROR_PROTOCOL_MISMATCH: `Error.ProtocolMismatch`: the CLI speaks another protocol
 * @COPILOT_ERROR_RATE_LIMITED: `Error.RateLimited`: a rate limit or an exhausted quota
 *
 * The errors copilotd returns, mapped from their D-Bus names.
 */
typedef enum {
  COPILOT_ERROR_FAILED,
  COPILOT_ERROR_INVALID_ARGS,
  COPILOT_ERROR_NOT_FOUND,
  COPILOT_ERROR_ACCESS_DENIED,
  COPILOT_ERROR_ALREADY_EXISTS,
  COPILOT_ERROR_BUSY,
  COPILOT_ERROR_LIMITS_EXCEEDED,
  COPILOT_ERROR_TIMEOUT,
  COPILOT_ERROR_CANCELLED,
  COPILOT_ERROR_CLOSED,
  COPILOT_ERROR_BACKEND_FAILED,
  COPILOT_ERROR_NOT_AUTHENTICATED,
  COPILOT_ERROR_PROTOCOL_MISMATCH,
  COPILOT_ERROR_RATE_LIMITED,
} CopilotError;

COPILOT_PUBLIC
GQuark copilot_error_quark (void);

G_END_DECLS
