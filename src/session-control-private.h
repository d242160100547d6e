/* SPDX-License-Identifier: MIT */
/* session-control-private.h: what session-control.c and
 * session-commands.c share: a control call and reading the CLI's JSON */
#pragma once

#include "session-control.h"
#include "session-private.h"

G_BEGIN_DECLS

typedef struct _Control Control;
/* Turns the CLI's result into the method's reply (a tuple), or fails. */
typedef GVariant *(*ControlReplyFunc) (Control  *ctl,
                                       JsonNode *result,
                                       GError  **error);

struct _Control
{
  CopilotdSession *session;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  ControlReplyFunc reply;
  gboolean restore_files;              /* Rewind */
};

/* Calls @method with @params (taken); @reply answers the invocation. */
void        session_control_call          (CopilotdSession       *self,
                                           GDBusMethodInvocation *invocation,
                                           const char            *method,
                                           JsonObject            *params,
                                           ControlReplyFunc       reply);
/* Every reply built from what the CLI sent: within max-message-size or
 * LimitsExceeded. */
void        session_control_reply_bounded (CopilotdSession       *self,
                                           GDBusMethodInvocation *invocation,
                                           GVariant              *reply);
/* Returns @error (taken) on @invocation; handled. */
gboolean    session_control_return_error  (GDBusMethodInvocation *invocation,
                                           GError                *error);

/* JSON → a{sv}: NULL, FALSE or nothing added when the member is missing
 * or of another type. */
JsonObject *control_node_object           (JsonNode        *node);
const char *control_member_string         (JsonObject      *object,
                                           const char      *member);
gboolean    control_member_bool           (JsonObject      *object,
                                           const char      *member);
void        control_dict_add_string       (GVariantBuilder *dict,
                                           const char      *key,
                                           JsonObject      *object,
                                           const char      *member);
/* The strings of an array member, or of member @field of its objects. */
GVariant   *control_strings_of            (JsonObject      *object,
                                           const char      *member,
                                           const char      *field);

/* session-commands.c */
gboolean    session_handle_list_commands   (CopilotdDbusSession   *iface,
                                            GDBusMethodInvocation *invocation,
                                            GVariant              *options);
gboolean    session_handle_execute_command (CopilotdDbusSession   *iface,
                                            GDBusMethodInvocation *invocation,
                                            const char            *name,
                                            const char            *args,
                                            GVariant              *options);

G_END_DECLS
