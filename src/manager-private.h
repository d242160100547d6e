/* SPDX-License-Identifier: MIT */
/* manager-private.h: what manager.c and manager-queries.c share */
#pragma once

#include "backend-pool.h"
#include "manager.h"
#include "session.h"

/* manager.c */
CopilotdCallers     *manager_get_callers      (CopilotdManager       *self);
CopilotdSession     *manager_lookup_session   (CopilotdManager       *self,
                                               const char            *session_id);
/* FALSE (and @invocation answered InvalidArgs) when not a session id. */
gboolean             manager_check_session_id (GDBusMethodInvocation *invocation,
                                               const char            *session_id);

/* manager-queries.c */
void                 manager_queries_iface_init (CopilotdDbusManagerIface *iface);
void                 manager_delete_in_cli    (CopilotdManager       *self,
                                               GDBusMethodInvocation *invocation,
                                               const char            *session_id);
