/* SPDX-License-Identifier: MIT */
/* directives.h: what the offline model answers to a chat completion */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What the model decided to answer. */
typedef enum
{
  REPLY_TEXT,
  REPLY_TOOL_CALL,
  REPLY_ERROR,
} ReplyKind;

typedef struct
{
  ReplyKind kind;
  gchar *text;                  /* owned: REPLY_TEXT, or the error message */
  gchar *tool_name;             /* owned: REPLY_TOOL_CALL */
  gchar *tool_arguments;        /* owned: JSON text, REPLY_TOOL_CALL */
  guint status;                 /* REPLY_ERROR */
  gint retry_after;             /* REPLY_ERROR: Retry-After seconds, -1: none */
  guint delay_ms;               /* pause before each streamed chunk */
} Reply;

/* Decides the answer to the chat-completions request @body; @delay_ms is
 * --delay-ms, or -1 when it was not given. */
Reply *reply_decide (JsonObject *body,
                     gint        delay_ms);
void   reply_free   (Reply      *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

/* The string @member of @object, or NULL when @object is NULL or the member
 * is missing or not a string. */
const gchar *object_get_string (JsonObject  *object,
                                const gchar *member);

G_END_DECLS
