/* SPDX-License-Identifier: MIT */
/* copilot-client.h: a connection to copilotd */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

#define COPILOT_TYPE_CLIENT (copilot_client_get_type ())
COPILOT_PUBLIC
G_DECLARE_FINAL_TYPE (CopilotClient, copilot_client, COPILOT, CLIENT, GObject)

COPILOT_PUBLIC
void             copilot_client_new                   (GBusType             bus_type,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
void             copilot_client_new_for_connection    (GDBusConnection     *connection,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
CopilotClient   *copilot_client_new_finish            (GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
CopilotClient   *copilot_client_new_sync              (GBusType             bus_type,
                                                       GCancellable        *cancellable,
                                                       GError             **error);

COPILOT_PUBLIC
GDBusConnection *copilot_client_get_connection        (CopilotClient       *self);
COPILOT_PUBLIC
const char      *copilot_client_get_daemon_name       (CopilotClient       *self);
COPILOT_PUBLIC
const char      *copilot_client_get_backend_state     (CopilotClient       *self);
COPILOT_PUBLIC
const char      *copilot_client_get_version           (CopilotClient       *self);
COPILOT_PUBLIC
guint            copilot_client_get_api_version       (CopilotClient       *self);

COPILOT_PUBLIC
void             copilot_client_create_session        (CopilotClient       *self,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
CopilotSession  *copilot_client_create_session_finish (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_resume_session        (CopilotClient       *self,
                                                       const char          *session_id,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
CopilotSession  *copilot_client_resume_session_finish (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_list_sessions         (CopilotClient       *self,
                                                       GVariant            *filter,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_list_sessions_finish  (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_get_session_metadata  (CopilotClient       *self,
                                                       const char          *session_id,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_get_session_metadata_finish (CopilotClient *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_delete_session        (CopilotClient       *self,
                                                       const char          *session_id,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
gboolean         copilot_client_delete_session_finish (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_list_models           (CopilotClient       *self,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_list_models_finish    (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_get_status            (CopilotClient       *self,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_get_status_finish     (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_get_auth_status       (CopilotClient       *self,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_get_auth_status_finish (CopilotClient      *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_ask                   (CopilotClient       *self,
                                                       const char          *prompt,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
char            *copilot_client_ask_finish            (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GVariant           **details,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_sign_in               (CopilotClient       *self,
                                                       const char          *host,
                                                       const char          *token,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_sign_in_finish        (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_sign_out              (CopilotClient       *self,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
gboolean         copilot_client_sign_out_finish       (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
COPILOT_PUBLIC
void             copilot_client_get_account           (CopilotClient       *self,
                                                       GVariant            *options,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
COPILOT_PUBLIC
GVariant        *copilot_client_get_account_finish    (CopilotClient       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

COPILOT_PUBLIC
void             copilot_client_add_tool              (CopilotClient       *self,
                                                       CopilotTool         *tool);
COPILOT_PUBLIC
void             copilot_client_add_hooks             (CopilotClient       *self,
                                                       const char * const  *hook_types);
COPILOT_PUBLIC
void             copilot_client_add_command           (CopilotClient       *self,
                                                       const char          *name,
                                                       const char          *description);
COPILOT_PUBLIC
void             copilot_client_remove_tool           (CopilotClient       *self,
                                                       CopilotTool         *tool);

G_END_DECLS
