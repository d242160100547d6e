/* SPDX-License-Identifier: MIT */
/* session-control.c: the session control surface of DESIGN.md §8
 *
 * Modes, plans, names, usage and context, compaction and rewind (slash
 * commands are session-commands.c's). Each member checks the Session
 * caller rule and goes through the session's own CLI call (so it is held
 * while the session is being recovered), then turns the CLI's camelCase
 * result into the contract's dashed a{sv}. Call, the long tail, lives in
 * session-call.c.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "session-call.h"
#include "session-control-private.h"
#include "session-private.h"

#define MAX_PLAN_BYTES (1024 * 1024)
#define MAX_NAME_CHARS 100

static Control *
control_new (CopilotdSession       *session,
             GDBusMethodInvocation *invocation,
             ControlReplyFunc       reply)
{
  Control *ctl = g_new0 (Control, 1);

  ctl->session = g_object_ref (session);
  ctl->invocation = g_object_ref (invocation);
  ctl->reply = reply;
  return ctl;
}

static void
control_free (Control *ctl)
{
  g_object_unref (ctl->session);
  g_object_unref (ctl->invocation);
  g_free (ctl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Control, control_free)

/* Every reply here is built from what the CLI sent: within max-message-size
 * or LimitsExceeded. */
void
session_control_reply_bounded (CopilotdSession       *self,
                               GDBusMethodInvocation *invocation,
                               GVariant              *reply)
{
  copilotd_return_value_bounded (invocation, reply, self->ctx.config->max_message_size);
}

static void
on_control_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Control) ctl = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  GVariant *reply = NULL;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node != NULL)
    reply = ctl->reply ? ctl->reply (ctl, node, &error) : g_variant_new ("()");
  if (reply == NULL)
    g_dbus_method_invocation_return_gerror (ctl->invocation, error);
  else
    session_control_reply_bounded (ctl->session, ctl->invocation, reply);
}

/* Calls @method with @params (taken); @reply answers the invocation. */
void
session_control_call (CopilotdSession       *self,
                      GDBusMethodInvocation *invocation,
                      const char            *method,
                      JsonObject            *params,
                      ControlReplyFunc       reply)
{
  copilotd_session_call_async (self, method, params, on_control_done,
                               control_new (self, invocation, reply));
}

gboolean
session_control_return_error (GDBusMethodInvocation *invocation,
                              GError                *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- JSON → a{sv} ------------------------------------------------------ */

JsonObject *
control_node_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonObject *
member_object (JsonObject *object,
               const char *member)
{
  return object ? control_node_object (json_object_get_member (object, member)) : NULL;
}

const char *
control_member_string (JsonObject *object,
                       const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gint64
member_int (JsonObject *object,
            const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return MAX (json_node_get_int (node), 0);
    case G_TYPE_DOUBLE:
      return MAX ((gint64) json_node_get_double (node), 0);
    default:
      return 0;
    }
}

gboolean
control_member_bool (JsonObject *object,
                     const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

void
control_dict_add_string (GVariantBuilder *dict,
                         const char      *key,
                         JsonObject      *object,
                         const char      *member)
{
  const char *value = control_member_string (object, member);

  if (value != NULL)
    g_variant_builder_add (dict, "{sv}", key, g_variant_new_string (value));
}

/* The strings of an array member, or of member @field of its objects. */
GVariant *
control_strings_of (JsonObject *object,
                    const char *member,
                    const char *field)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;
  GVariantBuilder strv;

  g_variant_builder_init (&strv, G_VARIANT_TYPE_STRING_ARRAY);
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          const char *value = NULL;

          if (field != NULL)
            value = control_member_string (control_node_object (element), field);
          else if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
            value = json_node_get_string (element);
          if (value != NULL)
            g_variant_builder_add (&strv, "s", value);
        }
    }
  return g_variant_builder_end (&strv);
}

static char *
node_to_json (JsonNode *node)
{
  return node ? json_to_string (node, FALSE) : g_strdup ("null");
}

static GVariant *
reply_void (Control  *ctl,
            JsonNode *result,
            GError  **error)
{
  return g_variant_new ("()");
}

