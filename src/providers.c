/* SPDX-License-Identifier: MIT */
/* providers.c: hook and command providers served by clients
 *
 * CreateSession/ResumeSession name HookProvider and CommandProvider objects
 * on the caller's connection (options `hooks` and `commands`, DESIGN.md §9),
 * like custom tools. The CLI invokes hooks with the hooks.invoke request
 * and client commands with the command.execute event; each goes to the
 * providers through client-call.c with hook-timeout as the deadline.
 *
 * Hooks fail neutral, never open: a provider that errs, times out, sends
 * bad JSON or leaves the bus gives no output, which lets the CLI go on to
 * its own permission gate. And when any provider of a preToolUse call
 * failed, an "allow" from another one is dropped, so the agent is still
 * asked: a broken hook never lets through what the agent would refuse.
 * With several providers of one type the first output is kept, except that
 * a stricter permission decision (deny over ask over allow) wins.
 */
#include "config.h"

#include <string.h>

#include "client-call.h"
#include "copilotd-error.h"
#include "options.h"
#include "providers.h"

#define HOOK_PROVIDER_INTERFACE "io.github.copilotd.Copilot1.HookProvider"
#define COMMAND_PROVIDER_INTERFACE "io.github.copilotd.Copilot1.CommandProvider"
#define COMMAND_NAME_MAX 64

typedef enum {
  PROVIDER_HOOK,
  PROVIDER_COMMAND,
} ProviderKind;

struct _CopilotdProvider
{
  ProviderKind kind;
  char *sender;           /* owned: unique name serving it */
  char *path;             /* owned: object path of the provider */
  GStrv types;            /* owned, hooks: the hook types it serves */
  char *name;             /* owned, commands: without the leading / */
  char *description;      /* owned, nullable, commands */
};

void
copilotd_provider_free (CopilotdProvider *provider)
{
  if (provider == NULL)
    return;

  g_free (provider->sender);
  g_free (provider->path);
  g_strfreev (provider->types);
  g_free (provider->name);
  g_free (provider->description);
  g_free (provider);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CopilotdProvider, copilotd_provider_free)

/* Parsing ------------------------------------------------------------------ */

static gboolean
entry_lookup (GVariant            *entry,
              const char          *option,
              guint                index,
              const char          *key,
              const GVariantType  *type,
              gboolean             required,
              GVariant           **out,
              GError             **error)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (entry, key, NULL);

  *out = NULL;
  if (value == NULL && required)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option “%s” entry %u has no “%s”", option, index, key);
      return FALSE;
    }
  if (value != NULL && !g_variant_is_of_type (value, type))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option “%s” entry %u: key “%s” must be of type %.*s, not %s",
                   option, index, key,
                   (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type),
                   g_variant_get_type_string (value));
      return FALSE;
    }
  *out = g_steal_pointer (&value);
  return TRUE;
}

static gboolean
command_name_is_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > COMMAND_NAME_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

static CopilotdProvider *
parse_entry (GVariant      *entry,
             ProviderKind   kind,
             guint          index,
             const char    *sender,
             GError       **error)
{
  const char *option = kind == PROVIDER_HOOK ? "hooks" : "commands";
  g_autoptr(CopilotdProvider) provider = g_new0 (CopilotdProvider, 1);
  g_autoptr(GVariant) path = NULL;
  g_autoptr(GVariant) types = NULL;
  g_autoptr(GVariant) name = NULL;
  g_autoptr(GVariant) description = NULL;

  provider->kind = kind;
  provider->sender = g_strdup (sender);
  if (!entry_lookup (entry, option, index, "provider", G_VARIANT_TYPE_OBJECT_PATH, TRUE, &path, error))
    return NULL;
  provider->path = g_variant_dup_string (path, NULL);

  if (kind == PROVIDER_HOOK)
    {
      if (!entry_lookup (entry, option, index, "types", G_VARIANT_TYPE_STRING_ARRAY, TRUE, &types, error))
        return NULL;
      provider->types = g_variant_dup_strv (types, NULL);
      for (guint i = 0; provider->types[i] != NULL; i++)
        if (*provider->types[i] == '\0')
          {
            g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                         "Option “hooks” entry %u names an empty hook type", index);
            return NULL;
          }
    }
  else
    {
      if (!entry_lookup (entry, option, index, "name", G_VARIANT_TYPE_STRING, TRUE, &name, error) ||
          !entry_lookup (entry, option, index, "description", G_VARIANT_TYPE_STRING, FALSE, &description, error))
        return NULL;
      provider->name = g_variant_dup_string (name, NULL);
      /* "/deploy" and "deploy" name the same command. */
      if (provider->name[0] == '/')
        memmove (provider->name, provider->name + 1, strlen (provider->name));
      if (!command_name_is_valid (provider->name))
        {
          g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                       "Command name “%s” must be 1 to %d letters, digits, “_” or “-”",
                       provider->name, COMMAND_NAME_MAX);
          return NULL;
        }
      if (description != NULL)
        provider->description = g_variant_dup_string (description, NULL);
    }

  return g_steal_pointer (&provider);
}

