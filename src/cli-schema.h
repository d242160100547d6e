/* SPDX-License-Identifier: MIT */
/* cli-schema.h: the CLI's own description of its JSON-RPC methods */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where CLI @version, run as @uid, unpacked its api.schema.json:
 * $XDG_CACHE_HOME/copilot/pkg/<os>-<arch>/<version>/schemas/ of that user. */
char     *copilotd_cli_schema_path        (const char  *version,
                                           uid_t        uid);

/* Whether Session.Call may reach @method, per the schema at @path: a
 * session.* method the schema lists and does not mark internal, and not on
 * the never-list (DESIGN.md §8). FALSE with COPILOTD_ERROR_INVALID_ARGS
 * naming why, or COPILOTD_ERROR_FAILED when the schema cannot be read. The
 * parsed schema is cached per path. */
gboolean  copilotd_cli_schema_allows_call (const char  *path,
                                           const char  *method,
                                           GError     **error);

/* GetStatus's call-schema-version: @version when its schema is there. */
void      copilotd_cli_schema_add_status  (GVariantBuilder *builder,
                                           const char      *version,
                                           uid_t            uid);

/* The never-list alone (exposed for tests and documentation). */
gboolean  copilotd_cli_schema_never_call  (const char  *method);

G_END_DECLS
