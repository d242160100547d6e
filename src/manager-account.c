/* SPDX-License-Identifier: MIT */
/* manager-account.c: Manager.SignIn, SignOut and GetAccount (contract §8)
 *
 * SignIn hands a token the app obtained (GNOME Online Accounts, its own
 * OAuth flow) to the caller's CLI with account.login. Where the CLI has
 * no keychain to keep it, the daemon keeps it (auth-store.c) and gives it
 * to the live sessions of that CLI at once (session.gitHubAuth.
 * setCredentials) and to every later start. The token is never logged and
 * never echoed in an error: CLI error texts are scrubbed of it.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "manager-account.h"
#include "options.h"

#define DEFAULT_HOST "https://github.com"
#define MAX_TOKEN_BYTES 4096

typedef struct {
  CopilotdManager *manager;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  CopilotdBackend *backend;            /* owned */
  char *host;                          /* owned */
  char *token;                         /* owned, zeroed when freed */
  gboolean stored_in_vault;
  gboolean quota;                      /* GetAccount */
  GVariantDict reply;
  guint pending;
} AccountCall;

static AccountCall *
account_call_new (CopilotdManager       *manager,
                  GDBusMethodInvocation *invocation,
                  CopilotdBackend       *backend)
{
  AccountCall *call = g_new0 (AccountCall, 1);

  call->manager = g_object_ref (manager);
  call->invocation = g_object_ref (invocation);
  call->backend = g_object_ref (backend);
  g_variant_dict_init (&call->reply, NULL);
  return call;
}

static void
account_call_free (AccountCall *call)
{
  if (call->token != NULL)
    memset (call->token, 0, strlen (call->token));
  g_free (call->token);
  g_free (call->host);
  g_variant_dict_clear (&call->reply);
  g_object_unref (call->backend);
  g_object_unref (call->invocation);
  g_object_unref (call->manager);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AccountCall, account_call_free)

/* The CLI's error, mapped as for every call, with the token cut out. */
static void
return_scrubbed (AccountCall  *call,
                 const GError *error)
{
  g_autofree char *text = copilotd_auth_store_scrub (error->message, call->token);

  g_dbus_method_invocation_return_error_literal (call->invocation, error->domain, error->code, text);
}

static void
call_cli (AccountCall         *call,
          const char          *method,
          JsonObject          *params,
          GAsyncReadyCallback  callback)
{
  g_autoptr(JsonObject) object = params ? params : json_object_new ();
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  copilotd_backend_call_async (call->backend, method, node, NULL, callback, call);
}

