/* fake-cli.c: a scripted stand-in for the Copilot CLI
 *
 * The daemon's integration tests spawn this instead of the real
 * `copilot --headless --stdio`: it speaks the same JSON-RPC 2.0 with LSP
 * Content-Length framing (PROTOCOL.md §1.4) on stdin/stdout, keeps sessions
 * like the real CLI (live ones, plus a "disk" that survives restarts under
 * $COPILOT_HOME), and plays turns whose shape is chosen by the prompt
 * (`PERMISSION:`, `ASK:`, `TOOL:`, `SLOW:`, `HOOK:`, `ERROR:`, `CRASH`).
 * The events of a turn are replayed from the real transcripts in
 * tests/data/, so the daemon sees the same noise as in production.
 *
 * Faults the real CLI will not produce on demand are switched on through
 * environment variables (the daemon passes its environment through):
 *
 *   FAKE_CLI_PROTOCOL_VERSION=N  protocolVersion in connect/ping/status.get
 *                                (default 3; "none" omits it)
 *   FAKE_CLI_NO_CONNECT=1        connect → -32601 "Unhandled method connect"
 *   FAKE_CLI_EXIT_AT_START=1     _exit(1) right after the "started" line
 *   FAKE_CLI_GARBAGE_AFTER=N     after N responses write one framed
 *                                {"id":null,"error":{"code":-32700,…}} and
 *                                then write nothing more (stays alive)
 *   FAKE_CLI_RECORD=FILE         append every frame received, compact JSON,
 *                                one per line, flushed
 *   FAKE_CLI_HANG=m1,m2          never answer (nor run) these methods
 *   FAKE_CLI_DATA_DIR=DIR        where the transcripts are (default: the
 *                                source tree's tests/data)
 *   COPILOT_HOME=DIR             sessions persist in DIR/fake-cli-state.json
 *
 * Prompt directives (session.send "prompt"):
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
 *   HOOK:                     hooks.invoke + systemMessage.transform, waits
 *                             for both replies
 *   ERROR: <message>          session.error then idle
 *   CRASH                     _exit(1) after the start of the turn
 *   RAW: <file>               each line of <file> framed as it is
 *                             (`@SESSION@` → the session id; `!line`
 *                             unframed, C escapes), then idle
 *
 * One thread, one GMainLoop: stdin is a pollable stream, turns are queues of
 * actions pumped from idle/timeout sources, so events of a turn always go
 * out after the response to the request that started it, and a turn can
 * park while it waits for the client's answer.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <json-glib/json-glib.h>

#ifndef FAKE_CLI_DATADIR
#define FAKE_CLI_DATADIR "."
#endif

#define FAKE_VERSION "1.0.102-fake"
#define DEFAULT_MODEL "claude-sonnet-4.5"

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INTERNAL_ERROR -32603

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

typedef enum {
  WAIT_NONE,
  WAIT_PERMISSION,
  WAIT_USER_INPUT,
  WAIT_TOOL,
  WAIT_HOOK,
} WaitKind;

typedef enum {
  ACTION_EVENT,
  ACTION_NOTIFY,
  ACTION_DELAY,
  ACTION_CALL,
  ACTION_END,
} ActionKind;

typedef struct _Session Session;
typedef struct _Turn Turn;

typedef void (*TurnCall) (Turn *turn);

typedef struct {
  ActionKind kind;
  char *name;           /* owned: event type or notification method */
  JsonObject *object;   /* owned: event data or notification params */
  gboolean ephemeral;
  guint delay_ms;
  TurnCall call;
} Action;

struct _Turn {
  Session *session;     /* unowned */
  char *prompt;         /* owned */
  char *message_id;     /* owned: the user message id returned by send */
  char *interaction_id; /* owned */
  char *delivery;       /* owned: "idle" or "queued" */
  char *turn_id;        /* owned: "0", "1"… (one per model round) */
  char *answer_id;      /* owned: assistant messageId of the current answer */
  char *answer_text;    /* owned */
  gboolean turn_started;
  gint64 start_time;

  GQueue actions;       /* owned: Action* */
  guint source_id;
  gboolean waiting;

  /* What the turn is parked on, if anything. */
  WaitKind wait;
  char *request_id;     /* owned */
  char *tool_call_id;   /* owned */
  char *tool_name;      /* owned */
  char *perm_kind;      /* owned: shell, write, custom-tool */
  gboolean resolved_by_hook;  /* PERMISSION-HOOK: decided before asking */
  char *question;       /* owned */
  JsonObject *tool_args;  /* owned, nullable */
  gint64 rpc_ids[2];    /* our outgoing requests the turn waits on */
  char *hook_replies[2];  /* owned: how each hook request was answered */
};

struct _Session {
  char *id;             /* owned */
  char *model;          /* owned */
  gboolean model_explicit;
  char *reasoning_effort;  /* owned, nullable */
  char *cwd;            /* owned */
  char *summary;        /* owned, nullable: the first prompt */
  char *client_name;    /* owned */
  char *start_time;     /* owned */
  char *modified_time;  /* owned */
  char *last_event_id;  /* owned, nullable: last persisted event */
  JsonArray *history;   /* owned: persisted events */
  JsonObject *params;   /* owned, nullable: last create/resume params */
  gboolean loaded;
  gboolean streaming;
  Turn *turn;           /* owned, nullable */
  GQueue queued;        /* owned: Turn* waiting for the current one */
};

typedef struct {
  JsonArray *frames;    /* owned: {"dir","t","msg"} lines */
  char *session_id;     /* owned: the session id used in the recording */
} Transcript;

typedef struct {
  GMainLoop *loop;              /* owned */
  GInputStream *in;             /* owned */
  GOutputStream *out;           /* owned */
  GSource *in_source;           /* owned */
  GByteArray *inbuf;            /* owned */
  GHashTable *sessions;         /* owned: id → Session* (loaded or on disk) */
  Transcript simple;
  Transcript perm;
  /* Ranges of `simple` (indices into frames) replayed for every turn. */
  guint prelude_start, prelude_end, tail_start, tail_end;

  char *copilot_home;           /* owned, nullable */
  char *state_path;             /* owned, nullable */
  guint save_id;
  gint64 next_rpc_id;
  guint n_responses;
  gboolean dead;                /* stdout desynchronised: write nothing more */
  gboolean desync_in;           /* stdin framing broken: ignore input */

  /* Knobs */
  char *protocol_version;       /* owned */
  gboolean no_connect;
  gint64 garbage_after;         /* -1 when off */
  char **hang;                  /* owned */
  FILE *record;                 /* owned, nullable */
} FakeCli;

static FakeCli cli;

/* ------------------------------------------------------------------ */
/* small helpers */

static char *
now_iso (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *base = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", base, g_date_time_get_microsecond (now) / 1000);
}

static const char *
obj_str (JsonObject *obj,
         const char *member)
{
  JsonNode *node;

  if (obj == NULL)
    return NULL;
  node = json_object_get_member (obj, member);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
obj_obj (JsonObject *obj,
         const char *member)
{
  JsonNode *node;

  if (obj == NULL)
    return NULL;
  node = json_object_get_member (obj, member);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

static gboolean
obj_bool (JsonObject *obj,
          const char *member,
          gboolean    def)
{
  JsonNode *node;

  if (obj == NULL)
    return def;
  node = json_object_get_member (obj, member);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return def;
  return json_node_get_boolean (node);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);

  g_assert (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

/* json_node_copy() only takes references on objects and arrays; templates
 * and recorded params must never be modified in place, so copy for real. */
static JsonNode *
deep_copy (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *copy = json_object_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        JsonNode *result;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          json_object_set_member (copy, name, deep_copy (member));
        result = json_node_init_object (json_node_alloc (), copy);
        json_object_unref (copy);
        return result;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        JsonArray *copy = json_array_new ();
        JsonNode *result;

        for (guint i = 0; i < json_array_get_length (array); i++)
          json_array_add_element (copy, deep_copy (json_array_get_element (array, i)));
        result = json_node_init_array (json_node_alloc (), copy);
        json_array_unref (copy);
        return result;
      }
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

static JsonObject *
copy_object (JsonObject *obj)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autoptr(JsonNode) copy = deep_copy (node);

  return json_object_ref (json_node_get_object (copy));
}

/* Rewrites every string inside @node that contains @from. */
static void
replace_strings (JsonNode   *node,
                 const char *from,
                 const char *to)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, NULL, &member))
          replace_strings (member, from, to);
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          replace_strings (json_array_get_element (array, i), from, to);
      }
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING &&
          strstr (json_node_get_string (node), from) != NULL)
        {
          g_autoptr(GString) s = g_string_new (json_node_get_string (node));

          g_string_replace (s, from, to, 0);
          json_node_set_string (node, s->str);
        }
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

static const char *
copilot_home (void)
{
  static char *fallback = NULL;

  if (cli.copilot_home != NULL)
    return cli.copilot_home;
  if (fallback == NULL)
    fallback = g_build_filename (g_get_home_dir (), ".copilot", NULL);
  return fallback;
}

/* ------------------------------------------------------------------ */
/* output */

static void
write_frame (JsonNode *msg)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *body = NULL;
  g_autofree char *header = NULL;
  gsize len;

  if (cli.dead)
    return;

  body = json_to_string (msg, FALSE);
  len = strlen (body);
  header = g_strdup_printf ("Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n", len);
  if (!g_output_stream_write_all (cli.out, header, strlen (header), NULL, NULL, &error) ||
      !g_output_stream_write_all (cli.out, body, len, NULL, NULL, &error) ||
      !g_output_stream_flush (cli.out, NULL, &error))
    {
      g_printerr ("fake-cli: write failed: %s\n", error->message);
      cli.dead = TRUE;
      g_main_loop_quit (cli.loop);
    }
}

