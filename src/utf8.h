/* SPDX-License-Identifier: MIT */
/* utf8.h: making text from the CLI fit for GVariant before json-glib reads it */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char *copilotd_json_text_make_valid (const char *text,
                                     gsize       len,
                                     gsize      *out_len);

void      copilotd_json_node_make_valid   (JsonNode    *node);
JsonNode *copilotd_json_from_string_valid (const char  *text,
                                           GError     **error);

G_END_DECLS
