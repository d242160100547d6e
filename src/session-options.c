/* SPDX-License-Identifier: MIT */
/* session-options.c: CreateSession/ResumeSession options to session.create params
 *
 * The table of DESIGN.md §3: dashed a{sv} keys become the CLI's camelCase
 * members, JSON text options are parsed, custom tools are validated and
 * bound to the caller, and the flags copilotd always needs are added.
 * Errors name the key.
 */
#include "config.h"

#include "copilotd-error.h"
#include "options.h"
#include "session-options.h"
#include "tool-router.h"

static gboolean
parse_strv_option (GVariant    *options,
                   const char  *key,
                   JsonObject  *params,
                   GError     **error)
{
  g_autoptr(GVariant) value = NULL;
  g_autofree char *camel = NULL;

  if (!copilotd_option_lookup (options, key, G_VARIANT_TYPE_STRING_ARRAY, &value, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  camel = copilotd_dashed_to_camel (key);
  json_object_set_member (params, camel, json_gvariant_serialize (value));
  return TRUE;
}

static gboolean
parse_enum_option (GVariant           *options,
                   const char         *key,
                   const char * const *allowed,
                   char              **out,
                   GError            **error)
{
  if (!copilotd_option_get_string (options, key, out, error))
    return FALSE;
  if (*out != NULL && !g_strv_contains (allowed, *out))
    {
      g_autofree char *list = g_strjoinv (", ", (char **) allowed);

      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option '%s' must be one of %s, not '%s'", key, list, *out);
      g_clear_pointer (out, g_free);
      return FALSE;
    }
  return TRUE;
}

gboolean
copilotd_session_options_parse (GVariant         *options,
                                const char       *sender,
                                guint             max_tools,
                                JsonObject      **out_params,
                                GPtrArray       **out_tools,
                                gboolean         *out_persist,
                                char            **out_session_id,
                                GError          **error)
{
  static const char * const efforts[] = { "low", "medium", "high", "xhigh", "max", NULL };
  static const char * const modes[] = { "append", "replace", NULL };
  static const struct { const char *key; const char *member; } strings[] = {
    { "model", "model" },
    { "client-name", "clientName" },
    { "agent", "agent" },
    { "config-dir", "configDir" },
  };
  static const struct { const char *key; const char *member; gboolean object; } json_options[] = {
    { "mcp-servers", "mcpServers", TRUE },
    { "custom-agents", "customAgents", FALSE },
    { "provider", "provider", TRUE },
    { "infinite-sessions", "infiniteSessions", TRUE },
  };
  static const char * const strv_keys[] = {
    "available-tools", "excluded-tools", "skill-directories", "disabled-skills", NULL
  };
  g_autoptr(JsonObject) params = json_object_new ();
  g_autoptr(GPtrArray) tools = NULL;
  g_autoptr(GVariant) tools_value = NULL;
  g_autoptr(JsonNode) extra = NULL;
  g_autofree char *session_id = NULL;
  g_autofree char *effort = NULL;
  g_autofree char *cwd = NULL;
  g_autofree char *system_message = NULL;
  g_autofree char *system_mode = NULL;
  gboolean streaming = TRUE;
  gboolean persist = FALSE;
  gboolean track_files = TRUE;

  if (!copilotd_option_get_string (options, "session-id", &session_id, error))
    return FALSE;
  if (session_id != NULL && !g_uuid_string_is_valid (session_id))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'session-id' must be a UUID, not '%s'", session_id);
      return FALSE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      g_autofree char *value = NULL;

      if (!copilotd_option_get_string (options, strings[i].key, &value, error))
        return FALSE;
      if (value != NULL && *value == '\0')
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option '%s' is empty", strings[i].key);
          return FALSE;
        }
      if (value != NULL)
        json_object_set_string_member (params, strings[i].member, value);
    }

  if (!parse_enum_option (options, "reasoning-effort", efforts, &effort, error))
    return FALSE;
  if (effort != NULL)
    json_object_set_string_member (params, "reasoningEffort", effort);

  if (!copilotd_option_get_string (options, "working-directory", &cwd, error))
    return FALSE;
  if (cwd != NULL)
    {
      if (!g_path_is_absolute (cwd) || !g_file_test (cwd, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option 'working-directory' must be an existing absolute directory, not '%s'", cwd);
          return FALSE;
        }
      json_object_set_string_member (params, "workingDirectory", cwd);
    }

  if (!copilotd_option_get_boolean (options, "streaming", &streaming, error) ||
      !copilotd_option_get_boolean (options, "persist", &persist, error))
    return FALSE;
  json_object_set_boolean_member (params, "streaming", streaming);
  if (!copilotd_option_get_boolean (options, "track-file-changes", &track_files, error))
    return FALSE;
  json_object_set_boolean_member (params, "enableFileChangeTracking", track_files);

  if (!copilotd_option_get_string (options, "system-message", &system_message, error) ||
      !parse_enum_option (options, "system-message-mode", modes, &system_mode, error))
    return FALSE;
  if (system_message != NULL)
    {
      JsonObject *message = json_object_new ();

      json_object_set_string_member (message, "mode", system_mode ? system_mode : "append");
      json_object_set_string_member (message, "content", system_message);
      json_object_set_object_member (params, "systemMessage", message);
    }

  for (guint i = 0; strv_keys[i] != NULL; i++)
    if (!parse_strv_option (options, strv_keys[i], params, error))
      return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (json_options); i++)
    {
      g_autoptr(JsonNode) node = NULL;

      if (!copilotd_option_get_json (options, json_options[i].key, json_options[i].object, &node, error))
        return FALSE;
      if (node != NULL)
        json_object_set_member (params, json_options[i].member, g_steal_pointer (&node));
    }

  if (!copilotd_option_lookup (options, "tools", G_VARIANT_TYPE ("aa{sv}"), &tools_value, error))
    return FALSE;
  if (tools_value != NULL && g_variant_n_children (tools_value) > 0)
    {
      tools = copilotd_tools_parse (tools_value, sender, max_tools, error);
      if (tools == NULL)
        return FALSE;
      json_object_set_member (params, "tools", copilotd_tools_to_json (tools));
    }

  /* Prompts are always routed through agents; nothing is approved by
   * default (DESIGN.md §3). */
  json_object_set_boolean_member (params, "requestPermission", TRUE);
  json_object_set_boolean_member (params, "requestUserInput", TRUE);
  /* Forms, plans and mode switches reach agents too, each answered
   * neutrally when none can (DESIGN.md §9); without requestAutoModeSwitch
   * CLI 1.0.102 waits for ever on a rate limit. */
  json_object_set_boolean_member (params, "requestElicitation", TRUE);
  json_object_set_boolean_member (params, "requestExitPlanMode", TRUE);
  json_object_set_boolean_member (params, "requestAutoModeSwitch", TRUE);
  json_object_set_string_member (params, "envValueMode", "direct");
  json_object_set_boolean_member (params, "includeSubAgentStreamingEvents", TRUE);

  if (!copilotd_option_get_json (options, "extra-params", TRUE, &extra, error))
    return FALSE;
  if (extra != NULL)
    {
      JsonObject *object = json_node_get_object (extra);
      g_autoptr(GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (params, l->data,
                                json_node_copy (json_object_get_member (object, l->data)));
    }
  json_object_remove_member (params, "sessionId");

  *out_params = g_steal_pointer (&params);
  *out_tools = g_steal_pointer (&tools);
  *out_persist = persist;
  *out_session_id = g_steal_pointer (&session_id);
  return TRUE;
}