static CopilotdProvider *
find_command (GPtrArray  *providers,
              const char *name)
{
  for (guint i = 0; providers != NULL && name != NULL && i < providers->len; i++)
    {
      CopilotdProvider *provider = g_ptr_array_index (providers, i);

      if (provider->kind == PROVIDER_COMMAND && g_str_equal (provider->name, name))
        return provider;
    }
  return NULL;
}

/* The provider @provider replaces in @providers: the command of the same
 * name, or the hook provider at the same sender and path. */
static CopilotdProvider *
find_same (GPtrArray        *providers,
           CopilotdProvider *provider)
{
  if (provider->kind == PROVIDER_COMMAND)
    return find_command (providers, provider->name);
  for (guint i = 0; providers != NULL && i < providers->len; i++)
    {
      CopilotdProvider *other = g_ptr_array_index (providers, i);

      if (other->kind == PROVIDER_HOOK && g_str_equal (other->sender, provider->sender) &&
          g_str_equal (other->path, provider->path))
        return other;
    }
  return NULL;
}

GPtrArray *
copilotd_providers_parse (GVariant    *options,
                          const char  *sender,
                          JsonObject  *params,
                          GError     **error)
{
  g_autoptr(GPtrArray) providers = g_ptr_array_new_with_free_func ((GDestroyNotify) copilotd_provider_free);
  static const char * const keys[] = { "hooks", "commands" };

  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      g_autoptr(GVariant) value = NULL;

      if (!copilotd_option_lookup (options, keys[k], G_VARIANT_TYPE ("aa{sv}"), &value, error))
        return NULL;
      for (gsize i = 0; value != NULL && i < g_variant_n_children (value); i++)
        {
          g_autoptr(GVariant) entry = g_variant_get_child_value (value, i);
          CopilotdProvider *provider;

          if (sender == NULL)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Option “%s” needs a caller on a message bus", keys[k]);
              return NULL;
            }
          provider = parse_entry (entry, k == 0 ? PROVIDER_HOOK : PROVIDER_COMMAND, i, sender, error);
          if (provider == NULL)
            return NULL;
          if (provider->kind == PROVIDER_COMMAND && find_command (providers, provider->name) != NULL)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "Command “%s” is declared twice", provider->name);
              copilotd_provider_free (provider);
              return NULL;
            }
          g_ptr_array_add (providers, provider);
          if (providers->len > COPILOTD_MAX_PROVIDERS)
            {
              g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                           "At most %d hook and command providers per session",
                           COPILOTD_MAX_PROVIDERS);
              return NULL;
            }
        }
    }

  copilotd_providers_describe (providers, params);
  return g_steal_pointer (&providers);
}

