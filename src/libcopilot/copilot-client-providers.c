/* SPDX-License-Identifier: MIT */
/* copilot-client-providers.c: tools, hooks and slash commands served by the app
 *
 * A client names ToolProvider, HookProvider and CommandProvider objects in
 * CreateSession/ResumeSession (DESIGN.md §6, §9). CopilotClient serves one
 * of each on its connection, at paths under /io/github/copilotd/libcopilot,
 * once the app added a tool, a hook type or a command, and offers them to
 * every session it creates or resumes afterwards. The daemon's calls
 * become CopilotToolCall objects for the tool's ::invoke, and
 * CopilotHookCall and CopilotCommandCall objects for the client's
 * ::handle-hook and ::handle-command signals (answered now or later),
 * falling back to the older ::hook and ::command.
 */
#include "config.h"

#include "copilot-private.h"

#define TOOL_PROVIDER_PATH COPILOT_LOCAL_PATH "/ToolProvider"
#define HOOK_PROVIDER_PATH COPILOT_LOCAL_PATH "/HookProvider"
#define COMMAND_PROVIDER_PATH COPILOT_LOCAL_PATH "/CommandProvider"

struct _CopilotProviders
{
  CopilotClient *client;         /* unowned: it owns this */
  GPtrArray *tools;              /* owned: CopilotTool* */
  guint tool_provider_id;
  GHashTable *tool_calls;        /* owned: tool call id → CopilotToolCall* (unowned, weak) */
  GPtrArray *hook_types;         /* owned: char*, NULL-terminated */
  guint hook_provider_id;
  GHashTable *hook_calls;        /* owned: hook-call-id → CopilotHookCall* (unowned, weak) */
  GPtrArray *commands;           /* owned: char* name, description, … */
  guint command_provider_id;
};

CopilotProviders *
copilot_providers_new (CopilotClient *client)
{
  CopilotProviders *self = g_new0 (CopilotProviders, 1);

  self->client = client;
  self->tools = g_ptr_array_new_with_free_func (g_object_unref);
  self->tool_calls = copilot_weak_table_new ();
  self->hook_calls = copilot_weak_table_new ();
  self->hook_types = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  self->commands = g_ptr_array_new_with_free_func (g_free);
  return self;
}

void
copilot_providers_free (CopilotProviders *self)
{
  GDBusConnection *connection = copilot_client_get_connection (self->client);
  guint *objects[] = { &self->tool_provider_id, &self->hook_provider_id, &self->command_provider_id };

  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    if (*objects[i] != 0 && connection != NULL)
      g_dbus_connection_unregister_object (connection, *objects[i]);
  copilot_weak_table_clear (self->tool_calls);
  g_hash_table_unref (self->tool_calls);
  copilot_weak_table_clear (self->hook_calls);
  g_hash_table_unref (self->hook_calls);
  g_ptr_array_unref (self->tools);
  g_ptr_array_unref (self->hook_types);
  g_ptr_array_unref (self->commands);
  g_free (self);
}

/* ---- the objects ---- */

static void
invoke_tool (CopilotProviders      *self,
             GVariant              *params,
             GDBusMethodInvocation *invocation)
{
  const char *session, *call_id, *name, *args;
  g_autoptr(GVariant) context = NULL;
  g_autoptr(CopilotToolCall) call = NULL;
  CopilotTool *tool = NULL;

  g_variant_get (params, "(&o&s&s&s@a{sv})", &session, &call_id, &name, &args, &context);
  for (guint i = 0; i < self->tools->len && tool == NULL; i++)
    if (g_strcmp0 (copilot_tool_get_name (g_ptr_array_index (self->tools, i)), name) == 0)
      tool = g_ptr_array_index (self->tools, i);
  if (tool == NULL)
    {
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new_parsed ("(@u 1, 'No such tool in this app', @a{sv} {})"));
      return;
    }
  call = copilot_tool_call_new_internal (invocation, session, call_id, name, args, context);
  copilot_weak_table_insert (self->tool_calls, call_id, call);
  if (!copilot_tool_emit_invoke (tool, call))
    copilot_tool_call_return_failure (call, "The tool has no handler");
  /* A handler that kept no reference and gave no answer: the call is
   * answered with a failure as it is finalized here. */
}

