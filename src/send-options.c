/* SPDX-License-Identifier: MIT */
/* send-options.c: Send/SendAndWait options of contract §8
 *
 * agent-mode, response-format and attachments. Attachments are checked
 * here so that nothing is silently dropped: a file or directory that does
 * not exist is InvalidArgs naming it, a relative path is taken from the
 * session's working directory, a blob's bytes may come as ay, and an fd
 * attachment (a file descriptor passed over D-Bus, the way a screenshot or
 * a portal-provided file reaches a service) is read and sent as a blob.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "copilotd-error.h"
#include "options.h"
#include "send-options.h"

static const char * const attachment_types[] = {
  "file", "directory", "selection", "blob", "fd", "github_reference", "github_commit",
  "github_release", "github_actions_job", "github_repository", "github_file_diff",
  "github_tree_comparison", "github_url", "github_file", "github_snippet",
  "extension_context", NULL
};

/* Reads the regular file behind @fd (never a pipe: a client that keeps
 * the other end open must not stall the daemon), at most *@budget bytes,
 * which it takes from *@budget. */
static char *
read_fd_base64 (int       fd,
                guint     index,
                gsize    *budget,
                GError  **error)
{
  g_autofree guchar *data = NULL;
  struct stat st;
  gsize done = 0;

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'attachments': entry %u: fd must be a regular file (a file or a memfd)", index);
      return NULL;
    }
  if (st.st_size > COPILOTD_MAX_ATTACHMENT_BYTES || (gsize) st.st_size > *budget)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'attachments': entry %u: fd holds %" G_GINT64_FORMAT " bytes; the limit is %d "
                   "for all attachments of a message together",
                   index, (gint64) st.st_size, COPILOTD_MAX_ATTACHMENT_BYTES);
      return NULL;
    }

  data = g_malloc (MAX (st.st_size, 1));
  while (done < (gsize) st.st_size)
    {
      ssize_t n = pread (fd, data + done, st.st_size - done, done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option 'attachments': entry %u: reading fd failed: %s", index, g_strerror (saved_errno));
          return NULL;
        }
      if (n == 0)
        break;
      done += n;
    }
  *budget -= done;
  return g_base64_encode (data, done);
}

/* Makes @path absolute (from @cwd) and checks that it is what @type says. */
static gboolean
check_path (JsonObject  *item,
            const char  *type,
            const char  *cwd,
            guint        index,
            GError     **error)
{
  const char *path = copilotd_json_get_string (item, "path", NULL);
  g_autofree char *full = NULL;
  gboolean is_dir = g_strcmp0 (type, "directory") == 0;

  if (path == NULL || *path == '\0')
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'attachments': entry %u (%s) has no path", index, type);
      return FALSE;
    }
  full = g_path_is_absolute (path) ? g_strdup (path) : g_build_filename (cwd, path, NULL);
  if (!g_file_test (full, is_dir ? G_FILE_TEST_IS_DIR : G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'attachments': %s '%s' does not exist", is_dir ? "directory" : "file", full);
      return FALSE;
    }
  if (!json_object_has_member (item, "displayName"))
    {
      g_autofree char *base = g_path_get_basename (full);

      json_object_set_string_member (item, "displayName", base);
    }
  json_object_set_string_member (item, "path", full);
  return TRUE;
}

static JsonObject *
parse_attachment (GVariant     *entry,
                  GUnixFDList  *fds,
                  const char   *cwd,
                  guint         index,
                  gsize        *budget,
                  GError      **error)
{
  g_autoptr(JsonObject) item = json_object_new ();
  GVariantIter iter;
  const char *key;
  GVariant *value;
  const char *type;

  g_variant_iter_init (&iter, entry);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      g_autofree char *camel = copilotd_dashed_to_camel (key);

      if (strcmp (key, "data") == 0 && g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          gsize size;
          const guchar *bytes = g_variant_get_fixed_array (value, &size, 1);
          g_autofree char *data = NULL;

          if (size > *budget)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Option 'attachments': entry %u: data is %zu bytes; the limit is %d "
                           "for all attachments of a message together",
                           index, size, COPILOTD_MAX_ATTACHMENT_BYTES);
              return NULL;
            }
          *budget -= size;
          data = g_base64_encode (bytes, size);
          json_object_set_string_member (item, "data", data);
          continue;
        }
      if (strcmp (key, "fd") == 0)
        {
          g_autofree char *data = NULL;
          gint handle;
          int fd;

          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_HANDLE))
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Option 'attachments': entry %u: fd must be a file descriptor (h)", index);
              return NULL;
            }
          handle = g_variant_get_handle (value);
          fd = fds != NULL && handle >= 0 && handle < g_unix_fd_list_get_length (fds) ?
               g_unix_fd_list_peek_fds (fds, NULL)[handle] : -1;
          if (fd < 0)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Option 'attachments': entry %u: fd %d was not passed with the call", index, handle);
              return NULL;
            }
          data = read_fd_base64 (fd, index, budget, error);
          if (data == NULL)
            return NULL;
          json_object_set_string_member (item, "data", data);
          continue;
        }
      json_object_set_member (item, camel, copilotd_variant_to_json (value));
    }

  type = copilotd_json_get_string (item, "type", NULL);
  if (type == NULL || !g_strv_contains (attachment_types, type))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option 'attachments': entry %u has %s type '%s'",
                   index, type ? "an unknown" : "no", type ? type : "");
      return NULL;
    }

  if (strcmp (type, "file") == 0 || strcmp (type, "directory") == 0)
    {
      if (!check_path (item, type, cwd, index, error))
        return NULL;
    }
  else if (strcmp (type, "fd") == 0 || strcmp (type, "blob") == 0)
    {
      if (!json_object_has_member (item, "data"))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option 'attachments': entry %u (%s) has no %s", index, type,
                       strcmp (type, "fd") == 0 ? "fd" : "data");
          return NULL;
        }
      if (!json_object_has_member (item, "mimeType"))
        json_object_set_string_member (item, "mimeType", "application/octet-stream");
      json_object_set_string_member (item, "type", "blob");
    }
  return g_steal_pointer (&item);
}

