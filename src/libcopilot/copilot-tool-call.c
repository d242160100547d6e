/* SPDX-License-Identifier: MIT */
/* copilot-tool-call.c: one call of a CopilotTool by the model
 *
 * Wraps the pending ToolProvider.Invoke. Answered exactly once: by the
 * app, by the library when the daemon cancels the call, or with a failure
 * when the last reference goes away unanswered.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotToolCall
{
  GObject parent_instance;

  GDBusMethodInvocation *invocation;  /* owned, NULL once answered */
  char *session_path;                 /* owned */
  char *tool_call_id;                 /* owned */
  char *tool_name;                    /* owned */
  char *arguments_json;               /* owned */
  GVariant *context;                  /* owned: a{sv} */
  gboolean cancelled;
};

/**
 * CopilotToolCall:
 *
 * One call of a [class@Copilot.Tool] by the model; answer it once with
 * [method@Copilot.ToolCall.return_success] or another return function.
 */
G_DEFINE_FINAL_TYPE (CopilotToolCall, copilot_tool_call, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SESSION_PATH,
  PROP_TOOL_CALL_ID,
  PROP_TOOL_NAME,
  PROP_ARGUMENTS_JSON,
  PROP_CONTEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CANCELLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
answer (CopilotToolCall       *self,
        CopilotToolResultType  type,
        const char            *text,
        GVariant              *extra)
{
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&self->invocation);
  GVariant *e = extra != NULL ? extra : g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);

  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(us@a{sv})", (guint32) type, text ? text : "", e));
}

CopilotToolCall *
copilot_tool_call_new_internal (GDBusMethodInvocation *invocation,
                                const char            *session_path,
                                const char            *tool_call_id,
                                const char            *tool_name,
                                const char            *arguments_json,
                                GVariant              *context)
{
  CopilotToolCall *self = g_object_new (COPILOT_TYPE_TOOL_CALL, NULL);

  self->invocation = g_object_ref (invocation);
  self->session_path = g_strdup (session_path);
  self->tool_call_id = g_strdup (tool_call_id);
  self->tool_name = g_strdup (tool_name);
  self->arguments_json = g_strdup (arguments_json);
  self->context = g_variant_ref (context);
  return self;
}

void
copilot_tool_call_withdraw (CopilotToolCall *self)
{
  g_autoptr(CopilotToolCall) hold = g_object_ref (self);

  if (self->invocation == NULL || self->cancelled)
    return;
  self->cancelled = TRUE;
  answer (self, COPILOT_TOOL_RESULT_FAILURE, "The tool call was cancelled", NULL);
  g_signal_emit (self, signals[SIGNAL_CANCELLED], 0);
}

static void
copilot_tool_call_finalize (GObject *object)
{
  CopilotToolCall *self = COPILOT_TOOL_CALL (object);

  if (self->invocation != NULL)
    answer (self, COPILOT_TOOL_RESULT_FAILURE, "The tool gave no result", NULL);
  g_clear_pointer (&self->session_path, g_free);
  g_clear_pointer (&self->tool_call_id, g_free);
  g_clear_pointer (&self->tool_name, g_free);
  g_clear_pointer (&self->arguments_json, g_free);
  g_clear_pointer (&self->context, g_variant_unref);

  G_OBJECT_CLASS (copilot_tool_call_parent_class)->finalize (object);
}

