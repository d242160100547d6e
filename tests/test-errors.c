/* SPDX-License-Identifier: MIT */
/* test-errors.c: CLI failures to the project's D-Bus errors, and the
 * never-list of Session.Call */
#include <json-glib/json-glib.h>

#include "cli-schema.h"
#include "copilotd-error.h"
#include "test-util.h"

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_cli_error_codes (void)
{
  static const struct {
    const char *message;
    const char *error_type;
    gint64 status;
    CopilotdError expected;
  } cases[] = {
    /* What CLI 1.0.102 says when nobody signed in. */
    { "Execution failed: InvalidArg, No GitHub OAuth token or Copilot HMAC key provided", "query", 0,
      COPILOTD_ERROR_NOT_AUTHENTICATED },
    { "Not authenticated", NULL, 0, COPILOTD_ERROR_NOT_AUTHENTICATED },
    /* session.create where a sign-in was written down that no keychain
     * gives back (a daemon restarted after SignIn without a keychain). */
    { "Authentication failed: Saved sign-in could not be read from credential storage. Once storage "
      "is accessible, retry /user switch or restart Copilot.", NULL, 0, COPILOTD_ERROR_NOT_AUTHENTICATED },
    { "anything", "authorization", 0, COPILOTD_ERROR_NOT_AUTHENTICATED },
    { "anything", NULL, 401, COPILOTD_ERROR_NOT_AUTHENTICATED },
    { "anything", "rate_limit", 0, COPILOTD_ERROR_RATE_LIMITED },
    { "anything", "quota_exceeded", 0, COPILOTD_ERROR_RATE_LIMITED },
    { "anything", NULL, 429, COPILOTD_ERROR_RATE_LIMITED },
    { "Sorry, you have been rate-limited. Please wait", NULL, 0, COPILOTD_ERROR_RATE_LIMITED },
    { "Too Many Requests", NULL, 0, COPILOTD_ERROR_RATE_LIMITED },
    { "The model failed", "query", 500, COPILOTD_ERROR_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (copilotd_error_code_for_cli (cases[i].message, cases[i].error_type, cases[i].status,
                                                  COPILOTD_ERROR_FAILED), ==, cases[i].expected);
}

static void
test_session_error (void)
{
  g_autoptr(JsonObject) limited = parse_object ("{\"errorType\":\"rate_limit\",\"statusCode\":429,"
                                                "\"message\":\"Slow down\"}");
  g_autoptr(JsonObject) other = parse_object ("{\"errorType\":\"query\",\"message\":\"It broke\"}");
  g_autoptr(GError) error = copilotd_error_new_for_session_error (limited);
  g_autoptr(GError) failed = copilotd_error_new_for_session_error (other);
  g_autofree char *name = NULL;

  g_assert_error (error, COPILOTD_ERROR, COPILOTD_ERROR_RATE_LIMITED);
  g_assert_cmpstr (error->message, ==, "Slow down");
  g_assert_error (failed, COPILOTD_ERROR, COPILOTD_ERROR_FAILED);
  name = g_dbus_error_encode_gerror (error);
  g_assert_cmpstr (name, ==, "io.github.copilotd.Copilot1.Error.RateLimited");
}

static void
test_never_list (void)
{
  static const char * const never[] = {
    "session.destroy", "session.shutdown", "session.suspend", "session.send", "session.abort",
    "session.options.update", "session.permissions.setApproveAll", "session.permissions.configure",
    "session.permissions.urls.setUnrestrictedMode", "session.permissions.folderTrust.addTrusted",
    "session.ui.handlePendingElicitation", "session.ui.handleHumanExitPlanMode",
    "session.tools.set", "session.tools.handlePendingToolCall", "session.tools.execute",
    "session.sandbox.disableForSession", "session.gitHubAuth.getStatus", "session.accounts.set",
    "session.provider.add", "session.mcp.oauth.respond", "session.shell.exec",
    "session.eventLog.registerInterest", "session.eventLog.releaseInterest",
  };
  static const char * const allowed[] = {
    "session.skills.list", "session.mode.get", "session.permissions.getMode",
    "session.tools.getBuiltinDescriptors", "session.eventLog.read", "session.name.set",
  };

  for (guint i = 0; i < G_N_ELEMENTS (never); i++)
    g_assert_true (copilotd_cli_schema_never_call (never[i]));
  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
    g_assert_false (copilotd_cli_schema_never_call (allowed[i]));
}

int
main (int    argc,
      char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/errors/cli-codes", test_cli_error_codes);
  g_test_add_func ("/errors/session-error", test_session_error);
  g_test_add_func ("/errors/call-never-list", test_never_list);
  return g_test_run ();
}
