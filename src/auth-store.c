/* SPDX-License-Identifier: MIT */
/* auth-store.c: GitHub tokens the daemon keeps for CLIs without a keychain
 *
 * Manager.SignIn hands a token to the CLI with account.login. Where no
 * keychain serves the CLI (headless, the system bus, tests) the CLI cannot
 * keep it: its sessions fail with a keychain error and a restarted CLI has
 * forgotten it. So the daemon keeps the token in memory, per CLI (on the
 * system bus that is per user), gives it to every session of that CLI as
 * gitHubToken (session.create/resume, so a recovery after a restart has it
 * too), and signs it in again whenever the CLI comes back. Tokens are
 * zeroed when dropped and never logged.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"

typedef struct {
  CopilotdBackend *backend;    /* unowned: weak pointer */
  char *host;                  /* owned */
  char *login;                 /* owned, nullable */
  char *token;                 /* owned, zeroed when freed */
  gulong ready_id;
} Entry;

static GPtrArray *entries;     /* owned, nullable: Entry* */

static void
entry_free (Entry *entry)
{
  if (entry->backend != NULL)
    {
      g_clear_signal_handler (&entry->ready_id, entry->backend);
      g_object_remove_weak_pointer (G_OBJECT (entry->backend), (gpointer *) &entry->backend);
    }
  if (entry->token != NULL)
    memset (entry->token, 0, strlen (entry->token));
  g_free (entry->token);
  g_free (entry->login);
  g_free (entry->host);
  g_free (entry);
}

static Entry *
find_entry (CopilotdBackend *backend,
            guint           *out_index)
{
  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (entries, i);

      if (entry->backend == backend)
        {
          if (out_index != NULL)
            *out_index = i;
          return entry;
        }
    }
  return NULL;
}

static void
on_relogin_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_backend_call_finish (COPILOTD_BACKEND (source), result, &error);

  /* The error text is the CLI's; it does not carry the token. */
  if (node == NULL)
    g_warning ("Signing in again after the CLI came back failed: %s", error->message);
  else
    g_debug ("Signed in again after the CLI came back");
}

static void
login (Entry *entry)
{
  g_autoptr(JsonObject) params = json_object_new ();
  g_autoptr(JsonNode) node = NULL;

  json_object_set_string_member (params, "host", entry->host);
  json_object_set_string_member (params, "token", entry->token);
  node = json_node_init_object (json_node_alloc (), params);
  copilotd_backend_call_async (entry->backend, "account.login", node, NULL, on_relogin_done, NULL);
}

static void
on_backend_ready (CopilotdBackend *backend,
                  gboolean         restarted,
                  gpointer         user_data)
{
  Entry *entry = find_entry (backend, NULL);

  if (entry != NULL)
    login (entry);
}

void
copilotd_auth_store_set (CopilotdBackend *backend,
                         const char      *host,
                         const char      *token)
{
  Entry *entry;

  copilotd_auth_store_forget (backend);
  if (entries == NULL)
    entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  entry = g_new0 (Entry, 1);
  entry->backend = backend;
  g_object_add_weak_pointer (G_OBJECT (backend), (gpointer *) &entry->backend);
  entry->host = g_strdup (host);
  entry->token = g_strdup (token);
  entry->ready_id = g_signal_connect (backend, "ready", G_CALLBACK (on_backend_ready), NULL);
  g_ptr_array_add (entries, entry);
  /* No keychain serves this CLI: the next one does not look for one.
   * With its keychain probe on, CLI 1.0.102 cannot sign out
   * (account.logout fails removing the token from a keychain it does not
   * have), and a sign-in it wrote down but cannot read back fails every
   * new session ("Saved sign-in could not be read from credential
   * storage"). */
  copilotd_backend_set_cli_env (backend, "COPILOT_DISABLE_KEYTAR", "1");
}

void
copilotd_auth_store_set_login (CopilotdBackend *backend,
                               const char      *login)
{
  Entry *entry = find_entry (backend, NULL);

  if (entry != NULL)
    {
      g_free (entry->login);
      entry->login = g_strdup (login);
    }
}

JsonObject *
copilotd_auth_store_identity (CopilotdBackend *backend)
{
  Entry *entry = backend ? find_entry (backend, NULL) : NULL;
  JsonObject *info;

  if (entry == NULL || entry->login == NULL || *entry->login == '\0')
    return NULL;
  info = json_object_new ();
  json_object_set_string_member (info, "type", "user");
  json_object_set_string_member (info, "host", entry->host);
  json_object_set_string_member (info, "login", entry->login);
  return info;
}

void
copilotd_auth_store_forget (CopilotdBackend *backend)
{
  guint index;

  /* Entries of backends that are gone go too. */
  for (guint i = 0; entries != NULL && i < entries->len; )
    if (((Entry *) g_ptr_array_index (entries, i))->backend == NULL)
      g_ptr_array_remove_index (entries, i);
    else
      i++;
  if (find_entry (backend, &index) != NULL)
    g_ptr_array_remove_index (entries, index);
  if (entries != NULL && entries->len == 0)
    g_clear_pointer (&entries, g_ptr_array_unref);
}

gboolean
copilotd_auth_store_has (CopilotdBackend *backend)
{
  return backend != NULL && find_entry (backend, NULL) != NULL;
}

void
copilotd_auth_store_apply (CopilotdBackend *backend,
                           JsonObject      *params)
{
  Entry *entry = backend ? find_entry (backend, NULL) : NULL;

  if (entry != NULL && !json_object_has_member (params, "gitHubToken"))
    json_object_set_string_member (params, "gitHubToken", entry->token);
}

JsonObject *
copilotd_auth_store_credentials (CopilotdBackend *backend)
{
  Entry *entry = backend ? find_entry (backend, NULL) : NULL;
  JsonObject *params;
  JsonObject *credentials;

  if (entry == NULL)
    return NULL;
  credentials = json_object_new ();
  json_object_set_string_member (credentials, "type", "token");
  json_object_set_string_member (credentials, "host", entry->host);
  json_object_set_string_member (credentials, "token", entry->token);
  params = json_object_new ();
  json_object_set_object_member (params, "credentials", credentials);
  return params;
}

char *
copilotd_auth_store_scrub (const char *text,
                           const char *token)
{
  g_auto(GStrv) parts = NULL;

  if (text == NULL || token == NULL || *token == '\0' || strstr (text, token) == NULL)
    return g_strdup (text);
  parts = g_strsplit (text, token, -1);
  return g_strjoinv ("(token)", parts);
}