static void
send_message (JsonObject *msg /* transfer full */)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), msg);

  json_object_unref (msg);
  write_frame (node);
}

static JsonObject *
new_message (void)
{
  JsonObject *msg = json_object_new ();

  json_object_set_string_member (msg, "jsonrpc", "2.0");
  return msg;
}

/* After FAKE_CLI_GARBAGE_AFTER responses the fake writes one -32700 with a
 * null id, like the real CLI after a framing error, and goes silent. */
static void
maybe_write_garbage (void)
{
  if (cli.garbage_after >= 0 && cli.n_responses >= (guint) cli.garbage_after && !cli.dead)
    {
      JsonObject *msg = new_message ();

      json_object_set_null_member (msg, "id");
      json_object_set_object_member (msg, "error",
                                     parse_object ("{\"code\":-32700,\"message\":\"Parse error\"}"));
      send_message (msg);
      cli.dead = TRUE;
      g_printerr ("fake-cli: desynchronised after %u responses\n", cli.n_responses);
    }
}

static void
count_response (void)
{
  cli.n_responses++;
  maybe_write_garbage ();
}

static void
reply_result (JsonNode *id,
              JsonNode *result /* transfer full, nullable = null */)
{
  JsonObject *msg = new_message ();

  json_object_set_member (msg, "id", json_node_copy (id));
  json_object_set_member (msg, "result", result ? result : json_node_new (JSON_NODE_NULL));
  send_message (msg);
  count_response ();
}

static void
reply_object (JsonNode   *id,
              JsonObject *result /* transfer full */)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), result);

  json_object_unref (result);
  reply_result (id, node);
}

static void
reply_success (JsonNode *id,
               gboolean  success)
{
  JsonObject *result = json_object_new ();

  json_object_set_boolean_member (result, "success", success);
  reply_object (id, result);
}

static void
reply_error (JsonNode   *id,
             int         code,
             const char *message)
{
  JsonObject *msg = new_message ();
  JsonObject *error = json_object_new ();

  json_object_set_int_member (error, "code", code);
  json_object_set_string_member (error, "message", message);
  if (id != NULL)
    json_object_set_member (msg, "id", json_node_copy (id));
  else
    json_object_set_null_member (msg, "id");
  json_object_set_object_member (msg, "error", error);
  send_message (msg);
  count_response ();
}

static void
reply_failed (JsonNode   *id,
              const char *method,
              const char *text)
{
  g_autofree char *message = g_strdup_printf ("Request %s failed with message: %s", method, text);

  reply_error (id, RPC_INTERNAL_ERROR, message);
}

static void
notify (const char *method,
        JsonObject *params /* transfer full */)
{
  JsonObject *msg = new_message ();

  json_object_set_string_member (msg, "method", method);
  json_object_set_object_member (msg, "params", params);
  send_message (msg);
}

static gint64
send_request (const char *method,
              JsonObject *params /* transfer full */)
{
  JsonObject *msg = new_message ();
  gint64 id = cli.next_rpc_id++;

  json_object_set_int_member (msg, "id", id);
  json_object_set_string_member (msg, "method", method);
  json_object_set_object_member (msg, "params", params);
  send_message (msg);
  return id;
}

/* ------------------------------------------------------------------ */
/* persistence */

static JsonObject *
session_to_json (Session *s)
{
  JsonObject *obj = json_object_new ();

  json_object_set_string_member (obj, "sessionId", s->id);
  json_object_set_string_member (obj, "model", s->model);
  json_object_set_boolean_member (obj, "modelExplicit", s->model_explicit);
  if (s->reasoning_effort)
    json_object_set_string_member (obj, "reasoningEffort", s->reasoning_effort);
  json_object_set_string_member (obj, "cwd", s->cwd);
  if (s->summary)
    json_object_set_string_member (obj, "summary", s->summary);
  json_object_set_string_member (obj, "clientName", s->client_name);
  json_object_set_string_member (obj, "startTime", s->start_time);
  json_object_set_string_member (obj, "modifiedTime", s->modified_time);
  if (s->last_event_id)
    json_object_set_string_member (obj, "lastEventId", s->last_event_id);
  json_object_set_array_member (obj, "events", json_array_ref (s->history));
  return obj;
}

static void
save_state_now (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  JsonObject *obj = json_object_new ();
  JsonArray *array = json_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&cli.save_id, g_source_remove);
  if (cli.state_path == NULL)
    {
      json_object_unref (obj);
      json_array_unref (array);
      return;
    }

  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    json_array_add_object_element (array, session_to_json (value));
  json_object_set_array_member (obj, "sessions", array);
  root = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);
  text = json_to_string (root, FALSE);

  if (g_mkdir_with_parents (cli.copilot_home, 0700) < 0 ||
      !g_file_set_contents (cli.state_path, text, -1, &error))
    g_printerr ("fake-cli: cannot save %s: %s\n", cli.state_path,
                error ? error->message : g_strerror (errno));
}

static gboolean
save_idle_cb (gpointer user_data)
{
  cli.save_id = 0;
  save_state_now ();
  return G_SOURCE_REMOVE;
}

static void
schedule_save (void)
{
  if (cli.state_path != NULL && cli.save_id == 0)
    cli.save_id = g_idle_add (save_idle_cb, NULL);
}

static void turn_free (Turn *turn);

static void
session_free (Session *s)
{
  g_free (s->id);
  g_free (s->model);
  g_free (s->reasoning_effort);
  g_free (s->cwd);
  g_free (s->summary);
  g_free (s->client_name);
  g_free (s->start_time);
  g_free (s->modified_time);
  g_free (s->last_event_id);
  g_clear_pointer (&s->history, json_array_unref);
  g_clear_pointer (&s->params, json_object_unref);
  g_clear_pointer (&s->turn, turn_free);
  g_queue_clear_full (&s->queued, (GDestroyNotify) turn_free);
  g_free (s);
}

static Session *
session_new (const char *id)
{
  Session *s = g_new0 (Session, 1);

  s->id = g_strdup (id);
  s->model = g_strdup (DEFAULT_MODEL);
  s->cwd = g_get_current_dir ();
  s->client_name = g_strdup ("sdk");
  s->start_time = now_iso ();
  s->modified_time = g_strdup (s->start_time);
  s->history = json_array_new ();
  s->streaming = FALSE;
  g_queue_init (&s->queued);
  return s;
}

static void
load_state (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *array;

  if (cli.state_path == NULL || !g_file_test (cli.state_path, G_FILE_TEST_EXISTS))
    return;
  if (!json_parser_load_from_file (parser, cli.state_path, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_printerr ("fake-cli: ignoring unreadable %s: %s\n", cli.state_path,
                  error ? error->message : "not an object");
      return;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (root, "sessions"))
    return;
  array = json_object_get_array_member (root, "sessions");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *obj = json_array_get_object_element (array, i);
      const char *id = obj_str (obj, "sessionId");
      Session *s;

      if (id == NULL)
        continue;
      s = session_new (id);
      g_free (s->model);
      s->model = g_strdup (obj_str (obj, "model") ? obj_str (obj, "model") : DEFAULT_MODEL);
      s->model_explicit = obj_bool (obj, "modelExplicit", TRUE);
      s->reasoning_effort = g_strdup (obj_str (obj, "reasoningEffort"));
      g_free (s->cwd);
      s->cwd = g_strdup (obj_str (obj, "cwd") ? obj_str (obj, "cwd") : "/");
      s->summary = g_strdup (obj_str (obj, "summary"));
      g_free (s->client_name);
      s->client_name = g_strdup (obj_str (obj, "clientName") ? obj_str (obj, "clientName") : "sdk");
      if (obj_str (obj, "startTime"))
        {
          g_free (s->start_time);
          s->start_time = g_strdup (obj_str (obj, "startTime"));
        }
      if (obj_str (obj, "modifiedTime"))
        {
          g_free (s->modified_time);
          s->modified_time = g_strdup (obj_str (obj, "modifiedTime"));
        }
      s->last_event_id = g_strdup (obj_str (obj, "lastEventId"));
      if (json_object_has_member (obj, "events"))
        {
          json_array_unref (s->history);
          s->history = json_array_ref (json_object_get_array_member (obj, "events"));
        }
      g_hash_table_replace (cli.sessions, s->id, s);
    }
}

/* ------------------------------------------------------------------ */
/* events */

static void
notify_lifecycle (Session    *s,
                  const char *type)
{
  JsonObject *params = json_object_new ();

  json_object_set_string_member (params, "type", type);
  json_object_set_string_member (params, "sessionId", s->id);
  if (g_strcmp0 (type, "session.deleted") != 0)
    {
      JsonObject *metadata = json_object_new ();

      json_object_set_string_member (metadata, "startTime", s->start_time);
      json_object_set_string_member (metadata, "modifiedTime", s->modified_time);
      json_object_set_object_member (params, "metadata", metadata);
    }
  notify ("session.lifecycle", params);
}

static JsonObject *
host_event_params (Session    *s,
                   const char *kind)
{
  g_autofree char *json = g_strdup_printf (
    "{\"scope\":{\"type\":\"session\",\"sessionId\":\"%s\"},\"kind\":\"task_transition\","
    "\"payload\":{\"subscriptionId\":\"00000000-0000-4000-8000-000000000000\",\"kind\":\"%s\","
    "\"taskJson\":null,\"reactionJson\":null}}", s->id, kind);

  return parse_object (json);
}

