/* SPDX-License-Identifier: MIT */
/* session-resume.c: ResumeSession of a live session (contract §8)
 *
 * What a second SDK client's resume does: the caller's options are sent
 * with session.resume and kept for a CLI restart, its tools join the
 * session's (served by its connection), and it is subscribed.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"
#include "copilotd-error.h"
#include "options.h"
#include "session-control.h"
#include "session-private.h"

typedef struct {
  char *sender;                        /* owned, nullable */
} LiveResume;

static void
live_resume_free (LiveResume *resume)
{
  g_free (resume->sender);
  g_free (resume);
}

/* The session's tools with @added joined (a tool of the same name is
 * replaced: the later resume serves it). Takes @added. */
static GPtrArray *
join_tools (GPtrArray *tools,
            GPtrArray *added)
{
  GPtrArray *joined = g_ptr_array_new_with_free_func ((GDestroyNotify) copilotd_tool_free);

  if (added != NULL)
    while (added->len > 0)
      g_ptr_array_add (joined, g_ptr_array_steal_index (added, 0));
  if (tools != NULL)
    for (guint i = 0; i < tools->len; )
      {
        CopilotdTool *tool = g_ptr_array_index (tools, i);

        if (copilotd_tools_find (joined, copilotd_tool_get_name (tool)) == NULL)
          g_ptr_array_add (joined, g_ptr_array_steal_index (tools, i));
        else
          i++;
      }
  if (added != NULL)
    g_ptr_array_unref (added);
  return joined;
}

static void
subscribe_peer (CopilotdSession *self,
                const char      *sender)
{
  if (sender == NULL)
    return;
  if (!copilotd_event_relay_is_subscribed (self->relay, sender))
    copilotd_event_relay_subscribe (self->relay, sender, NULL);
  copilotd_callers_watch (self->ctx.callers, sender);
  if (self->owner == NULL)
    {
      g_debug ("Session '%s' adopted by '%s'", self->id, sender);
      self->owner = g_strdup (sender);
    }
}

static void
on_live_resume_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotdSession *self = COPILOTD_SESSION (source);
  LiveResume *resume = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  node = copilotd_session_call_finish (self, result, &error);
  if (node == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  subscribe_peer (self, resume->sender);
  g_task_return_boolean (task, TRUE);
}

void
copilotd_session_resume_live_async (CopilotdSession     *self,
                                    const char          *sender,
                                    JsonObject          *params,
                                    GPtrArray           *tools,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  g_autoptr(JsonObject) owned_params = params;
  g_autoptr(JsonNode) merged = NULL;
  JsonObject *object;
  GPtrArray *joined;
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;
  LiveResume *resume;
  guint n_tools;
  gboolean keep_name;

  g_task_set_source_tag (task, copilotd_session_resume_live_async);
  if (self->closed)
    {
      if (tools != NULL)
        g_ptr_array_unref (tools);
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "Session %s is closed", self->id);
      return;
    }
  if (sender != NULL && !copilotd_event_relay_is_subscribed (self->relay, sender) &&
      copilotd_event_relay_get_n_subscribers (self->relay) >= self->ctx.config->max_subscribers)
    {
      if (tools != NULL)
        g_ptr_array_unref (tools);
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                               "Session %s already has %u subscribers", self->id, self->ctx.config->max_subscribers);
      return;
    }
  n_tools = (self->tools ? self->tools->len : 0) + (tools ? tools->len : 0);
  if (n_tools > self->ctx.config->max_tools)
    {
      if (tools != NULL)
        g_ptr_array_unref (tools);
      g_task_return_new_error (task, COPILOTD_ERROR, COPILOTD_ERROR_LIMITS_EXCEEDED,
                               "Session %s would have %u tools; the limit is %u",
                               self->id, n_tools, self->ctx.config->max_tools);
      return;
    }

  /* The caller's options take effect, and are kept for a CLI restart;
   * but while the session has another owner, that owner's clientName
   * stays: it is the app every prompt names (DESIGN.md §9). */
  keep_name = self->owner != NULL && g_strcmp0 (self->owner, sender) != 0;
  merged = copilotd_session_dup_params (self);
  object = json_node_get_object (merged);
  json_object_iter_init (&iter, owned_params);
  while (json_object_iter_next (&iter, &member, &value))
    if (strcmp (member, "tools") != 0 &&
        !(keep_name && strcmp (member, "clientName") == 0 && json_object_has_member (object, member)))
      json_object_set_member (object, member, json_node_copy (value));
  joined = join_tools (self->tools, tools);
  if (joined->len > 0)
    json_object_set_member (object, "tools", copilotd_tools_to_json (joined));
  copilotd_session_set_params (self, merged, joined);
  /* After set_params copied it: the kept token is sent, never stored. */
  copilotd_auth_store_apply (self->ctx.backend, object);

  resume = g_new0 (LiveResume, 1);
  resume->sender = g_strdup (sender);
  g_task_set_task_data (task, resume, (GDestroyNotify) live_resume_free);
  g_debug ("Resuming live session '%s' for '%s' with %u tools", self->id, sender, joined->len);
  copilotd_session_call_async (self, "session.resume", json_object_ref (object),
                               on_live_resume_done, g_steal_pointer (&task));
}

gboolean
copilotd_session_resume_live_finish (CopilotdSession  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

