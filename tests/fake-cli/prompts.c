/* SPDX-License-Identifier: MIT */
/* prompts.c: prompt directives and the prompts a turn raises
 *
 * A session.send prompt chooses the shape of its turn (directives[] below):
 *
 *   anything else             "Echo: <prompt>" in 3–4 deltas
 *   PERMISSION: <command>     shell permission prompt, waits for
 *                             handlePendingPermissionRequest;
 *                             answer "Permission: <result kind>"
 *   PERMISSION-WRITE: <path>  the same with a write prompt
 *   PERMISSION-HOOK: <cmd>    a shell prompt already resolvedByHook (approved);
 *                             nothing waits for an answer
 *   PERMISSION-TOOL: <name>   the same with a custom-tool prompt
 *   ASK: <question> [| choice…]  user_input.requested + userInput.request;
 *                             answer "Answer: <answer or error message>"
 *   (PERMISSION*: and ASK: behave like the real CLI when the session lacks
 *   requestPermission:true / requestUserInput:true: no prompt, tool fails)
 *   TOOL: <name> [<json args>]  external_tool.requested, waits for
 *                             handlePendingToolCall; answer "Tool: <result>"
 *   SLOW: <n>                 n deltas "tick i " 100 ms apart
 *   BURST: <n>                n deltas "é€😀 i " written with no pause
 *   HOOK:                     hooks.invoke + systemMessage.transform, waits
 *                             for both replies
 *   ERROR: <message>          session.error then idle
 *   CRASH                     _exit(1) after the start of the turn
 *   STDERR: <MiB>             that many MiB of log lines on stderr, then
 *                             answer "Flooded: <MiB>"
 *   RAW: <file>               each line of <file> framed as it is
 *                             (`@SESSION@` → the session id; `!line`
 *                             unframed, C escapes; `=EXIT` exits
 *                             with 1 there), then idle
 *
 * A turn that waits parks (turn->wait, turn->waiting) until the client's
 * answer arrives: a method (handle_*_answer) or a reply to a request of
 * ours (prompts_handle_response); the answer queues the rest of the turn
 * and turn_resume() goes on.
 */
#include "fake-cli.h"

