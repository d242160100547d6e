/* SPDX-License-Identifier: MIT */
/* methods.c: the fake's method table and its connection-level methods
 *
 * connect, ping, status.get, auth.getStatus, models.list and
 * runtime.shutdown live here; session.* methods in sessions.c; the answers
 * to prompts (handlePendingPermissionRequest, handlePendingUserInput,
 * handlePendingToolCall) in prompts.c. A new method: write its handler
 * (a MethodHandler, fake-cli.h) and add it to handlers[] below.
 */
#include "fake-cli.h"

static const char models_json[] =
  "{\"models\":["
  "{\"id\":\"auto\",\"name\":\"Auto\",\"capabilities\":{}},"
  "{\"id\":\"claude-sonnet-4.5\",\"name\":\"Claude Sonnet 4.5\",\"vendor\":\"Anthropic\","
  "\"capabilities\":{\"family\":\"claude-sonnet-4.5\",\"type\":\"chat\",\"object\":\"model_capabilities\","
  "\"supports\":{\"vision\":false,\"tool_calls\":true,\"streaming\":true,\"reasoningEffort\":true},"
  "\"limits\":{\"max_context_window_tokens\":200000,\"max_prompt_tokens\":168000,\"max_output_tokens\":32000}},"
  "\"supportedReasoningEfforts\":[\"low\",\"medium\",\"high\"]},"
  "{\"id\":\"gpt-5-mini\",\"name\":\"GPT-5 mini\",\"vendor\":\"OpenAI\","
  "\"capabilities\":{\"family\":\"gpt-5-mini\",\"type\":\"chat\",\"object\":\"model_capabilities\","
  "\"supports\":{\"vision\":true,\"tool_calls\":true,\"streaming\":true,\"reasoningEffort\":false},"
  "\"limits\":{\"max_context_window_tokens\":128000,\"max_prompt_tokens\":128000,\"max_output_tokens\":16000}}}"
  "]}";

gboolean
model_known (const char *model)
{
  g_autoptr(JsonObject) models = parse_object (models_json);
  JsonArray *array = json_object_get_array_member (models, "models");

  for (guint i = 0; i < json_array_get_length (array); i++)
    if (g_strcmp0 (obj_str (json_array_get_object_element (array, i), "id"), model) == 0)
      return TRUE;
  return FALSE;
}

void
handle_connect (JsonNode   *id,
                const char *method,
                JsonObject *params)
{
  JsonObject *result;

  if (cli.no_connect)
    {
      reply_error (id, RPC_METHOD_NOT_FOUND, "Unhandled method connect");
      return;
    }
  result = parse_object ("{\"ok\":true}");
  faults_set_protocol_version (result, FALSE);
  json_object_set_string_member (result, "version", cli.version);
  json_object_set_array_member (result, "taskKinds", json_array_new ());
  json_array_add_string_element (json_object_get_array_member (result, "taskKinds"), "agent");
  json_array_add_string_element (json_object_get_array_member (result, "taskKinds"), "shell");
  reply_object (id, result);
}

void
handle_ping (JsonNode   *id,
             const char *method,
             JsonObject *params)
{
  JsonObject *result = json_object_new ();
  g_autofree char *now = now_iso ();
  const char *message = obj_str (params, "message");
  g_autofree char *pong = message ? g_strdup_printf ("pong: %s", message) : g_strdup ("pong");

  json_object_set_string_member (result, "message", pong);
  json_object_set_string_member (result, "timestamp", now);
  faults_set_protocol_version (result, FALSE);
  reply_object (id, result);
}

void
handle_status_get (JsonNode   *id,
                   const char *method,
                   JsonObject *params)
{
  JsonObject *result = json_object_new ();

  json_object_set_string_member (result, "version", cli.version);
  faults_set_protocol_version (result, TRUE);
  reply_object (id, result);
}

void
handle_auth_get_status (JsonNode   *id,
                        const char *method,
                        JsonObject *params)
{
  reply_object (id, parse_object ("{\"isAuthenticated\":true,\"authType\":\"token\","
                                  "\"host\":\"https://github.com\",\"login\":\"fake-user\","
                                  "\"statusMessage\":\"https://github.com (via token)\"}"));
}

void
handle_models_list (JsonNode   *id,
                    const char *method,
                    JsonObject *params)
{
  reply_object (id, parse_object (models_json));
}

static void
handle_account_get_current_auth (JsonNode   *id,
                                 const char *method,
                                 JsonObject *params)
{
  reply_object (id, parse_object ("{\"authInfo\":{\"type\":\"token\",\"host\":\"https://github.com\","
                                  "\"login\":\"fake-user\"}}"));
}

/* FAKE_CLI_QUOTA_BYTES=N: the quota carries a note of N bytes. */
static void
handle_account_get_quota (JsonNode   *id,
                          const char *method,
                          JsonObject *params)
{
  JsonObject *result = json_object_new ();
  const char *bytes = g_getenv ("FAKE_CLI_QUOTA_BYTES");
  g_autofree char *note = g_strnfill (bytes ? (gsize) g_ascii_strtoull (bytes, NULL, 10) : 4, 'q');

  json_object_set_object_member (result, "quotaSnapshots", json_object_new ());
  json_object_set_string_member (result, "note", note);
  reply_object (id, result);
}

static gboolean
shutdown_cb (gpointer user_data)
{
  if (faults_ignore_sigterm ())
    return G_SOURCE_REMOVE;
  g_main_loop_quit (cli.loop);
  return G_SOURCE_REMOVE;
}

void
handle_runtime_shutdown (JsonNode   *id,
                         const char *method,
                         JsonObject *params)
{
  reply_result (id, NULL);
  g_timeout_add (100, shutdown_cb, NULL);
}

static const struct {
  const char *method;
  MethodHandler handler;
} handlers[] = {
  { "connect", handle_connect },
  { "ping", handle_ping },
  { "status.get", handle_status_get },
  { "auth.getStatus", handle_auth_get_status },
  { "models.list", handle_models_list },
  { "account.getCurrentAuth", handle_account_get_current_auth },
  { "account.getQuota", handle_account_get_quota },
  { "runtime.shutdown", handle_runtime_shutdown },
  { "session.create", handle_session_create },
  { "session.resume", handle_session_resume },
  { "session.send", handle_session_send },
  { "session.abort", handle_session_abort },
  { "session.destroy", handle_session_destroy },
  { "session.delete", handle_session_delete },
  { "session.getMessages", handle_session_get_messages },
  { "session.list", handle_session_list },
  { "session.getMetadata", handle_session_get_metadata },
  { "session.getLastId", handle_session_get_last_id },
  { "session.getForeground", handle_session_get_foreground },
  { "session.setForeground", handle_session_set_foreground },
  { "session.model.switchTo", handle_model_switch_to },
  { "session.model.getCurrent", handle_model_get_current },
  { "session.permissions.handlePendingPermissionRequest", handle_permission_answer },
  { "session.ui.handlePendingUserInput", handle_user_input_answer },
  { "session.tools.handlePendingToolCall", handle_tool_answer },
};

/* Runs the handler of @method, or answers -32601 like the real CLI. */
void
methods_dispatch (JsonNode   *id,
                  const char *method,
                  JsonObject *params /* nullable */)
{
  g_autoptr(JsonObject) empty = json_object_new ();

  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    if (strcmp (handlers[i].method, method) == 0)
      {
        handlers[i].handler (id, method, params ? params : empty);
        return;
      }

  {
    g_autofree char *text = g_strdup_printf ("Unhandled method %s", method);
    reply_error (id, RPC_METHOD_NOT_FOUND, text);
  }
}
