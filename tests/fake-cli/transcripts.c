/* SPDX-License-Identifier: MIT */
/* transcripts.c: the real CLI's recorded transcripts (tests/data/)
 *
 * Turns replay recorded events adapted to the session (turns.c), so the
 * daemon sees the same noise as in production. `simple` gives the prelude
 * and tail of every turn, `perm` the shape of a permission prompt.
 */
#include "fake-cli.h"

JsonObject *
frame_msg (Transcript *tr,
           guint       i)
{
  JsonObject *frame = json_array_get_object_element (tr->frames, i);

  return obj_obj (frame, "msg");
}

gboolean
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
JsonObject *
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

gboolean
transcripts_load (GError **error)
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

void
transcripts_clear (void)
{
  g_clear_pointer (&cli.simple.frames, json_array_unref);
  g_clear_pointer (&cli.perm.frames, json_array_unref);
  g_clear_pointer (&cli.simple.session_id, g_free);
  g_clear_pointer (&cli.perm.session_id, g_free);
}
