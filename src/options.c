/* SPDX-License-Identifier: MIT */
/* options.c: reading a{sv} options and turning D-Bus values into JSON */
#include "config.h"

#include <string.h>

#include "copilotd-error.h"
#include "options.h"
#include "utf8.h"

gboolean
copilotd_option_lookup (GVariant            *options,
                        const char          *key,
                        const GVariantType  *type,
                        GVariant           **out,
                        GError             **error)
{
  g_autoptr(GVariant) value = NULL;

  *out = NULL;
  if (options == NULL)
    return TRUE;
  value = g_variant_lookup_value (options, key, NULL);
  if (value == NULL)
    return TRUE;
  if (!g_variant_is_of_type (value, type))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option '%s' must be of type '%.*s', not '%s'",
                   key, (int) g_variant_type_get_string_length (type),
                   g_variant_type_peek_string (type), g_variant_get_type_string (value));
      return FALSE;
    }
  *out = g_steal_pointer (&value);
  return TRUE;
}

gboolean
copilotd_option_get_string (GVariant    *options,
                            const char  *key,
                            char       **out,
                            GError     **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!copilotd_option_lookup (options, key, G_VARIANT_TYPE_STRING, &value, error))
    return FALSE;
  *out = value ? g_variant_dup_string (value, NULL) : NULL;
  return TRUE;
}

gboolean
copilotd_option_get_boolean (GVariant    *options,
                             const char  *key,
                             gboolean    *out,
                             GError     **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!copilotd_option_lookup (options, key, G_VARIANT_TYPE_BOOLEAN, &value, error))
    return FALSE;
  if (value != NULL)
    *out = g_variant_get_boolean (value);
  return TRUE;
}

gboolean
copilotd_option_get_json (GVariant    *options,
                          const char  *key,
                          gboolean     want_object,
                          JsonNode   **out,
                          GError     **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) node = NULL;

  *out = NULL;
  if (!copilotd_option_get_string (options, key, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  node = copilotd_json_from_string_valid (text, &local_error);
  if (node == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option '%s' is not valid JSON: %s", key,
                   local_error ? local_error->message : "empty");
      return FALSE;
    }
  if (want_object && !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "Option '%s' must be a JSON object", key);
      return FALSE;
    }
  *out = g_steal_pointer (&node);
  return TRUE;
}

char *
copilotd_dashed_to_camel (const char *dashed)
{
  GString *out = g_string_sized_new (strlen (dashed));
  gboolean upper = FALSE;

  for (const char *p = dashed; *p != '\0'; p++)
    {
      if (*p == '-')
        {
          upper = TRUE;
          continue;
        }
      g_string_append_c (out, upper ? g_ascii_toupper (*p) : *p);
      upper = FALSE;
    }
  return g_string_free (out, FALSE);
}

JsonNode *
copilotd_variant_to_json (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      return copilotd_variant_to_json (inner);
    }

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      JsonObject *object = json_object_new ();
      GVariantIter iter;
      const char *key;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
        {
          g_autofree char *camel = copilotd_dashed_to_camel (key);
          json_object_set_member (object, camel, copilotd_variant_to_json (child));
          g_variant_unref (child);
        }
      return copilotd_json_node_take_object (object);
    }

  if (g_variant_is_container (value) && !g_variant_is_of_type (value, G_VARIANT_TYPE_DICTIONARY))
    {
      JsonArray *array = json_array_new ();
      JsonNode *node = json_node_new (JSON_NODE_ARRAY);
      GVariantIter iter;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while ((child = g_variant_iter_next_value (&iter)) != NULL)
        {
          json_array_add_element (array, copilotd_variant_to_json (child));
          g_variant_unref (child);
        }
      json_node_take_array (node, array);
      return node;
    }

  return json_gvariant_serialize (value);
}

GVariant *
copilotd_json_map_objects (JsonObject          *parent,
                           const char          *member,
                           const char          *array_type,
                           CopilotdJsonMapFunc  func,
                           gpointer             user_data)
{
  GVariantBuilder builder;
  JsonNode *node = parent ? json_object_get_member (parent, member) : NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE (array_type));
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_OBJECT (element))
            g_variant_builder_add_value (&builder, func (json_node_get_object (element), user_data));
        }
    }
  return g_variant_builder_end (&builder);
}

JsonNode *
copilotd_json_node_take_object (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, object);
  return node;
}

JsonObject *
copilotd_session_params (const char *session_id)
{
  JsonObject *params = json_object_new ();

  json_object_set_string_member (params, "sessionId", session_id);
  return params;
}

/* A scalar member (not an object, array or null), or NULL. */
static JsonNode *
scalar_member (JsonObject *object,
               const char *member)
{
  JsonNode *node;

  if (object == NULL || member == NULL)
    return NULL;
  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return NULL;
  return node;
}

const char *
copilotd_json_get_string (JsonObject *object,
                          const char *member,
                          const char *default_value)
{
  JsonNode *node = scalar_member (object, member);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return default_value;
  return json_node_get_string (node);
}

/* Numbers and booleans read as json-glib reads them; a string does not. */
gint64
copilotd_json_get_int (JsonObject *object,
                       const char *member,
                       gint64      default_value)
{
  JsonNode *node = scalar_member (object, member);

  if (node == NULL || json_node_get_value_type (node) == G_TYPE_STRING)
    return default_value;
  return json_node_get_int (node);
}

gboolean
copilotd_json_get_boolean (JsonObject *object,
                           const char *member,
                           gboolean    default_value)
{
  JsonNode *node = scalar_member (object, member);

  if (node == NULL || json_node_get_value_type (node) == G_TYPE_STRING)
    return default_value;
  return json_node_get_boolean (node);
}

double
copilotd_json_get_double (JsonObject *object,
                          const char *member,
                          double      default_value)
{
  JsonNode *node = scalar_member (object, member);

  if (node == NULL || json_node_get_value_type (node) == G_TYPE_STRING)
    return default_value;
  return json_node_get_double (node);
}
