/* SPDX-License-Identifier: MIT */
/* client-call.h: call a method on a client's object with a daemon-side deadline */
#pragma once

#include <gio/gio.h>

#include "callers.h"

G_BEGIN_DECLS

/* Calls @method_name of @interface_name on @object_path at @peer (a unique
 * name) with no D-Bus timeout of its own: @timeout_ms (0 = none) is the
 * daemon's deadline. @parameters and @cancel_parameters are sunk.
 *
 * Finishes with the reply (of @reply_type), or with
 * - COPILOTD_ERROR_TIMEOUT: the deadline passed;
 * - G_IO_ERROR_CANCELLED: @cancellable was cancelled;
 * - COPILOTD_ERROR_CLOSED: @peer left the bus (or had already left);
 * - the peer's own error, its remote name stripped from the message.
 * On timeout or cancellation, when @cancel_parameters is given, the peer
 * is sent @interface_name.Cancel(@cancel_parameters) without waiting for a
 * reply. A reply that comes after the call finished is dropped. */
void      copilotd_client_call_async  (GDBusConnection     *connection,
                                       CopilotdCallers     *callers,
                                       const char          *peer,
                                       const char          *object_path,
                                       const char          *interface_name,
                                       const char          *method_name,
                                       GVariant            *parameters,
                                       const GVariantType  *reply_type,
                                       guint                timeout_ms,
                                       GVariant            *cancel_parameters,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
GVariant *copilotd_client_call_finish (GAsyncResult        *result,
                                       GError             **error);

G_END_DECLS
