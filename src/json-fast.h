/* SPDX-License-Identifier: MIT */
/* json-fast.h: a fast path for reading the CLI's JSON-RPC bodies */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonNode *copilotd_json_parse_fast (const char *data,
                                    gsize       len);

/* A plain delta event read without a tree (copilotd_json_read_delta()). */
typedef struct {
  const char *session_id;
  const char *type;            /* assistant.message_delta or assistant.reasoning_delta */
  const char *id;              /* nullable: the envelope's meta strings */
  const char *parent_id;       /* nullable */
  const char *timestamp;       /* nullable */
  const char *agent_id;        /* nullable */
  gboolean ephemeral;
  gboolean reasoning;          /* data's id is reasoningId, not messageId */
  gboolean id_last;            /* data is {deltaContent, id} in that order */
  const char *message_id;
  gsize message_id_len;
  const char *text;            /* data.deltaContent */
  gsize text_len;
} CopilotdJsonDelta;

gboolean  copilotd_json_read_delta (const char        *data,
                                    gsize              len,
                                    GString           *strings,
                                    CopilotdJsonDelta *out);

gboolean  copilotd_json_peek_event (const char  *data,
                                    gsize        len,
                                    char       **out_method,
                                    char       **out_type);

G_END_DECLS