/* ---- Mode -------------------------------------------------------------- */

static const char * const session_modes[] = { "interactive", "plan", "autopilot", NULL };

static void
set_mode_property (CopilotdSession *self,
                   const char      *mode)
{
  CopilotdDbusSession *iface = COPILOTD_DBUS_SESSION (self);

  if (mode == NULL || !g_strv_contains (session_modes, mode))
    return;
  if (g_strcmp0 (copilotd_dbus_session_get_mode (iface), mode) != 0)
    {
      g_debug ("Session '%s' mode '%s'", copilotd_session_get_id (self), mode);
      copilotd_dbus_session_set_mode (iface, mode);
    }
}

gboolean
copilotd_session_control_handle_event (CopilotdSession *self,
                                       const char      *type,
                                       JsonObject      *data)
{
  if (strcmp (type, "session.mode_changed") == 0)
    {
      set_mode_property (self, control_member_string (data, "newMode"));
      return TRUE;
    }
  return FALSE;
}

void
copilotd_session_control_started (CopilotdSession *self,
                                  JsonObject      *result)
{
  set_mode_property (self, control_member_string (result, "mode"));
}

static gboolean
check_mode (const char  *key,
            const char  *mode,
            gboolean     shell_too,
            GError     **error)
{
  if (g_strv_contains (session_modes, mode) || (shell_too && strcmp (mode, "shell") == 0))
    return TRUE;
  g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
               "%s must be interactive, plan or autopilot%s, not '%s'",
               key, shell_too ? " or shell" : "", mode);
  return FALSE;
}

