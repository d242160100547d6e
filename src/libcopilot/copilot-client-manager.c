/* SPDX-License-Identifier: MIT */
/* copilot-client-manager.c: the Manager's queries and account calls
 *
 * CopilotClient's thin asynchronous wrappers of the Manager members that
 * attach no session: listing and deleting stored sessions, models,
 * status, Ask, and sign-in. Each gives the reply's first child (or TRUE
 * for an empty reply); those that wait on the CLI carry no D-Bus timeout.
 */
#include "config.h"

#include "copilot-private.h"

/* A task whose result is the reply's first child (or TRUE for "()"). */
static void
on_simple_call_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotClient *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self, result, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else if (g_variant_n_children (reply) == 0)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_pointer (task, g_variant_get_child_value (reply, 0), (GDestroyNotify) g_variant_unref);
}

static void
simple_call (CopilotClient       *self,
             gpointer             source_tag,
             const char          *method,
             GVariant            *params,
             const char          *reply_type,
             int                  timeout_ms,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  copilot_client_call (self, COPILOT_OBJECT_PATH, COPILOT_IFACE_MANAGER, method, params,
                       G_VARIANT_TYPE (reply_type), timeout_ms, cancellable,
                       on_simple_call_done, task);
}

static GVariant *
simple_call_finish_variant (CopilotClient  *self,
                            GAsyncResult   *result,
                            gpointer        source_tag,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
simple_call_finish_boolean (CopilotClient  *self,
                            GAsyncResult   *result,
                            gpointer        source_tag,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * copilot_client_list_sessions:
 * @self: a #CopilotClient
 * @filter: (nullable): `ListSessions`' `a{sv}` filter (`cwd`, `git-root`,
 *   `repository`, `branch`); a floating reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the list
 * @user_data: data for @callback
 *
 * Lists the stored sessions of this user. Finish with
 * copilot_client_list_sessions_finish().
 */
void
copilot_client_list_sessions (CopilotClient       *self,
                              GVariant            *filter,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (filter);

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_list_sessions, "ListSessions", g_variant_new ("(@a{sv})", sunk),
               "(aa{sv})", -1, cancellable, callback, user_data);
}

/**
 * copilot_client_list_sessions_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): an `aa{sv}`, one dictionary per session
 *   (`session-id`, `summary`, `modified-time`, `object` when live, …)
 */
GVariant *
copilot_client_list_sessions_finish (CopilotClient  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_list_sessions, error);
}

/**
 * copilot_client_get_session_metadata:
 * @self: a #CopilotClient
 * @session_id: a CLI session id
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the metadata
 * @user_data: data for @callback
 *
 * `GetSessionMetadata`. Finish with
 * copilot_client_get_session_metadata_finish().
 */
void
copilot_client_get_session_metadata (CopilotClient       *self,
                                     const char          *session_id,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_get_session_metadata, "GetSessionMetadata",
               g_variant_new ("(s)", session_id), "(a{sv})", -1, cancellable, callback, user_data);
}

/**
 * copilot_client_get_session_metadata_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error (%COPILOT_ERROR_NOT_FOUND for an
 *   unknown session)
 *
 * Returns: (transfer full): the session's `a{sv}` metadata
 */
GVariant *
copilot_client_get_session_metadata_finish (CopilotClient  *self,
                                            GAsyncResult   *result,
                                            GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_get_session_metadata, error);
}

/**
 * copilot_client_delete_session:
 * @self: a #CopilotClient
 * @session_id: a CLI session id
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Deletes a stored session for good (a live one is closed first). Finish
 * with copilot_client_delete_session_finish().
 */
void
copilot_client_delete_session (CopilotClient       *self,
                               const char          *session_id,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_delete_session, "DeleteSession",
               g_variant_new ("(s)", session_id), "()", -1, cancellable, callback, user_data);
}

/**
 * copilot_client_delete_session_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the session was deleted
 */
gboolean
copilot_client_delete_session_finish (CopilotClient  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  return simple_call_finish_boolean (self, result, copilot_client_delete_session, error);
}

/**
 * copilot_client_list_models:
 * @self: a #CopilotClient
 * @options: (nullable): `ListModels`' `a{sv}` options; a floating
 *   reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the list
 * @user_data: data for @callback
 *
 * Lists the models the signed-in account may use. Finish with
 * copilot_client_list_models_finish().
 */
void
copilot_client_list_models (CopilotClient       *self,
                            GVariant            *options,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  /* The first call starts the CLI. */
  simple_call (self, copilot_client_list_models, "ListModels", g_variant_new ("(@a{sv})", sunk),
               "(aa{sv})", COPILOT_TURN_TIMEOUT, cancellable, callback, user_data);
}

/**
 * copilot_client_list_models_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): an `aa{sv}`: `id`, `name`, `vendor`, … per model
 */
GVariant *
copilot_client_list_models_finish (CopilotClient  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_list_models, error);
}

/**
 * copilot_client_get_status:
 * @self: a #CopilotClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the status
 * @user_data: data for @callback
 *
 * `GetStatus`. Finish with copilot_client_get_status_finish().
 */
void
copilot_client_get_status (CopilotClient       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_get_status, "GetStatus", NULL, "(a{sv})",
               COPILOT_TURN_TIMEOUT, cancellable, callback, user_data);
}

/**
 * copilot_client_get_status_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): an `a{sv}`: `version`, `protocol-version`,
 *   `daemon-version`, `backend-state`
 */
GVariant *
copilot_client_get_status_finish (CopilotClient  *self,
                                  GAsyncResult   *result,
                                  GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_get_status, error);
}