static void
notify_host_event (Session    *s,
                   const char *kind)
{
  notify ("host.event", host_event_params (s, kind));
}

/* Builds the envelope, records persisted events in the history and sends
 * the session.event notification. */
static void
emit_event (Session    *s,
            const char *type,
            JsonObject *data /* transfer full */,
            gboolean    ephemeral)
{
  JsonObject *event = json_object_new ();
  JsonObject *params = json_object_new ();
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *timestamp = now_iso ();

  json_object_set_string_member (event, "type", type);
  json_object_set_object_member (event, "data", data);
  json_object_set_string_member (event, "id", id);
  json_object_set_string_member (event, "timestamp", timestamp);
  /* Like the real CLI, every event hangs off the last persisted one. */
  if (s->last_event_id != NULL)
    json_object_set_string_member (event, "parentId", s->last_event_id);
  else
    json_object_set_null_member (event, "parentId");
  if (ephemeral)
    json_object_set_boolean_member (event, "ephemeral", TRUE);

  if (!ephemeral)
    {
      json_array_add_object_element (s->history, json_object_ref (event));
      g_free (s->last_event_id);
      s->last_event_id = g_strdup (id);
      g_free (s->modified_time);
      s->modified_time = g_strdup (timestamp);
      schedule_save ();
    }

  json_object_set_string_member (params, "sessionId", s->id);
  json_object_set_object_member (params, "event", event);
  notify ("session.event", params);
}

static void
emit_json (Session    *s,
           const char *type,
           const char *json,
           gboolean    ephemeral)
{
  emit_event (s, type, parse_object (json), ephemeral);
}

/* ------------------------------------------------------------------ */
/* transcripts */

static JsonObject *
frame_msg (Transcript *tr,
           guint       i)
{
  JsonObject *frame = json_array_get_object_element (tr->frames, i);

  return obj_obj (frame, "msg");
}

static gboolean
frame_is_s2c (Transcript *tr,
              guint       i)
{
  return g_strcmp0 (obj_str (json_array_get_object_element (tr->frames, i), "dir"), "s2c") == 0;
}

static JsonObject *
frame_event (Transcript *tr,
             guint       i)
{
  JsonObject *msg = frame_msg (tr, i);

  if (g_strcmp0 (obj_str (msg, "method"), "session.event") != 0)
    return NULL;
  return obj_obj (obj_obj (msg, "params"), "event");
}

static const char *
frame_event_type (Transcript *tr,
                  guint       i)
{
  return obj_str (frame_event (tr, i), "type");
}

static gboolean
load_transcript (Transcript *tr,
                 const char *path,
                 GError    **error)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  tr->frames = json_array_new ();
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonNode) node = NULL;
      JsonObject *msg;

      if (lines[i][0] == '\0')
        continue;
      node = json_from_string (lines[i], error);
      if (node == NULL)
        return FALSE;
      json_array_add_element (tr->frames, g_steal_pointer (&node));
      msg = frame_msg (tr, json_array_get_length (tr->frames) - 1);
      if (tr->session_id == NULL &&
          g_strcmp0 (obj_str (msg, "method"), "session.create") == 0)
        tr->session_id = g_strdup (obj_str (obj_obj (msg, "params"), "sessionId"));
    }
  if (tr->session_id == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s has no session.create", path);
      return FALSE;
    }
  return TRUE;
}

/* Deep copy of the data of the @nth event of @type in @tr. */
static JsonObject *
template_data (Transcript *tr,
               const char *type,
               guint       nth)
{
  for (guint i = 0; i < json_array_get_length (tr->frames); i++)
    {
      JsonObject *event = frame_event (tr, i);

      if (g_strcmp0 (obj_str (event, "type"), type) == 0 && nth-- == 0)
        return copy_object (obj_obj (event, "data"));
    }
  g_error ("fake-cli: transcript lacks event %s", type);
  return NULL;
}

static gboolean
load_transcripts (GError **error)
{
  const char *dir = g_getenv ("FAKE_CLI_DATA_DIR");
  g_autofree char *simple_path = NULL;
  g_autofree char *perm_path = NULL;
  guint n, send_response = 0, first_stream = 0, last_delta = 0, idle = 0;

  if (dir == NULL)
    dir = FAKE_CLI_DATADIR;
  simple_path = g_build_filename (dir, "simple-turn.jsonl", NULL);
  perm_path = g_build_filename (dir, "permission-and-tool-turn.jsonl", NULL);
  if (!load_transcript (&cli.simple, simple_path, error) ||
      !load_transcript (&cli.perm, perm_path, error))
    return FALSE;

  /* prelude: after the send response up to the first streamed chunk;
   * tail: after the last delta up to assistant.idle (exclusive). */
  n = json_array_get_length (cli.simple.frames);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *msg = frame_msg (&cli.simple, i);
      const char *type = frame_event_type (&cli.simple, i);

      if (send_response == 0 && frame_is_s2c (&cli.simple, i) &&
          obj_str (obj_obj (msg, "result"), "messageId") != NULL)
        send_response = i;
      else if (send_response != 0 && first_stream == 0 &&
               g_strcmp0 (type, "assistant.streaming_delta") == 0)
        first_stream = i;
      else if (g_strcmp0 (type, "assistant.message_delta") == 0)
        last_delta = i;
      else if (idle == 0 && g_strcmp0 (type, "assistant.idle") == 0)
        idle = i;
    }
  if (send_response == 0 || first_stream == 0 || last_delta == 0 || idle <= last_delta)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s does not look like a streamed turn", simple_path);
      return FALSE;
    }
  cli.prelude_start = send_response + 1;
  cli.prelude_end = first_stream;
  cli.tail_start = last_delta + 1;
  cli.tail_end = idle;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* turns */

static void
action_free (Action *a)
{
  g_free (a->name);
  g_clear_pointer (&a->object, json_object_unref);
  g_free (a);
}

static void
turn_free (Turn *turn)
{
  g_clear_handle_id (&turn->source_id, g_source_remove);
  g_queue_clear_full (&turn->actions, (GDestroyNotify) action_free);
  g_free (turn->prompt);
  g_free (turn->message_id);
  g_free (turn->interaction_id);
  g_free (turn->delivery);
  g_free (turn->turn_id);
  g_free (turn->answer_id);
  g_free (turn->answer_text);
  g_free (turn->request_id);
  g_free (turn->tool_call_id);
  g_free (turn->tool_name);
  g_free (turn->perm_kind);
  g_free (turn->question);
  g_clear_pointer (&turn->tool_args, json_object_unref);
  g_free (turn->hook_replies[0]);
  g_free (turn->hook_replies[1]);
  g_free (turn);
}

static Action *
queue_action (Turn       *turn,
              ActionKind  kind)
{
  Action *a = g_new0 (Action, 1);

  a->kind = kind;
  g_queue_push_tail (&turn->actions, a);
  return a;
}

static void
queue_event (Turn       *turn,
             const char *type,
             JsonObject *data /* transfer full */,
             gboolean    ephemeral)
{
  Action *a = queue_action (turn, ACTION_EVENT);

  a->name = g_strdup (type);
  a->object = data;
  a->ephemeral = ephemeral;
}

static void
queue_json (Turn       *turn,
            const char *type,
            const char *json,
            gboolean    ephemeral)
{
  queue_event (turn, type, parse_object (json), ephemeral);
}

static void
queue_notify (Turn       *turn,
              const char *method,
              JsonObject *params /* transfer full */)
{
  Action *a = queue_action (turn, ACTION_NOTIFY);

  a->name = g_strdup (method);
  a->object = params;
}

static void
queue_lifecycle_updated (Turn *turn)
{
  queue_notify (turn, "session.lifecycle", parse_object ("{\"type\":\"session.updated\"}"));
}

static void
queue_call (Turn     *turn,
            TurnCall  call)
{
  queue_action (turn, ACTION_CALL)->call = call;
}

static void
queue_delay (Turn  *turn,
             guint  ms)
{
  queue_action (turn, ACTION_DELAY)->delay_ms = ms;
}

