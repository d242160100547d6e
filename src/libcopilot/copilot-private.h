/* SPDX-License-Identifier: MIT */
/* copilot-private.h: what libcopilot's classes share, not installed */
#pragma once

#include <gio/gunixfdlist.h>

#include "copilot.h"

G_BEGIN_DECLS

#define COPILOT_IFACE_MANAGER COPILOT_BUS_NAME ".Manager"
#define COPILOT_IFACE_AGENT_MANAGER COPILOT_BUS_NAME ".AgentManager"
#define COPILOT_IFACE_SESSION COPILOT_BUS_NAME ".Session"
#define COPILOT_IFACE_AGENT COPILOT_BUS_NAME ".Agent"
#define COPILOT_IFACE_TOOL_PROVIDER COPILOT_BUS_NAME ".ToolProvider"
#define COPILOT_IFACE_HOOK_PROVIDER COPILOT_BUS_NAME ".HookProvider"
#define COPILOT_IFACE_COMMAND_PROVIDER COPILOT_BUS_NAME ".CommandProvider"
#define COPILOT_SESSION_PATH_PREFIX COPILOT_OBJECT_PATH "/session/"
/* Where this process serves its agents and tools. */
#define COPILOT_LOCAL_PATH "/io/github/copilotd/libcopilot"

/* A turn may last as long as the model thinks: no D-Bus timeout. */
#define COPILOT_TURN_TIMEOUT G_MAXINT

/* A new reference to @options (floating consumed), or an empty `a{sv}`. */
GVariant           *copilot_sink_options             (GVariant        *options);

/* Pending prompts and calls by id, holding no reference: an entry leaves
 * as its object is finalized. Clear the table before unreffing it. */
GHashTable         *copilot_weak_table_new           (void);
void                copilot_weak_table_insert        (GHashTable      *table,
                                                      const char      *id,
                                                      gpointer         object);
void                copilot_weak_table_clear         (GHashTable      *table);

/* Send's @options with `fd` attachments (this process's descriptors)
 * turned into indices of *@fds (NULL when there is none). A new ref. */
GVariant           *copilot_attachments_pass_fds     (GVariant        *options,
                                                      GUnixFDList    **fds,
                                                      GError         **error);

void                copilot_error_normalize          (GError          *error);

/* The embedded introspection data of the interfaces clients implement. */
GDBusInterfaceInfo *copilot_interface_info           (const char      *name);

/* Whether @sender is the daemon; otherwise answers @invocation with
 * AccessDenied. */
gboolean            copilot_client_check_caller      (CopilotClient         *self,
                                                      const char            *sender,
                                                      GDBusMethodInvocation *invocation);
