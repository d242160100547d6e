/* SPDX-License-Identifier: MIT */
/* session-control.h: the session control surface of DESIGN.md §8 */
#pragma once

#include "session.h"

G_BEGIN_DECLS

/* Sets the handlers of the §8 members (SetMode, GetPlan, …, Call). */
void     copilotd_session_control_iface_init   (CopilotdDbusSessionIface *iface);

/* A CLI event the control surface follows (session.mode_changed → Mode).
 * TRUE when it was one of those. */
gboolean copilotd_session_control_handle_event (CopilotdSession *self,
                                                const char      *type,
                                                JsonObject      *data);

/* The session.create / session.resume result: the mode it starts in. */
void     copilotd_session_control_started      (CopilotdSession *self,
                                                JsonObject      *result);

/* ResumeSession of a live session, as a second SDK client does it:
 * session.resume with @params (owned; session.resume params without
 * sessionId), @tools (owned, nullable, bound to @sender) joining the
 * session's, then @sender subscribed. */
void     copilotd_session_resume_live_async    (CopilotdSession     *self,
                                                const char          *sender,
                                                JsonObject          *params,
                                                GPtrArray           *tools,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean copilotd_session_resume_live_finish   (CopilotdSession     *self,
                                                GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