void
copilotd_providers_describe (GPtrArray  *providers,
                             JsonObject *params)
{
  gboolean any_hook = FALSE;
  JsonArray *commands = NULL;

  for (guint i = 0; providers != NULL && i < providers->len; i++)
    {
      CopilotdProvider *provider = g_ptr_array_index (providers, i);
      JsonObject *command;

      if (provider->kind == PROVIDER_HOOK)
        {
          any_hook = TRUE;
          continue;
        }
      if (commands == NULL)
        commands = json_array_new ();
      command = json_object_new ();
      json_object_set_string_member (command, "name", provider->name);
      if (provider->description != NULL)
        json_object_set_string_member (command, "description", provider->description);
      json_array_add_object_element (commands, command);
    }

  /* hooks:true makes the CLI invoke every hook type, so only when asked. */
  if (any_hook)
    json_object_set_boolean_member (params, "hooks", TRUE);
  if (commands != NULL)
    json_object_set_array_member (params, "commands", commands);
}

void
copilotd_providers_join (GPtrArray *providers,
                         GPtrArray *added)
{
  while (added != NULL && added->len > 0)
    {
      CopilotdProvider *provider = g_ptr_array_steal_index (added, 0);
      CopilotdProvider *same = find_same (providers, provider);

      /* The later app's command of the same name replaces the earlier, and
       * a hook provider named again replaces itself: joining the same
       * providers again and again adds nothing. */
      if (same != NULL)
        g_ptr_array_remove (providers, same);
      g_ptr_array_add (providers, provider);
    }
}

/* Whether joining @added to @providers stays within
 * COPILOTD_MAX_PROVIDERS; LimitsExceeded when not. */
gboolean
copilotd_providers_check_join (GPtrArray  *providers,
                               GPtrArray  *added,
                               GError    **error)
{
  guint n = providers != NULL ? providers->len : 0;

  for (guint i = 0; added != NULL && i < added->len; i++)
    if (find_same (providers, g_ptr_array_index (added, i)) == NULL)
      n++;
  if (n <= COPILOTD_MAX_PROVIDERS)
    return TRUE;
  g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
               "The session would have %u hook and command providers; the limit is %d",
               n, COPILOTD_MAX_PROVIDERS);
  return FALSE;
}

gboolean
copilotd_providers_drop_sender (GPtrArray  *providers,
                                const char *sender)
{
  gboolean dropped = FALSE;

  for (guint i = providers != NULL ? providers->len : 0; i > 0; i--)
    {
      CopilotdProvider *provider = g_ptr_array_index (providers, i - 1);

      if (g_str_equal (provider->sender, sender))
        {
          g_debug ("Dropping %s provider %s %s", provider->kind == PROVIDER_HOOK ? "hook" : "command",
                   provider->sender, provider->path);
          g_ptr_array_remove_index (providers, i - 1);
          dropped = TRUE;
        }
    }
  return dropped;
}

gboolean
copilotd_providers_has_hooks (GPtrArray *providers)
{
  for (guint i = 0; providers != NULL && i < providers->len; i++)
    if (((CopilotdProvider *) g_ptr_array_index (providers, i))->kind == PROVIDER_HOOK)
      return TRUE;
  return FALSE;
}

/* Hooks -------------------------------------------------------------------- */

typedef struct {
  GDBusConnection *connection;    /* owned */
  CopilotdCallers *callers;       /* owned */
  GPtrArray *targets;             /* owned: CopilotdProvider copies, in order */
  guint next;
  guint timeout_ms;
  char *session_path;             /* owned */
  char *hook_type;                /* owned */
  char *input_json;               /* owned */
  char *working_directory;        /* owned, nullable */
  JsonNode *output;               /* owned, nullable: the merged output */
  gboolean any_failed;
} HookCall;

static void
hook_call_free (gpointer data)
{
  HookCall *call = data;

  g_object_unref (call->connection);
  g_object_unref (call->callers);
  g_ptr_array_unref (call->targets);
  g_free (call->session_path);
  g_free (call->hook_type);
  g_free (call->input_json);
  g_free (call->working_directory);
  g_clear_pointer (&call->output, json_node_unref);
  g_free (call);
}

static CopilotdProvider *
provider_copy (CopilotdProvider *provider)
{
  CopilotdProvider *copy = g_new0 (CopilotdProvider, 1);

  copy->kind = provider->kind;
  copy->sender = g_strdup (provider->sender);
  copy->path = g_strdup (provider->path);
  copy->types = g_strdupv (provider->types);
  copy->name = g_strdup (provider->name);
  copy->description = g_strdup (provider->description);
  return copy;
}

