/* SPDX-License-Identifier: MIT */
/* backend-pool.h: the per-user CLIs, their model lists, stopping them all */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "backend.h"
#include "callers.h"
#include "daemon-config.h"

G_BEGIN_DECLS

#define COPILOTD_TYPE_BACKEND_POOL (copilotd_backend_pool_get_type ())
G_DECLARE_FINAL_TYPE (CopilotdBackendPool, copilotd_backend_pool, COPILOTD, BACKEND_POOL, GObject)

/* Signal "backend-added" (CopilotdBackend *backend): a CLI was added to
 * the pool; connect to its signals here. */

CopilotdBackendPool *copilotd_backend_pool_new         (const CopilotdConfig *config,
                                                        CopilotdCallers      *callers);
/* The CLI of @uid's sessions: the only one on the session bus, one per
 * user on the system bus (created on first use). */
CopilotdBackend     *copilotd_backend_pool_get         (CopilotdBackendPool  *self,
                                                        uid_t                 uid);
/* The CLI of the caller's UID; NULL with @error when it is unknown. */
CopilotdBackend     *copilotd_backend_pool_for_caller  (CopilotdBackendPool   *self,
                                                        GDBusMethodInvocation *invocation,
                                                        GError               **error);
/* Whether something outside the pool needs @uid's CLI kept running (a
 * registered agent of that user). */
typedef gboolean (*CopilotdBackendPoolHoldFunc) (uid_t    uid,
                                                 gpointer user_data);
/* @func decides which CLIs are held from idling out: each user's by that
 * user's needs only. Asked when a CLI is added and on update_holds(). */
void                 copilotd_backend_pool_set_hold_func (CopilotdBackendPool        *self,
                                                          CopilotdBackendPoolHoldFunc func,
                                                          gpointer                    user_data);
/* Asks the hold function again for every CLI (agents came or went). */
void                 copilotd_backend_pool_update_holds  (CopilotdBackendPool        *self);
/* Whether a CLI of the pool is being started: a call waits for it. */
gboolean             copilotd_backend_pool_is_starting (CopilotdBackendPool *self);
/* Every CLI in the pool (transfer container). */
GPtrArray           *copilotd_backend_pool_list        (CopilotdBackendPool  *self);

/* ListModels, cached per CLI process: dropped when that CLI is lost,
 * restarted or stopped (also by the idle stop). */
GVariant            *copilotd_backend_pool_get_models  (CopilotdBackendPool  *self,
                                                        CopilotdBackend      *backend);
void                 copilotd_backend_pool_set_models  (CopilotdBackendPool  *self,
                                                        CopilotdBackend      *backend,
                                                        GVariant             *models);

/* Stops every CLI of the pool (runtime.shutdown, then the process). */
void                 copilotd_backend_pool_stop_async  (CopilotdBackendPool  *self,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
void                 copilotd_backend_pool_stop_finish (CopilotdBackendPool  *self,
                                                        GAsyncResult         *result);

G_END_DECLS