static gboolean
handle_set_mode (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 const char            *mode,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GError) error = NULL;
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_mode ("The mode", mode, FALSE, &error))
    return session_control_return_error (invocation, error);

  params = json_object_new ();
  json_object_set_string_member (params, "mode", mode);
  session_control_call (self, invocation, "session.mode.set", params, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Plan -------------------------------------------------------------- */

static GVariant *
reply_plan (Control  *ctl,
            JsonNode *result,
            GError  **error)
{
  JsonObject *object = control_node_object (result);
  const char *content = control_member_string (object, "content");
  GVariantBuilder info;

  g_variant_builder_init (&info, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&info, "{sv}", "exists", g_variant_new_boolean (control_member_bool (object, "exists")));
  control_dict_add_string (&info, "path", object, "path");
  return g_variant_new ("(sa{sv})", content ? content : "", &info);
}

static gboolean
handle_get_plan (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    session_control_call (self, invocation, "session.plan.read", NULL, reply_plan);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_plan (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 const char            *content,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (strlen (content) > MAX_PLAN_BYTES)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "The plan is %zu bytes; the limit is %d",
                                             strlen (content), MAX_PLAN_BYTES);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  params = json_object_new ();
  json_object_set_string_member (params, "content", content);
  session_control_call (self, invocation, "session.plan.update", params, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_plan (CopilotdDbusSession   *iface,
                    GDBusMethodInvocation *invocation,
                    GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    session_control_call (self, invocation, "session.plan.delete", NULL, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Name -------------------------------------------------------------- */

static gboolean
handle_set_name (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 const char            *name,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autofree char *trimmed = g_strstrip (g_strdup (name));
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (*trimmed == '\0' || !g_utf8_validate (trimmed, -1, NULL) ||
      g_utf8_strlen (trimmed, -1) > MAX_NAME_CHARS)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "The name must have 1 to %d characters once trimmed",
                                             MAX_NAME_CHARS);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  params = json_object_new ();
  json_object_set_string_member (params, "name", trimmed);
  session_control_call (self, invocation, "session.name.set", params, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- GetInfo: several CLI calls, one reply ----------------------------- */

typedef enum {
  INFO_NAME,
  INFO_MODE,
  INFO_MODEL,
  INFO_SNAPSHOT,
  INFO_USAGE,
  INFO_CONTEXT,
  N_INFO_PARTS
} InfoPart;

static const char * const info_methods[N_INFO_PARTS] = {
  "session.name.get",
  "session.mode.get",
  "session.model.getCurrent",
  "session.metadata.snapshot",
  "session.usage.getMetrics",
  "session.metadata.contextInfo",
};

typedef struct {
  CopilotdSession *session;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  JsonNode *parts[N_INFO_PARTS];       /* owned, nullable */
  guint pending;
  GError *error;                       /* owned, nullable: the first failure */
} InfoGather;

typedef struct {
  InfoGather *gather;                  /* unowned */
  InfoPart part;
} InfoCall;

static void
info_gather_free (InfoGather *gather)
{
  for (guint i = 0; i < N_INFO_PARTS; i++)
    g_clear_pointer (&gather->parts[i], json_node_unref);
  g_clear_error (&gather->error);
  g_object_unref (gather->session);
  g_object_unref (gather->invocation);
  g_free (gather);
}

static GVariant *
info_reply (InfoGather *gather)
{
  JsonObject *snapshot = control_node_object (gather->parts[INFO_SNAPSHOT]);
  JsonObject *model = control_node_object (gather->parts[INFO_MODEL]);
  JsonNode *mode = gather->parts[INFO_MODE];
  GVariantBuilder info;
  const char *name = control_member_string (control_node_object (gather->parts[INFO_NAME]), "name");
  const char *model_id = control_member_string (model, "modelId");

  g_variant_builder_init (&info, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&info, "{sv}", "name", g_variant_new_string (name ? name : ""));
  if (mode != NULL && JSON_NODE_HOLDS_VALUE (mode) && json_node_get_value_type (mode) == G_TYPE_STRING)
    g_variant_builder_add (&info, "{sv}", "mode", g_variant_new_string (json_node_get_string (mode)));
  if (model_id == NULL)
    model_id = control_member_string (snapshot, "selectedModel");
  if (model_id == NULL)
    model_id = copilotd_dbus_session_get_model (COPILOTD_DBUS_SESSION (gather->session));
  g_variant_builder_add (&info, "{sv}", "model", g_variant_new_string (model_id ? model_id : ""));
  control_dict_add_string (&info, "reasoning-effort", model, "reasoningEffort");
  control_dict_add_string (&info, "working-directory", snapshot, "workingDirectory");
  control_dict_add_string (&info, "workspace-path", snapshot, "workspacePath");

  if (gather->parts[INFO_USAGE] != NULL)
    {
      JsonObject *usage = control_node_object (gather->parts[INFO_USAGE]);
      JsonObject *changes = member_object (usage, "codeChanges");
      JsonNode *cost = usage ? json_object_get_member (usage, "totalPremiumRequestCost") : NULL;
      g_autofree char *text = node_to_json (gather->parts[INFO_USAGE]);

      g_variant_builder_add (&info, "{sv}", "premium-requests",
                             g_variant_new_double (cost && JSON_NODE_HOLDS_VALUE (cost) ?
                                                   json_node_get_double (cost) : 0.0));
      g_variant_builder_add (&info, "{sv}", "lines-added",
                             g_variant_new_uint32 ((guint32) MIN (member_int (changes, "linesAdded"), G_MAXUINT32)));
      g_variant_builder_add (&info, "{sv}", "lines-removed",
                             g_variant_new_uint32 ((guint32) MIN (member_int (changes, "linesRemoved"), G_MAXUINT32)));
      g_variant_builder_add (&info, "{sv}", "files-modified", control_strings_of (changes, "filesModified", NULL));
      g_variant_builder_add (&info, "{sv}", "usage-json", g_variant_new_string (text));
    }
  if (gather->parts[INFO_CONTEXT] != NULL)
    {
      JsonObject *context = member_object (control_node_object (gather->parts[INFO_CONTEXT]), "contextInfo");
      g_autofree char *text = node_to_json (gather->parts[INFO_CONTEXT]);

      g_variant_builder_add (&info, "{sv}", "context-tokens",
                             g_variant_new_uint64 ((guint64) member_int (context, "totalTokens")));
      g_variant_builder_add (&info, "{sv}", "context-limit",
                             g_variant_new_uint64 ((guint64) member_int (context, "limit")));
      g_variant_builder_add (&info, "{sv}", "context-json", g_variant_new_string (text));
    }
  return g_variant_new ("(a{sv})", &info);
}

static void
on_info_part_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  InfoCall *call = user_data;
  InfoGather *gather = call->gather;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL && gather->error == NULL)
    gather->error = g_steal_pointer (&error);
  gather->parts[call->part] = node;
  g_free (call);

  if (--gather->pending > 0)
    return;
  if (gather->error != NULL)
    g_dbus_method_invocation_return_gerror (gather->invocation, gather->error);
  else
    session_control_reply_bounded (gather->session, gather->invocation, info_reply (gather));
  info_gather_free (gather);
}

static gboolean
handle_get_info (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GError) error = NULL;
  gboolean usage = FALSE;
  gboolean context = FALSE;
  InfoGather *gather;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!copilotd_option_get_boolean (options, "usage", &usage, &error) ||
      !copilotd_option_get_boolean (options, "context", &context, &error))
    return session_control_return_error (invocation, error);

  gather = g_new0 (InfoGather, 1);
  gather->session = g_object_ref (self);
  gather->invocation = g_object_ref (invocation);
  for (InfoPart part = 0; part < N_INFO_PARTS; part++)
    {
      InfoCall *call;
      JsonObject *params = NULL;

      if ((part == INFO_USAGE && !usage) || (part == INFO_CONTEXT && !context))
        continue;
      if (part == INFO_CONTEXT)
        {
          /* 0: the CLI resolves the session's model and its limits. */
          params = json_object_new ();
          json_object_set_int_member (params, "promptTokenLimit", 0);
          json_object_set_int_member (params, "outputTokenLimit", 0);
        }
      call = g_new0 (InfoCall, 1);
      call->gather = gather;
      call->part = part;
      gather->pending++;
      copilotd_session_call_async (self, info_methods[part], params, on_info_part_done, call);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Compact ----------------------------------------------------------- */

static GVariant *
reply_compact (Control  *ctl,
               JsonNode *result,
               GError  **error)
{
  JsonObject *object = control_node_object (result);
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "success", g_variant_new_boolean (control_member_bool (object, "success")));
  g_variant_builder_add (&dict, "{sv}", "tokens-removed",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "tokensRemoved"), G_MAXUINT32)));
  g_variant_builder_add (&dict, "{sv}", "messages-removed",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "messagesRemoved"), G_MAXUINT32)));
  control_dict_add_string (&dict, "summary", object, "summaryContent");
  return g_variant_new ("(a{sv})", &dict);
}

