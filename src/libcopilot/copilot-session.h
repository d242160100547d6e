/* SPDX-License-Identifier: MIT */
/* copilot-session.h: one conversation of copilotd */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_SESSION (copilot_session_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotSession, copilot_session, COPILOT, SESSION, GObject)

COPILOT_PUBLIC
CopilotClient *copilot_session_get_client      (CopilotSession      *self);
COPILOT_PUBLIC
const char    *copilot_session_get_object_path (CopilotSession      *self);
COPILOT_PUBLIC
const char    *copilot_session_get_id          (CopilotSession      *self);
COPILOT_PUBLIC
const char    *copilot_session_get_state       (CopilotSession      *self);
COPILOT_PUBLIC
const char    *copilot_session_get_model       (CopilotSession      *self);
COPILOT_PUBLIC
const char    *copilot_session_get_mode        (CopilotSession      *self);

COPILOT_PUBLIC
void           copilot_session_send            (CopilotSession      *self,
                                                const char          *prompt,
                                                GVariant            *options,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
char          *copilot_session_send_finish     (CopilotSession      *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_send_and_wait   (CopilotSession      *self,
                                                const char          *prompt,
                                                GVariant            *options,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
char          *copilot_session_send_and_wait_finish (CopilotSession *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_abort           (CopilotSession      *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_session_abort_finish    (CopilotSession      *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_destroy         (CopilotSession      *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_session_destroy_finish  (CopilotSession      *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_set_model       (CopilotSession      *self,
                                                const char          *model,
                                                GVariant            *options,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
gboolean       copilot_session_set_model_finish (CopilotSession     *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_get_messages    (CopilotSession      *self,
                                                GVariant            *options,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
GVariant      *copilot_session_get_messages_finish (CopilotSession  *self,
                                                GAsyncResult        *result,
                                                GError             **error);
COPILOT_PUBLIC
void           copilot_session_call_method     (CopilotSession      *self,
                                                const char          *method,
                                                GVariant            *parameters,
                                                const GVariantType  *reply_type,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
COPILOT_PUBLIC
GVariant      *copilot_session_call_method_finish (CopilotSession   *self,
                                                GAsyncResult        *result,
                                                GError             **error);

/* Contract 2: the session control surface (copilot-session-control.c) */
COPILOT_PUBLIC
void           copilot_session_set_mode (CopilotSession      *self,
                                              const char *mode,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
gboolean copilot_session_set_mode_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_get_plan (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
char *copilot_session_get_plan_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GVariant           **info,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_set_plan (CopilotSession      *self,
                                              const char *content,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
gboolean copilot_session_set_plan_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_delete_plan (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
gboolean copilot_session_delete_plan_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_set_name (CopilotSession      *self,
                                              const char *name,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
gboolean copilot_session_set_name_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_get_info (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_get_info_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_compact (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_compact_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_list_rewind_points (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_list_rewind_points_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_rewind (CopilotSession      *self,
                                              const char *event_id,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_rewind_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_list_commands (CopilotSession      *self,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_list_commands_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_execute_command (CopilotSession      *self,
                                              const char *name,
                                              const char *args,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
GVariant *copilot_session_execute_command_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);
COPILOT_PUBLIC
void           copilot_session_call (CopilotSession      *self,
                                              const char *method,
                                              const char *params_json,
                                              GVariant            *options,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
COPILOT_PUBLIC
char *copilot_session_call_finish (CopilotSession *self,
                                              GAsyncResult        *result,
                                              GError             **error);

G_END_DECLS