gboolean
copilotd_send_options_parse (GVariant               *options,
                             GDBusMethodInvocation  *invocation,
                             const char             *cwd,
                             JsonObject             *params,
                             GError                **error)
{
  g_autoptr(GVariant) attachments = NULL;
  g_autofree char *agent_mode = NULL;
  g_autoptr(JsonNode) schema = NULL;
  static const char * const agent_modes[] = { "interactive", "plan", "autopilot", "shell", NULL };

  if (!copilotd_option_get_string (options, "agent-mode", &agent_mode, error) ||
      !copilotd_option_get_json (options, "response-format", TRUE, &schema, error) ||
      !copilotd_option_lookup (options, "attachments", G_VARIANT_TYPE ("aa{sv}"), &attachments, error))
    return FALSE;

  if (agent_mode != NULL)
    {
      if (!g_strv_contains (agent_modes, agent_mode))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Option 'agent-mode' must be interactive, plan, autopilot or shell, not '%s'", agent_mode);
          return FALSE;
        }
      json_object_set_string_member (params, "agentMode", agent_mode);
    }

  if (schema != NULL)
    {
      JsonObject *format = json_object_new ();
      JsonObject *json_schema = json_object_new ();
      JsonObject *schema_object = json_node_get_object (schema);
      const char *title = copilotd_json_get_string (schema_object, "title", NULL);
      g_autofree char *name = NULL;

      /* Providers restrict the name to [A-Za-z0-9_-]. */
      name = g_strdup (title != NULL && *title != '\0' ? title : "response");
      g_strcanon (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", '_');
      json_object_set_string_member (json_schema, "name", name);
      json_object_set_member (json_schema, "schema", g_steal_pointer (&schema));
      json_object_set_string_member (format, "type", "json_schema");
      json_object_set_object_member (format, "jsonSchema", json_schema);
      json_object_set_object_member (params, "responseFormat", format);
    }

  if (attachments != NULL && g_variant_n_children (attachments) > 0)
    {
      GDBusMessage *message = invocation ? g_dbus_method_invocation_get_message (invocation) : NULL;
      GUnixFDList *fds = message ? g_dbus_message_get_unix_fd_list (message) : NULL;
      g_autoptr(JsonArray) array = json_array_new ();
      g_autofree char *here = NULL;
      /* For all of them together: a message may carry many fds. */
      gsize budget = COPILOTD_MAX_ATTACHMENT_BYTES;

      if (cwd == NULL)
        cwd = here = g_get_current_dir ();
      for (gsize i = 0; i < g_variant_n_children (attachments); i++)
        {
          g_autoptr(GVariant) entry = g_variant_get_child_value (attachments, i);
          JsonObject *item = parse_attachment (entry, fds, cwd, i, &budget, error);

          if (item == NULL)
            return FALSE;
          json_array_add_object_element (array, item);
        }
      json_object_set_array_member (params, "attachments", g_steal_pointer (&array));
    }
  return TRUE;
}

static gboolean
get_enum (GVariant           *options,
          const char         *key,
          const char * const *allowed,
          JsonObject         *params,
          GError            **error)
{
  g_autofree char *value = NULL;
  g_autofree char *camel = NULL;

  if (!copilotd_option_get_string (options, key, &value, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  if (!g_strv_contains (allowed, value))
    {
      g_autofree char *list = g_strjoinv (", ", (char **) allowed);

      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option '%s' must be one of %s, not '%s'", key, list, value);
      return FALSE;
    }
  camel = copilotd_dashed_to_camel (key);
  json_object_set_string_member (params, camel, value);
  return TRUE;
}

gboolean
copilotd_model_options_parse (GVariant    *options,
                              JsonObject  *params,
                              GError     **error)
{
  static const char * const summaries[] = { "none", "concise", "detailed", NULL };
  static const char * const tiers[] = { "default", "long_context", NULL };

  return get_enum (options, "reasoning-summary", summaries, params, error) &&
         get_enum (options, "context-tier", tiers, params, error);
}
