/* utf8.h: making text from the CLI fit for GVariant before json-glib reads it */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *copilotd_json_text_make_valid (const char *text,
                                     gsize       len,
                                     gsize      *out_len);

G_END_DECLS
