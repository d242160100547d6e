/* SPDX-License-Identifier: MIT */
/* lifecycle.h: the Manager's SessionLifecycle signal, coalesced */
#pragma once

#include <json-glib/json-glib.h>

#include "copilotd-dbus.h"

G_BEGIN_DECLS

typedef struct _CopilotdLifecycle CopilotdLifecycle;

CopilotdLifecycle *copilotd_lifecycle_new    (CopilotdDbusManager *manager);
void               copilotd_lifecycle_free   (CopilotdLifecycle   *self);
/* One session.lifecycle notification of a CLI (its params). */
void               copilotd_lifecycle_handle (CopilotdLifecycle   *self,
                                              JsonObject          *params);

G_END_DECLS