static int
decision_rank (JsonNode *output)
{
  const char *decision = NULL;

  if (output != NULL && JSON_NODE_HOLDS_OBJECT (output))
    {
      JsonNode *node = json_object_get_member (json_node_get_object (output), "permissionDecision");

      if (node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        decision = json_node_get_string (node);
    }

  if (g_strcmp0 (decision, "deny") == 0)
    return 3;
  if (g_strcmp0 (decision, "ask") == 0)
    return 2;
  if (g_strcmp0 (decision, "allow") == 0)
    return 1;
  return 0;
}

static void hook_call_next (GTask *task);

/* Unique among the daemon's HookProvider.Invoke calls. */
static guint64 last_hook_call_id;

static void
on_hook_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HookCall *call = g_task_get_task_data (task);
  CopilotdProvider *provider = g_ptr_array_index (call->targets, call->next - 1);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *output_json;
  JsonNode *root;

  reply = copilotd_client_call_finish (result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_debug ("Hook “%s” of %s %s failed: %s", call->hook_type, provider->sender,
               provider->path, error->message);
      call->any_failed = TRUE;
      hook_call_next (task);
      return;
    }

  g_variant_get (reply, "(&s)", &output_json);
  if (*output_json == '\0')
    {
      hook_call_next (task);
      return;
    }
  if (!json_parser_load_from_data (parser, output_json, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !(JSON_NODE_HOLDS_OBJECT (root) || JSON_NODE_HOLDS_NULL (root)))
    {
      g_debug ("Hook “%s” of %s %s answered with something else than a JSON object",
               call->hook_type, provider->sender, provider->path);
      call->any_failed = TRUE;
      hook_call_next (task);
      return;
    }

  if (JSON_NODE_HOLDS_OBJECT (root) &&
      (call->output == NULL || decision_rank (root) > decision_rank (call->output)))
    {
      g_clear_pointer (&call->output, json_node_unref);
      call->output = json_node_copy (root);
    }
  hook_call_next (task);
}

static void
hook_call_next (GTask *task)
{
  HookCall *call = g_task_get_task_data (task);
  JsonObject *result;

  if (call->next < call->targets->len)
    {
      CopilotdProvider *provider = g_ptr_array_index (call->targets, call->next++);
      g_auto(GVariantDict) context = G_VARIANT_DICT_INIT (NULL);
      /* Names this Invoke in the Cancel the provider is sent when the
       * daemon stops waiting (hook-timeout, the session closed). */
      g_autofree char *id = g_strdup_printf ("hook-%" G_GUINT64_FORMAT, ++last_hook_call_id);

      if (call->working_directory != NULL)
        g_variant_dict_insert (&context, "working-directory", "s", call->working_directory);
      g_variant_dict_insert (&context, "hook-call-id", "s", id);
      copilotd_client_call_async (call->connection, call->callers, provider->sender, provider->path,
                                  HOOK_PROVIDER_INTERFACE, "Invoke",
                                  g_variant_new ("(oss@a{sv})", call->session_path, call->hook_type,
                                                 call->input_json, g_variant_dict_end (&context)),
                                  G_VARIANT_TYPE ("(s)"), call->timeout_ms, g_variant_new ("(s)", id),
                                  g_task_get_cancellable (task), on_hook_done, g_object_ref (task));
      return;
    }

  /* A failed hook never allows what the agent gate would ask about. */
  if (call->any_failed && decision_rank (call->output) == 1)
    {
      JsonObject *object = json_node_get_object (call->output);

      g_debug ("Hook “%s”: dropping an allow because another provider failed", call->hook_type);
      json_object_remove_member (object, "permissionDecision");
      json_object_remove_member (object, "permissionDecisionReason");
    }

  result = json_object_new ();
  if (call->output != NULL)
    json_object_set_member (result, "output", g_steal_pointer (&call->output));
  g_task_return_pointer (task, copilotd_json_node_take_object (result), (GDestroyNotify) json_node_unref);
}

void
copilotd_hooks_invoke_async (GDBusConnection     *connection,
                             CopilotdCallers     *callers,
                             GPtrArray           *providers,
                             guint                timeout_ms,
                             const char          *session_path,
                             const char          *hook_type,
                             JsonNode            *input,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  HookCall *call = g_new0 (HookCall, 1);

  g_task_set_source_tag (task, copilotd_hooks_invoke_async);
  call->connection = g_object_ref (connection);
  call->callers = g_object_ref (callers);
  call->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) copilotd_provider_free);
  call->timeout_ms = timeout_ms;
  call->session_path = g_strdup (session_path);
  call->hook_type = g_strdup (hook_type != NULL ? hook_type : "");
  call->input_json = input != NULL ? json_to_string (input, FALSE) : g_strdup ("{}");
  if (input != NULL && JSON_NODE_HOLDS_OBJECT (input))
    {
      JsonNode *cwd = json_object_get_member (json_node_get_object (input), "cwd");

      if (cwd != NULL && JSON_NODE_TYPE (cwd) == JSON_NODE_VALUE &&
          json_node_get_value_type (cwd) == G_TYPE_STRING)
        call->working_directory = g_strdup (json_node_get_string (cwd));
    }
  g_task_set_task_data (task, call, hook_call_free);

  for (guint i = 0; providers != NULL && i < providers->len; i++)
    {
      CopilotdProvider *provider = g_ptr_array_index (providers, i);

      if (provider->kind == PROVIDER_HOOK && g_strv_contains ((const char * const *) provider->types, call->hook_type))
        g_ptr_array_add (call->targets, provider_copy (provider));
    }

  hook_call_next (task);
}

