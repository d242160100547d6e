/* SPDX-License-Identifier: MIT */
/* permission.c: CLI permission requests to D-Bus and decisions back
 *
 * The request summary is what an agent needs to draw a prompt without
 * parsing the CLI's JSON; the CLI's permissionRequest travels verbatim
 * beside it for agents that want everything.
 *
 * Decisions map to the CLI's PermissionDecision (api.schema.json of CLI
 * 1.0.102):
 *   0 → {kind: reject, feedback?}
 *   1 → {kind: approve-once}
 *   2 → {kind: approve-for-session, approval} with the approval derived from
 *       the request; URL prompts take {kind: approve-for-session, domain}
 *       instead. A request kind with no derivable approval (hook,
 *       extension-*, a URL without a host, an unknown kind…) is approved
 *       once: approving more than the agent could see is never the answer.
 *   3 → approve-for-location needs a `locationKey` (the session's git root
 *       or working directory) that the permissionRequest does not carry and
 *       Agent.RequestPermission does not return, so it is sent as
 *       approve-for-session: the grant is remembered for this session
 *       rather than persisted for the project.
 *   anything else → reject (fail closed).
 */
#include "config.h"

#include <gio/gio.h>

#include "permission.h"

static const char *
get_string_member (JsonObject *object,
                   const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static void
add_string (GVariantDict *dict,
            const char   *key,
            JsonObject   *object,
            const char   *member)
{
  const char *value = get_string_member (object, member);

  if (value != NULL && *value != '\0')
    g_variant_dict_insert (dict, key, "s", value);
}

GVariant *
copilotd_permission_summarize (JsonObject *permission_request)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *kind;
  JsonNode *node;

  g_return_val_if_fail (permission_request != NULL, NULL);

  kind = get_string_member (permission_request, "kind");
  if (kind != NULL && *kind != '\0')
    g_variant_dict_insert (&dict, "kind", "s", kind);
  else
    kind = "";

  add_string (&dict, "intention", permission_request, "intention");

  if (g_str_equal (kind, "shell"))
    add_string (&dict, "command", permission_request, "fullCommandText");
  else if (g_str_equal (kind, "write"))
    {
      add_string (&dict, "path", permission_request, "fileName");
      add_string (&dict, "diff", permission_request, "diff");
    }
  else if (g_str_equal (kind, "read"))
    add_string (&dict, "path", permission_request, "path");
  else if (g_str_equal (kind, "url"))
    add_string (&dict, "url", permission_request, "url");
  else if (g_str_equal (kind, "mcp") || g_str_equal (kind, "custom-tool"))
    add_string (&dict, "tool-name", permission_request, "toolName");

  node = json_object_get_member (permission_request, "canOfferSessionApproval");
  if (node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    g_variant_dict_insert (&dict, "can-offer-session-approval", "b",
                           json_node_get_boolean (node));

  return g_variant_dict_end (&dict);
}

/* The host of a URL, or NULL when it has none. */
static char *
url_domain (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  const char *host;

  if (url == NULL)
    return NULL;

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;

  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    return NULL;

  return g_ascii_strdown (host, -1);
}

/* The session-scoped `approval` for a request, or NULL when none can be
 * derived from what the request says. */
static JsonNode *
build_approval (JsonObject *request)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const char *kind = get_string_member (request, "kind");

  if (kind == NULL)
    return NULL;

  json_builder_begin_object (builder);

  if (g_str_equal (kind, "shell"))
    {
      JsonNode *commands = json_object_get_member (request, "commands");
      JsonArray *array;
      guint n_identifiers = 0;

      if (commands == NULL || !JSON_NODE_HOLDS_ARRAY (commands))
        return NULL;

      array = json_node_get_array (commands);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, "commands");
      json_builder_set_member_name (builder, "commandIdentifiers");
      json_builder_begin_array (builder);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          const char *identifier;

          if (!JSON_NODE_HOLDS_OBJECT (element))
            continue;
          identifier = get_string_member (json_node_get_object (element), "identifier");
          if (identifier == NULL || *identifier == '\0')
            continue;
          json_builder_add_string_value (builder, identifier);
          n_identifiers++;
        }
      json_builder_end_array (builder);

      /* An empty list would approve nothing and say it approved. */
      if (n_identifiers == 0)
        return NULL;
    }
  else if (g_str_equal (kind, "write") || g_str_equal (kind, "read") ||
           g_str_equal (kind, "memory"))
    {
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, kind);
    }
  else if (g_str_equal (kind, "mcp"))
    {
      const char *server_name = get_string_member (request, "serverName");
      const char *tool_name = get_string_member (request, "toolName");

      if (server_name == NULL || tool_name == NULL)
        return NULL;

      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, "mcp");
      json_builder_set_member_name (builder, "serverName");
      json_builder_add_string_value (builder, server_name);
      json_builder_set_member_name (builder, "toolName");
      json_builder_add_string_value (builder, tool_name);
    }
  else if (g_str_equal (kind, "custom-tool"))
    {
      const char *tool_name = get_string_member (request, "toolName");

      if (tool_name == NULL)
        return NULL;

      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, "custom-tool");
      json_builder_set_member_name (builder, "toolName");
      json_builder_add_string_value (builder, tool_name);
    }
  else
    return NULL;

  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static JsonNode *
build_kind_only (const char *kind)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, kind);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static JsonNode *
build_for_session (JsonObject *request)
{
  g_autoptr(JsonBuilder) builder = NULL;
  const char *kind = get_string_member (request, "kind");

  if (g_strcmp0 (kind, "url") == 0)
    {
      g_autofree char *domain = url_domain (get_string_member (request, "url"));

      if (domain == NULL)
        return build_kind_only ("approve-once");

      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, "approve-for-session");
      json_builder_set_member_name (builder, "domain");
      json_builder_add_string_value (builder, domain);
      json_builder_end_object (builder);
    }
  else
    {
      JsonNode *approval = build_approval (request);

      if (approval == NULL)
        return build_kind_only ("approve-once");

      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, "approve-for-session");
      json_builder_set_member_name (builder, "approval");
      json_builder_add_value (builder, approval);
      json_builder_end_object (builder);
    }

  return json_builder_get_root (builder);
}

JsonNode *
copilotd_permission_build_result (JsonObject *permission_request,
                                  guint       decision,
                                  GVariant   *results)
{
  g_return_val_if_fail (permission_request != NULL, NULL);
  g_return_val_if_fail (results == NULL ||
                        g_variant_is_of_type (results, G_VARIANT_TYPE_VARDICT), NULL);

  switch (decision)
    {
    case COPILOTD_DECISION_APPROVE_ONCE:
      return build_kind_only ("approve-once");

    case COPILOTD_DECISION_APPROVE_FOR_SESSION:
    case COPILOTD_DECISION_APPROVE_FOR_LOCATION:
      return build_for_session (permission_request);

    case COPILOTD_DECISION_REJECT:
    default:
      {
        g_autoptr(JsonBuilder) builder = json_builder_new ();
        const char *feedback = NULL;

        json_builder_begin_object (builder);
        json_builder_set_member_name (builder, "kind");
        json_builder_add_string_value (builder, "reject");
        if (results != NULL &&
            g_variant_lookup (results, "feedback", "&s", &feedback) &&
            *feedback != '\0')
          {
            json_builder_set_member_name (builder, "feedback");
            json_builder_add_string_value (builder, feedback);
          }
        json_builder_end_object (builder);

        return json_builder_get_root (builder);
      }
    }
}

JsonNode *
copilotd_permission_build_unavailable (void)
{
  return build_kind_only ("user-not-available");
}
