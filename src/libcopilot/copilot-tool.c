/* SPDX-License-Identifier: MIT */
/* copilot-tool.c: a tool this app serves to the model
 *
 * A name, a description and a JSON Schema for its arguments; the model's
 * calls come as CopilotToolCall objects through the ::invoke signal. Add
 * it to a client with copilot_client_add_tool(), which serves it on the
 * client's connection and offers it to the sessions the client creates.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotTool
{
  GObject parent_instance;

  char *name;                    /* owned */
  char *description;             /* owned */
  char *parameters;              /* owned: JSON Schema text */
  gboolean skip_permission;
};

/**
 * CopilotTool:
 *
 * A tool of the app that the model may call: a name, a description, a
 * JSON Schema of its arguments and an [signal@Copilot.Tool::invoke]
 * handler. Give it to [method@Copilot.Client.add_tool].
 */
G_DEFINE_FINAL_TYPE (CopilotTool, copilot_tool, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_PARAMETERS,
  PROP_SKIP_PERMISSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_INVOKE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

gboolean
copilot_tool_emit_invoke (CopilotTool     *self,
                          CopilotToolCall *call)
{
  if (!g_signal_has_handler_pending (self, signals[SIGNAL_INVOKE], 0, FALSE))
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_INVOKE], 0, call);
  return TRUE;
}

GVariant *
copilot_tool_to_variant (CopilotTool *self,
                         const char  *provider_path)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", self->name);
  g_variant_dict_insert (&dict, "description", "s", self->description ? self->description : "");
  g_variant_dict_insert (&dict, "parameters", "s", self->parameters ? self->parameters : "{\"type\":\"object\"}");
  g_variant_dict_insert (&dict, "provider", "o", provider_path);
  if (self->skip_permission)
    g_variant_dict_insert (&dict, "skip-permission", "b", TRUE);
  return g_variant_dict_end (&dict);
}

static void
copilot_tool_finalize (GObject *object)
{
  CopilotTool *self = COPILOT_TOOL (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->description, g_free);
  g_clear_pointer (&self->parameters, g_free);

  G_OBJECT_CLASS (copilot_tool_parent_class)->finalize (object);
}

static void
copilot_tool_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  CopilotTool *self = COPILOT_TOOL (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_PARAMETERS:
      g_value_set_string (value, self->parameters);
      break;
    case PROP_SKIP_PERMISSION:
      g_value_set_boolean (value, self->skip_permission);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_tool_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  CopilotTool *self = COPILOT_TOOL (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_DESCRIPTION:
      self->description = g_value_dup_string (value);
      break;
    case PROP_PARAMETERS:
      self->parameters = g_value_dup_string (value);
      break;
    case PROP_SKIP_PERMISSION:
      copilot_tool_set_skip_permission (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_tool_class_init (CopilotToolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = copilot_tool_finalize;
  object_class->get_property = copilot_tool_get_property;
  object_class->set_property = copilot_tool_set_property;

  /**
   * CopilotTool:name:
   *
   * The tool's name, as the model calls it.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotTool:description:
   *
   * What the tool does, for the model.
   */
  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotTool:parameters:
   *
   * The JSON Schema of its arguments, JSON text.
   */
  properties[PROP_PARAMETERS] =
    g_param_spec_string ("parameters", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotTool:skip-permission:
   *
   * Whether calls run without a permission prompt (`skip-permission`).
   */
  properties[PROP_SKIP_PERMISSION] =
    g_param_spec_boolean ("skip-permission", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotTool::invoke:
   * @self: the tool
   * @call: the call; keep a reference to answer later
   *
   * The model calls the tool. Answer @call once with
   * copilot_tool_call_return_success() or another return function, now or
   * later; a call dropped unanswered fails.
   */
  signals[SIGNAL_INVOKE] =
    g_signal_new ("invoke", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, COPILOT_TYPE_TOOL_CALL);
}

static void
copilot_tool_init (CopilotTool *self)
{
}

/**
 * copilot_tool_new:
 * @name: the tool's name (letters, digits, `_` and `-`)
 * @description: what it does, for the model
 * @parameters_json: (nullable): the JSON Schema of its arguments, or
 *   %NULL for none
 *
 * Returns: (transfer full): a new #CopilotTool
 */
CopilotTool *
copilot_tool_new (const char *name,
                  const char *description,
                  const char *parameters_json)
{
  g_return_val_if_fail (name != NULL, NULL);
  return g_object_new (COPILOT_TYPE_TOOL, "name", name, "description", description,
                       "parameters", parameters_json, NULL);
}

/**
 * copilot_tool_get_name:
 * @self: a #CopilotTool
 *
 * Returns: the #CopilotTool:name
 */
const char *
copilot_tool_get_name (CopilotTool *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL (self), NULL);
  return self->name;
}

/**
 * copilot_tool_get_description:
 * @self: a #CopilotTool
 *
 * Returns: (nullable): the #CopilotTool:description
 */
const char *
copilot_tool_get_description (CopilotTool *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL (self), NULL);
  return self->description;
}

/**
 * copilot_tool_get_parameters:
 * @self: a #CopilotTool
 *
 * Returns: (nullable): the #CopilotTool:parameters
 */
const char *
copilot_tool_get_parameters (CopilotTool *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL (self), NULL);
  return self->parameters;
}

/**
 * copilot_tool_get_skip_permission:
 * @self: a #CopilotTool
 *
 * Returns: the #CopilotTool:skip-permission
 */
gboolean
copilot_tool_get_skip_permission (CopilotTool *self)
{
  g_return_val_if_fail (COPILOT_IS_TOOL (self), FALSE);
  return self->skip_permission;
}

/**
 * copilot_tool_set_skip_permission:
 * @self: a #CopilotTool
 * @skip_permission: whether calls skip the permission prompt
 *
 * Sets #CopilotTool:skip-permission, for sessions created afterwards.
 */
void
copilot_tool_set_skip_permission (CopilotTool *self,
                                  gboolean     skip_permission)
{
  g_return_if_fail (COPILOT_IS_TOOL (self));
  skip_permission = !!skip_permission;
  if (self->skip_permission == skip_permission)
    return;
  self->skip_permission = skip_permission;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SKIP_PERMISSION]);
}