JsonNode *
copilotd_hooks_invoke_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_hooks_invoke_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Commands ----------------------------------------------------------------- */

static JsonObject *
command_answer (const char *request_id,
                const char *error)
{
  JsonObject *params = json_object_new ();

  json_object_set_string_member (params, "requestId", request_id);
  if (error != NULL)
    json_object_set_string_member (params, "error", error);
  return params;
}

static void
on_command_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *request_id = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GError) error = NULL;
  const char *failed = NULL;

  reply = copilotd_client_call_finish (result, &error);
  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (reply == NULL)
    failed = error->message;
  else
    {
      g_variant_get (reply, "(@a{sv})", &results);
      g_variant_lookup (results, "error", "&s", &failed);
      if (failed != NULL && *failed == '\0')
        failed = NULL;
    }

  g_task_return_pointer (task, command_answer (request_id, failed), (GDestroyNotify) json_object_unref);
}

void
copilotd_command_execute_async (GDBusConnection     *connection,
                                CopilotdCallers     *callers,
                                GPtrArray           *providers,
                                guint                timeout_ms,
                                const char          *session_path,
                                JsonObject          *data,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  const char *request_id = copilotd_json_get_string (data, "requestId", "");
  const char *name = copilotd_json_get_string (data, "commandName", "");
  const char *args = copilotd_json_get_string (data, "args", "");
  const char *command = copilotd_json_get_string (data, "command", "");
  g_auto(GVariantDict) context = G_VARIANT_DICT_INIT (NULL);
  CopilotdProvider *provider = find_command (providers, name);

  g_task_set_source_tag (task, copilotd_command_execute_async);
  g_task_set_task_data (task, g_strdup (request_id), g_free);

  if (provider == NULL)
    {
      g_autofree char *message = g_strdup_printf ("No client serves the command /%s", name);

      g_task_return_pointer (task, command_answer (request_id, message), (GDestroyNotify) json_object_unref);
      return;
    }

  g_variant_dict_insert (&context, "command", "s", command);
  g_debug ("Running command “/%s” on %s %s", name, provider->sender, provider->path);
  copilotd_client_call_async (connection, callers, provider->sender, provider->path,
                              COMMAND_PROVIDER_INTERFACE, "Execute",
                              g_variant_new ("(osss@a{sv})", session_path, request_id, name, args,
                                             g_variant_dict_end (&context)),
                              G_VARIANT_TYPE ("(a{sv})"), timeout_ms, NULL,
                              cancellable, on_command_done, g_steal_pointer (&task));
}

JsonObject *
copilotd_command_execute_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == copilotd_command_execute_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