static void
call_permission_request (Turn *turn)
{
  Session *s = turn->session;
  JsonObject *data;
  JsonObject *pr;
  JsonObject *prompt;

  g_free (turn->request_id);
  turn->request_id = g_uuid_string_random ();

  if (g_strcmp0 (turn->perm_kind, "custom-tool") == 0)
    {
      const char *description = "";
      JsonArray *tools = s->params && json_object_has_member (s->params, "tools") &&
        JSON_NODE_HOLDS_ARRAY (json_object_get_member (s->params, "tools")) ?
        json_object_get_array_member (s->params, "tools") : NULL;

      for (guint i = 0; tools && i < json_array_get_length (tools); i++)
        {
          JsonNode *tool = json_array_get_element (tools, i);

          if (JSON_NODE_HOLDS_OBJECT (tool) &&
              g_strcmp0 (obj_str (json_node_get_object (tool), "name"), turn->tool_name) == 0 &&
              obj_str (json_node_get_object (tool), "description") != NULL)
            description = obj_str (json_node_get_object (tool), "description");
        }
      data = template_data (&cli.perm, "permission.requested", 1);
      pr = obj_obj (data, "permissionRequest");
      prompt = obj_obj (data, "promptRequest");
      json_object_set_string_member (pr, "toolName", turn->tool_name);
      json_object_set_string_member (pr, "toolDescription", description);
      json_object_set_object_member (pr, "args", json_object_new ());
      json_object_set_string_member (prompt, "toolName", turn->tool_name);
      json_object_set_string_member (prompt, "toolDescription", description);
      json_object_set_object_member (prompt, "args", json_object_new ());
    }
  else if (g_strcmp0 (turn->perm_kind, "write") == 0)
    {
      g_autofree char *diff = g_strdup_printf ("--- /dev/null\n+++ %s\n@@ -0,0 +1 @@\n+hello\n",
                                               turn->question);

      data = template_data (&cli.perm, "permission.requested", 1);
      pr = json_object_new ();
      json_object_set_string_member (pr, "kind", "write");
      json_object_set_string_member (pr, "intention", "Create file");
      json_object_set_string_member (pr, "fileName", turn->question);
      json_object_set_string_member (pr, "diff", diff);
      json_object_set_string_member (pr, "newFileContents", "hello\n");
      json_object_set_boolean_member (pr, "canOfferSessionApproval", FALSE);
      prompt = copy_object (pr);
      json_object_remove_member (prompt, "newFileContents");
      json_object_set_object_member (data, "permissionRequest", pr);
      json_object_set_object_member (data, "promptRequest", prompt);
    }
  else
    {
      JsonArray *commands = json_array_new ();
      JsonObject *command = json_object_new ();
      JsonArray *identifiers = json_array_new ();

      data = template_data (&cli.perm, "permission.requested", 0);
      pr = obj_obj (data, "permissionRequest");
      prompt = obj_obj (data, "promptRequest");
      json_object_set_string_member (command, "identifier", turn->question);
      json_object_set_boolean_member (command, "readOnly", FALSE);
      json_array_add_object_element (commands, command);
      json_array_add_string_element (identifiers, turn->question);
      json_object_set_string_member (pr, "fullCommandText", turn->question);
      json_object_set_string_member (pr, "intention", "Run the command");
      json_object_set_array_member (pr, "commands", commands);
      json_object_set_array_member (pr, "commandSegments", json_array_new ());
      json_object_set_string_member (prompt, "fullCommandText", turn->question);
      json_object_set_string_member (prompt, "intention", "Run the command");
      json_object_set_array_member (prompt, "commandIdentifiers", identifiers);
    }
  json_object_set_string_member (pr, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (prompt, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (data, "requestId", turn->request_id);
  json_object_set_string_member (data, "ownerSessionId", s->id);

  if (turn->resolved_by_hook)
    {
      g_autoptr(JsonObject) approved = json_object_new ();

      /* A preToolUse hook allowed it: the event is informational and any
       * answer would be a second one (PROTOCOL.md §5.2). */
      json_object_set_boolean_member (data, "resolvedByHook", TRUE);
      emit_event (s, "permission.requested", data, FALSE);
      json_object_set_string_member (approved, "kind", "approve-once");
      permission_answered (turn, approved);
      return;
    }
  emit_event (s, "permission.requested", data, FALSE);
  turn->wait = WAIT_PERMISSION;
  turn->waiting = TRUE;
}

static const char *
map_permission_kind (const char *kind)
{
  if (g_strcmp0 (kind, "approve-once") == 0 || g_strcmp0 (kind, "approved") == 0)
    return "approved";
  if (g_strcmp0 (kind, "approve-for-session") == 0)
    return "approved-for-session";
  if (g_strcmp0 (kind, "approve-for-location") == 0)
    return "approved-for-location";
  if (g_strcmp0 (kind, "reject") == 0)
    return "denied-interactively-by-user";
  if (g_strcmp0 (kind, "user-not-available") == 0)
    return "denied-no-approval-rule-and-could-not-request-from-user";
  return NULL;
}

void
permission_answered (Turn       *turn,
                     JsonObject *result)
{
  const char *kind = obj_str (result, "kind");
  const char *mapped = map_permission_kind (kind);
  const char *echoed = mapped ? mapped : (kind ? kind : "");
  JsonObject *completed = json_object_new ();
  JsonObject *completed_result = json_object_new ();
  gboolean custom = g_strcmp0 (turn->perm_kind, "custom-tool") == 0;

  json_object_set_string_member (completed, "requestId", turn->request_id);
  json_object_set_string_member (completed, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (completed_result, "kind", echoed);
  if (obj_str (result, "feedback"))
    json_object_set_string_member (completed_result, "feedback", obj_str (result, "feedback"));
  json_object_set_object_member (completed, "result", completed_result);
  queue_event (turn, "permission.completed", completed, FALSE);
  queue_lifecycle_updated (turn);

  if (mapped == NULL)
    {
      g_autofree char *message = g_strdup_printf (
        "native tool permission flow failed: GenericFailure, permission host returned malformed "
        "payload: unknown variant `%s`, expected one of approve-once, approve-for-session, "
        "approve-for-location, reject, user-not-available, approved", kind ? kind : "");

      queue_tool_complete (turn, NULL, message, "failure");
    }
  else if (g_str_has_prefix (mapped, "approved"))
    {
      JsonObject *res = json_object_new ();
      g_autofree char *content = NULL;

      if (g_strcmp0 (turn->perm_kind, "write") == 0)
        content = g_strdup_printf ("Created file %s with 6 characters", turn->question);
      else if (custom)
        content = g_strdup ("ok");
      else
        {
          JsonObject *out = json_object_new ();

          json_object_set_string_member (out, "toolCallId", turn->tool_call_id);
          json_object_set_string_member (out, "stream", "stdout");
          json_object_set_string_member (out, "text", "");
          json_object_set_int_member (out, "sequence", 0);
          queue_event (turn, "tool.shell_output", out, TRUE);
          content = g_strdup ("<shellId: 0 completed with exit code 0>");
        }
      json_object_set_string_member (res, "content", content);
      json_object_set_string_member (res, "detailedContent", content);
      queue_tool_complete (turn, res, NULL, NULL);
    }
  else if (g_strcmp0 (kind, "reject") == 0)
    {
      g_autofree char *message = NULL;

      if (obj_str (result, "feedback") && !custom)
        message = g_strdup_printf ("The user rejected this tool call. User feedback: %s",
                                   obj_str (result, "feedback"));
      else
        message = g_strdup ("The user rejected this tool call.");
      queue_tool_complete (turn, NULL, message, custom ? "rejected" : "denied");
    }
  else
    {
      queue_tool_complete (turn, NULL,
                           "Permission denied and could not request permission from user. "
                           "Copilot needed the user's approval and no one could answer.",
                           "denied");
    }
  queue_text_result_answer (turn, "Permission: ", echoed);
}

/* --- ASK ----------------------------------------------------------- */

static GPtrArray *
ask_choices (Turn *turn)
{
  GPtrArray *choices = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) parts = g_strsplit (turn->prompt + strlen ("ASK:"), "|", -1);

  for (guint i = 1; parts[i] != NULL; i++)
    g_ptr_array_add (choices, g_strdup (g_strstrip (parts[i])));
  return choices;
}

static void
call_ask_request (Turn *turn)
{
  Session *s = turn->session;
  g_autoptr(GPtrArray) choices = ask_choices (turn);
  JsonObject *event = json_object_new ();
  JsonObject *params = json_object_new ();
  JsonArray *choices1 = json_array_new ();
  JsonArray *choices2 = json_array_new ();

  g_free (turn->request_id);
  turn->request_id = g_uuid_string_random ();
  for (guint i = 0; i < choices->len; i++)
    {
      json_array_add_string_element (choices1, g_ptr_array_index (choices, i));
      json_array_add_string_element (choices2, g_ptr_array_index (choices, i));
    }

  json_object_set_string_member (event, "requestId", turn->request_id);
  json_object_set_string_member (event, "question", turn->question);
  json_object_set_array_member (event, "choices", choices1);
  json_object_set_boolean_member (event, "allowFreeform", TRUE);
  json_object_set_string_member (event, "toolCallId", turn->tool_call_id);
  emit_event (s, "user_input.requested", event, TRUE);

  json_object_set_string_member (params, "sessionId", s->id);
  json_object_set_string_member (params, "question", turn->question);
  json_object_set_array_member (params, "choices", choices2);
  json_object_set_boolean_member (params, "allowFreeform", TRUE);
  turn->rpc_ids[0] = send_request ("userInput.request", params);

  turn->wait = WAIT_USER_INPUT;
  turn->waiting = TRUE;
}

static void
ask_answered (Turn       *turn,
              const char *answer,
              gboolean    was_freeform,
              gboolean    failed)
{
  JsonObject *completed = json_object_new ();
  JsonObject *res = json_object_new ();
  g_autofree char *content = NULL;

  json_object_set_string_member (completed, "requestId", turn->request_id);
  json_object_set_string_member (completed, "answer", answer);
  json_object_set_boolean_member (completed, "wasFreeform", was_freeform);
  queue_event (turn, "user_input.completed", completed, TRUE);

  if (failed)
    content = g_strdup ("User responded: The user was unable to respond due to an error");
  else
    content = g_strdup_printf ("User %s: %s", was_freeform ? "responded" : "selected", answer);
  json_object_set_string_member (res, "content", content);
  json_object_set_string_member (res, "detailedContent", content);
  queue_tool_complete (turn, res, NULL, NULL);
  turn->rpc_ids[0] = 0;
  queue_text_result_answer (turn, "Answer: ", answer);
}

/* --- TOOL ---------------------------------------------------------- */

static void
call_external_tool (Turn *turn)
{
  Session *s = turn->session;
  JsonObject *data = json_object_new ();
  JsonObject *arguments = turn->tool_args;

  g_free (turn->request_id);
  turn->request_id = g_uuid_string_random ();

  json_object_set_string_member (data, "requestId", turn->request_id);
  json_object_set_string_member (data, "sessionId", s->id);
  json_object_set_string_member (data, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (data, "toolName", turn->tool_name);
  json_object_set_object_member (data, "arguments",
                                 arguments ? copy_object (arguments) : json_object_new ());
  json_object_set_string_member (data, "workingDirectory", s->cwd);
  emit_event (s, "external_tool.requested", data, FALSE);
  turn->wait = WAIT_TOOL;
  turn->waiting = TRUE;
}

static void
tool_answered (Turn       *turn,
               JsonObject *params)
{
  JsonNode *result = json_object_get_member (params, "result");
  JsonObject *completed = json_object_new ();
  g_autofree char *shown = NULL;
  gboolean stop = FALSE;

  json_object_set_string_member (completed, "requestId", turn->request_id);
  queue_event (turn, "external_tool.completed", completed, FALSE);

  if (result != NULL && !JSON_NODE_HOLDS_NULL (result))
    {
      shown = json_to_string (result, FALSE);
      if (JSON_NODE_HOLDS_OBJECT (result))
        {
          JsonObject *r = json_node_get_object (result);
          const char *text = obj_str (r, "textResultForLlm") ? obj_str (r, "textResultForLlm") : "";
          const char *type = obj_str (r, "resultType") ? obj_str (r, "resultType") : "success";

          if (g_strcmp0 (type, "success") == 0 && obj_str (r, "error") == NULL)
            {
              JsonObject *res = json_object_new ();

              json_object_set_string_member (res, "content", text);
              json_object_set_string_member (res, "detailedContent",
                                             obj_str (r, "sessionLog") ? obj_str (r, "sessionLog") : text);
              queue_tool_complete (turn, res, NULL, NULL);
            }
          else
            {
              if (g_strcmp0 (type, "success") == 0)
                type = "failure";
              queue_tool_complete (turn, NULL, obj_str (r, "error") ? obj_str (r, "error") : text, type);
              stop = g_strcmp0 (type, "rejected") == 0;
            }
        }
      else
        {
          JsonObject *res = json_object_new ();
          const char *text = JSON_NODE_HOLDS_VALUE (result) &&
            json_node_get_value_type (result) == G_TYPE_STRING ? json_node_get_string (result) : "";

          json_object_set_string_member (res, "content", text);
          json_object_set_string_member (res, "detailedContent", text);
          queue_tool_complete (turn, res, NULL, NULL);
        }
    }
  else
    {
      const char *error = obj_str (params, "error");

      shown = g_strdup_printf ("error: %s", error ? error : "");
      queue_tool_complete (turn, NULL, "Tool execution failed", "failure");
    }

  if (stop)
    {
      /* A rejected client tool stops the agent loop: no further model call. */
      JsonObject *end = json_object_new ();

      json_object_set_string_member (end, "turnId", turn->turn_id);
      queue_event (turn, "assistant.turn_end", end, FALSE);
      queue_action (turn, ACTION_END);
    }
  else
    queue_text_result_answer (turn, "Tool: ", shown);
}

/* --- HOOK ---------------------------------------------------------- */

static void
call_hook_requests (Turn *turn)
{
  Session *s = turn->session;
  JsonObject *hook = json_object_new ();
  JsonObject *input = json_object_new ();
  JsonObject *transform = json_object_new ();

  json_object_set_string_member (input, "sessionId", s->id);
  json_object_set_int_member (input, "timestamp", g_get_real_time () / 1000);
  json_object_set_string_member (input, "cwd", s->cwd);
  json_object_set_string_member (input, "prompt", turn->prompt);
  json_object_set_string_member (hook, "sessionId", s->id);
  json_object_set_string_member (hook, "hookType", "userPromptSubmitted");
  json_object_set_object_member (hook, "input", input);
  turn->rpc_ids[0] = send_request ("hooks.invoke", hook);

  json_object_set_string_member (transform, "sessionId", s->id);
  json_object_set_object_member (transform, "sections",
                                 parse_object ("{\"identity\":{\"content\":\"You are a fake.\"}}"));
  turn->rpc_ids[1] = send_request ("systemMessage.transform", transform);

  turn->wait = WAIT_HOOK;
  turn->waiting = TRUE;
}

/* --- turn setup helpers ---------------------------------------------- */

/* Without requestPermission:true the real CLI raises no prompt at all and
 * denies the tool at once; without requestUserInput:true ask_user does not
 * exist. */
static void
queue_permission (Turn *turn)
{
  if (obj_bool (turn->session->params, "requestPermission", FALSE))
    {
      queue_call (turn, call_permission_request);
      return;
    }
  queue_tool_complete (turn, NULL,
                       "Permission denied and could not request permission from user. "
                       "Copilot needed the user's approval and no one could answer.",
                       "denied");
  queue_text_result_answer (turn, "Permission: ",
                            "denied-no-approval-rule-and-could-not-request-from-user");
}

static void
queue_ask (Turn *turn)
{
  if (obj_bool (turn->session->params, "requestUserInput", FALSE))
    {
      queue_call (turn, call_ask_request);
      return;
    }
  queue_tool_complete (turn, NULL, "Tool 'ask_user' does not exist.", "failure");
  queue_text_result_answer (turn, "Answer: ", "Tool 'ask_user' does not exist.");
}

static void
call_crash (Turn *turn)
{
  g_printerr ("fake-cli: CRASH requested, exiting with 1 mid-turn\n");
  save_state_now ();
  _exit (1);
}

/* RAW: <file>: each line of <file> goes out as one frame body, byte for
 * byte (`@SESSION@` becomes the session id), so tests can send what the
 * real CLI might: invalid UTF-8, lone surrogate escapes, huge events. A
 * line starting with `!` is written unframed after C unescaping (`\\r\\n`),
 * for broken framing; `=EXIT` ends the process there, as a CLI that
 * crashes mid-frame. */
static void
call_raw_frames (Turn *turn)
{
  g_autofree char *path = g_strstrip (g_strdup (turn->prompt + strlen ("RAW:")));
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      g_printerr ("fake-cli: RAW: %s\n", error->message);
      return;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL && !cli.dead; i++)
    {
      g_auto(GStrv) parts = g_strsplit (lines[i], "@SESSION@", -1);
      g_autofree char *body = g_strjoinv (turn->session->id, parts);
      g_autofree char *header = NULL;
      gboolean ok;

      if (*body == '\0')
        continue;
      if (strcmp (body, "=EXIT") == 0)
        {
          g_printerr ("fake-cli: RAW: exiting mid-stream\n");
          save_state_now ();
          _exit (1);
        }
      if (body[0] == '!')
        {
          g_autofree char *raw = g_strcompress (body + 1);

          ok = g_output_stream_write_all (cli.out, raw, strlen (raw), NULL, NULL, &error);
        }
      else
        {
          g_autoptr(JsonNode) node = json_from_string (body, NULL);
          JsonObject *params = node && JSON_NODE_HOLDS_OBJECT (node)
                               ? obj_obj (json_node_get_object (node), "params") : NULL;
          JsonObject *event = params ? obj_obj (params, "event") : NULL;

          /* Persisted events land in the history, like the real CLI's. */
          if (event != NULL && !obj_bool (event, "ephemeral", FALSE))
            json_array_add_object_element (turn->session->history, json_object_ref (event));
          header = g_strdup_printf ("Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", strlen (body));
          ok = g_output_stream_write_all (cli.out, header, strlen (header), NULL, NULL, &error) &&
               g_output_stream_write_all (cli.out, body, strlen (body), NULL, NULL, &error);
        }
      if (!ok || !g_output_stream_flush (cli.out, NULL, &error))
        {
          g_printerr ("fake-cli: write failed: %s\n", error->message);
          cli.dead = TRUE;
          g_main_loop_quit (cli.loop);
        }
    }
}

static gboolean
parse_slow_count (const char *arg,
                  guint64    *n)
{
  return g_ascii_string_to_unsigned (arg, 10, 1, 10000, n, NULL);
}

/* --- directives ------------------------------------------------------ */

static void
setup_permission_write (Turn       *turn,
                        const char *arg)
{
  g_autofree char *path = g_strstrip (g_strdup (arg));
  JsonObject *args = json_object_new ();

  if (*path == '\0')
    set_str (&path, "out.txt");
  set_str (&turn->perm_kind, "write");
  set_str (&turn->question, path);
  json_object_set_string_member (args, "path", path);
  json_object_set_string_member (args, "file_text", "hello\n");
  queue_tool_call (turn, "create", args, FALSE);
  queue_permission (turn);
}

static void
setup_permission_tool (Turn       *turn,
                       const char *arg)
{
  g_autofree char *name = g_strstrip (g_strdup (arg));

  if (*name == '\0')
    set_str (&name, "get_answer");
  set_str (&turn->perm_kind, "custom-tool");
  queue_tool_call (turn, name, json_object_new (), FALSE);
  queue_permission (turn);
}

static void
setup_permission_shell (Turn       *turn,
                        const char *arg)
{
  g_autofree char *command = g_strstrip (g_strdup (arg));
  JsonObject *args = json_object_new ();

  if (*command == '\0')
    set_str (&command, "true");
  set_str (&turn->perm_kind, "shell");
  set_str (&turn->question, command);
  json_object_set_string_member (args, "command", command);
  json_object_set_string_member (args, "description", "Run the command");
  json_object_set_string_member (args, "mode", "sync");
  json_object_set_int_member (args, "initial_wait", 10);
  queue_tool_call (turn, "bash", args, TRUE);
  queue_permission (turn);
}

static void
setup_permission_hook (Turn       *turn,
                       const char *arg)
{
  turn->resolved_by_hook = TRUE;
  setup_permission_shell (turn, arg);
}

static void
setup_ask (Turn       *turn,
           const char *arg)
{
  g_auto(GStrv) parts = g_strsplit (arg, "|", 2);
  g_autoptr(GPtrArray) choices = NULL;
  JsonObject *args = json_object_new ();
  JsonArray *array = json_array_new ();

  set_str (&turn->question, g_strstrip (parts[0]));
  choices = ask_choices (turn);
  for (guint i = 0; i < choices->len; i++)
    json_array_add_string_element (array, g_ptr_array_index (choices, i));
  json_object_set_string_member (args, "question", turn->question);
  json_object_set_array_member (args, "choices", array);
  queue_tool_call (turn, "ask_user", args, FALSE);
  queue_ask (turn);
}

static void
setup_tool (Turn       *turn,
            const char *arg)
{
  g_autofree char *rest = g_strstrip (g_strdup (arg));
  char *space = strpbrk (rest, " \t");
  JsonObject *args = NULL;

  if (space != NULL)
    {
      g_autoptr(JsonNode) node = NULL;

      *space = '\0';
      node = json_from_string (g_strstrip (space + 1), NULL);
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        args = json_object_ref (json_node_get_object (node));
    }
  if (args == NULL)
    args = json_object_new ();
  queue_tool_call (turn, *rest ? rest : "get_answer", args, FALSE);
  queue_call (turn, call_external_tool);
}

static void
setup_slow (Turn       *turn,
            const char *arg)
{
  g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *count = g_strstrip (g_strdup (arg));
  guint64 n = 5;

  if (!parse_slow_count (count, &n))
    n = 5;
  for (guint64 i = 1; i <= n; i++)
    g_ptr_array_add (chunks, g_strdup_printf ("tick %" G_GUINT64_FORMAT " ", i));
  queue_answer_chunks (turn, chunks, 100);
}

/* Multi-byte characters, so that merging deltas (event-relay.c) shows it
 * keeps UTF-8 intact. */
static void
setup_burst (Turn       *turn,
             const char *arg)
{
  g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *count = g_strstrip (g_strdup (arg));
  guint64 n = 5;

  if (!parse_slow_count (count, &n))
    n = 5;
  for (guint64 i = 1; i <= n; i++)
    g_ptr_array_add (chunks, g_strdup_printf ("é€😀 %" G_GUINT64_FORMAT " ", i));
  queue_answer_chunks (turn, chunks, 0);
}

static void
setup_hook (Turn       *turn,
            const char *arg)
{
  queue_call (turn, call_hook_requests);
}

static void
setup_error (Turn       *turn,
             const char *arg)
{
  g_autofree char *message = g_strstrip (g_strdup (arg));
  JsonObject *data = json_object_new ();

  json_object_set_string_member (data, "errorType", "query");
  json_object_set_string_member (data, "message", message);
  json_object_set_string_member (data, "originatingMessageId", turn->message_id);
  queue_event (turn, "session.error", data, FALSE);
  queue_action (turn, ACTION_END);
}

static void
setup_raw (Turn       *turn,
           const char *arg)
{
  queue_call (turn, call_raw_frames);
  queue_action (turn, ACTION_END);
}

/* STDERR: <MiB>: what a CLI that logs without end writes, all at once; the
 * write blocks while the daemon does not drain the pipe. */
static void
call_stderr_flood (Turn *turn)
{
  g_autofree char *line = g_strnfill (1023, 'e');
  guint64 mib = g_ascii_strtoull (turn->prompt + strlen ("STDERR:"), NULL, 10);

  for (guint64 i = 0; i < MIN (mib, 256) * 1024; i++)
    {
      if (fputs (line, stderr) < 0 || fputc ('\n', stderr) < 0)
        break;
    }
  fflush (stderr);
}

static void
setup_stderr (Turn       *turn,
              const char *arg)
{
  g_autofree char *mib = g_strstrip (g_strdup (arg));
  g_autofree char *text = g_strdup_printf ("Flooded: %s", mib);

  queue_call (turn, call_stderr_flood);
  queue_answer (turn, text);
}

static void
setup_crash (Turn       *turn,
             const char *arg)
{
  queue_call (turn, call_crash);
}

/* The prompt directives, tried in order: the first whose prefix starts
 * the prompt shapes the turn, with the rest of the prompt as @arg. A new
 * scripted mode is one setup function and one line here (before any entry
 * whose prefix is a prefix of its own), documented at the top of the file. */
static const struct {
  const char *prefix;
  void (*setup) (Turn *turn, const char *arg);
} directives[] = {
  { "PERMISSION-WRITE:", setup_permission_write },
  { "PERMISSION-TOOL:", setup_permission_tool },
  { "PERMISSION-HOOK:", setup_permission_hook },
  { "PERMISSION:", setup_permission_shell },
  { "ASK:", setup_ask },
  { "TOOL:", setup_tool },
  { "SLOW:", setup_slow },
  { "BURST:", setup_burst },
  { "HOOK:", setup_hook },
  { "ERROR:", setup_error },
  { "RAW:", setup_raw },
  { "STDERR:", setup_stderr },
  { "CRASH", setup_crash },
};

/* Queues the whole turn: the recorded prelude, then what the prompt's
 * directive asks for, or an echo of the prompt. */
void
turn_setup (Turn *turn)
{
  const char *p = turn->prompt;

  turn->turn_started = FALSE;
  queue_prelude (turn);

  for (guint i = 0; i < G_N_ELEMENTS (directives); i++)
    if (g_str_has_prefix (p, directives[i].prefix))
      {
        directives[i].setup (turn, p + strlen (directives[i].prefix));
        return;
      }

  {
    g_autofree char *text = g_strdup_printf ("Echo: %s", p);

    queue_answer (turn, text);
  }
}

void
handle_permission_answer (JsonNode   *id,
                          const char *method,
                          JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  Turn *turn;

  if (s == NULL)
    return;
  turn = s->turn;
  if (turn == NULL || turn->wait != WAIT_PERMISSION ||
      g_strcmp0 (obj_str (params, "requestId"), turn->request_id) != 0 ||
      obj_obj (params, "result") == NULL)
    {
      reply_success (id, FALSE);
      return;
    }
  reply_success (id, TRUE);
  permission_answered (turn, obj_obj (params, "result"));
  turn_resume (turn);
}

void
handle_user_input_answer (JsonNode   *id,
                          const char *method,
                          JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  JsonObject *response = obj_obj (params, "response");
  Turn *turn;

  if (s == NULL)
    return;
  turn = s->turn;
  if (turn == NULL || turn->wait != WAIT_USER_INPUT ||
      g_strcmp0 (obj_str (params, "requestId"), turn->request_id) != 0)
    {
      reply_success (id, FALSE);
      return;
    }
  reply_success (id, TRUE);
  ask_answered (turn, obj_str (response, "answer") ? obj_str (response, "answer") : "",
                obj_bool (response, "wasFreeform", FALSE), FALSE);
  turn_resume (turn);
}

void
handle_tool_answer (JsonNode   *id,
                    const char *method,
                    JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  Turn *turn;

  if (s == NULL)
    return;
  turn = s->turn;
  if (turn == NULL || turn->wait != WAIT_TOOL ||
      g_strcmp0 (obj_str (params, "requestId"), turn->request_id) != 0)
    {
      reply_success (id, FALSE);
      return;
    }
  reply_success (id, TRUE);
  tool_answered (turn, params);
  turn_resume (turn);
}

/* A reply from the client to one of our requests. */
void
prompts_handle_response (JsonObject *msg)
{
  JsonNode *id_node = json_object_get_member (msg, "id");
  JsonObject *error = obj_obj (msg, "error");
  JsonObject *result = obj_obj (msg, "result");
  Turn *turn;
  guint slot = 0;

  if (!JSON_NODE_HOLDS_VALUE (id_node) || json_node_get_value_type (id_node) != G_TYPE_INT64)
    return;
  turn = find_turn_by_rpc (json_node_get_int (id_node), &slot);
  if (turn == NULL)
    return;   /* late or unknown: the real CLI ignores those too */

  if (turn->wait == WAIT_USER_INPUT)
    {
      if (error != NULL)
        ask_answered (turn, obj_str (error, "message") ? obj_str (error, "message") : "error",
                      TRUE, TRUE);
      else
        ask_answered (turn, obj_str (result, "answer") ? obj_str (result, "answer") : "",
                      obj_bool (result, "wasFreeform", FALSE), FALSE);
      turn_resume (turn);
    }
  else if (turn->wait == WAIT_HOOK)
    {
      if (error != NULL)
        turn->hook_replies[slot] = g_strdup_printf ("error %" G_GINT64_FORMAT,
                                                    json_object_get_int_member_with_default (error, "code", 0));
      else
        turn->hook_replies[slot] = g_strdup ("result");
      turn->rpc_ids[slot] = 0;
      if (turn->hook_replies[0] != NULL && turn->hook_replies[1] != NULL)
        {
          g_autofree char *text = g_strdup_printf ("Hook: hooks.invoke=%s systemMessage.transform=%s",
                                                   turn->hook_replies[0], turn->hook_replies[1]);
          queue_answer (turn, text);
          turn_resume (turn);
        }
    }
}
