/* SPDX-License-Identifier: MIT */
/* providers.h: hook and command providers served by clients */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "callers.h"

G_BEGIN_DECLS

typedef struct _CopilotdProvider CopilotdProvider;

/* Parses the `hooks` and `commands` options (aa{sv}) of CreateSession /
 * ResumeSession, binding each provider to @sender, and adds what the CLI
 * needs to @params (`hooks: true` when a hook provider is named, the
 * `commands` list). Returns an array of CopilotdProvider (with its free
 * func; empty when neither option is given) or NULL with
 * COPILOTD_ERROR_INVALID_ARGS naming the key. */
GPtrArray *copilotd_providers_parse        (GVariant    *options,
                                            const char  *sender,
                                            JsonObject  *params,
                                            GError     **error);
void       copilotd_provider_free          (CopilotdProvider *provider);
/* Sets `hooks` and `commands` of @params from @providers. */
void       copilotd_providers_describe     (GPtrArray   *providers,
                                            JsonObject  *params);
/* Hook and command providers of one session, all callers together. */
#define COPILOTD_MAX_PROVIDERS 64
/* FALSE with LimitsExceeded when joining @added would pass the limit. */
gboolean   copilotd_providers_check_join   (GPtrArray   *providers,
                                            GPtrArray   *added,
                                            GError     **error);
/* Moves @added's providers into @providers (a command of the same name,
 * or a hook provider at the same sender and path, replaces the earlier
 * one). */
void       copilotd_providers_join         (GPtrArray   *providers,
                                            GPtrArray   *added);
/* Drops the providers of @sender; TRUE when there were any. */
gboolean   copilotd_providers_drop_sender  (GPtrArray   *providers,
                                            const char  *sender);

/* Whether a hook provider is bound (hooks:true was sent). */
gboolean   copilotd_providers_has_hooks    (GPtrArray   *providers);

/* Answers hooks.invoke: asks every hook provider of @hook_type in order,
 * each with @timeout_ms. Always finishes with the JSON-RPC result
 * ({output?}): a timeout, an error reply, bad JSON or a vanished provider
 * count as no output, and never as a permission decision "allow". */
void       copilotd_hooks_invoke_async     (GDBusConnection     *connection,
                                            CopilotdCallers     *callers,
                                            GPtrArray           *providers,
                                            guint                timeout_ms,
                                            const char          *session_path,
                                            const char          *hook_type,
                                            JsonNode            *input,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
JsonNode  *copilotd_hooks_invoke_finish    (GAsyncResult        *result,
                                            GError             **error);

/* Runs command.execute's @data on the provider of its command. Always
 * finishes with the params for session.commands.handlePendingCommand
 * (without sessionId): `error` is set when no provider has the command,
 * it failed, timed out (@timeout_ms) or left the bus. */
void       copilotd_command_execute_async  (GDBusConnection     *connection,
                                            CopilotdCallers     *callers,
                                            GPtrArray           *providers,
                                            guint                timeout_ms,
                                            const char          *session_path,
                                            JsonObject          *data,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
JsonObject *copilotd_command_execute_finish (GAsyncResult       *result,
                                             GError            **error);

G_END_DECLS