static JsonObject *
object_of (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static void
dict_add (GVariantDict *dict,
          const char   *key,
          JsonObject   *object,
          const char   *member)
{
  const char *value = object ? copilotd_json_get_string (object, member, NULL) : NULL;

  if (value != NULL)
    g_variant_dict_insert (dict, key, "s", value);
}

/* ---- SignIn ------------------------------------------------------------ */

static void
on_sign_in_status (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(AccountCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  JsonObject *status = object_of (node);

  if (node == NULL)
    {
      return_scrubbed (call, error);
      return;
    }
  dict_add (&call->reply, "login", status, "login");
  if (!g_variant_dict_contains (&call->reply, "login"))
    g_variant_dict_insert (&call->reply, "login", "s", "");
  else if (!call->stored_in_vault)
    copilotd_auth_store_set_login (call->backend, copilotd_json_get_string (status, "login", NULL));
  g_variant_dict_insert (&call->reply, "host", "s", call->host);
  g_variant_dict_insert (&call->reply, "stored-in-vault", "b", call->stored_in_vault);
  g_dbus_method_invocation_return_value (call->invocation,
                                         g_variant_new ("(@a{sv})", g_variant_dict_end (&call->reply)));
}

static void
on_session_credentials (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  AccountCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);

  if (node == NULL)
    g_debug ("Session '%s' did not take the new credentials: %s",
             copilotd_session_get_id (COPILOTD_SESSION (source)), error->message);
  if (--call->pending == 0)
    call_cli (call, "auth.getStatus", NULL, on_sign_in_status);
}

static void
on_login_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AccountCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  g_autoptr(GPtrArray) sessions = NULL;

  if (node == NULL)
    {
      return_scrubbed (call, error);
      account_call_free (call);
      return;
    }
  call->stored_in_vault = object_of (node) != NULL &&
                          copilotd_json_get_boolean (object_of (node), "storedInVault", FALSE);
  g_debug ("Signed in to %s (%s)", call->host,
           call->stored_in_vault ? "kept by the CLI's keychain" : "kept by copilotd: no keychain");
  if (call->stored_in_vault)
    {
      copilotd_auth_store_forget (call->backend);
      call_cli (call, "auth.getStatus", NULL, on_sign_in_status);
      return;
    }

  /* Every session of this CLI signs in too, live ones at once. */
  copilotd_auth_store_set (call->backend, call->host, call->token);
  sessions = copilotd_manager_list_sessions (call->manager);
  call->pending = 1;
  for (guint i = 0; i < sessions->len; i++)
    {
      CopilotdSession *session = g_ptr_array_index (sessions, i);

      if (copilotd_session_get_backend (session) != call->backend || copilotd_session_is_closed (session))
        continue;
      call->pending++;
      copilotd_session_call_async (session, "session.gitHubAuth.setCredentials",
                                   copilotd_auth_store_credentials (call->backend),
                                   on_session_credentials, call);
    }
  if (--call->pending == 0)
    call_cli (call, "auth.getStatus", NULL, on_sign_in_status);
}

static gboolean
handle_sign_in (CopilotdDbusManager   *iface,
                GDBusMethodInvocation *invocation,
                const char            *host,
                const char            *token,
                GVariant              *options)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend;
  AccountCall *call;
  JsonObject *params;

  if (*token == '\0' || strlen (token) > MAX_TOKEN_BYTES || !g_utf8_validate (token, -1, NULL) ||
      strpbrk (token, " \t\r\n") != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "The token must be 1 to %d bytes without blanks", MAX_TOKEN_BYTES);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (*host != '\0' && !g_str_has_prefix (host, "https://") && !g_str_has_prefix (host, "http://"))
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "The host must be a URL such as %s, not '%s'", DEFAULT_HOST, host);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error);
  if (backend == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  call = account_call_new (self, invocation, backend);
  call->host = g_strdup (*host != '\0' ? host : DEFAULT_HOST);
  call->token = g_strdup (token);
  params = json_object_new ();
  json_object_set_string_member (params, "host", call->host);
  json_object_set_string_member (params, "token", call->token);
  call_cli (call, "account.login", params, on_login_done);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- SignOut -----------------------------------------------------------
 *
 * Where the CLI keeps the sign-in (its keychain), account.logout removes
 * it. Where copilotd keeps the token (no keychain), the CLI holds it in
 * memory and CLI 1.0.102 cannot sign out (it fails removing the token from
 * a keychain it does not have). Then the daemon forgets the token,
 * replaces the CLI by a new process (live sessions are resumed in it,
 * signed out; a running turn is lost as in a CLI restart), and has the
 * new CLI, whose keychain probe is off, drop the sign-in it wrote down
 * (account.logout of the same user). */

static void
on_logout_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(AccountCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);

  if (node == NULL)
    return_scrubbed (call, error);
  else
    g_dbus_method_invocation_return_value (call->invocation, NULL);
}