static void
provider_method_call (GDBusConnection       *connection,
                      const char            *sender,
                      const char            *path,
                      const char            *iface,
                      const char            *method,
                      GVariant              *params,
                      GDBusMethodInvocation *invocation,
                      gpointer               user_data)
{
  CopilotProviders *self = user_data;
  g_autoptr(CopilotClient) hold = g_object_ref (self->client);
  g_autoptr(GVariant) context = NULL;
  const char *session, *request_id, *name, *input;

  if (!copilot_client_check_caller (self->client, sender, invocation))
    return;

  if (g_strcmp0 (iface, COPILOT_IFACE_TOOL_PROVIDER) == 0 && g_strcmp0 (method, "Invoke") == 0)
    invoke_tool (self, params, invocation);
  else if (g_strcmp0 (iface, COPILOT_IFACE_TOOL_PROVIDER) == 0 && g_strcmp0 (method, "Cancel") == 0)
    {
      CopilotToolCall *call;

      g_variant_get (params, "(&s)", &request_id);
      call = g_hash_table_lookup (self->tool_calls, request_id);
      if (call != NULL)
        copilot_tool_call_withdraw (call);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_strcmp0 (iface, COPILOT_IFACE_HOOK_PROVIDER) == 0 && g_strcmp0 (method, "Invoke") == 0)
    {
      g_autoptr(CopilotHookCall) call = NULL;
      const char *hook_call_id;

      g_variant_get (params, "(&o&s&s@a{sv})", &session, &name, &input, &context);
      call = copilot_hook_call_new_internal (invocation, session, name, input, context);
      if (g_variant_lookup (context, "hook-call-id", "&s", &hook_call_id))
        copilot_weak_table_insert (self->hook_calls, hook_call_id, call);
      /* No handler, or no opinion: empty output, as the daemon does. */
      copilot_client_dispatch_hook (self->client, call);
    }
  else if (g_strcmp0 (iface, COPILOT_IFACE_HOOK_PROVIDER) == 0 && g_strcmp0 (method, "Cancel") == 0)
    {
      CopilotHookCall *call;

      g_variant_get (params, "(&s)", &request_id);
      call = g_hash_table_lookup (self->hook_calls, request_id);
      if (call != NULL)
        copilot_hook_call_withdraw (call);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_strcmp0 (iface, COPILOT_IFACE_COMMAND_PROVIDER) == 0 && g_strcmp0 (method, "Execute") == 0)
    {
      g_autoptr(CopilotCommandCall) call = NULL;

      g_variant_get (params, "(&o&s&s&s@a{sv})", &session, &request_id, &name, &input, &context);
      call = copilot_command_call_new_internal (invocation, session, request_id, name, input, context);
      copilot_client_dispatch_command (self->client, call);
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "No such method %s", method);
}

static const GDBusInterfaceVTable provider_vtable = { .method_call = provider_method_call };

/* Serves @iface at @path once; FALSE (with a warning) when it cannot. */
static gboolean
serve (CopilotProviders *self,
       guint            *id,
       const char       *path,
       const char       *iface)
{
  g_autoptr(GError) error = NULL;

  if (*id != 0)
    return TRUE;
  *id = g_dbus_connection_register_object (copilot_client_get_connection (self->client), path,
                                           copilot_interface_info (iface), &provider_vtable,
                                           self, NULL, &error);
  if (*id == 0)
    g_warning ("libcopilot: cannot serve %s at %s: %s", iface, path, error->message);
  return *id != 0;
}

/* ---- what sessions are offered ---- */

/* The tools of @options' `tools` (when an `aa{sv}`), then ours. */
static GVariant *
tools_option (CopilotProviders *self,
              GVariant         *options)
{
  g_autoptr(GVariant) given = g_variant_lookup_value (options, "tools", G_VARIANT_TYPE ("aa{sv}"));
  GVariantBuilder tools;

  g_variant_builder_init (&tools, G_VARIANT_TYPE ("aa{sv}"));
  if (given != NULL)
    {
      GVariantIter iter;
      GVariant *tool;

      g_variant_iter_init (&iter, given);
      while ((tool = g_variant_iter_next_value (&iter)) != NULL)
        {
          g_variant_builder_add_value (&tools, tool);
          g_variant_unref (tool);
        }
    }
  for (guint i = 0; i < self->tools->len; i++)
    g_variant_builder_add_value (&tools, copilot_tool_to_variant (g_ptr_array_index (self->tools, i),
                                                                  TOOL_PROVIDER_PATH));
  return g_variant_builder_end (&tools);
}