static void
set_str (char       **field,
         const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

/* Adapts one recorded event to this session and turn. */
static void
rewrite_template_event (Turn       *turn,
                        const char *type,
                        JsonObject *data)
{
  Session *s = turn->session;

  if (obj_str (data, "model") != NULL)
    json_object_set_string_member (data, "model", s->model);

  if (g_strcmp0 (type, "user.message") == 0)
    {
      g_autofree char *now = now_iso ();
      g_autofree char *transformed =
        g_strdup_printf ("<current_datetime>%s</current_datetime>\n\n%s", now, turn->prompt);

      json_object_set_string_member (data, "content", turn->prompt);
      json_object_set_string_member (data, "transformedContent", transformed);
      json_object_set_string_member (data, "messageId", turn->message_id);
      json_object_set_string_member (data, "interactionId", turn->interaction_id);
      json_object_set_string_member (data, "turnId", turn->turn_id);
      json_object_set_string_member (data, "delivery", turn->delivery);
    }
  else if (g_strcmp0 (type, "session.title_changed") == 0)
    json_object_set_string_member (data, "title", s->summary ? s->summary : turn->prompt);
  else if (g_strcmp0 (type, "assistant.turn_start") == 0)
    {
      json_object_set_string_member (data, "turnId", turn->turn_id);
      json_object_set_string_member (data, "interactionId", turn->interaction_id);
    }
  else if (g_strcmp0 (type, "assistant.turn_end") == 0 ||
           g_strcmp0 (type, "model.call_start") == 0)
    json_object_set_string_member (data, "turnId", turn->turn_id);
  else if (g_strcmp0 (type, "model.call_finished") == 0)
    {
      json_object_set_string_member (data, "turnId", turn->turn_id);
      json_object_set_string_member (data, "interactionId", turn->interaction_id);
    }
  else if (g_strcmp0 (type, "assistant.message") == 0)
    {
      json_object_set_string_member (data, "messageId", turn->answer_id);
      json_object_set_string_member (data, "originatingMessageId", turn->message_id);
      json_object_set_string_member (data, "content", turn->answer_text);
      json_object_set_string_member (data, "interactionId", turn->interaction_id);
      json_object_set_string_member (data, "turnId", turn->turn_id);
    }
  else if (g_strcmp0 (type, "model.message") == 0 && obj_obj (data, "message") != NULL)
    json_object_set_string_member (obj_obj (data, "message"), "content", turn->answer_text);
  else if (g_strcmp0 (type, "model.response") == 0 && obj_obj (data, "response") != NULL)
    json_object_set_string_member (obj_obj (data, "response"), "content", turn->answer_text);
}

/* Queues recorded frames [@from, @to) of @tr, adapted to @turn. */
static void
queue_template_range (Turn       *turn,
                      Transcript *tr,
                      guint       from,
                      guint       to)
{
  Session *s = turn->session;

  for (guint i = from; i < to; i++)
    {
      JsonObject *msg = frame_msg (tr, i);
      const char *method = obj_str (msg, "method");
      g_autoptr(JsonNode) params = NULL;

      if (!frame_is_s2c (tr, i) || method == NULL)
        continue;

      params = deep_copy (json_object_get_member (msg, "params"));
      replace_strings (params, tr->session_id, s->id);
      replace_strings (params, "${workdir}", s->cwd);
      replace_strings (params, "${home}", copilot_home ());

      if (g_strcmp0 (method, "session.event") == 0)
        {
          JsonObject *event = obj_obj (json_node_get_object (params), "event");
          const char *type = obj_str (event, "type");
          JsonObject *data = copy_object (obj_obj (event, "data"));

          if (g_strcmp0 (type, "assistant.turn_start") == 0)
            turn->turn_started = TRUE;
          rewrite_template_event (turn, type, data);
          queue_event (turn, type, data, obj_bool (event, "ephemeral", FALSE));
        }
      else
        {
          queue_notify (turn, method, json_object_ref (json_node_get_object (params)));
        }
    }
}

static void turn_start_next_or_idle (Session *s);

static void
turn_end (Turn *turn)
{
  Session *s = turn->session;

  g_assert (s->turn == turn);
  s->turn = NULL;
  turn_free (turn);
  turn_start_next_or_idle (s);
}

static gboolean
turn_pump (gpointer user_data)
{
  Turn *turn = user_data;
  Session *s = turn->session;
  Action *a;

  turn->source_id = 0;
  while (!turn->waiting && (a = g_queue_pop_head (&turn->actions)) != NULL)
    {
      switch (a->kind)
        {
        case ACTION_EVENT:
          if (g_strcmp0 (a->name, "assistant.turn_start") == 0)
            turn->turn_started = TRUE;
          emit_event (s, a->name, g_steal_pointer (&a->object), a->ephemeral);
          break;
        case ACTION_NOTIFY:
          if (g_strcmp0 (a->name, "session.lifecycle") == 0)
            notify_lifecycle (s, obj_str (a->object, "type"));
          else
            notify (a->name, g_steal_pointer (&a->object));
          break;
        case ACTION_DELAY:
          turn->source_id = g_timeout_add (a->delay_ms, turn_pump, turn);
          action_free (a);
          return G_SOURCE_REMOVE;
        case ACTION_CALL:
          a->call (turn);
          break;
        case ACTION_END:
          action_free (a);
          turn_end (turn);
          return G_SOURCE_REMOVE;
        default:
          g_assert_not_reached ();
        }
      action_free (a);
    }
  return G_SOURCE_REMOVE;
}

static void
turn_schedule (Turn *turn)
{
  if (turn->source_id == 0 && !turn->waiting)
    turn->source_id = g_idle_add (turn_pump, turn);
}

/* Resumes a parked turn once its continuation has been queued. */
static void
turn_resume (Turn *turn)
{
  turn->waiting = FALSE;
  turn->wait = WAIT_NONE;
  turn_schedule (turn);
}

static void
queue_prelude (Turn *turn)
{
  queue_template_range (turn, &cli.simple, cli.prelude_start, cli.prelude_end);
}

/* Streams @chunks as the assistant's answer (deltas only when the session
 * streams), then the recorded tail of the model round, then ends the turn. */
static void
queue_answer_chunks (Turn        *turn,
                     GPtrArray   *chunks,
                     guint        delay_ms)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < chunks->len; i++)
    g_string_append (text, g_ptr_array_index (chunks, i));
  set_str (&turn->answer_text, text->str);
  g_free (turn->answer_id);
  turn->answer_id = g_uuid_string_random ();

  g_string_truncate (text, 0);
  for (guint i = 0; i < chunks->len; i++)
    {
      const char *chunk = g_ptr_array_index (chunks, i);

      if (i > 0 && delay_ms > 0)
        queue_delay (turn, delay_ms);
      g_string_append (text, chunk);
      if (!turn->session->streaming)
        continue;

      {
        JsonObject *sd = json_object_new ();
        JsonObject *delta = json_object_new ();

        json_object_set_int_member (sd, "totalResponseSizeBytes", text->len);
        queue_event (turn, "assistant.streaming_delta", sd, TRUE);
        if (i == 0)
          {
            JsonObject *start = json_object_new ();

            json_object_set_string_member (start, "messageId", turn->answer_id);
            queue_event (turn, "assistant.message_start", start, TRUE);
          }
        json_object_set_string_member (delta, "messageId", turn->answer_id);
        json_object_set_string_member (delta, "deltaContent", chunk);
        queue_event (turn, "assistant.message_delta", delta, TRUE);
      }
    }

  queue_template_range (turn, &cli.simple, cli.tail_start, cli.tail_end);
  queue_action (turn, ACTION_END);
}

/* Splits @text in 3 or 4 pieces (at character boundaries) whose
 * concatenation is @text. */
static void
queue_answer (Turn       *turn,
              const char *text)
{
  g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func (g_free);
  glong len = g_utf8_strlen (text, -1);
  guint n = len >= 8 ? 4 : 3;
  const char *prev = text;

  for (guint k = 1; k <= n; k++)
    {
      const char *next = g_utf8_offset_to_pointer (text, len * k / n);

      if (next > prev || k == n)
        g_ptr_array_add (chunks, g_strndup (prev, next - prev));
      prev = next;
    }
  queue_answer_chunks (turn, chunks, 0);
}

/* A model round that calls a tool: the assistant message with
 * toolRequests, then tool.execution_start (with the noise around it). */