static void
copilot_tool_call_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CopilotToolCall *self = COPILOT_TOOL_CALL (object);

  switch (prop_id)
    {
    case PROP_SESSION_PATH:
      g_value_set_string (value, self->session_path);
      break;
    case PROP_TOOL_CALL_ID:
      g_value_set_string (value, self->tool_call_id);
      break;
    case PROP_TOOL_NAME:
      g_value_set_string (value, self->tool_name);
      break;
    case PROP_ARGUMENTS_JSON:
      g_value_set_string (value, self->arguments_json);
      break;
    case PROP_CONTEXT:
      g_value_set_variant (value, self->context);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_tool_call_class_init (CopilotToolCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = copilot_tool_call_finalize;
  object_class->get_property = copilot_tool_call_get_property;

  /**
   * CopilotToolCall:session-path:
   *
   * The object path of the session whose model calls the tool.
   */
  properties[PROP_SESSION_PATH] =
    g_param_spec_string ("session-path", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotToolCall:tool-call-id:
   *
   * The call's id.
   */
  properties[PROP_TOOL_CALL_ID] =
    g_param_spec_string ("tool-call-id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotToolCall:tool-name:
   *
   * The tool called.
   */
  properties[PROP_TOOL_NAME] =
    g_param_spec_string ("tool-name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotToolCall:arguments-json:
   *
   * The arguments, JSON text matching the tool's schema.
   */
  properties[PROP_ARGUMENTS_JSON] =
    g_param_spec_string ("arguments-json", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotToolCall:context:
   *
   * The `a{sv}` context the daemon passed along.
   */
  properties[PROP_CONTEXT] =
    g_param_spec_variant ("context", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotToolCall::cancelled:
   * @self: the call
   *
   * The turn was aborted or the call timed out; a later result is
   * ignored.
   */
  signals[SIGNAL_CANCELLED] =
    g_signal_new ("cancelled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
copilot_tool_call_init (CopilotToolCall *self)
{
}

/**
 * copilot_tool_call_get_session_path:
 * @self: a #CopilotToolCall
 *
 * Returns: the #CopilotToolCall:session-path
 */
const char *
copilot_tool_call_get_session_path (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), NULL);
  return self->session_path;
}

/**
 * copilot_tool_call_get_tool_call_id:
 * @self: a #CopilotToolCall
 *
 * Returns: the #CopilotToolCall:tool-call-id
 */
const char *
copilot_tool_call_get_tool_call_id (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), NULL);
  return self->tool_call_id;
}

/**
 * copilot_tool_call_get_tool_name:
 * @self: a #CopilotToolCall
 *
 * Returns: the #CopilotToolCall:tool-name
 */
const char *
copilot_tool_call_get_tool_name (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), NULL);
  return self->tool_name;
}

/**
 * copilot_tool_call_get_arguments_json:
 * @self: a #CopilotToolCall
 *
 * Returns: the #CopilotToolCall:arguments-json
 */
const char *
copilot_tool_call_get_arguments_json (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), NULL);
  return self->arguments_json;
}

/**
 * copilot_tool_call_get_context:
 * @self: a #CopilotToolCall
 *
 * Returns: (transfer none): the #CopilotToolCall:context
 */
GVariant *
copilot_tool_call_get_context (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), NULL);
  return self->context;
}

/**
 * copilot_tool_call_is_cancelled:
 * @self: a #CopilotToolCall
 *
 * Returns: whether the daemon cancelled the call
 */
gboolean
copilot_tool_call_is_cancelled (CopilotToolCall *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL_CALL (self), FALSE);
  return self->cancelled;
}

/**
 * copilot_tool_call_return_result:
 * @self: a #CopilotToolCall
 * @result_type: how the call went
 * @text_for_model: what the model reads
 * @extra: (nullable): the `a{sv}` extra (`error`, `session-log`,
 *   `images`); a floating reference is consumed
 *
 * Answers the call, once. A cancelled call ignores it.
 */
void
copilot_tool_call_return_result (CopilotToolCall       *self,
                                 CopilotToolResultType  result_type,
                                 const char            *text_for_model,
                                 GVariant              *extra)
{
  g_return_if_fail (COPILOT_IS_TOOL_CALL (self));
  g_return_if_fail (extra == NULL || g_variant_is_of_type (extra, G_VARIANT_TYPE_VARDICT));

  if (self->invocation == NULL)
    {
      if (extra != NULL)
        g_variant_unref (g_variant_ref_sink (extra));
      if (!self->cancelled)
        g_critical ("%s: tool call %s was answered already", G_STRFUNC, self->tool_call_id);
      return;
    }
  answer (self, result_type, text_for_model, extra);
}

/**
 * copilot_tool_call_return_success:
 * @self: a #CopilotToolCall
 * @text_for_model: the result, for the model
 *
 * Answers the call with a success.
 */
void
copilot_tool_call_return_success (CopilotToolCall *self,
                                  const char      *text_for_model)
{
  copilot_tool_call_return_result (self, COPILOT_TOOL_RESULT_SUCCESS, text_for_model, NULL);
}

/**
 * copilot_tool_call_return_failure:
 * @self: a #CopilotToolCall
 * @error_message: why it failed, for the model and the logs
 *
 * Answers the call with a failure.
 */
void
copilot_tool_call_return_failure (CopilotToolCall *self,
                                  const char      *error_message)
{
  GVariantDict extra;

  g_variant_dict_init (&extra, NULL);
  g_variant_dict_insert (&extra, "error", "s", error_message);
  copilot_tool_call_return_result (self, COPILOT_TOOL_RESULT_FAILURE, error_message,
                                   g_variant_dict_end (&extra));
}
