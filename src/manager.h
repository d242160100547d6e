/* SPDX-License-Identifier: MIT */
/* manager.h: the root object: Manager, sessions and the ObjectManager */
#pragma once

#include <gio/gio.h>

#include "agent-registry.h"
#include "backend-pool.h"
#include "callers.h"
#include "daemon-config.h"
#include "copilotd-dbus.h"
#include "session.h"
#include "tool-router.h"

G_BEGIN_DECLS

#define COPILOTD_ROOT_PATH "/io/github/copilotd/Copilot1"

#define COPILOTD_TYPE_MANAGER (copilotd_manager_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdManager, copilotd_manager, COPILOTD, MANAGER, CopilotdDbusManagerSkeleton)

CopilotdManager *copilotd_manager_new            (GDBusConnection       *connection,
                                                  const CopilotdConfig  *config,
                                                  CopilotdCallers       *callers,
                                                  CopilotdBackendPool   *pool,
                                                  CopilotdAgentRegistry *agents,
                                                  CopilotdToolRouter    *tools);
gboolean         copilotd_manager_export         (CopilotdManager       *self,
                                                  GError               **error);
guint            copilotd_manager_get_n_sessions (CopilotdManager       *self);
CopilotdBackendPool *copilotd_manager_get_pool   (CopilotdManager       *self);
const CopilotdConfig *copilotd_manager_get_config (CopilotdManager      *self);
/* The live sessions (transfer container). */
GPtrArray       *copilotd_manager_list_sessions  (CopilotdManager       *self);
/* Destroys every live session in its CLI, then stops the CLIs. */
void             copilotd_manager_shutdown_async (CopilotdManager       *self,
                                                  GAsyncReadyCallback    callback,
                                                  gpointer               user_data);
void             copilotd_manager_shutdown_finish (CopilotdManager      *self,
                                                   GAsyncResult         *result);

/* CreateSession/ResumeSession for the caller of @invocation, which is not
 * answered: the session comes back held (release it after replying).
 * @out_was_live: the session was already live (resumed as a second client). */
void             copilotd_manager_start_session_async  (CopilotdManager       *self,
                                                        GDBusMethodInvocation *invocation,
                                                        const char            *resume_id,
                                                        GVariant              *options,
                                                        GAsyncReadyCallback    callback,
                                                        gpointer               user_data);
CopilotdSession *copilotd_manager_start_session_finish (CopilotdManager  *self,
                                                        GAsyncResult     *result,
                                                        gboolean         *out_was_live,
                                                        GError          **error);

G_END_DECLS