static void
queue_tool_call (Turn       *turn,
                 const char *tool_name,
                 JsonObject *arguments /* transfer full */,
                 gboolean    shell)
{
  JsonObject *message = template_data (&cli.perm, "assistant.message", 0);
  JsonObject *start = template_data (&cli.perm, "tool.execution_start", 0);
  JsonObject *request = json_object_new ();
  JsonArray *requests = json_array_new ();
  g_autofree char *msg_id = g_uuid_string_random ();
  JsonObject *tcd = json_object_new ();
  g_autofree char *args_text = NULL;

  set_str (&turn->tool_name, tool_name);
  g_free (turn->tool_call_id);
  turn->tool_call_id = g_strdup_printf ("call_%08x", g_random_int ());

  {
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), arguments);
    args_text = json_to_string (node, FALSE);
  }

  if (turn->session->streaming)
    {
      JsonObject *ms = json_object_new ();
      JsonObject *md = json_object_new ();

      json_object_set_string_member (ms, "messageId", msg_id);
      queue_event (turn, "assistant.message_start", ms, TRUE);
      json_object_set_string_member (md, "messageId", msg_id);
      json_object_set_string_member (md, "deltaContent", "Let me check.");
      queue_event (turn, "assistant.message_delta", md, TRUE);
    }
  json_object_set_string_member (tcd, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (tcd, "toolName", tool_name);
  json_object_set_string_member (tcd, "toolType", "function");
  json_object_set_string_member (tcd, "inputDelta", args_text);
  queue_event (turn, "assistant.tool_call_delta", tcd, TRUE);

  json_object_set_string_member (request, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (request, "name", tool_name);
  json_object_set_object_member (request, "arguments", copy_object (arguments));
  g_clear_pointer (&turn->tool_args, json_object_unref);
  turn->tool_args = copy_object (arguments);
  json_object_set_string_member (request, "type", "function");
  json_array_add_object_element (requests, request);

  json_object_set_string_member (message, "messageId", msg_id);
  json_object_set_string_member (message, "originatingMessageId", turn->message_id);
  json_object_set_string_member (message, "model", turn->session->model);
  json_object_set_string_member (message, "content", "Let me check.");
  json_object_set_array_member (message, "toolRequests", requests);
  json_object_set_string_member (message, "interactionId", turn->interaction_id);
  json_object_set_string_member (message, "turnId", turn->turn_id);
  queue_event (turn, "assistant.message", message, FALSE);
  queue_lifecycle_updated (turn);

  json_object_set_string_member (start, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (start, "toolName", tool_name);
  json_object_set_object_member (start, "arguments", arguments);
  json_object_set_string_member (start, "turnId", turn->turn_id);
  json_object_set_string_member (start, "model", turn->session->model);
  if (!shell)
    {
      json_object_remove_member (start, "shellToolInfo");
      json_object_remove_member (start, "toolTitle");
    }
  queue_event (turn, "tool.execution_start", start, FALSE);
  queue_lifecycle_updated (turn);
  queue_json (turn, "session.background_tasks_changed", "{}", TRUE);
  queue_notify (turn, "host.event", host_event_params (turn->session, "change"));
}

static void
queue_tool_complete (Turn       *turn,
                     JsonObject *result /* transfer full, nullable */,
                     const char *error_message,
                     const char *error_code)
{
  JsonObject *data = json_object_new ();

  json_object_set_string_member (data, "toolCallId", turn->tool_call_id);
  json_object_set_string_member (data, "model", turn->session->model);
  json_object_set_string_member (data, "interactionId", turn->interaction_id);
  json_object_set_string_member (data, "turnId", turn->turn_id);
  json_object_set_boolean_member (data, "success", error_message == NULL);
  if (error_message == NULL)
    json_object_set_object_member (data, "result", result ? result : json_object_new ());
  else
    {
      JsonObject *error = json_object_new ();

      json_object_set_string_member (error, "message", error_message);
      json_object_set_string_member (error, "code", error_code);
      json_object_set_object_member (data, "error", error);
      if (result)
        json_object_unref (result);
    }
  queue_event (turn, "tool.execution_complete", data, FALSE);
  queue_lifecycle_updated (turn);
}

/* Ends the tool round and opens the next model round. */
static void
queue_next_round (Turn *turn)
{
  JsonObject *end = json_object_new ();
  JsonObject *start = json_object_new ();
  int next = atoi (turn->turn_id) + 1;

  json_object_set_string_member (end, "turnId", turn->turn_id);
  queue_event (turn, "assistant.turn_end", end, FALSE);
  queue_lifecycle_updated (turn);
  g_free (turn->turn_id);
  turn->turn_id = g_strdup_printf ("%d", next);
  json_object_set_string_member (start, "turnId", turn->turn_id);
  json_object_set_string_member (start, "interactionId", turn->interaction_id);
  queue_event (turn, "assistant.turn_start", start, FALSE);
  queue_lifecycle_updated (turn);
}

static void
queue_text_result_answer (Turn       *turn,
                          const char *prefix,
                          const char *value)
{
  g_autofree char *text = g_strdup_printf ("%s%s", prefix, value);

  queue_next_round (turn);
  queue_answer (turn, text);
}

/* --- PERMISSION ---------------------------------------------------- */

static void permission_answered (Turn       *turn,
                                 JsonObject *result);

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

static void
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

/* --- turn setup ------------------------------------------------------ */

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
 * for broken framing. */
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

static void
turn_setup (Turn *turn)
{
  const char *p = turn->prompt;

  turn->turn_started = FALSE;
  queue_prelude (turn);

  if (g_str_has_prefix (p, "PERMISSION-WRITE:"))
    {
      g_autofree char *path = g_strstrip (g_strdup (p + strlen ("PERMISSION-WRITE:")));
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
  else if (g_str_has_prefix (p, "PERMISSION-TOOL:"))
    {
      g_autofree char *name = g_strstrip (g_strdup (p + strlen ("PERMISSION-TOOL:")));

      if (*name == '\0')
        set_str (&name, "get_answer");
      set_str (&turn->perm_kind, "custom-tool");
      queue_tool_call (turn, name, json_object_new (), FALSE);
      queue_permission (turn);
    }
  else if (g_str_has_prefix (p, "PERMISSION:") || g_str_has_prefix (p, "PERMISSION-HOOK:"))
    {
      const char *rest = strchr (p, ':') + 1;
      g_autofree char *command = g_strstrip (g_strdup (rest));
      JsonObject *args = json_object_new ();

      if (*command == '\0')
        set_str (&command, "true");
      set_str (&turn->perm_kind, "shell");
      turn->resolved_by_hook = g_str_has_prefix (p, "PERMISSION-HOOK:");
      set_str (&turn->question, command);
      json_object_set_string_member (args, "command", command);
      json_object_set_string_member (args, "description", "Run the command");
      json_object_set_string_member (args, "mode", "sync");
      json_object_set_int_member (args, "initial_wait", 10);
      queue_tool_call (turn, "bash", args, TRUE);
      queue_permission (turn);
    }
  else if (g_str_has_prefix (p, "ASK:"))
    {
      g_auto(GStrv) parts = g_strsplit (p + strlen ("ASK:"), "|", 2);
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
  else if (g_str_has_prefix (p, "TOOL:"))
    {
      g_autofree char *rest = g_strstrip (g_strdup (p + strlen ("TOOL:")));
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
  else if (g_str_has_prefix (p, "SLOW:"))
    {
      g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *arg = g_strstrip (g_strdup (p + strlen ("SLOW:")));
      guint64 n = 5;

      if (!parse_slow_count (arg, &n))
        n = 5;
      for (guint64 i = 1; i <= n; i++)
        g_ptr_array_add (chunks, g_strdup_printf ("tick %" G_GUINT64_FORMAT " ", i));
      queue_answer_chunks (turn, chunks, 100);
    }
  else if (g_str_has_prefix (p, "HOOK:"))
    {
      queue_call (turn, call_hook_requests);
    }
  else if (g_str_has_prefix (p, "ERROR:"))
    {
      g_autofree char *message = g_strstrip (g_strdup (p + strlen ("ERROR:")));
      JsonObject *data = json_object_new ();

      json_object_set_string_member (data, "errorType", "query");
      json_object_set_string_member (data, "message", message);
      json_object_set_string_member (data, "originatingMessageId", turn->message_id);
      queue_event (turn, "session.error", data, FALSE);
      queue_action (turn, ACTION_END);
    }
  else if (g_str_has_prefix (p, "RAW:"))
    {
      queue_call (turn, call_raw_frames);
      queue_action (turn, ACTION_END);
    }
  else if (g_str_has_prefix (p, "CRASH"))
    {
      queue_call (turn, call_crash);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("Echo: %s", p);

      queue_answer (turn, text);
    }
}

static void
turn_start (Session *s,
            Turn    *turn)
{
  g_assert (s->turn == NULL);
  s->turn = turn;
  turn->start_time = g_get_monotonic_time ();
  if (s->summary == NULL)
    s->summary = g_strdup (turn->prompt);
  turn_setup (turn);
  turn_schedule (turn);
}

/* After a turn: run the next queued message (no idle in between, like the
 * real CLI), or go idle. */
static void
turn_start_next_or_idle (Session *s)
{
  Turn *next = g_queue_pop_head (&s->queued);

  if (next != NULL)
    {
      turn_start (s, next);
      return;
    }
  emit_json (s, "assistant.idle", "{}", TRUE);
  emit_json (s, "session.background_tasks_changed", "{}", TRUE);
  notify_host_event (s, "change");
  emit_json (s, "session.idle", "{\"mode\":\"interactive\"}", TRUE);
}

static Turn *
find_turn_by_rpc (gint64  id,
                  guint  *slot)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Session *s = value;

      for (guint i = 0; s->turn && i < 2; i++)
        if (s->turn->rpc_ids[i] == id && id != 0)
          {
            *slot = i;
            return s->turn;
          }
    }
  return NULL;
}

/* Stops the running turn and emits what the real CLI emits on abort
 * (PROTOCOL.md §9); queued messages are dropped. */
static void
session_abort_turn (Session    *s,
                    const char *reason,
                    gboolean    emit)
{
  Turn *turn = s->turn;

  g_queue_clear_full (&s->queued, (GDestroyNotify) turn_free);
  if (turn == NULL)
    return;
  s->turn = NULL;

  if (emit)
    {
      JsonObject *abort_data = json_object_new ();
      JsonObject *interrupted = json_object_new ();

      json_object_set_string_member (abort_data, "reason", reason);
      emit_event (s, "abort", abort_data, FALSE);
      if (turn->wait == WAIT_PERMISSION)
        {
          JsonObject *completed = json_object_new ();

          json_object_set_string_member (completed, "requestId", turn->request_id);
          json_object_set_string_member (completed, "toolCallId", turn->tool_call_id);
          json_object_set_object_member (completed, "result",
                                         parse_object ("{\"kind\":\"cancelled\",\"reason\":\"Session aborted\"}"));
          emit_event (s, "permission.completed", completed, FALSE);
        }
      else if (turn->wait == WAIT_TOOL)
        {
          JsonObject *completed = json_object_new ();

          json_object_set_string_member (completed, "requestId", turn->request_id);
          emit_event (s, "external_tool.completed", completed, FALSE);
        }

      json_object_set_string_member (interrupted, "activity",
                                     turn->wait == WAIT_NONE || turn->wait == WAIT_HOOK ?
                                     "model_call" : "tool_call");
      json_object_set_int_member (interrupted, "turn", atoi (turn->turn_id));
      json_object_set_int_member (interrupted, "elapsedMs",
                                  (g_get_monotonic_time () - turn->start_time) / 1000);
      if (turn->wait == WAIT_NONE)
        json_object_set_string_member (interrupted, "cancelPhase", "mid_stream");
      emit_event (s, "agent.interrupted", interrupted, TRUE);
      if (turn->turn_started)
        {
          JsonObject *end = json_object_new ();

          json_object_set_string_member (end, "turnId", turn->turn_id);
          emit_event (s, "assistant.turn_end", end, FALSE);
        }
      emit_json (s, "assistant.idle", "{\"aborted\":true}", TRUE);
      emit_json (s, "session.idle", "{\"aborted\":true,\"mode\":\"interactive\"}", TRUE);
    }
  turn_free (turn);
}

/* ------------------------------------------------------------------ */
/* method handlers */

typedef void (*MethodHandler) (JsonNode   *id,
                               const char *method,
                               JsonObject *params);

static gboolean
model_known (const char *model)
{
  g_autoptr(JsonObject) models = parse_object (models_json);
  JsonArray *array = json_object_get_array_member (models, "models");

  for (guint i = 0; i < json_array_get_length (array); i++)
    if (g_strcmp0 (obj_str (json_array_get_object_element (array, i), "id"), model) == 0)
      return TRUE;
  return FALSE;
}

static int
protocol_version (void)
{
  return atoi (cli.protocol_version);
}

static void
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
  if (g_strcmp0 (cli.protocol_version, "none") != 0)
    json_object_set_int_member (result, "protocolVersion", protocol_version ());
  json_object_set_string_member (result, "version", FAKE_VERSION);
  json_object_set_array_member (result, "taskKinds", json_array_new ());
  json_array_add_string_element (json_object_get_array_member (result, "taskKinds"), "agent");
  json_array_add_string_element (json_object_get_array_member (result, "taskKinds"), "shell");
  reply_object (id, result);
}

static void
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
  if (g_strcmp0 (cli.protocol_version, "none") != 0)
    json_object_set_int_member (result, "protocolVersion", protocol_version ());
  reply_object (id, result);
}

static void
handle_status_get (JsonNode   *id,
                   const char *method,
                   JsonObject *params)
{
  JsonObject *result = json_object_new ();

  json_object_set_string_member (result, "version", FAKE_VERSION);
  json_object_set_int_member (result, "protocolVersion", protocol_version ());
  reply_object (id, result);
}

static void
handle_auth_get_status (JsonNode   *id,
                        const char *method,
                        JsonObject *params)
{
  reply_object (id, parse_object ("{\"isAuthenticated\":true,\"authType\":\"token\","
                                  "\"host\":\"https://github.com\",\"login\":\"fake-user\","
                                  "\"statusMessage\":\"https://github.com (via token)\"}"));
}

static void
handle_models_list (JsonNode   *id,
                    const char *method,
                    JsonObject *params)
{
  reply_object (id, parse_object (models_json));
}

static gboolean
shutdown_cb (gpointer user_data)
{
  g_main_loop_quit (cli.loop);
  return G_SOURCE_REMOVE;
}

static void
handle_runtime_shutdown (JsonNode   *id,
                         const char *method,
                         JsonObject *params)
{
  reply_result (id, NULL);
  g_timeout_add (100, shutdown_cb, NULL);
}

static JsonObject *
session_result (Session *s)
{
  JsonObject *result = json_object_new ();
  JsonObject *model_state = json_object_new ();
  g_autofree char *workspace = g_build_filename (copilot_home (), "session-state", s->id, NULL);
  JsonObject *capabilities = parse_object ("{\"ui\":{\"elicitation\":false,\"mcpApps\":false,"
                                           "\"canvases\":false},\"extensions\":false}");

  json_object_set_boolean_member (obj_obj (capabilities, "ui"), "elicitation",
                                  obj_bool (s->params, "requestElicitation", FALSE));
  json_object_set_string_member (result, "sessionId", s->id);
  json_object_set_string_member (result, "nativeSessionId", s->id);
  json_object_set_string_member (result, "startTime", s->start_time);
  json_object_set_boolean_member (result, "isRemote", FALSE);
  json_object_set_string_member (result, "mode", "interactive");
  json_object_set_string_member (result, "workspacePath", workspace);
  json_object_set_object_member (result, "capabilities", capabilities);
  if (s->model_explicit)
    {
      json_object_set_string_member (model_state, "modelId", s->model);
      if (s->reasoning_effort)
        json_object_set_string_member (model_state, "reasoningEffort", s->reasoning_effort);
    }
  json_object_set_object_member (result, "modelState", model_state);
  return result;
}

/* Connection-level settings are not persisted: every create/resume brings
 * them again. */
static void
session_apply_params (Session    *s,
                      JsonObject *params)
{
  g_clear_pointer (&s->params, json_object_unref);
  s->params = copy_object (params);
  s->streaming = obj_bool (params, "streaming", FALSE);
  if (obj_str (params, "workingDirectory"))
    set_str (&s->cwd, obj_str (params, "workingDirectory"));
  if (obj_str (params, "model"))
    {
      set_str (&s->model, obj_str (params, "model"));
      s->model_explicit = TRUE;
    }
  if (obj_str (params, "reasoningEffort"))
    set_str (&s->reasoning_effort, obj_str (params, "reasoningEffort"));
  if (obj_str (params, "clientName"))
    set_str (&s->client_name, obj_str (params, "clientName"));
}

static void
handle_session_create (JsonNode   *id,
                       const char *method,
                       JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  const char *model = obj_str (params, "model");
  Session *s;

  if (sid == NULL || !g_uuid_string_is_valid (sid))
    {
      g_autofree char *text = g_strdup_printf ("Rejected session.create request with invalid sessionId: %s",
                                               sid ? sid : "");
      reply_failed (id, method, text);
      return;
    }
  if (model != NULL && !model_known (model))
    {
      g_autofree char *text = g_strdup_printf ("Model \"%s\" is not available.", model);
      reply_failed (id, method, text);
      return;
    }

  s = g_hash_table_lookup (cli.sessions, sid);
  if (s != NULL && s->loaded)
    {
      /* Creating a live id again joins it. */
      reply_object (id, session_result (s));
      return;
    }
  if (s == NULL)
    {
      s = session_new (sid);
      g_hash_table_replace (cli.sessions, s->id, s);
    }
  s->loaded = TRUE;
  session_apply_params (s, params);

  notify_lifecycle (s, "session.created");
  reply_object (id, session_result (s));

  {
    JsonObject *start = template_data (&cli.simple, "session.start", 0);
    JsonObject *context = json_object_new ();

    json_object_set_string_member (start, "sessionId", s->id);
    json_object_set_string_member (start, "startTime", s->start_time);
    json_object_set_string_member (start, "selectedModel", s->model);
    json_object_set_string_member (context, "cwd", s->cwd);
    json_object_set_object_member (start, "context", context);
    emit_event (s, "session.start", start, FALSE);
  }
  notify_lifecycle (s, "session.updated");
  emit_event (s, "session.managed_settings_resolved",
              template_data (&cli.simple, "session.managed_settings_resolved", 0), TRUE);
  notify_lifecycle (s, "session.created");
  schedule_save ();
}

static void
handle_session_resume (JsonNode   *id,
                       const char *method,
                       JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s = sid ? g_hash_table_lookup (cli.sessions, sid) : NULL;
  gboolean was_loaded;

  if (sid == NULL)
    {
      reply_failed (id, method, "Missing sessionId in session.resume request");
      return;
    }
  if (s == NULL)
    {
      g_autofree char *text = g_strdup_printf ("Failed to load session events: Session not found: %s", sid);
      reply_failed (id, method, text);
      return;
    }

  was_loaded = s->loaded;
  s->loaded = TRUE;
  session_apply_params (s, params);
  reply_object (id, session_result (s));

  if (!was_loaded && !obj_bool (params, "disableResume", FALSE))
    {
      JsonObject *data = json_object_new ();
      JsonObject *context = json_object_new ();
      g_autofree char *now = now_iso ();
      guint count = json_array_get_length (s->history);

      json_object_set_string_member (data, "resumeTime", now);
      json_object_set_string_member (context, "cwd", s->cwd);
      json_object_set_object_member (data, "context", context);
      json_object_set_int_member (data, "eventsFileSizeBytes", count * 512);
      json_object_set_int_member (data, "eventCount", count);
      json_object_set_string_member (data, "selectedModel", s->model);
      json_object_set_boolean_member (data, "alreadyInUse", FALSE);
      json_object_set_boolean_member (data, "sessionWasActive", FALSE);
      json_object_set_boolean_member (data, "remoteSteerable", FALSE);
      json_object_set_null_member (data, "contextTier");
      json_object_set_null_member (data, "sessionLimits");
      emit_event (s, "session.resume", data, FALSE);
      notify_lifecycle (s, "session.updated");
      if (s->summary)
        {
          JsonObject *title = json_object_new ();

          json_object_set_string_member (title, "title", s->summary);
          emit_event (s, "session.title_changed", title, TRUE);
        }
    }
  schedule_save ();
}

/* Looks up a loaded session for a session-scoped method, replying with the
 * real CLI's errors when there is none. */
static Session *
lookup_loaded (JsonNode   *id,
               const char *method,
               JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s;

  if (sid == NULL)
    {
      g_autofree char *text = g_strdup_printf ("Missing sessionId in %s request", method);
      reply_failed (id, method, text);
      return NULL;
    }
  s = g_hash_table_lookup (cli.sessions, sid);
  if (s == NULL || !s->loaded)
    {
      g_autofree char *text = g_strdup_printf ("Session not found for sessionId: %s", sid);
      reply_failed (id, method, text);
      return NULL;
    }
  return s;
}

static void
handle_session_send (JsonNode   *id,
                     const char *method,
                     JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  JsonObject *result;
  Turn *turn;

  if (s == NULL)
    return;

  turn = g_new0 (Turn, 1);
  g_queue_init (&turn->actions);
  turn->session = s;
  turn->prompt = g_strdup (obj_str (params, "prompt") ? obj_str (params, "prompt") : "");
  turn->message_id = g_uuid_string_random ();
  turn->interaction_id = g_uuid_string_random ();
  turn->turn_id = g_strdup ("0");
  turn->delivery = g_strdup (s->turn ? "queued" : "idle");

  emit_json (s, "pending_messages.modified", "{}", TRUE);
  result = json_object_new ();
  json_object_set_string_member (result, "messageId", turn->message_id);
  reply_object (id, result);

  if (s->turn != NULL)
    g_queue_push_tail (&s->queued, turn);
  else
    turn_start (s, turn);
}

static void
handle_session_abort (JsonNode   *id,
                      const char *method,
                      JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  const char *reason;

  if (s == NULL)
    return;
  reason = obj_str (params, "reason") ? obj_str (params, "reason") : "user_initiated";
  reply_success (id, TRUE);
  session_abort_turn (s, reason, TRUE);
}

static void
session_shutdown (Session *s,
                  gboolean emit)
{
  JsonObject *data = template_data (&cli.simple, "session.shutdown", 0);

  session_abort_turn (s, "user_initiated", FALSE);
  json_object_set_string_member (data, "currentModel", s->model);
  json_object_set_string_member (data, "shutdownType", "routine");
  if (emit)
    emit_event (s, "session.shutdown", data, FALSE);
  else
    {
      /* Persist only: stdout may be gone already. */
      JsonObject *event = json_object_new ();
      g_autofree char *eid = g_uuid_string_random ();
      g_autofree char *ts = now_iso ();

      json_object_set_string_member (event, "type", "session.shutdown");
      json_object_set_object_member (event, "data", data);
      json_object_set_string_member (event, "id", eid);
      json_object_set_string_member (event, "timestamp", ts);
      if (s->last_event_id)
        json_object_set_string_member (event, "parentId", s->last_event_id);
      else
        json_object_set_null_member (event, "parentId");
      json_array_add_object_element (s->history, event);
      set_str (&s->last_event_id, eid);
      set_str (&s->modified_time, ts);
    }
  s->loaded = FALSE;
  g_clear_pointer (&s->params, json_object_unref);
}

static void
handle_session_destroy (JsonNode   *id,
                        const char *method,
                        JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s = sid ? g_hash_table_lookup (cli.sessions, sid) : NULL;

  if (s == NULL || !s->loaded)
    {
      reply_success (id, FALSE);
      return;
    }
  session_shutdown (s, TRUE);
  notify_lifecycle (s, "session.updated");
  notify_host_event (s, "disposed");
  reply_success (id, TRUE);
  schedule_save ();
}

static void
handle_session_delete (JsonNode   *id,
                       const char *method,
                       JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s = sid ? g_hash_table_lookup (cli.sessions, sid) : NULL;
  JsonObject *result;
  g_autofree char *text = NULL;

  if (s == NULL)
    {
      result = json_object_new ();
      text = g_strdup_printf ("Session file not found for %s", sid ? sid : "");
      json_object_set_boolean_member (result, "success", FALSE);
      json_object_set_string_member (result, "error", text);
      reply_object (id, result);
      return;
    }
  session_abort_turn (s, "user_initiated", FALSE);
  notify_lifecycle (s, "session.deleted");
  g_hash_table_remove (cli.sessions, sid);
  reply_success (id, TRUE);
  schedule_save ();
}

static void
handle_session_get_messages (JsonNode   *id,
                             const char *method,
                             JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s = sid ? g_hash_table_lookup (cli.sessions, sid) : NULL;
  JsonObject *result;

  if (s == NULL || !s->loaded)
    {
      g_autofree char *text = g_strdup_printf ("Session not found: %s", sid ? sid : "");
      reply_failed (id, method, text);
      return;
    }
  result = json_object_new ();
  {
    g_autoptr(JsonNode) node = json_node_init_array (json_node_alloc (), s->history);
    JsonNode *copy = json_node_copy (node);

    json_object_set_member (result, "events", copy);
  }
  reply_object (id, result);
}

static JsonObject *
session_entry (Session *s)
{
  JsonObject *entry = json_object_new ();
  JsonObject *context = json_object_new ();

  json_object_set_string_member (entry, "sessionId", s->id);
  json_object_set_string_member (entry, "startTime", s->start_time);
  json_object_set_string_member (entry, "modifiedTime", s->modified_time);
  json_object_set_boolean_member (entry, "isRemote", FALSE);
  json_object_set_boolean_member (entry, "isDetached", FALSE);
  if (s->summary)
    json_object_set_string_member (entry, "summary", s->summary);
  json_object_set_string_member (entry, "clientName", s->client_name);
  json_object_set_string_member (context, "cwd", s->cwd);
  json_object_set_object_member (entry, "context", context);
  return entry;
}

static gint
compare_modified_desc (gconstpointer a,
                       gconstpointer b)
{
  const Session *sa = *(Session * const *) a;
  const Session *sb = *(Session * const *) b;

  return -g_strcmp0 (sa->modified_time, sb->modified_time);
}

static GPtrArray *
sessions_by_modified (void)
{
  GPtrArray *array = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (array, value);
  g_ptr_array_sort (array, compare_modified_desc);
  return array;
}

static void
handle_session_list (JsonNode   *id,
                     const char *method,
                     JsonObject *params)
{
  g_autoptr(GPtrArray) sessions = sessions_by_modified ();
  JsonObject *filter = obj_obj (params, "filter");
  JsonObject *result = json_object_new ();
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < sessions->len; i++)
    {
      Session *s = g_ptr_array_index (sessions, i);

      /* Exact-match filter; the fake knows no git data, so any of those
       * keys matches nothing. */
      if (filter != NULL &&
          ((obj_str (filter, "cwd") && g_strcmp0 (obj_str (filter, "cwd"), s->cwd) != 0) ||
           obj_str (filter, "gitRoot") || obj_str (filter, "repository") ||
           obj_str (filter, "branch")))
        continue;
      json_array_add_object_element (array, session_entry (s));
    }
  json_object_set_array_member (result, "sessions", array);
  reply_object (id, result);
}

