/* SPDX-License-Identifier: MIT */
/* session-control.c: the session control surface of DESIGN.md §8
 *
 * Modes, plans, names, usage and context, compaction, rewind and slash
 * commands. Each member checks the Session caller rule and goes through
 * the session's own CLI call (so it is held while the session is being
 * recovered), then turns the CLI's camelCase result into the contract's
 * dashed a{sv}. Call, the long tail, lives in session-call.c.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "session-call.h"
#include "session-control.h"
#include "session-private.h"

#define MAX_PLAN_BYTES (1024 * 1024)
#define MAX_NAME_CHARS 100

typedef struct _Control Control;
/* Turns the CLI's result into the method's reply (a tuple), or fails. */
typedef GVariant *(*ControlReplyFunc) (Control  *ctl,
                                       JsonNode *result,
                                       GError  **error);

struct _Control
{
  CopilotdSession *session;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  ControlReplyFunc reply;
  gboolean restore_files;              /* Rewind */
};

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
static void
reply_bounded (CopilotdSession       *self,
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
    reply_bounded (ctl->session, ctl->invocation, reply);
}

/* Calls @method with @params (taken); @reply answers the invocation. */
static void
control_call (CopilotdSession       *self,
              GDBusMethodInvocation *invocation,
              const char            *method,
              JsonObject            *params,
              ControlReplyFunc       reply)
{
  copilotd_session_call_async (self, method, params, on_control_done,
                               control_new (self, invocation, reply));
}

static gboolean
return_error (GDBusMethodInvocation *invocation,
              GError                *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- JSON → a{sv} ------------------------------------------------------ */

static JsonObject *
node_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonObject *
member_object (JsonObject *object,
               const char *member)
{
  return object ? node_object (json_object_get_member (object, member)) : NULL;
}

static const char *
member_string (JsonObject *object,
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

static gboolean
member_bool (JsonObject *object,
             const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static void
dict_add_string (GVariantBuilder *dict,
                 const char      *key,
                 JsonObject      *object,
                 const char      *member)
{
  const char *value = member_string (object, member);

  if (value != NULL)
    g_variant_builder_add (dict, "{sv}", key, g_variant_new_string (value));
}

/* The strings of an array member, or of member @field of its objects. */
static GVariant *
strings_of (JsonObject *object,
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
            value = member_string (node_object (element), field);
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
      set_mode_property (self, member_string (data, "newMode"));
      return TRUE;
    }
  return FALSE;
}

void
copilotd_session_control_started (CopilotdSession *self,
                                  JsonObject      *result)
{
  set_mode_property (self, member_string (result, "mode"));
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
    return return_error (invocation, error);

  params = json_object_new ();
  json_object_set_string_member (params, "mode", mode);
  control_call (self, invocation, "session.mode.set", params, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Plan -------------------------------------------------------------- */

static GVariant *
reply_plan (Control  *ctl,
            JsonNode *result,
            GError  **error)
{
  JsonObject *object = node_object (result);
  const char *content = member_string (object, "content");
  GVariantBuilder info;

  g_variant_builder_init (&info, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&info, "{sv}", "exists", g_variant_new_boolean (member_bool (object, "exists")));
  dict_add_string (&info, "path", object, "path");
  return g_variant_new ("(sa{sv})", content ? content : "", &info);
}

static gboolean
handle_get_plan (CopilotdDbusSession   *iface,
                 GDBusMethodInvocation *invocation,
                 GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    control_call (self, invocation, "session.plan.read", NULL, reply_plan);
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
  control_call (self, invocation, "session.plan.update", params, reply_void);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_plan (CopilotdDbusSession   *iface,
                    GDBusMethodInvocation *invocation,
                    GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    control_call (self, invocation, "session.plan.delete", NULL, reply_void);
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
  control_call (self, invocation, "session.name.set", params, reply_void);
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
  JsonObject *snapshot = node_object (gather->parts[INFO_SNAPSHOT]);
  JsonObject *model = node_object (gather->parts[INFO_MODEL]);
  JsonNode *mode = gather->parts[INFO_MODE];
  GVariantBuilder info;
  const char *name = member_string (node_object (gather->parts[INFO_NAME]), "name");
  const char *model_id = member_string (model, "modelId");

  g_variant_builder_init (&info, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&info, "{sv}", "name", g_variant_new_string (name ? name : ""));
  if (mode != NULL && JSON_NODE_HOLDS_VALUE (mode) && json_node_get_value_type (mode) == G_TYPE_STRING)
    g_variant_builder_add (&info, "{sv}", "mode", g_variant_new_string (json_node_get_string (mode)));
  if (model_id == NULL)
    model_id = member_string (snapshot, "selectedModel");
  if (model_id == NULL)
    model_id = copilotd_dbus_session_get_model (COPILOTD_DBUS_SESSION (gather->session));
  g_variant_builder_add (&info, "{sv}", "model", g_variant_new_string (model_id ? model_id : ""));
  dict_add_string (&info, "reasoning-effort", model, "reasoningEffort");
  dict_add_string (&info, "working-directory", snapshot, "workingDirectory");
  dict_add_string (&info, "workspace-path", snapshot, "workspacePath");

  if (gather->parts[INFO_USAGE] != NULL)
    {
      JsonObject *usage = node_object (gather->parts[INFO_USAGE]);
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
      g_variant_builder_add (&info, "{sv}", "files-modified", strings_of (changes, "filesModified", NULL));
      g_variant_builder_add (&info, "{sv}", "usage-json", g_variant_new_string (text));
    }
  if (gather->parts[INFO_CONTEXT] != NULL)
    {
      JsonObject *context = member_object (node_object (gather->parts[INFO_CONTEXT]), "contextInfo");
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
    reply_bounded (gather->session, gather->invocation, info_reply (gather));
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
    return return_error (invocation, error);

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
  JsonObject *object = node_object (result);
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "success", g_variant_new_boolean (member_bool (object, "success")));
  g_variant_builder_add (&dict, "{sv}", "tokens-removed",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "tokensRemoved"), G_MAXUINT32)));
  g_variant_builder_add (&dict, "{sv}", "messages-removed",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "messagesRemoved"), G_MAXUINT32)));
  dict_add_string (&dict, "summary", object, "summaryContent");
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
    return return_error (invocation, error);
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
  control_call (self, invocation, "session.history.compact", params, reply_compact);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Rewind ------------------------------------------------------------ */

