/* SPDX-License-Identifier: MIT */
/* json-fast.h: a fast path for reading the CLI's JSON-RPC bodies */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonNode *copilotd_json_parse_fast (const char *data,
                                    gsize       len);

gboolean  copilotd_json_peek_event (const char  *data,
                                    gsize        len,
                                    char       **out_method,
                                    char       **out_type);

G_END_DECLS
