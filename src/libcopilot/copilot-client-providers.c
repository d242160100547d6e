/* SPDX-License-Identifier: MIT */
/* copilot-client-providers.c: hooks and slash commands served by the app
 *
 * Contract 2 (DESIGN.md §9): a client names HookProvider and
 * CommandProvider objects in CreateSession/ResumeSession. CopilotClient
 * serves one of each on its connection, offers the hook types and commands
 * the app added to every session it creates or resumes afterwards, and
 * turns the daemon's calls into CopilotHookCall and CopilotCommandCall
 * objects for its ::handle-hook and ::handle-command signals (answered
 * now or later), falling back to the older ::hook and ::command.
 */
#include "config.h"

#include "copilot-private.h"

#define HOOK_PROVIDER_PATH COPILOT_LOCAL_PATH "/HookProvider"
#define COMMAND_PROVIDER_PATH COPILOT_LOCAL_PATH "/CommandProvider"

static void
hook_provider_method_call (GDBusConnection       *connection,
                           const char            *sender,
                           const char            *path,
                           const char            *iface,
                           const char            *method,
                           GVariant              *params,
                           GDBusMethodInvocation *invocation,
                           gpointer               user_data)
{
  CopilotClient *self = user_data;
  g_autoptr(CopilotClient) hold = g_object_ref (self);
  g_autoptr(CopilotHookCall) call = NULL;
  g_autoptr(GVariant) context = NULL;
  const char *session, *hook_type, *input;

  if (!copilot_client_check_caller (self, sender, invocation))
    return;
  g_variant_get (params, "(&o&s&s@a{sv})", &session, &hook_type, &input, &context);
  call = copilot_hook_call_new_internal (invocation, session, hook_type, input, context);
  /* No handler, or no opinion: empty output, as the daemon does. */
  copilot_client_dispatch_hook (self, call);
}

static void
command_provider_method_call (GDBusConnection       *connection,
                              const char            *sender,
                              const char            *path,
                              const char            *iface,
                              const char            *method,
                              GVariant              *params,
                              GDBusMethodInvocation *invocation,
                              gpointer               user_data)
{
  CopilotClient *self = user_data;
  g_autoptr(CopilotClient) hold = g_object_ref (self);
  g_autoptr(CopilotCommandCall) call = NULL;
  g_autoptr(GVariant) context = NULL;
  const char *session, *request_id, *name, *args;

  if (!copilot_client_check_caller (self, sender, invocation))
    return;
  g_variant_get (params, "(&o&s&s&s@a{sv})", &session, &request_id, &name, &args, &context);
  call = copilot_command_call_new_internal (invocation, session, request_id, name, args, context);
  copilot_client_dispatch_command (self, call);
}

static const GDBusInterfaceVTable hook_vtable = { .method_call = hook_provider_method_call };
static const GDBusInterfaceVTable command_vtable = { .method_call = command_provider_method_call };

guint
copilot_client_register_provider (CopilotClient *self,
                                  gboolean       hooks)
{
  g_autoptr(GError) error = NULL;
  const char *path = hooks ? HOOK_PROVIDER_PATH : COMMAND_PROVIDER_PATH;
  guint id;

  id = g_dbus_connection_register_object (copilot_client_get_connection (self), path,
                                          copilot_interface_info (hooks ? COPILOT_IFACE_HOOK_PROVIDER
                                                                        : COPILOT_IFACE_COMMAND_PROVIDER),
                                          hooks ? &hook_vtable : &command_vtable, self, NULL, &error);
  if (id == 0)
    g_warning ("libcopilot: cannot serve %s: %s", path, error->message);
  return id;
}

/* The `hooks` and `commands` entries of CreateSession for what was added. */
void
copilot_client_add_provider_options (CopilotClient   *self,
                                     GVariantDict    *dict,
                                     const char     **hook_types,
                                     GPtrArray       *commands)
{
  if (hook_types != NULL && hook_types[0] != NULL && !g_variant_dict_contains (dict, "hooks"))
    {
      GVariantBuilder list;
      GVariantDict entry;

      g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
      g_variant_dict_init (&entry, NULL);
      g_variant_dict_insert_value (&entry, "types", g_variant_new_strv (hook_types, -1));
      g_variant_dict_insert (&entry, "provider", "o", HOOK_PROVIDER_PATH);
      g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
      g_variant_dict_insert_value (dict, "hooks", g_variant_builder_end (&list));
    }
  if (commands != NULL && commands->len > 0 && !g_variant_dict_contains (dict, "commands"))
    {
      GVariantBuilder list;

      g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
      for (guint i = 0; i + 1 < commands->len; i += 2)
        {
          GVariantDict entry;

          g_variant_dict_init (&entry, NULL);
          g_variant_dict_insert (&entry, "name", "s", g_ptr_array_index (commands, i));
          g_variant_dict_insert (&entry, "description", "s", g_ptr_array_index (commands, i + 1));
          g_variant_dict_insert (&entry, "provider", "o", COMMAND_PROVIDER_PATH);
          g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
        }
      g_variant_dict_insert_value (dict, "commands", g_variant_builder_end (&list));
    }
}
