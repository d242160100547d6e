/* SPDX-License-Identifier: MIT */
/* tool-router.c: custom tools served by clients over ToolProvider
 *
 * A tool declared in CreateSession/ResumeSession is bound to the caller's
 * unique name and a provider object on that connection. When the CLI asks
 * for it (external_tool.requested) the router calls ToolProvider.Invoke and
 * turns whatever happens (an answer, an error reply, the provider leaving
 * the bus, tool-timeout) into the `result` object the CLI expects, so a
 * turn never hangs on a client.
 */
#include "config.h"

#include "client-call.h"
#include "copilotd-error.h"
#include "tool-router.h"

#define TOOL_PROVIDER_INTERFACE "io.github.copilotd.Copilot1.ToolProvider"
#define TOOL_NAME_MAX 64

struct _CopilotdTool
{
  char *name;             /* owned */
  char *description;      /* owned, nullable */
  JsonNode *parameters;   /* owned, nullable: a JSON object */
  char *sender;           /* owned: unique name serving the tool */
  char *provider;         /* owned: object path of the ToolProvider */
  gboolean skip_permission;
  gboolean overrides_built_in;
};

void
copilotd_tool_free (CopilotdTool *tool)
{
  if (tool == NULL)
    return;

  g_free (tool->name);
  g_free (tool->description);
  g_clear_pointer (&tool->parameters, json_node_unref);
  g_free (tool->sender);
  g_free (tool->provider);
  g_free (tool);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CopilotdTool, copilotd_tool_free)

const char *
copilotd_tool_get_name (CopilotdTool *tool)
{
  g_return_val_if_fail (tool != NULL, NULL);

  return tool->name;
}

static gboolean
tool_name_is_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > TOOL_NAME_MAX)
    return FALSE;

  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;

  return TRUE;
}

/* Looks up @key of @type in @entry; a present key of another type is an
 * error naming it. */
static gboolean
lookup_typed (GVariant            *entry,
              guint                index,
              const char          *key,
              const GVariantType  *type,
              GVariant           **out_value,
              GError             **error)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (entry, key, NULL);

  *out_value = NULL;
  if (value == NULL)
    return TRUE;

  if (!g_variant_is_of_type (value, type))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Tool %u: key “%s” must be of type %.*s, not %s", index, key,
                   (int) g_variant_type_get_string_length (type),
                   g_variant_type_peek_string (type),
                   g_variant_get_type_string (value));
      return FALSE;
    }

  *out_value = g_steal_pointer (&value);
  return TRUE;
}

static CopilotdTool *
parse_tool (GVariant    *entry,
            guint        index,
            const char  *sender,
            GError     **error)
{
  g_autoptr(CopilotdTool) tool = g_new0 (CopilotdTool, 1);
  g_autoptr(GVariant) name = NULL;
  g_autoptr(GVariant) description = NULL;
  g_autoptr(GVariant) parameters = NULL;
  g_autoptr(GVariant) provider = NULL;
  g_autoptr(GVariant) skip_permission = NULL;
  g_autoptr(GVariant) overrides = NULL;

  if (!lookup_typed (entry, index, "name", G_VARIANT_TYPE_STRING, &name, error) ||
      !lookup_typed (entry, index, "description", G_VARIANT_TYPE_STRING, &description, error) ||
      !lookup_typed (entry, index, "parameters", G_VARIANT_TYPE_STRING, &parameters, error) ||
      !lookup_typed (entry, index, "provider", G_VARIANT_TYPE_OBJECT_PATH, &provider, error) ||
      !lookup_typed (entry, index, "skip-permission", G_VARIANT_TYPE_BOOLEAN, &skip_permission, error) ||
      !lookup_typed (entry, index, "overrides-built-in", G_VARIANT_TYPE_BOOLEAN, &overrides, error))
    return NULL;

  if (name == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Tool %u has no “name”", index);
      return NULL;
    }

  tool->name = g_variant_dup_string (name, NULL);
  if (!tool_name_is_valid (tool->name))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Tool name “%s” must be 1 to %d letters, digits, “_” or “-”",
                   tool->name, TOOL_NAME_MAX);
      return NULL;
    }

  if (provider == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Tool “%s” has no “provider”", tool->name);
      return NULL;
    }
  tool->provider = g_variant_dup_string (provider, NULL);

  if (description != NULL)
    tool->description = g_variant_dup_string (description, NULL);

  if (parameters != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) local_error = NULL;
      const char *text = g_variant_get_string (parameters, NULL);

      if (!json_parser_load_from_data (parser, text, -1, &local_error))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Tool “%s”: “parameters” is not JSON: %s",
                       tool->name, local_error->message);
          return NULL;
        }
      if (json_parser_get_root (parser) == NULL ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Tool “%s”: “parameters” must be a JSON object", tool->name);
          return NULL;
        }
      tool->parameters = json_node_copy (json_parser_get_root (parser));
    }

  if (skip_permission != NULL)
    tool->skip_permission = g_variant_get_boolean (skip_permission);
  if (overrides != NULL)
    tool->overrides_built_in = g_variant_get_boolean (overrides);

  tool->sender = g_strdup (sender);

  return g_steal_pointer (&tool);
}

