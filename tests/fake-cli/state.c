/* SPDX-License-Identifier: MIT */
/* state.c: the fake's sessions, live and on "disk"
 *
 * Like the real CLI, sessions survive a restart: they persist in
 * $COPILOT_HOME/fake-cli-state.json (saved from an idle source after each
 * change). Events of a session go out from here (emit_event) and persisted
 * ones are recorded in its history.
 */
#include "fake-cli.h"

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

static gboolean
has_user_message (Session *s)
{
  for (guint i = 0; i < json_array_get_length (s->history); i++)
    {
      JsonObject *event = json_array_get_object_element (s->history, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (event, "type", NULL), "user.message") == 0)
        return TRUE;
    }
  return FALSE;
}

void
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

  /* Like the real CLI, a session reaches the disk with its first
   * message: one without any is gone after a crash. */
  g_hash_table_iter_init (&iter, cli.sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (has_user_message (value))
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

void
schedule_save (void)
{
  if (cli.state_path != NULL && cli.save_id == 0)
    cli.save_id = g_idle_add (save_idle_cb, NULL);
}

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

Session *
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

/* Creates the session table and fills it from $COPILOT_HOME. */
void
state_load (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const char *home = g_getenv ("COPILOT_HOME");
  JsonObject *root;
  JsonArray *array;

  if (home != NULL && *home != '\0')
    {
      cli.copilot_home = g_strdup (home);
      cli.state_path = g_build_filename (home, "fake-cli-state.json", NULL);
    }
  cli.sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) session_free);

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

/* Saves what is pending and forgets every session. */
void
state_clear (void)
{
  save_state_now ();
  g_clear_handle_id (&cli.save_id, g_source_remove);
  g_clear_pointer (&cli.sessions, g_hash_table_destroy);
  g_clear_pointer (&cli.copilot_home, g_free);
  g_clear_pointer (&cli.state_path, g_free);
}

/* ------------------------------------------------------------------ */
/* events */

void
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

JsonObject *
host_event_params (Session    *s,
                   const char *kind)
{
  g_autofree char *json = g_strdup_printf (
    "{\"scope\":{\"type\":\"session\",\"sessionId\":\"%s\"},\"kind\":\"task_transition\","
    "\"payload\":{\"subscriptionId\":\"00000000-0000-4000-8000-000000000000\",\"kind\":\"%s\","
    "\"taskJson\":null,\"reactionJson\":null}}", s->id, kind);

  return parse_object (json);
}

void
notify_host_event (Session    *s,
                   const char *kind)
{
  notify ("host.event", host_event_params (s, kind));
}

/* Builds the envelope, records persisted events in the history and sends
 * the session.event notification. */
void
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

void
emit_json (Session    *s,
           const char *type,
           const char *json,
           gboolean    ephemeral)
{
  emit_event (s, type, parse_object (json), ephemeral);
}