static void
handle_session_get_metadata (JsonNode   *id,
                             const char *method,
                             JsonObject *params)
{
  const char *sid = obj_str (params, "sessionId");
  Session *s = sid ? g_hash_table_lookup (cli.sessions, sid) : NULL;
  JsonObject *result = json_object_new ();

  if (s != NULL)
    json_object_set_object_member (result, "session", session_entry (s));
  reply_object (id, result);
}

static void
handle_session_get_last_id (JsonNode   *id,
                            const char *method,
                            JsonObject *params)
{
  g_autoptr(GPtrArray) sessions = sessions_by_modified ();
  JsonObject *result = json_object_new ();

  if (sessions->len > 0)
    json_object_set_string_member (result, "sessionId",
                                   ((Session *) g_ptr_array_index (sessions, 0))->id);
  reply_object (id, result);
}

static void
handle_session_get_foreground (JsonNode   *id,
                               const char *method,
                               JsonObject *params)
{
  reply_object (id, json_object_new ());
}

static void
handle_session_set_foreground (JsonNode   *id,
                               const char *method,
                               JsonObject *params)
{
  reply_object (id, parse_object ("{\"success\":false,\"error\":\"Not running in TUI+server mode - "
                                  "no foreground session change handler registered\"}"));
}

static void
handle_model_switch_to (JsonNode   *id,
                        const char *method,
                        JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  const char *model;
  g_autofree char *previous = NULL;
  g_autofree char *message = NULL;
  JsonObject *result;
  JsonObject *change;
  JsonObject *model_state;

  if (s == NULL)
    return;
  model = obj_str (params, "modelId");
  if (model == NULL || (obj_bool (params, "requireAvailable", FALSE) && !model_known (model)))
    {
      g_autofree char *text = g_strdup_printf ("Model \"%s\" is not available.", model ? model : "");
      reply_failed (id, method, text);
      return;
    }
  previous = g_strdup (s->model);
  set_str (&s->model, model);
  s->model_explicit = TRUE;
  if (obj_str (params, "reasoningEffort"))
    set_str (&s->reasoning_effort, obj_str (params, "reasoningEffort"));

  change = json_object_new ();
  json_object_set_string_member (change, "source", "sdk");
  json_object_set_string_member (change, "previousModel", previous);
  json_object_set_string_member (change, "newModel", model);
  if (s->reasoning_effort)
    json_object_set_string_member (change, "reasoningEffort", s->reasoning_effort);
  json_object_set_null_member (change, "contextTier");

  result = json_object_new ();
  model_state = json_object_new ();
  message = g_strdup_printf ("Model changed to %s", model);
  json_object_set_string_member (result, "status", "applied");
  json_object_set_boolean_member (result, "deferred", FALSE);
  json_object_set_string_member (result, "modelId", model);
  json_object_set_string_member (result, "message", message);
  json_object_set_array_member (result, "deprecationWarnings", json_array_new ());
  json_object_set_string_member (model_state, "modelId", model);
  if (s->reasoning_effort)
    json_object_set_string_member (model_state, "reasoningEffort", s->reasoning_effort);
  json_object_set_object_member (result, "modelState", model_state);

  emit_event (s, "session.model_change", change, FALSE);
  notify_lifecycle (s, "session.updated");
  reply_object (id, result);
}

