/* SPDX-License-Identifier: MIT */
/* turns.c: a turn is a queue of actions pumped from the main loop
 *
 * Actions are events, notifications, delays and calls (a TurnCall may
 * park the turn until the client answers). The queue_* helpers build the
 * shapes every directive shares: the recorded prelude, a streamed answer,
 * a tool round. Also here: starting, queueing and aborting turns.
 */
#include "fake-cli.h"

static void
action_free (Action *a)
{
  g_free (a->name);
  g_clear_pointer (&a->object, json_object_unref);
  g_free (a);
}

void
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

Action *
queue_action (Turn       *turn,
              ActionKind  kind)
{
  Action *a = g_new0 (Action, 1);

  a->kind = kind;
  g_queue_push_tail (&turn->actions, a);
  return a;
}

void
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

void
queue_lifecycle_updated (Turn *turn)
{
  queue_notify (turn, "session.lifecycle", parse_object ("{\"type\":\"session.updated\"}"));
}

void
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

void
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

void
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
void
turn_resume (Turn *turn)
{
  turn->waiting = FALSE;
  turn->wait = WAIT_NONE;
  turn_schedule (turn);
}

void
queue_prelude (Turn *turn)
{
  queue_template_range (turn, &cli.simple, cli.prelude_start, cli.prelude_end);
}

/* Streams @chunks as the assistant's answer (deltas only when the session
 * streams), then the recorded tail of the model round, then ends the turn. */
void
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
void
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
void
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

void
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

void
queue_text_result_answer (Turn       *turn,
                          const char *prefix,
                          const char *value)
{
  g_autofree char *text = g_strdup_printf ("%s%s", prefix, value);

  queue_next_round (turn);
  queue_answer (turn, text);
}

void
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

Turn *
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
void
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