static GVariant *
rewind_point (JsonObject *point,
              gpointer    user_data)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  dict_add_string (&dict, "event-id", point, "eventId");
  dict_add_string (&dict, "prompt", point, "userMessage");
  dict_add_string (&dict, "timestamp", point, "timestamp");
  g_variant_builder_add (&dict, "{sv}", "can-restore-files",
                         g_variant_new_boolean (member_bool (point, "canRestoreFiles")));
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
    copilotd_json_map_objects (node_object (result), "points", "aa{sv}", rewind_point, NULL) }, 1);
}

static gboolean
handle_list_rewind_points (CopilotdDbusSession   *iface,
                           GDBusMethodInvocation *invocation,
                           GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);

  if (copilotd_session_check_caller (self, invocation))
    control_call (self, invocation, "session.history.listRewindPoints", NULL, reply_rewind_points);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
reply_preview (Control  *ctl,
               JsonNode *result,
               GError  **error)
{
  JsonObject *object = node_object (result);
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "outcome", g_variant_new_string ("preview"));
  g_variant_builder_add (&dict, "{sv}", "available", g_variant_new_boolean (member_bool (object, "available")));
  dict_add_string (&dict, "reason", object, "reason");
  g_variant_builder_add (&dict, "{sv}", "file-count",
                         g_variant_new_uint32 ((guint32) MIN (member_int (object, "fileCount"), G_MAXUINT32)));
  g_variant_builder_add (&dict, "{sv}", "files", strings_of (object, "files", "path"));
  return g_variant_new ("(a{sv})", &dict);
}

