/* SPDX-License-Identifier: MIT */
/* send-options.h: Send/SendAndWait options of contract §8 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The bytes of the blobs of one Send (data ay, or read from fd), all of
 * them together, at most. */
#define COPILOTD_MAX_ATTACHMENT_BYTES (32 * 1024 * 1024)

/* Adds agent-mode, response-format and attachments of @options to the
 * session.send @params. @invocation carries the passed file descriptors;
 * @cwd (nullable: the daemon's) resolves relative paths. FALSE with
 * COPILOTD_ERROR_INVALID_ARGS naming what is wrong. */
gboolean copilotd_send_options_parse (GVariant               *options,
                                      GDBusMethodInvocation  *invocation,
                                      const char             *cwd,
                                      JsonObject             *params,
                                      GError                **error);

/* SetModel's reasoning-summary and context-tier, into @params. */
gboolean copilotd_model_options_parse (GVariant    *options,
                                       JsonObject  *params,
                                       GError     **error);

G_END_DECLS
