/* SPDX-License-Identifier: MIT */
/* session-call.c: Session.Call, the long tail of CLI methods
 *
 * Any session-scoped method the running CLI's schema lists as public is
 * reachable without a typed member (cli-schema.c decides which). The
 * daemon adds sessionId itself, bounds what goes in and comes out, and
 * the CLI's errors reach the caller mapped as for every other member.
 */
#include "config.h"

#include <string.h>

#include "bounded.h"
#include "cli-schema.h"
#include "copilotd-error.h"
#include "session-call.h"
#include "session-private.h"

typedef struct {
  GDBusMethodInvocation *invocation;   /* owned */
  char *method;                        /* owned */
} CallRequest;

static void
call_request_free (CallRequest *request)
{
  g_object_unref (request->invocation);
  g_free (request->method);
  g_free (request);
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CallRequest *request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  if (node == NULL)
    g_dbus_method_invocation_return_gerror (request->invocation, error);
  else if (strlen (text = json_to_string (node, FALSE)) > COPILOTD_CALL_MAX_RESULT_BYTES)
    g_dbus_method_invocation_return_error (request->invocation, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                                           "The result of %s is %zu bytes; the limit is %d",
                                           request->method, strlen (text), COPILOTD_CALL_MAX_RESULT_BYTES);
  else
    copilotd_return_value_bounded (request->invocation, g_variant_new ("(s)", text),
                                   COPILOTD_SESSION (source)->ctx.config->max_message_size);
  call_request_free (request);
}

static JsonObject *
parse_params (const char  *params_json,
              GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonObject *params;

  if (strlen (params_json) > COPILOTD_CALL_MAX_PARAMS_BYTES)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "The params are %zu bytes; the limit is %d",
                   strlen (params_json), COPILOTD_CALL_MAX_PARAMS_BYTES);
      return NULL;
    }
  if (*params_json == '\0')
    return json_object_new ();
  if (!json_parser_load_from_data (parser, params_json, -1, &local_error))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                   "The params are not JSON: %s", local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "The params must be a JSON object");
      return NULL;
    }
  params = json_node_get_object (root);
  if (json_object_has_member (params, "sessionId"))
    {
      g_set_error_literal (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                           "The params must not carry sessionId: the daemon adds the session's own");
      return NULL;
    }
  return json_object_ref (params);
}

gboolean
copilotd_session_handle_call (CopilotdDbusSession   *iface,
                              GDBusMethodInvocation *invocation,
                              const char            *method,
                              const char            *params_json,
                              GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  CopilotdBackend *backend = copilotd_session_get_backend (self);
  g_autoptr(GError) error = NULL;
  g_autofree char *schema = NULL;
  JsonObject *params;
  CallRequest *request;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  schema = copilotd_cli_schema_path (copilotd_backend_get_version (backend),
                                     copilotd_session_get_uid (self));
  if (!copilotd_cli_schema_allows_call (schema, method, &error) ||
      (params = parse_params (params_json, &error)) == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  request = g_new0 (CallRequest, 1);
  request->invocation = g_object_ref (invocation);
  request->method = g_strdup (method);
  copilotd_session_call_async (self, method, params, on_call_done, request);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
