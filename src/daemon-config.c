/* SPDX-License-Identifier: MIT */
/* config.c: daemon settings from defaults and GKeyFile config files
 *
 * The file has one group, [copilotd], whose keys are the dashed forms of
 * the CopilotdConfig fields. Missing keys keep their defaults; a value that
 * does not parse is an error naming the key and the file, so a typo never
 * silently turns a limit off.
 */
#include "config.h"

#include "daemon-config.h"

#include <errno.h>
#include <gio/gio.h>

#define CONFIG_GROUP "copilotd"

CopilotdConfig *
copilotd_config_new (void)
{
  CopilotdConfig *config = g_new0 (CopilotdConfig, 1);

  config->permission_timeout = 300;
  config->tool_timeout = 120;
  config->hook_timeout = 30;
  config->max_sessions_per_uid = 64;
  config->max_agents_per_uid = 16;
  config->max_subscribers = 16;
  config->max_tools = 128;
  config->max_prompt_bytes = 1024 * 1024;
  config->ring_max_events = 2000;
  config->ring_max_bytes = 4 * 1024 * 1024;
  config->max_message_size = 8 * 1024 * 1024;
  config->coalesce_backlog = 128;
  config->agent_max_in_flight = 4;
  config->restart_max_failures = 5;
  config->restart_window = 60;
  config->call_timeout = 30;
  config->handshake_timeout = 30;
  config->stop_timeout = 5;
  config->backend_idle_timeout = 300;

  return config;
}

void
copilotd_config_free (CopilotdConfig *config)
{
  if (config == NULL)
    return;

  g_free (config->cli_path);
  g_free (config->cli_url);
  g_free (config->copilot_home);
  g_free (config);
}

typedef enum {
  KEY_STRING,
  KEY_UINT,
  KEY_SIZE,
} KeyType;

typedef struct {
  const char *key;
  KeyType type;
  gsize offset;
} KeyInfo;

static const KeyInfo keys[] = {
  { "cli-path", KEY_STRING, G_STRUCT_OFFSET (CopilotdConfig, cli_path) },
  { "cli-url", KEY_STRING, G_STRUCT_OFFSET (CopilotdConfig, cli_url) },
  { "copilot-home", KEY_STRING, G_STRUCT_OFFSET (CopilotdConfig, copilot_home) },
  { "idle-exit", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, idle_exit) },
  { "permission-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, permission_timeout) },
  { "tool-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, tool_timeout) },
  { "hook-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, hook_timeout) },
  { "max-sessions-per-uid", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, max_sessions_per_uid) },
  { "max-agents-per-uid", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, max_agents_per_uid) },
  { "max-subscribers", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, max_subscribers) },
  { "max-tools", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, max_tools) },
  { "max-prompt-bytes", KEY_SIZE, G_STRUCT_OFFSET (CopilotdConfig, max_prompt_bytes) },
  { "ring-max-events", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, ring_max_events) },
  { "ring-max-bytes", KEY_SIZE, G_STRUCT_OFFSET (CopilotdConfig, ring_max_bytes) },
  { "max-message-size", KEY_SIZE, G_STRUCT_OFFSET (CopilotdConfig, max_message_size) },
  { "coalesce-backlog", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, coalesce_backlog) },
  { "agent-max-in-flight", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, agent_max_in_flight) },
  { "restart-max-failures", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, restart_max_failures) },
  { "restart-window", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, restart_window) },
  { "call-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, call_timeout) },
  { "handshake-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, handshake_timeout) },
  { "stop-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, stop_timeout) },
  { "backend-idle-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, backend_idle_timeout) },
  { "session-idle-timeout", KEY_UINT, G_STRUCT_OFFSET (CopilotdConfig, session_idle_timeout) },
};

gboolean
copilotd_config_load_file (CopilotdConfig  *config,
                           const char      *path,
                           GError         **error)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Cannot load “%s”: ", path);
      return FALSE;
    }

  /* Parse every key before touching @config so that a bad file leaves it
   * as it was. */
  char *strings[G_N_ELEMENTS (keys)] = { NULL, };
  guint64 numbers[G_N_ELEMENTS (keys)] = { 0, };
  gboolean present[G_N_ELEMENTS (keys)] = { FALSE, };
  gboolean ok = TRUE;

  for (gsize i = 0; i < G_N_ELEMENTS (keys) && ok; i++)
    {
      const KeyInfo *info = &keys[i];

      if (!g_key_file_has_key (key_file, CONFIG_GROUP, info->key, NULL))
        continue;

      switch (info->type)
        {
        case KEY_STRING:
          strings[i] = g_key_file_get_string (key_file, CONFIG_GROUP, info->key, &local_error);
          if (strings[i] == NULL)
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "%s: key “%s”: %s", path, info->key, local_error->message);
              ok = FALSE;
            }
          break;

        case KEY_UINT:
        case KEY_SIZE:
          {
            g_autofree char *value = g_key_file_get_value (key_file, CONFIG_GROUP, info->key, NULL);
            guint64 max = info->type == KEY_UINT ? G_MAXUINT : G_MAXSIZE;

            g_strstrip (value);
            if (!g_ascii_string_to_unsigned (value, 10, 0, max, &numbers[i], &local_error))
              {
                g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                             "%s: key “%s”: %s", path, info->key, local_error->message);
                ok = FALSE;
              }
          }
          break;

        default:
          g_assert_not_reached ();
        }

      present[i] = ok;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeyInfo *info = &keys[i];
      gpointer field = G_STRUCT_MEMBER_P (config, info->offset);

      if (!ok || !present[i])
        {
          g_free (strings[i]);
          continue;
        }

      switch (info->type)
        {
        case KEY_STRING:
          g_free (*(char **) field);
          /* An empty value means "unset", like the absent key. */
          if (strings[i][0] == '\0')
            g_clear_pointer (&strings[i], g_free);
          *(char **) field = strings[i];
          break;
        case KEY_UINT:
          *(guint *) field = (guint) numbers[i];
          break;
        case KEY_SIZE:
          *(gsize *) field = (gsize) numbers[i];
          break;
        default:
          g_assert_not_reached ();
        }
    }

  if (ok)
    g_debug ("Loaded configuration from “%s”", path);

  return ok;
}

gboolean
copilotd_config_load_default_files (CopilotdConfig  *config,
                                    GError         **error)
{
  g_autofree char *user_path = g_build_filename (g_get_user_config_dir (),
                                                 "copilotd", "copilotd.conf", NULL);
  const char *paths[] = { user_path, SYSCONFDIR "/copilotd/copilotd.conf" };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
        return copilotd_config_load_file (config, paths[i], error);
    }

  return TRUE;
}
