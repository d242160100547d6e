/* SPDX-License-Identifier: MIT */
/* cli-schema.c: the CLI's own description of its JSON-RPC methods
 *
 * The CLI package ships schemas/api.schema.json (unpacked under the user's
 * cache directory the first time the CLI runs). Session.Call follows it:
 * the methods it may reach are the session.* methods the running CLI
 * lists and does not mark internal, minus a never-list of methods that
 * would bypass a gate or desynchronise the daemon.
 */
#include "config.h"

#include <pwd.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "options.h"
#include "cli-schema.h"
#include "copilotd-error.h"

/* One parsed schema is kept: every session of a daemon runs one CLI
 * version, and the file is 2.7 MB. */
static char *cached_path;             /* owned, nullable */
static GHashTable *cached_methods;    /* owned, nullable: allowed name → itself */

char *
copilotd_cli_schema_path (const char *version,
                          uid_t       uid)
{
  g_autofree char *cache = NULL;
  g_autofree char *platform = NULL;
  struct utsname name;
  const char *arch = "x64";

  if (version == NULL || *version == '\0')
    return NULL;
  if (uname (&name) == 0 && (strcmp (name.machine, "aarch64") == 0 || strcmp (name.machine, "arm64") == 0))
    arch = "arm64";
  platform = g_strdup_printf ("linux-%s", arch);

  if (uid == getuid ())
    cache = g_strdup (g_get_user_cache_dir ());
  else
    {
      struct passwd *pw = getpwuid (uid);

      if (pw == NULL)
        return NULL;
      cache = g_build_filename (pw->pw_dir, ".cache", NULL);
    }
  return g_build_filename (cache, "copilot", "pkg", platform, version, "schemas", "api.schema.json", NULL);
}

/* By name, whatever the schema says (DESIGN.md §8). */
gboolean
copilotd_cli_schema_never_call (const char *method)
{
  static const char * const exact[] = {
    /* session lifecycle and turns: the daemon's own members do these */
    "session.destroy", "session.shutdown", "session.suspend",
    "session.send", "session.sendMessages", "session.abort",
    /* options that turn the daemon's gates off (requestPermission, …) */
    "session.options.update",
    /* prompt answering */
    "session.commands.respondToQueuedCommand",
    "session.ui.registerDirectAutoModeSwitchHandler",
    "session.ui.unregisterDirectAutoModeSwitchHandler",
    "session.permissions.notifyPromptShown",
    /* credentials */
    "session.mcp.oauth.respond",
    /* event-log interest */
    "session.eventLog.registerInterest", "session.eventLog.releaseInterest",
    NULL
  };
  static const char * const prefixes[] = {
    "session.sandbox.",       /* sandbox policy */
    "session.gitHubAuth.",    /* credentials */
    "session.accounts.",
    "session.provider.",
    "session.shell.",         /* runs commands past the permission gate */
    NULL
  };
  /* Permission policy and the tool registry: only the readers pass. */
  static const char * const readers[] = {
    "session.permissions.getMode", "session.permissions.pendingRequests",
    "session.permissions.paths.list", "session.permissions.paths.isPathWithinAllowedDirectories",
    "session.permissions.paths.isPathWithinWorkspace", "session.permissions.locations.resolve",
    "session.permissions.folderTrust.isTrusted",
    "session.tools.getBuiltinDescriptors", "session.tools.getCurrentMetadata",
    "session.tools.listPendingRequests",
    NULL
  };

  if (g_strv_contains (exact, method))
    return TRUE;
  for (guint i = 0; prefixes[i] != NULL; i++)
    if (g_str_has_prefix (method, prefixes[i]))
      return TRUE;
  if (strstr (method, ".handlePending") != NULL || strstr (method, ".handleHuman") != NULL)
    return TRUE;
  if (g_str_has_prefix (method, "session.permissions.") || g_str_has_prefix (method, "session.tools."))
    return !g_strv_contains (readers, method);
  return FALSE;
}

static gboolean
is_internal (JsonObject *object)
{
  return g_strcmp0 (copilotd_json_get_string (object, "visibility", ""), "internal") == 0 ||
         copilotd_json_get_boolean (object, "internal", FALSE);
}

static void
collect_methods (JsonObject *object,
                 GHashTable *methods)
{
  JsonObjectIter iter;
  const char *member;
  JsonNode *node;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &member, &node))
    {
      JsonObject *child;
      const char *rpc;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      child = json_node_get_object (node);
      rpc = copilotd_json_get_string (child, "rpcMethod", NULL);
      if (rpc != NULL)
        {
          if (g_str_has_prefix (rpc, "session.") && !is_internal (child))
            g_hash_table_add (methods, g_strdup (rpc));
        }
      else
        collect_methods (child, methods);
    }
}

static GHashTable *
load_methods (const char  *path,
              GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  GHashTable *methods;
  JsonNode *root;
  JsonNode *session;

  if (!json_parser_load_from_mapped_file (parser, path, &local_error))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                   "The CLI's method schema %s cannot be read: %s", path, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  session = root && JSON_NODE_HOLDS_OBJECT (root) ?
            json_object_get_member (json_node_get_object (root), "session") : NULL;
  if (session == NULL || !JSON_NODE_HOLDS_OBJECT (session))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                   "The CLI's method schema %s lists no session methods", path);
      return NULL;
    }

  methods = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  collect_methods (json_node_get_object (session), methods);
  g_debug ("CLI schema %s: %u public session methods", path, g_hash_table_size (methods));
  return methods;
}

gboolean
copilotd_cli_schema_allows_call (const char  *path,
                                 const char  *method,
                                 GError     **error)
{
  if (!g_str_has_prefix (method, "session."))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Call reaches session.* methods only, not '%s'", method);
      return FALSE;
    }
  if (copilotd_cli_schema_never_call (method))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "%s is never reachable through Call: it would bypass a gate of copilotd "
                   "or desynchronise it", method);
      return FALSE;
    }
  if (path == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                   "The CLI's version is not known yet, so neither is its method schema");
      return FALSE;
    }
  if (g_strcmp0 (cached_path, path) != 0)
    {
      GHashTable *methods = load_methods (path, error);

      if (methods == NULL)
        return FALSE;
      g_clear_pointer (&cached_methods, g_hash_table_unref);
      g_free (cached_path);
      cached_path = g_strdup (path);
      cached_methods = methods;
    }
  if (!g_hash_table_contains (cached_methods, method))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "The CLI's schema lists no public method '%s'", method);
      return FALSE;
    }
  return TRUE;
}

void
copilotd_cli_schema_add_status (GVariantBuilder *builder,
                                const char      *version,
                                uid_t            uid)
{
  g_autofree char *path = copilotd_cli_schema_path (version, uid);

  if (path != NULL && g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_variant_builder_add (builder, "{sv}", "call-schema-version", g_variant_new_string (version));
}
