/* SPDX-License-Identifier: MIT */
/* users.h: can this user have a Copilot CLI of their own? (system bus) */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

gboolean copilotd_user_check (uid_t    uid,
                              GError **error);

G_END_DECLS