static gboolean
handle_compact (CopilotdDbusSession   *iface,
                GDBusMethodInvocation *invocation,
                GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *instructions = NULL;
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!copilotd_option_get_string (options, "instructions", &instructions, &error))
    return session_control_return_error (invocation, error);
  if (instructions != NULL && g_utf8_strlen (instructions, -1) > 4000)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "Option 'instructions' is longer than 4000 characters");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  params = json_object_new ();
  json_object_set_string_member (params, "trigger", "manual");
  if (instructions != NULL && *instructions != '\0')
    json_object_set_string_member (params, "customInstructions", instructions);
  session_control_call (self, invocation, "session.history.compact", params, reply_compact);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Rewind ------------------------------------------------------------ */

static GVariant *
rewind_point (JsonObject *point,
              gpointer    user_data)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  control_dict_add_string (&dict, "event-id", point, "eventId");
  control_dict_add_string (&dict, "prompt", point, "userMessage");
  control_dict_add_string (&dict, "timestamp", point, "timestamp");
  g_variant_builder_add (&dict, "{sv}", "can-restore-files",
                         g_variant_new_boolean (control_member_bool (point, "canRestoreFiles")));
  g_variant_builder_add (&dict, "{sv}", "file-count",
                         g_variant_new_uint32 ((guint32) MIN (member_int (point, "fileCount"), G_MAXUINT32)));
  return g_variant_builder_end (&dict);
}

static GVariant *
reply_rewind_points (Control  *ctl,
                     JsonNode *result,
                     GError  **error)
{
  return g_variant_new_tuple ((GVariant *[]) {
    copilotd_json_map_objects (control_node_object (result), "points", "aa{sv}", rewind_point, NULL) }, 1);
}

