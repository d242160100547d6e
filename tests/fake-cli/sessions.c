/* SPDX-License-Identifier: MIT */
/* sessions.c: the session.* methods
 *
 * create, resume, send, abort, destroy, delete, getMessages, list,
 * getMetadata, getLastId, get/setForeground, model.switchTo/getCurrent.
 * A send starts a turn (turns.c) shaped by its prompt (prompts.c).
 */
#include "fake-cli.h"

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

void
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

void
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
Session *
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

void
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

void
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

void
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

void
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

void
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

void
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

void
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

void
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

void
handle_session_get_foreground (JsonNode   *id,
                               const char *method,
                               JsonObject *params)
{
  reply_object (id, json_object_new ());
}

void
handle_session_set_foreground (JsonNode   *id,
                               const char *method,
                               JsonObject *params)
{
  reply_object (id, parse_object ("{\"success\":false,\"error\":\"Not running in TUI+server mode - "
                                  "no foreground session change handler registered\"}"));
}

void
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

void
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

/* Like the real CLI on EOF, SIGTERM or runtime.shutdown: live sessions
 * get a persisted session.shutdown and stay on disk. */
void
sessions_shutdown_all (void)
{
  GHashTableIter iter;
  gpointer session;

  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &session))
    if (((Session *) session)->loaded)
      session_shutdown (session, FALSE);
}