/**
 * copilot_client_get_auth_status:
 * @self: a #CopilotClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the status
 * @user_data: data for @callback
 *
 * `GetAuthStatus`. Finish with copilot_client_get_auth_status_finish().
 */
void
copilot_client_get_auth_status (CopilotClient       *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_get_auth_status, "GetAuthStatus", NULL, "(a{sv})",
               COPILOT_TURN_TIMEOUT, cancellable, callback, user_data);
}

/**
 * copilot_client_get_auth_status_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): an `a{sv}`: `authenticated`, `login`, `host`, …
 */
GVariant *
copilot_client_get_auth_status_finish (CopilotClient  *self,
                                       GAsyncResult   *result,
                                       GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_get_auth_status, error);
}

/**
 * copilot_client_ask:
 * @self: a #CopilotClient
 * @prompt: the question
 * @options: (nullable): `Ask`'s `a{sv}` options (`CreateSession`'s and
 *   `SendAndWait`'s, `session-id` to continue a session); a floating
 *   reference is consumed. Its `attachments` are those of
 *   copilot_session_send(), made with copilot_attachments_to_options();
 *   an `fd` one is passed along with the call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * One question, one answer, in a session that ends with the call (unless
 * `persist` is set): the Manager's `Ask`. The call carries no D-Bus
 * timeout. Prompts of the turn reach agents as for any turn, so an app
 * that serves its own #CopilotAgent must iterate its main loop meanwhile,
 * which this asynchronous call allows. Finish with
 * copilot_client_ask_finish().
 */
void
copilot_client_ask (CopilotClient       *self,
                    const char          *prompt,
                    GVariant            *options,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);
  g_autoptr(GVariant) passed = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  GError *error = NULL;
  GTask *task;

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (prompt != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilot_client_ask);
  /* Like a turn's Send: `fd` attachments travel with the call. */
  passed = copilot_attachments_pass_fds (sunk, &fds, &error);
  if (passed == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  copilot_client_call_with_fds (self, COPILOT_OBJECT_PATH, COPILOT_IFACE_MANAGER, "Ask",
                                g_variant_new ("(s@a{sv})", prompt, passed), fds, G_VARIANT_TYPE ("(sa{sv})"),
                                COPILOT_TURN_TIMEOUT, cancellable, copilot_client_call_return_reply, task);
}

/**
 * copilot_client_ask_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @details: (out) (optional) (transfer full): the `a{sv}` details:
 *   `session-id`, `message-id`, `aborted`
 * @error: return location for an error
 *
 * Returns: (transfer full): the answer, or %NULL with @error set
 */
char *
copilot_client_ask_finish (CopilotClient  *self,
                           GAsyncResult   *result,
                           GVariant      **details,
                           GError        **error)
{
  g_autoptr(GVariant) reply = NULL;
  char *content = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s@a{sv})", &content, details);
  return content;
}

/**
 * copilot_client_sign_in:
 * @self: a #CopilotClient
 * @host: the GitHub host, e.g. `https://github.com`
 * @token: a token the app obtained (GNOME Online Accounts, its own OAuth
 *   flow)
 * @options: (nullable): `SignIn`'s `a{sv}` options; a floating reference
 *   is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the account
 * @user_data: data for @callback
 *
 * Signs the CLI in with @token (the Manager's `SignIn`; the daemon never
 * logs the token). Finish with copilot_client_sign_in_finish().
 */
void
copilot_client_sign_in (CopilotClient       *self,
                        const char          *host,
                        const char          *token,
                        GVariant            *options,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (host != NULL && token != NULL);
  simple_call (self, copilot_client_sign_in, "SignIn", g_variant_new ("(ss@a{sv})", host, token, sunk),
               "(a{sv})", COPILOT_TURN_TIMEOUT, cancellable, callback, user_data);
}

/**
 * copilot_client_sign_in_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the `a{sv}` account: `login`, `host`,
 *   `stored-in-vault`
 */
GVariant *
copilot_client_sign_in_finish (CopilotClient  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_sign_in, error);
}

/**
 * copilot_client_sign_out:
 * @self: a #CopilotClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * The Manager's `SignOut`. Finish with copilot_client_sign_out_finish().
 */
void
copilot_client_sign_out (CopilotClient       *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_sign_out, "SignOut",
               g_variant_new_parsed ("(@a{sv} {},)"), "()", COPILOT_TURN_TIMEOUT,
               cancellable, callback, user_data);
}

/**
 * copilot_client_sign_out_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when signed out
 */
gboolean
copilot_client_sign_out_finish (CopilotClient  *self,
                                GAsyncResult   *result,
                                GError        **error)
{
  return simple_call_finish_boolean (self, result, copilot_client_sign_out, error);
}

/**
 * copilot_client_get_account:
 * @self: a #CopilotClient
 * @options: (nullable): `GetAccount`'s `a{sv}` options (`quota`); a
 *   floating reference is consumed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the account
 * @user_data: data for @callback
 *
 * The Manager's `GetAccount`. Finish with
 * copilot_client_get_account_finish().
 */
void
copilot_client_get_account (CopilotClient       *self,
                            GVariant            *options,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GVariant) sunk = copilot_sink_options (options);

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  simple_call (self, copilot_client_get_account, "GetAccount", g_variant_new ("(@a{sv})", sunk),
               "(a{sv})", COPILOT_TURN_TIMEOUT, cancellable, callback, user_data);
}

/**
 * copilot_client_get_account_finish:
 * @self: a #CopilotClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the `a{sv}` account: `login`, `host`,
 *   `auth-type`, `quota-json`
 */
GVariant *
copilot_client_get_account_finish (CopilotClient  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  return simple_call_finish_variant (self, result, copilot_client_get_account, error);
}