static gboolean
handle_list_rewind_points (CopilotdDbusSession   *iface,
                           GDBusMethodInvocation *invocation,
                           GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    session_control_call (self, invocation, "session.history.listRewindPoints", NULL, reply_rewind_points);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
reply_preview (Control  *ctl,
               JsonNode *result,
               GError  **error)
{
  JsonObject *object = control_node_object (result);
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "outcome", g_variant_new_string ("preview"));
  g_variant_builder_add (&dict, "{sv}", "available", g_variant_new_boolean (control_member_bool (object, "available")));
  control_dict_add_string (&dict, "reason", object, "reason");
  g_variant_builder_add (&dict, "{sv}", "file-count",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "fileCount"), G_MAXUINT32)));
  g_variant_builder_add (&dict, "{sv}", "files", control_strings_of (object, "files", "path"));
  return g_variant_new ("(a{sv})", &dict);
}

static GVariant *
reply_rewind (Control  *ctl,
              JsonNode *result,
              GError  **error)
{
  JsonObject *object = control_node_object (result);
  const char *outcome = control_member_string (object, "outcome");
  const char *message = control_member_string (object, "error");
  GVariantBuilder dict;

  if (g_strcmp0 (outcome, "session-busy") == 0)
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_BUSY,
                           "The session is busy; rewind when the turn is over");
      return NULL;
    }
  if (g_strcmp0 (outcome, "file-change-tracking-disabled") == 0 ||
      g_strcmp0 (outcome, "unsupported-remote-session") == 0 ||
      g_strcmp0 (outcome, "truncation-failed") == 0)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_FAILED, "Rewind refused: %s%s%s",
                   outcome, message ? ": " : "", message ? message : "");
      return NULL;
    }

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "outcome", g_variant_new_string (outcome ? outcome : ""));
  g_variant_builder_add (&dict, "{sv}", "events-removed",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "eventsRemoved"), G_MAXUINT32)));
  g_variant_builder_add (&dict, "{sv}", "restored-files", control_strings_of (object, "restoredFiles", NULL));
  g_variant_builder_add (&dict, "{sv}", "skipped-files", control_strings_of (object, "skippedFiles", "path"));
  control_dict_add_string (&dict, "error", object, "error");
  return g_variant_new ("(a{sv})", &dict);
}

static gboolean
handle_rewind (CopilotdDbusSession   *iface,
               GDBusMethodInvocation *invocation,
               const char            *event_id,
               GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GError) error = NULL;
  gboolean restore = FALSE;
  gboolean preview = FALSE;
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!copilotd_option_get_boolean (options, "restore-files", &restore, &error) ||
      !copilotd_option_get_boolean (options, "preview", &preview, &error))
    return session_control_return_error (invocation, error);
  if (*event_id == '\0')
    {
      g_dbus_method_invocation_return_error_literal (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                                     "The event id is empty");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  params = json_object_new ();
  json_object_set_string_member (params, "eventId", event_id);
  if (preview)
    {
      session_control_call (self, invocation, "session.history.previewRewind", params, reply_preview);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  json_object_set_string_member (params, "mode", restore ? "conversation-and-files" : "conversation");
  session_control_call (self, invocation, "session.history.rewind", params, reply_rewind);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- wiring ------------------------------------------------------------ */

void
copilotd_session_control_iface_init (CopilotdDbusSessionIface *iface)
{
  iface->handle_set_mode = handle_set_mode;
  iface->handle_get_plan = handle_get_plan;
  iface->handle_set_plan = handle_set_plan;
  iface->handle_delete_plan = handle_delete_plan;
  iface->handle_set_name = handle_set_name;
  iface->handle_get_info = handle_get_info;
  iface->handle_compact = handle_compact;
  iface->handle_list_rewind_points = handle_list_rewind_points;
  iface->handle_rewind = handle_rewind;
  iface->handle_list_commands = session_handle_list_commands;
  iface->handle_execute_command = session_handle_execute_command;
  iface->handle_call = copilotd_session_handle_call;
}
