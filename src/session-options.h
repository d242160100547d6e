/* SPDX-License-Identifier: MIT */
/* session-options.h: CreateSession/ResumeSession options to session.create params */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* @out_params: the params without sessionId; @out_tools: the custom tools
 * bound to @sender (nullable); @out_session_id: the session-id option
 * (nullable). InvalidArgs or LimitsExceeded naming the key otherwise. */
gboolean copilotd_session_options_parse (GVariant    *options,
                                         const char  *sender,
                                         guint        max_tools,
                                         JsonObject **out_params,
                                         GPtrArray  **out_tools,
                                         gboolean    *out_persist,
                                         char       **out_session_id,
                                         GError     **error);

G_END_DECLS
