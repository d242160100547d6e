/* SPDX-License-Identifier: MIT */
/* bounded.h: keeping what the daemon sends under the bus's message size */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Room left in a message for everything but its one large string. */
#define COPILOTD_MESSAGE_RESERVE (64 * 1024)
/* Meta strings (ids, timestamps, types) longer than this are cut. */
#define COPILOTD_META_STRING_MAX 4096

char     *copilotd_utf8_strdup_bounded   (const char *text,
                                          gsize       max_bytes,
                                          gboolean   *out_truncated);
char     *copilotd_json_to_string_bounded (JsonNode  *node,
                                           gsize      max_bytes,
                                           gboolean  *out_truncated);
GVariant *copilotd_history_page          (JsonArray  *events,
                                          guint       offset,
                                          guint       max_count,
                                          gsize       max_bytes);

void      copilotd_return_value_bounded  (GDBusMethodInvocation *invocation,
                                          GVariant              *reply,
                                          gsize                  max_bytes);

/* Subscribe's `types`: at most this many patterns of at most this length. */
#define COPILOTD_MAX_SUBSCRIBE_TYPES 64
#define COPILOTD_MAX_SUBSCRIBE_TYPE_BYTES 256

gboolean  copilotd_check_subscribe_types (GVariant  *types,
                                          GError   **error);

G_END_DECLS
