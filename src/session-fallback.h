/* SPDX-License-Identifier: MIT */
/* session-fallback.h: a named error for calls to sessions that are gone */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

guint copilotd_session_fallback_register (GDBusConnection  *connection,
                                          GError          **error);

G_END_DECLS