GPtrArray *
copilotd_tools_parse (GVariant   *tools,
                      const char *sender,
                      guint       max_tools,
                      GError    **error)
{
  g_autoptr(GPtrArray) parsed = NULL;
  gsize n_tools;

  g_return_val_if_fail (tools != NULL, NULL);
  g_return_val_if_fail (sender != NULL, NULL);

  if (!g_variant_is_of_type (tools, G_VARIANT_TYPE ("aa{sv}")))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option “tools” must be of type aa{sv}, not %s",
                   g_variant_get_type_string (tools));
      return NULL;
    }

  n_tools = g_variant_n_children (tools);
  if (max_tools > 0 && n_tools > max_tools)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                   "Too many tools: %" G_GSIZE_FORMAT " (limit %u)", n_tools, max_tools);
      return NULL;
    }

  parsed = g_ptr_array_new_with_free_func ((GDestroyNotify) copilotd_tool_free);
  for (gsize i = 0; i < n_tools; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (tools, i);
      CopilotdTool *tool = parse_tool (entry, i, sender, error);

      if (tool == NULL)
        return NULL;

      if (copilotd_tools_find (parsed, tool->name) != NULL)
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Tool “%s” is declared twice", tool->name);
          copilotd_tool_free (tool);
          return NULL;
        }

      g_ptr_array_add (parsed, tool);
    }

  return g_steal_pointer (&parsed);
}