static void
on_sign_out_current (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  AccountCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  JsonNode *info = object_of (node) ? json_object_get_member (object_of (node), "authInfo") : NULL;
  JsonObject *params;

  if (node == NULL)
    {
      return_scrubbed (call, error);
      account_call_free (call);
      return;
    }
  if (info == NULL || !JSON_NODE_HOLDS_OBJECT (info))
    {
      /* Nobody signed in: nothing to do. */
      g_dbus_method_invocation_return_value (call->invocation, NULL);
      account_call_free (call);
      return;
    }
  params = json_object_new ();
  json_object_set_member (params, "authInfo", json_node_copy (info));
  call_cli (call, "account.logout", params, on_logout_done);
}

static gboolean
handle_sign_out (CopilotdDbusManager   *iface,
                 GDBusMethodInvocation *invocation,
                 GVariant              *options)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend;
  AccountCall *call;
  JsonObject *identity;
  JsonObject *params;
  gboolean kept;

  backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error);
  if (backend == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  kept = copilotd_auth_store_has (backend);
  identity = copilotd_auth_store_identity (backend);
  /* Whatever the CLI says, the daemon no longer signs this token in. */
  copilotd_auth_store_forget (backend);
  call = account_call_new (self, invocation, backend);
  if (!kept)
    {
      call_cli (call, "account.getCurrentAuth", NULL, on_sign_out_current);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  g_debug ("Signing out: the CLI holding the token is replaced");
  copilotd_backend_restart (backend);
  if (identity == NULL)
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      account_call_free (call);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  params = json_object_new ();
  json_object_set_object_member (params, "authInfo", identity);
  call_cli (call, "account.logout", params, on_logout_done);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- GetAccount -------------------------------------------------------- */

static void
on_quota_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(AccountCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  g_autofree char *text = NULL;

  if (node == NULL)
    {
      return_scrubbed (call, error);
      return;
    }
  text = json_to_string (node, FALSE);
  g_variant_dict_insert (&call->reply, "quota-json", "s", text);
  /* The quota is whatever the CLI sent: bounded like every such reply. */
  copilotd_return_value_bounded (call->invocation,
                                 g_variant_new ("(@a{sv})", g_variant_dict_end (&call->reply)),
                                 copilotd_manager_get_config (call->manager)->max_message_size);
}

static void
on_current_auth (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AccountCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);
  JsonNode *info;

  if (node == NULL)
    {
      return_scrubbed (call, error);
      account_call_free (call);
      return;
    }
  info = object_of (node) ? json_object_get_member (object_of (node), "authInfo") : NULL;
  if (info != NULL && JSON_NODE_HOLDS_OBJECT (info))
    {
      dict_add (&call->reply, "login", json_node_get_object (info), "login");
      dict_add (&call->reply, "host", json_node_get_object (info), "host");
      dict_add (&call->reply, "auth-type", json_node_get_object (info), "type");
    }
  if (call->quota)
    {
      call_cli (call, "account.getQuota", NULL, on_quota_done);
      return;
    }
  g_dbus_method_invocation_return_value (call->invocation,
                                         g_variant_new ("(@a{sv})", g_variant_dict_end (&call->reply)));
  account_call_free (call);
}

static gboolean
handle_get_account (CopilotdDbusManager   *iface,
                    GDBusMethodInvocation *invocation,
                    GVariant              *options)
{
  CopilotdManager *self = COPILOTD_MANAGER (iface);
  g_autoptr(GError) error = NULL;
  CopilotdBackend *backend;
  AccountCall *call;
  gboolean quota = FALSE;

  if (!copilotd_option_get_boolean (options, "quota", &quota, &error) ||
      (backend = copilotd_backend_pool_for_caller (copilotd_manager_get_pool (self), invocation, &error)) == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  call = account_call_new (self, invocation, backend);
  call->quota = quota;
  call_cli (call, "account.getCurrentAuth", NULL, on_current_auth);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

void
copilotd_manager_account_iface_init (CopilotdDbusManagerIface *iface)
{
  iface->handle_sign_in = handle_sign_in;
  iface->handle_sign_out = handle_sign_out;
  iface->handle_get_account = handle_get_account;
}