static void
handle_model_get_current (JsonNode   *id,
                          const char *method,
                          JsonObject *params)
{
  Session *s = lookup_loaded (id, method, params);
  JsonObject *result;

  if (s == NULL)
    return;
  result = json_object_new ();
  json_object_set_string_member (result, "modelId", s->model);
  if (s->reasoning_effort)
    json_object_set_string_member (result, "reasoningEffort", s->reasoning_effort);
  reply_object (id, result);
}

static void
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

static void
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

static void
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

static const struct {
  const char *method;
  MethodHandler handler;
} handlers[] = {
  { "connect", handle_connect },
  { "ping", handle_ping },
  { "status.get", handle_status_get },
  { "auth.getStatus", handle_auth_get_status },
  { "models.list", handle_models_list },
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

/* ------------------------------------------------------------------ */
/* input */

/* A reply from the client to one of our requests. */
static void
handle_response (JsonObject *msg)
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

static gboolean
method_hangs (const char *method)
{
  for (guint i = 0; cli.hang && cli.hang[i]; i++)
    if (g_strcmp0 (g_strstrip (cli.hang[i]), method) == 0)
      return TRUE;
  return FALSE;
}

static void
record_frame (const char *text)
{
  if (cli.record == NULL)
    return;
  fputs (text, cli.record);
  fputc ('\n', cli.record);
  fflush (cli.record);
}

static void
handle_body (const char *body,
             gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *msg;
  const char *method;
  JsonNode *id;
  JsonObject *params;

  if (!json_parser_load_from_data (parser, body, len, &error))
    {
      g_autofree char *raw = g_strndup (body, len);

      record_frame (raw);
      reply_error (NULL, RPC_PARSE_ERROR, error->message);
      return;
    }

  {
    g_autofree char *compact = json_to_string (json_parser_get_root (parser), FALSE);
    record_frame (compact);
  }

  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      reply_error (NULL, RPC_INVALID_REQUEST,
                   "not a recognizable JSON-RPC request, notification, or response");
      return;
    }
  msg = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (msg, "jsonrpc"))
    {
      reply_error (NULL, RPC_INVALID_REQUEST, "missing field `jsonrpc`");
      return;
    }

  method = obj_str (msg, "method");
  id = json_object_get_member (msg, "id");
  if (method == NULL)
    {
      if (id != NULL)
        handle_response (msg);
      return;
    }
  if (id == NULL || JSON_NODE_HOLDS_NULL (id))
    return;   /* unknown notifications are ignored */

  if (method_hangs (method))
    {
      g_printerr ("fake-cli: not answering %s (FAKE_CLI_HANG)\n", method);
      return;
    }

  params = obj_obj (msg, "params");
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    if (strcmp (handlers[i].method, method) == 0)
      {
        g_autoptr(JsonObject) empty = json_object_new ();

        handlers[i].handler (id, method, params ? params : empty);
        return;
      }

  {
    g_autofree char *text = g_strdup_printf ("Unhandled method %s", method);
    reply_error (id, RPC_METHOD_NOT_FOUND, text);
  }
}