JsonNode *
copilotd_tools_to_json (GPtrArray *tools)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (guint i = 0; tools != NULL && i < tools->len; i++)
    {
      CopilotdTool *tool = g_ptr_array_index (tools, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, tool->name);
      if (tool->description != NULL)
        {
          json_builder_set_member_name (builder, "description");
          json_builder_add_string_value (builder, tool->description);
        }
      if (tool->parameters != NULL)
        {
          json_builder_set_member_name (builder, "parameters");
          json_builder_add_value (builder, json_node_copy (tool->parameters));
        }
      if (tool->skip_permission)
        {
          json_builder_set_member_name (builder, "skipPermission");
          json_builder_add_boolean_value (builder, TRUE);
        }
      /* Without it the CLI refuses a tool named like one of its own. */
      if (tool->overrides_built_in)
        {
          json_builder_set_member_name (builder, "overridesBuiltInTool");
          json_builder_add_boolean_value (builder, TRUE);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  return json_builder_get_root (builder);
}

CopilotdTool *
copilotd_tools_find (GPtrArray  *tools,
                     const char *name)
{
  for (guint i = 0; tools != NULL && name != NULL && i < tools->len; i++)
    {
      CopilotdTool *tool = g_ptr_array_index (tools, i);

      if (g_str_equal (tool->name, name))
        return tool;
    }

  return NULL;
}

/* The router --------------------------------------------------------------- */

struct _CopilotdToolRouter
{
  GObject parent_instance;

  GDBusConnection *connection;    /* owned */
  CopilotdCallers *callers;       /* owned */
  const CopilotdConfig *config;   /* unowned: outlives the router */
};

G_DEFINE_TYPE (CopilotdToolRouter, copilotd_tool_router, G_TYPE_OBJECT)

typedef struct {
  char *sender;                   /* owned */
  char *tool_name;                /* owned */
  char *tool_call_id;             /* owned */
} Invocation;

static void
invocation_free (gpointer data)
{
  Invocation *invocation = data;

  g_free (invocation->sender);
  g_free (invocation->tool_name);
  g_free (invocation->tool_call_id);
  g_free (invocation);
}

static void
add_images (JsonBuilder *builder,
            GVariant    *images)
{
  GVariantIter iter;
  GVariant *image;

  json_builder_set_member_name (builder, "binaryResultsForLlm");
  json_builder_begin_array (builder);
  g_variant_iter_init (&iter, images);
  while ((image = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) owned = image;
      g_autoptr(GVariant) data = g_variant_lookup_value (image, "data", G_VARIANT_TYPE_BYTESTRING);
      g_autofree char *base64 = NULL;
      const char *mime_type = NULL, *description = NULL;
      gsize size = 0;
      const guchar *bytes;

      if (data == NULL)
        continue;
      bytes = g_variant_get_fixed_array (data, &size, 1);
      base64 = g_base64_encode (bytes, size);
      g_variant_lookup (image, "mime-type", "&s", &mime_type);
      g_variant_lookup (image, "description", "&s", &description);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "image");
      json_builder_set_member_name (builder, "data");
      json_builder_add_string_value (builder, base64);
      json_builder_set_member_name (builder, "mimeType");
      json_builder_add_string_value (builder, mime_type != NULL ? mime_type : "image/png");
      if (description != NULL)
        {
          json_builder_set_member_name (builder, "description");
          json_builder_add_string_value (builder, description);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* @images: aa{sv}, nullable. */
static JsonNode *
build_result (const char *text,
              const char *result_type,
              const char *error,
              const char *session_log,
              GVariant   *images)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "textResultForLlm");
  json_builder_add_string_value (builder, text);
  json_builder_set_member_name (builder, "resultType");
  json_builder_add_string_value (builder, result_type);
  if (error != NULL && *error != '\0')
    {
      json_builder_set_member_name (builder, "error");
      json_builder_add_string_value (builder, error);
    }
  if (session_log != NULL && *session_log != '\0')
    {
      json_builder_set_member_name (builder, "sessionLog");
      json_builder_add_string_value (builder, session_log);
    }
  if (images != NULL && g_variant_n_children (images) > 0)
    add_images (builder, images);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static const char *
result_type_name (guint result_type)
{
  static const char * const names[] = { "success", "failure", "rejected", "denied", "timeout" };

  if (result_type < G_N_ELEMENTS (names))
    return names[result_type];

  return "failure";
}

static void
on_invoke_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Invocation *invocation = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  reply = copilotd_client_call_finish (result, &error);
  if (reply != NULL)
    {
      g_autoptr(GVariant) extra = NULL;
      g_autoptr(GVariant) images = NULL;
      const char *reply_text, *extra_error = NULL, *session_log = NULL;
      guint result_type;

      g_variant_get (reply, "(u&s@a{sv})", &result_type, &reply_text, &extra);
      g_variant_lookup (extra, "error", "&s", &extra_error);
      g_variant_lookup (extra, "session-log", "&s", &session_log);
      images = g_variant_lookup_value (extra, "images", G_VARIANT_TYPE ("aa{sv}"));
      g_debug ("Tool call “%s” finished: %s", invocation->tool_call_id,
               result_type_name (result_type));
      g_task_return_pointer (task, build_result (reply_text, result_type_name (result_type),
                                                 extra_error, session_log, images),
                             (GDestroyNotify) json_node_unref);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_steal_pointer (&error));
  else if (g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT))
    {
      text = g_strdup_printf ("Tool '%s' timed out", invocation->tool_name);
      g_task_return_pointer (task, build_result (text, "timeout", NULL, NULL, NULL),
                             (GDestroyNotify) json_node_unref);
    }
  else if (g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED))
    {
      text = g_strdup_printf ("Tool provider %s of '%s' left the bus",
                              invocation->sender, invocation->tool_name);
      g_task_return_pointer (task, build_result (text, "failure", text, NULL, NULL),
                             (GDestroyNotify) json_node_unref);
    }
  else
    {
      /* The provider's error message may hold anything (a path, a secret):
       * it goes to the result's error, for logs and events, and the model
       * only learns that the tool failed, as with the SDKs (DESIGN.md §9). */
      g_debug ("Tool call “%s” failed: %s", invocation->tool_call_id, error->message);
      text = g_strdup_printf ("Tool '%s' failed", invocation->tool_name);
      g_task_return_pointer (task, build_result (text, "failure", error->message, NULL, NULL),
                             (GDestroyNotify) json_node_unref);
    }
}