GVariant *
copilot_providers_add_options (CopilotProviders *self,
                               GVariant         *options)
{
  g_autoptr(GVariant) given_tools = g_variant_lookup_value (options, "tools", NULL);
  GVariantDict dict;

  g_variant_dict_init (&dict, options);
  /* `tools` of another type is left for the daemon to reject. */
  if (self->tools->len > 0 &&
      (given_tools == NULL || g_variant_is_of_type (given_tools, G_VARIANT_TYPE ("aa{sv}"))))
    g_variant_dict_insert_value (&dict, "tools", tools_option (self, options));
  if (self->hook_types->len > 0 && !g_variant_dict_contains (&dict, "hooks"))
    {
      GVariantBuilder list;
      GVariantDict entry;

      g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
      g_variant_dict_init (&entry, NULL);
      g_variant_dict_insert_value (&entry, "types",
                                   g_variant_new_strv ((const char * const *) self->hook_types->pdata, -1));
      g_variant_dict_insert (&entry, "provider", "o", HOOK_PROVIDER_PATH);
      g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
      g_variant_dict_insert_value (&dict, "hooks", g_variant_builder_end (&list));
    }
  if (self->commands->len > 0 && !g_variant_dict_contains (&dict, "commands"))
    {
      GVariantBuilder list;

      g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
      for (guint i = 0; i + 1 < self->commands->len; i += 2)
        {
          GVariantDict entry;

          g_variant_dict_init (&entry, NULL);
          g_variant_dict_insert (&entry, "name", "s", g_ptr_array_index (self->commands, i));
          g_variant_dict_insert (&entry, "description", "s", g_ptr_array_index (self->commands, i + 1));
          g_variant_dict_insert (&entry, "provider", "o", COMMAND_PROVIDER_PATH);
          g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
        }
      g_variant_dict_insert_value (&dict, "commands", g_variant_builder_end (&list));
    }
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* ---- the app's side ---- */

/**
 * copilot_client_add_tool:
 * @self: a #CopilotClient
 * @tool: a #CopilotTool
 *
 * Serves @tool on this client's connection (the ToolProvider interface)
 * and offers it to every session the client creates or resumes from now
 * on. Sessions created before keep the tools they had.
 */
void
copilot_client_add_tool (CopilotClient *self,
                         CopilotTool   *tool)
{
  CopilotProviders *providers;

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (COPILOT_IS_TOOL (tool));

  providers = copilot_client_get_providers (self);
  if (!serve (providers, &providers->tool_provider_id, TOOL_PROVIDER_PATH, COPILOT_IFACE_TOOL_PROVIDER))
    return;
  if (!g_ptr_array_find (providers->tools, tool, NULL))
    g_ptr_array_add (providers->tools, g_object_ref (tool));
}

/**
 * copilot_client_remove_tool:
 * @self: a #CopilotClient
 * @tool: a #CopilotTool added with copilot_client_add_tool()
 *
 * Stops offering @tool to new sessions; later calls of it by sessions that
 * have it fail.
 */
void
copilot_client_remove_tool (CopilotClient *self,
                            CopilotTool   *tool)
{
  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_ptr_array_remove (copilot_client_get_providers (self)->tools, tool);
}

/**
 * copilot_client_add_hooks:
 * @self: a #CopilotClient
 * @hook_types: (array zero-terminated=1): the CLI's hook types
 *   (`preToolUse`, `postToolUse`, `userPromptSubmitted`, `sessionStart`,
 *   `sessionEnd`, `errorOccurred`, …)
 *
 * Serves hooks of @hook_types through #CopilotClient::handle-hook (or
 * #CopilotClient::hook), for every session the client creates or resumes
 * from now on.
 */
void
copilot_client_add_hooks (CopilotClient      *self,
                          const char * const *hook_types)
{
  CopilotProviders *providers;

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (hook_types != NULL);

  providers = copilot_client_get_providers (self);
  if (!serve (providers, &providers->hook_provider_id, HOOK_PROVIDER_PATH, COPILOT_IFACE_HOOK_PROVIDER))
    return;
  for (guint i = 0; hook_types[i] != NULL; i++)
    if (providers->hook_types->len == 0 ||
        !g_strv_contains ((const char * const *) providers->hook_types->pdata, hook_types[i]))
      g_ptr_array_add (providers->hook_types, g_strdup (hook_types[i]));
}

/**
 * copilot_client_add_command:
 * @self: a #CopilotClient
 * @name: the command's name, without the slash
 * @description: what it does, for the command list
 *
 * Offers the slash command `/name` to every session the client creates or
 * resumes from now on; running it emits #CopilotClient::handle-command
 * (or #CopilotClient::command).
 */
void
copilot_client_add_command (CopilotClient *self,
                            const char    *name,
                            const char    *description)
{
  CopilotProviders *providers;

  g_return_if_fail (COPILOT_IS_CLIENT (self));
  g_return_if_fail (name != NULL);

  providers = copilot_client_get_providers (self);
  if (!serve (providers, &providers->command_provider_id, COMMAND_PROVIDER_PATH, COPILOT_IFACE_COMMAND_PROVIDER))
    return;
  g_ptr_array_add (providers->commands, g_strdup (name));
  g_ptr_array_add (providers->commands, g_strdup (description ? description : ""));
}
