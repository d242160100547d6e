/* SPDX-License-Identifier: MIT */
/* callers.h: who is calling: UID per unique name, and who left the bus */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define COPILOTD_TYPE_CALLERS (copilotd_callers_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdCallers, copilotd_callers, COPILOTD, CALLERS, GObject)

/* Signal "vanished" (const char *unique_name): a unique name that the
 * daemon has looked up or watched left the bus. Emitted once per name. */

CopilotdCallers *copilotd_callers_new     (GDBusConnection  *connection);
gboolean         copilotd_callers_get_uid (CopilotdCallers  *self,
                                           const char       *unique_name,
                                           uid_t            *out_uid,
                                           GError          **error);
guint32          copilotd_callers_get_pid (CopilotdCallers *self,
                                           const char      *unique_name);
void             copilotd_callers_watch   (CopilotdCallers  *self,
                                           const char       *unique_name);
/* The unique names of @uid that were looked up and are still on the bus
 * (strings owned by the array). */
GPtrArray       *copilotd_callers_list_names (CopilotdCallers *self,
                                              uid_t            uid);

G_END_DECLS