static const char *
get_string_member (JsonObject *object,
                   const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

void
copilotd_tool_router_invoke_async (CopilotdToolRouter  *self,
                                   const char          *session_path,
                                   CopilotdTool        *tool,
                                   JsonObject          *data,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_auto(GVariantDict) context = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *arguments_json = NULL;
  Invocation *invocation;
  const char *tool_call_id, *working_directory, *request_id;
  JsonNode *arguments;

  g_return_if_fail (COPILOTD_IS_TOOL_ROUTER (self));
  g_return_if_fail (session_path != NULL);
  g_return_if_fail (tool != NULL);
  g_return_if_fail (data != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, copilotd_tool_router_invoke_async);

  tool_call_id = get_string_member (data, "toolCallId");
  working_directory = get_string_member (data, "workingDirectory");
  request_id = get_string_member (data, "requestId");
  arguments = json_object_get_member (data, "arguments");
  arguments_json = arguments != NULL ? json_to_string (arguments, FALSE) : g_strdup ("{}");

  invocation = g_new0 (Invocation, 1);
  invocation->sender = g_strdup (tool->sender);
  invocation->tool_name = g_strdup (tool->name);
  invocation->tool_call_id = g_strdup (tool_call_id != NULL ? tool_call_id : "");
  g_task_set_task_data (task, invocation, invocation_free);

  if (working_directory != NULL)
    g_variant_dict_insert (&context, "working-directory", "s", working_directory);
  if (request_id != NULL)
    g_variant_dict_insert (&context, "request-id", "s", request_id);

  g_debug ("Invoking tool “%s” (call “%s”) on %s %s", invocation->tool_name,
           invocation->tool_call_id, invocation->sender, tool->provider);

  copilotd_client_call_async (self->connection, self->callers, tool->sender, tool->provider,
                              TOOL_PROVIDER_INTERFACE, "Invoke",
                              g_variant_new ("(osss@a{sv})", session_path, invocation->tool_call_id,
                                             invocation->tool_name, arguments_json,
                                             g_variant_dict_end (&context)),
                              G_VARIANT_TYPE ("(usa{sv})"),
                              MIN (self->config->tool_timeout, G_MAXUINT / 1000) * 1000,
                              g_variant_new ("(s)", invocation->tool_call_id),
                              cancellable, on_invoke_done, g_steal_pointer (&task));
}

JsonNode *
copilotd_tool_router_invoke_finish (CopilotdToolRouter  *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  g_return_val_if_fail (COPILOTD_IS_TOOL_ROUTER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_tool_router_invoke_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
copilotd_tool_router_dispose (GObject *object)
{
  CopilotdToolRouter *self = COPILOTD_TOOL_ROUTER (object);

  g_clear_object (&self->callers);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (copilotd_tool_router_parent_class)->dispose (object);
}

static void
copilotd_tool_router_class_init (CopilotdToolRouterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_tool_router_dispose;
}

static void
copilotd_tool_router_init (CopilotdToolRouter *self)
{
}

CopilotdToolRouter *
copilotd_tool_router_new (GDBusConnection      *connection,
                          CopilotdCallers      *callers,
                          const CopilotdConfig *config)
{
  CopilotdToolRouter *self;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (COPILOTD_IS_CALLERS (callers), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (COPILOTD_TYPE_TOOL_ROUTER, NULL);
  self->connection = g_object_ref (connection);
  self->callers = g_object_ref (callers);
  self->config = config;

  return self;
}