/* g_dbus_connection_call on the daemon's name; @params may be floating. */
void                copilot_client_call              (CopilotClient       *self,
                                                      const char          *path,
                                                      const char          *iface,
                                                      const char          *method,
                                                      GVariant            *params,
                                                      const GVariantType  *reply_type,
                                                      int                  timeout_ms,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
/* The same with descriptors passed along (@fds may be NULL). */
void                copilot_client_call_with_fds     (CopilotClient       *self,
                                                      const char          *path,
                                                      const char          *iface,
                                                      const char          *method,
                                                      GVariant            *params,
                                                      GUnixFDList         *fds,
                                                      const GVariantType  *reply_type,
                                                      int                  timeout_ms,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GVariant           *copilot_client_call_finish       (CopilotClient       *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* A callback of copilot_client_call(): returns the reply (or the error)
 * through the GTask @user_data, whose reference it takes. */
void                copilot_client_call_return_reply (GObject         *source,
                                                      GAsyncResult    *result,
                                                      gpointer         user_data);
void                copilot_client_forget_session    (CopilotClient   *self,
                                                      const char      *path);
/* Hooks and commands: ::handle-hook, else ::hook, answers @call (now, or
 * later when a handler kept it). */
void                copilot_client_dispatch_hook     (CopilotClient      *self,
                                                      CopilotHookCall    *call);
void                copilot_client_dispatch_command  (CopilotClient      *self,
                                                      CopilotCommandCall *call);

/* A client's sessions by path (copilot-client-sessions.c). */
typedef struct _CopilotSessions CopilotSessions;

CopilotSessions    *copilot_client_get_sessions      (CopilotClient   *self);
CopilotSessions    *copilot_sessions_new             (void);
void                copilot_sessions_free            (CopilotSessions *self);
/* Hands a Session signal (or PropertiesChanged) of the daemon to the
 * session at @path, or queues it while a session is being attached. */
void                copilot_sessions_handle_signal   (CopilotSessions *self,
                                                      const char      *path,
                                                      const char      *member,
                                                      GVariant        *params);
void                copilot_sessions_handle_properties (CopilotSessions *self,
                                                        const char      *path,
                                                        GVariant        *changed);
/* copilotd left the bus: closes every session ("daemon-vanished"). */
void                copilot_sessions_daemon_vanished (CopilotSessions *self);

/* The tools, hooks and commands a client serves (copilot-client-providers.c). */
typedef struct _CopilotProviders CopilotProviders;

CopilotProviders   *copilot_client_get_providers     (CopilotClient    *self);
CopilotProviders   *copilot_providers_new            (CopilotClient    *client);
/* Unregisters the objects it served. */
void                copilot_providers_free           (CopilotProviders *self);
/* CreateSession's or ResumeSession's @options with the `tools` (after any
 * in @options), `hooks` and `commands` added; a new reference. */
GVariant           *copilot_providers_add_options    (CopilotProviders *self,
                                                      GVariant         *options);

/* @initial_serial: the serial of the first event it will deliver, or 0 to
 * take whatever comes first. */
CopilotSession     *copilot_session_new_internal     (CopilotClient   *client,
                                                      const char      *path,
                                                      guint64          initial_serial);
void                copilot_session_init_async       (CopilotSession      *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean            copilot_session_init_finish      (CopilotSession  *self,
                                                      GAsyncResult    *result,
                                                      GError         **error);
void                copilot_session_handle_signal    (CopilotSession  *self,
                                                      const char      *member,
                                                      GVariant        *params);
void                copilot_session_handle_properties (CopilotSession *self,
                                                       GVariant       *changed);
/* A Session member without a D-Bus timeout; the result is the reply. */
void                copilot_session_call_internal    (CopilotSession      *self,
                                                      gpointer             source_tag,
                                                      const char          *method,
                                                      GVariant            *params,
                                                      const GVariantType  *reply_type,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GVariant           *copilot_session_call_internal_finish (CopilotSession  *self,
                                                      GAsyncResult    *result,
                                                      gpointer         source_tag,
                                                      GError         **error);
/* The same, for a member whose reply carries nothing: whether it succeeded. */
gboolean            copilot_session_call_internal_finish_ok (CopilotSession  *self,
                                                      GAsyncResult    *result,
                                                      gpointer         source_tag,
                                                      GError         **error);
/* Cancelling @cancellable (nullable) aborts the turn, until it ends. */
void                copilot_session_watch_turn       (CopilotSession  *self,
                                                      GCancellable    *cancellable);
/* copilotd left the bus: closes the session ("daemon-vanished"). */
void                copilot_session_daemon_vanished  (CopilotSession  *self);
/* Starts delivering what it queued since it was created. */
void                copilot_session_start_delivery   (CopilotSession  *self);

typedef enum {
  COPILOT_PROMPT_KIND_PERMISSION,
  COPILOT_PROMPT_KIND_USER_INPUT,
  COPILOT_PROMPT_KIND_ELICITATION,
  COPILOT_PROMPT_KIND_PLAN_APPROVAL,
  COPILOT_PROMPT_KIND_MODE_SWITCH,
} CopilotPromptKind;

CopilotPrompt      *copilot_prompt_new_internal      (CopilotPromptKind      kind,
                                                      GDBusMethodInvocation *invocation,
                                                      const char            *session_path,
                                                      const char            *request_id,
                                                      GVariant              *request,
                                                      const char            *request_json);
/* The daemon withdrew it: emits ::cancelled, answers with the refusal. */
void                copilot_prompt_withdraw          (CopilotPrompt   *self);

CopilotToolCall    *copilot_tool_call_new_internal   (GDBusMethodInvocation *invocation,
                                                      const char            *session_path,
                                                      const char            *tool_call_id,
                                                      const char            *tool_name,
                                                      const char            *arguments_json,
                                                      GVariant              *context);
CopilotHookCall    *copilot_hook_call_new_internal   (GDBusMethodInvocation *invocation,
                                                      const char            *session_path,
                                                      const char            *hook_type,
                                                      const char            *input_json,
                                                      GVariant              *context);
CopilotCommandCall *copilot_command_call_new_internal (GDBusMethodInvocation *invocation,
                                                       const char            *session_path,
                                                       const char            *request_id,
                                                       const char            *name,
                                                       const char            *args,
                                                       GVariant              *context);
void                copilot_tool_call_withdraw       (CopilotToolCall *self);
/* The daemon stopped waiting (HookProvider.Cancel): emits ::cancelled. */
void                copilot_hook_call_withdraw       (CopilotHookCall *self);
/* Emits ::invoke; FALSE when nobody handles it. */
gboolean            copilot_tool_emit_invoke         (CopilotTool     *self,
                                                      CopilotToolCall *call);
/* The tools entry of CreateSession for this tool served at @provider_path. */
GVariant           *copilot_tool_to_variant          (CopilotTool     *self,
                                                      const char      *provider_path);

G_END_DECLS