/* Framing like the real CLI: headers end with CRLF CRLF, Content-Length is
 * case-insensitive, other headers are ignored; anything else kills the
 * stream with one -32700. */
static void
input_desync (void)
{
  g_printerr ("fake-cli: broken framing on stdin, going deaf\n");
  reply_error (NULL, RPC_PARSE_ERROR, "Parse error");
  cli.desync_in = TRUE;
  cli.dead = TRUE;
  g_byte_array_set_size (cli.inbuf, 0);
}

static void
process_input (void)
{
  while (!cli.desync_in && cli.inbuf->len > 0)
    {
      const char *data = (const char *) cli.inbuf->data;
      gsize avail = cli.inbuf->len;
      const char *end = g_strstr_len (data, avail, "\r\n\r\n");
      const char *lf = g_strstr_len (data, avail, "\n\n");
      g_autofree char *headers = NULL;
      g_auto(GStrv) lines = NULL;
      gint64 length = -1;
      gsize header_len;

      if (data[0] == '{' || data[0] == '[' || (lf != NULL && (end == NULL || lf < end + 1)))
        {
          input_desync ();
          return;
        }
      if (end == NULL)
        return;

      header_len = end - data + 4;
      headers = g_strndup (data, end - data);
      lines = g_strsplit (headers, "\r\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          char *colon = strchr (lines[i], ':');

          if (colon == NULL)
            continue;
          *colon = '\0';
          if (g_ascii_strcasecmp (g_strstrip (lines[i]), "content-length") == 0)
            {
              guint64 value;

              if (!g_ascii_string_to_unsigned (g_strstrip (colon + 1), 10, 0, G_MAXINT32,
                                               &value, NULL))
                {
                  input_desync ();
                  return;
                }
              length = value;
            }
        }
      if (length < 0)
        {
          input_desync ();
          return;
        }
      if (avail < header_len + length)
        return;

      {
        g_autofree char *body = g_strndup (data + header_len, length);

        g_byte_array_remove_range (cli.inbuf, 0, header_len + length);
        handle_body (body, length);
      }
    }
}

static gboolean
stdin_readable_cb (GObject  *stream,
                   gpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  guint8 buf[65536];
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                buf, sizeof buf, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      if (n < 0)
        g_printerr ("fake-cli: stdin: %s\n", error->message);
      g_main_loop_quit (cli.loop);
      return G_SOURCE_REMOVE;
    }
  if (!cli.desync_in)
    {
      g_byte_array_append (cli.inbuf, buf, n);
      process_input ();
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
signal_cb (gpointer user_data)
{
  g_main_loop_quit (cli.loop);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  const char *value;
  guint sigterm_id, sigint_id;
  GHashTableIter iter;
  gpointer session;

  /* Arguments are those of the real CLI (--headless --stdio …); none of
   * them changes what the fake does, so all are ignored. */
  signal (SIGPIPE, SIG_IGN);
  g_printerr ("fake-cli: started pid %d\n", (int) getpid ());

  if (g_strcmp0 (g_getenv ("FAKE_CLI_EXIT_AT_START"), "1") == 0)
    {
      g_printerr ("fake-cli: exiting at start (FAKE_CLI_EXIT_AT_START)\n");
      _exit (1);
    }

  cli.protocol_version = g_strdup (g_getenv ("FAKE_CLI_PROTOCOL_VERSION") ?
                                   g_getenv ("FAKE_CLI_PROTOCOL_VERSION") : "3");
  cli.no_connect = g_strcmp0 (g_getenv ("FAKE_CLI_NO_CONNECT"), "1") == 0;
  cli.garbage_after = -1;
  value = g_getenv ("FAKE_CLI_GARBAGE_AFTER");
  if (value != NULL)
    {
      guint64 n;

      if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT32, &n, NULL))
        cli.garbage_after = n;
    }
  value = g_getenv ("FAKE_CLI_HANG");
  cli.hang = value ? g_strsplit (value, ",", -1) : NULL;
  value = g_getenv ("FAKE_CLI_RECORD");
  if (value != NULL && *value != '\0')
    {
      cli.record = fopen (value, "a");
      if (cli.record == NULL)
        g_printerr ("fake-cli: cannot open %s: %s\n", value, g_strerror (errno));
    }
  value = g_getenv ("COPILOT_HOME");
  if (value != NULL && *value != '\0')
    {
      cli.copilot_home = g_strdup (value);
      cli.state_path = g_build_filename (value, "fake-cli-state.json", NULL);
    }
  cli.next_rpc_id = 1;

  if (!load_transcripts (&error))
    {
      g_printerr ("fake-cli: cannot load transcripts: %s\n", error->message);
      return 2;
    }

  cli.sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) session_free);
  load_state ();

  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.inbuf = g_byte_array_new ();
  cli.in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  cli.out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  cli.in_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (cli.in), NULL);
  g_source_set_callback (cli.in_source, (GSourceFunc) G_CALLBACK (stdin_readable_cb), NULL, NULL);
  g_source_attach (cli.in_source, NULL);
  sigterm_id = g_unix_signal_add (SIGTERM, signal_cb, NULL);
  sigint_id = g_unix_signal_add (SIGINT, signal_cb, NULL);

  /* FAKE_CLI_GARBAGE_AFTER=0: the very first frame is the bad one. */
  maybe_write_garbage ();
  g_main_loop_run (cli.loop);

  /* Like the real CLI on EOF, SIGTERM or runtime.shutdown: live sessions
   * get a persisted session.shutdown and stay on disk. */
  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &session))
    if (((Session *) session)->loaded)
      session_shutdown (session, FALSE);
  save_state_now ();

  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);
  g_source_destroy (cli.in_source);
  g_source_unref (cli.in_source);
  g_clear_handle_id (&cli.save_id, g_source_remove);
  g_hash_table_destroy (cli.sessions);
  g_object_unref (cli.in);
  g_object_unref (cli.out);
  g_byte_array_unref (cli.inbuf);
  g_main_loop_unref (cli.loop);
  json_array_unref (cli.simple.frames);
  json_array_unref (cli.perm.frames);
  g_free (cli.simple.session_id);
  g_free (cli.perm.session_id);
  g_free (cli.protocol_version);
  g_free (cli.copilot_home);
  g_free (cli.state_path);
  g_strfreev (cli.hang);
  if (cli.record)
    fclose (cli.record);
  return 0;
}
