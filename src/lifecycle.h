/* SPDX-License-Identifier: MIT */
/* lifecycle.h: the Manager's SessionLifecycle signal, coalesced */
#pragma once

#include <json-glib/json-glib.h>

#include <sys/types.h>

#include "object-manager.h"

G_BEGIN_DECLS

typedef struct _CopilotdLifecycle CopilotdLifecycle;

CopilotdLifecycle *copilotd_lifecycle_new    (CopilotdObjectManager *objects);
void               copilotd_lifecycle_free   (CopilotdLifecycle     *self);
/* One session.lifecycle notification (its params) of @uid's CLI. */
void               copilotd_lifecycle_handle (CopilotdLifecycle     *self,
                                              uid_t                  uid,
                                              JsonObject            *params);

G_END_DECLS
