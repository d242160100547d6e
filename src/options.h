/* SPDX-License-Identifier: MIT */
/* options.h: reading a{sv} options and turning D-Bus values into JSON */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Looks @key up in @options. Absent: TRUE with *out = NULL. Present with
 * another type: FALSE with COPILOTD_ERROR_INVALID_ARGS naming the key. */
gboolean  copilotd_option_lookup     (GVariant            *options,
                                      const char          *key,
                                      const GVariantType  *type,
                                      GVariant           **out,
                                      GError             **error);
gboolean  copilotd_option_get_string (GVariant            *options,
                                      const char          *key,
                                      char               **out,
                                      GError             **error);
gboolean  copilotd_option_get_boolean (GVariant           *options,
                                       const char         *key,
                                       gboolean           *out,
                                       GError            **error);
/* A JSON text option that must parse (to an object when @want_object). */
gboolean  copilotd_option_get_json   (GVariant            *options,
                                      const char          *key,
                                      gboolean             want_object,
                                      JsonNode           **out,
                                      GError             **error);

/* "display-name" → "displayName" */
char     *copilotd_dashed_to_camel   (const char          *dashed);
/* A{sv} (nested too) to a JSON object with camelCase member names. */
JsonNode *copilotd_variant_to_json   (GVariant            *value);
/* Members of the CLI's JSON, which is not trusted: json-glib's own getters
 * raise a GLib-CRITICAL on a member of the wrong kind (an array where a
 * string was meant). These give @default_value for a missing member, a
 * null, one of the wrong kind, or a NULL @object. */
const char *copilotd_json_get_string  (JsonObject *object,
                                       const char *member,
                                       const char *default_value);
gint64      copilotd_json_get_int     (JsonObject *object,
                                       const char *member,
                                       gint64      default_value);
gboolean    copilotd_json_get_boolean (JsonObject *object,
                                       const char *member,
                                       gboolean    default_value);
double      copilotd_json_get_double  (JsonObject *object,
                                       const char *member,
                                       double      default_value);
/* A JSON node holding @object, which it takes. */
JsonNode   *copilotd_json_node_take_object (JsonObject *object);
/* {"sessionId": @session_id}, the start of every session-scoped call. */
JsonObject *copilotd_session_params       (const char *session_id);

/* The objects of @parent's array @member, each turned into a GVariant by
 * @func (floating), as one array of @array_type (floating). A missing
 * member or parent gives an empty array; non-objects are skipped. */
typedef GVariant *(*CopilotdJsonMapFunc) (JsonObject *object,
                                          gpointer    user_data);
GVariant *copilotd_json_map_objects  (JsonObject          *parent,
                                      const char          *member,
                                      const char          *array_type,
                                      CopilotdJsonMapFunc  func,
                                      gpointer             user_data);

G_END_DECLS