static GVariant *
reply_rewind (Control  *ctl,
              JsonNode *result,
              GError  **error)
{
  JsonObject *object = node_object (result);
  const char *outcome = member_string (object, "outcome");
  const char *message = member_string (object, "error");
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
  g_variant_builder_add (&dict, "{sv}", "restored-files", strings_of (object, "restoredFiles", NULL));
  g_variant_builder_add (&dict, "{sv}", "skipped-files", strings_of (object, "skippedFiles", "path"));
  dict_add_string (&dict, "error", object, "error");
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
    return return_error (invocation, error);
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
      control_call (self, invocation, "session.history.previewRewind", params, reply_preview);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  json_object_set_string_member (params, "mode", restore ? "conversation-and-files" : "conversation");
  control_call (self, invocation, "session.history.rewind", params, reply_rewind);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Slash commands ---------------------------------------------------- */

static GVariant *
command_entry (JsonObject *command,
               gpointer    user_data)
{
  GVariantBuilder dict;
  const char *description = member_string (command, "description");

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  dict_add_string (&dict, "name", command, "name");
  g_variant_builder_add (&dict, "{sv}", "description", g_variant_new_string (description ? description : ""));
  g_variant_builder_add (&dict, "{sv}", "aliases", strings_of (command, "aliases", NULL));
  dict_add_string (&dict, "kind", command, "kind");
  g_variant_builder_add (&dict, "{sv}", "allowed-during-turn",
                         g_variant_new_boolean (member_bool (command, "allowDuringAgentExecution")));
  return g_variant_builder_end (&dict);
}

static GVariant *
reply_commands (Control  *ctl,
                JsonNode *result,
                GError  **error)
{
  return g_variant_new_tuple ((GVariant *[]) {
    copilotd_json_map_objects (node_object (result), "commands", "aa{sv}", command_entry, NULL) }, 1);
}

static gboolean
handle_list_commands (CopilotdDbusSession   *iface,
                      GDBusMethodInvocation *invocation,
                      GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  params = json_object_new ();
  json_object_set_boolean_member (params, "includeBuiltins", TRUE);
  json_object_set_boolean_member (params, "includeSkills", TRUE);
  json_object_set_boolean_member (params, "includeClientCommands", TRUE);
  control_call (self, invocation, "session.commands.list", params, reply_commands);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
  CopilotdSession *session;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  char *name;                          /* owned, without the slash */
  char *args;                          /* owned */
  GVariantDict result;                 /* for agent-prompt: what invoke said */
} Command;

static void
command_free (Command *cmd)
{
  g_object_unref (cmd->session);
  g_object_unref (cmd->invocation);
  g_free (cmd->name);
  g_free (cmd->args);
  g_variant_dict_clear (&cmd->result);
  g_free (cmd);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Command, command_free)

static void
on_command_execute_done (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *failure;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }
  failure = member_string (node_object (node), "error");
  if (failure != NULL)
    {
      g_dbus_method_invocation_return_error (cmd->invocation, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                                             "/%s failed: %s", cmd->name, failure);
      return;
    }
  g_variant_dict_insert (&cmd->result, "kind", "s", "completed");
  reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

static void
on_command_prompt_sent (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *message_id;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }
  message_id = member_string (node_object (node), "messageId");
  if (message_id != NULL)
    g_variant_dict_insert (&cmd->result, "message-id", "s", message_id);
  reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

static void
on_command_invoke_done (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Command) cmd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  const char *kind;
  static const char * const strings[] = { "text", "message", "mode", "prompt", "display-prompt", "notice", NULL };

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    {
      /* Not a built-in: perhaps a command an app registered (§9). */
      if (error->message != NULL && strstr (error->message, "Unknown slash command") != NULL)
        {
          JsonObject *params = json_object_new ();

          json_object_set_string_member (params, "commandName", cmd->name);
          json_object_set_string_member (params, "args", cmd->args);
          CopilotdSession *session = cmd->session;

          copilotd_session_call_async (session, "session.commands.execute", params,
                                       on_command_execute_done, g_steal_pointer (&cmd));
          return;
        }
      g_dbus_method_invocation_return_gerror (cmd->invocation, error);
      return;
    }

  object = node_object (node);
  kind = member_string (object, "kind");
  g_variant_dict_insert (&cmd->result, "kind", "s", kind ? kind : "");
  for (guint i = 0; strings[i] != NULL; i++)
    {
      g_autofree char *camel = copilotd_dashed_to_camel (strings[i]);
      const char *value = member_string (object, camel);

      if (value != NULL)
        g_variant_dict_insert (&cmd->result, strings[i], "s", value);
    }

  /* The command's work is a turn: it is sent as the next one. */
  if (g_strcmp0 (kind, "agent-prompt") == 0 && member_string (object, "prompt") != NULL)
    {
      JsonObject *params = json_object_new ();
      const char *display = member_string (object, "displayPrompt");
      const char *mode = member_string (object, "mode");

      json_object_set_string_member (params, "prompt", member_string (object, "prompt"));
      if (display != NULL && *display != '\0')
        json_object_set_string_member (params, "displayPrompt", display);
      if (mode != NULL)
        json_object_set_string_member (params, "agentMode", mode);
      CopilotdSession *session = cmd->session;

      copilotd_session_call_async (session, "session.send", params,
                                   on_command_prompt_sent, g_steal_pointer (&cmd));
      return;
    }

  reply_bounded (cmd->session, cmd->invocation,
                 g_variant_new ("(@a{sv})", g_variant_dict_end (&cmd->result)));
}

static gboolean
handle_execute_command (CopilotdDbusSession   *iface,
                        GDBusMethodInvocation *invocation,
                        const char            *name,
                        const char            *args,
                        GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;
  Command *cmd;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  while (*name == '/')
    name++;
  if (*name == '\0' || strpbrk (name, " \t\n") != NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                                     "The command name is empty or has blanks");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  /* A command may run a turn: its prompts go to the caller's agent. */
  copilotd_session_set_turn_sender (self, g_dbus_method_invocation_get_sender (invocation));
  cmd = g_new0 (Command, 1);
  cmd->session = g_object_ref (self);
  cmd->invocation = g_object_ref (invocation);
  cmd->name = g_strdup (name);
  cmd->args = g_strdup (args);
  g_variant_dict_init (&cmd->result, NULL);

  params = json_object_new ();
  json_object_set_string_member (params, "name", name);
  if (*args != '\0')
    json_object_set_string_member (params, "input", args);
  copilotd_session_call_async (self, "session.commands.invoke", params, on_command_invoke_done, cmd);
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
  iface->handle_list_commands = handle_list_commands;
  iface->handle_execute_command = handle_execute_command;
  iface->handle_call = copilotd_session_handle_call;
}
