/* SPDX-License-Identifier: MIT */
/* peer-gate.h: on a session bus, only the daemon's own user gets in */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "callers.h"

G_BEGIN_DECLS

/* In a skeleton subclass's class_init: every method call and property
 * read of its objects passes the gate first. */
void     copilotd_peer_gate_install (GDBusInterfaceSkeletonClass *klass);
/* Lets only @uid in (NULL @callers: everybody, looked up by nobody). */
void     copilotd_peer_gate_set     (CopilotdCallers             *callers,
                                     uid_t                        uid);
/* Lets everybody in, each caller's UID looked up (the system bus). */
void     copilotd_peer_gate_set_open (CopilotdCallers            *callers);
gboolean copilotd_peer_gate_allows  (const char                  *sender,
                                     GError                     **error);

G_END_DECLS
