/* SPDX-License-Identifier: MIT */
/* ask.c: Manager.Ask, one call for one answer (contract §8)
 *
 * For gdbus call and scripts: starts a session with CreateSession's
 * options (or continues the one named by session-id, resuming it when it
 * is not live), sends the prompt with Send's options, waits for the
 * turn's session.idle and answers with its last assistant message. The
 * session ends with the call unless persist is true or it was already
 * live. Prompts of the turn reach agents as for any turn.
 */
#include "config.h"

#include <string.h>

#include "ask.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "polkit.h"

#define DEFAULT_ASK_TIMEOUT_MS 300000

typedef struct {
  CopilotdManager *manager;            /* owned */
  GDBusMethodInvocation *invocation;   /* owned */
  CopilotdSession *session;            /* owned, nullable until started */
  char *prompt;                        /* owned */
  GVariant *options;                   /* owned */
  char *message_id;                    /* owned, nullable until sent */
  char *content;                       /* owned, nullable: the last answer */
  GError *error;                       /* owned, nullable: how the turn failed */
  gboolean aborted;
  gboolean keep;                       /* persist, or it was live before */
  gboolean idle;                       /* the turn is over */
  gulong event_id;
  gulong closed_id;
  guint timeout_id;
} Ask;

static void
ask_free (Ask *ask)
{
  g_clear_handle_id (&ask->timeout_id, g_source_remove);
  if (ask->session != NULL)
    {
      g_clear_signal_handler (&ask->event_id, ask->session);
      g_clear_signal_handler (&ask->closed_id, ask->session);
      g_object_unref (ask->session);
    }
  g_clear_error (&ask->error);
  g_free (ask->content);
  g_free (ask->message_id);
  g_free (ask->prompt);
  g_variant_unref (ask->options);
  g_object_unref (ask->invocation);
  g_object_unref (ask->manager);
  g_free (ask);
}

static void
ask_reply (Ask *ask)
{
  GVariantBuilder details;

  g_variant_builder_init (&details, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&details, "{sv}", "session-id",
                         g_variant_new_string (copilotd_session_get_id (ask->session)));
  g_variant_builder_add (&details, "{sv}", "message-id",
                         g_variant_new_string (ask->message_id ? ask->message_id : ""));
  g_variant_builder_add (&details, "{sv}", "aborted", g_variant_new_boolean (ask->aborted));
  g_dbus_method_invocation_return_value (ask->invocation,
                                         g_variant_new ("(sa{sv})", ask->content ? ask->content : "",
                                                        &details));
}

static void
ask_answer (Ask *ask)
{
  if (ask->error != NULL)
    g_dbus_method_invocation_return_gerror (ask->invocation, ask->error);
  else
    ask_reply (ask);
}

static void
on_destroyed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Ask *ask = user_data;
  g_autoptr(GError) error = NULL;

  if (!copilotd_session_destroy_finish (COPILOTD_SESSION (source), result, &error))
    g_debug ("Ask could not end session '%s': %s", copilotd_session_get_id (ask->session), error->message);
  ask_answer (ask);
  ask_free (ask);
}

/* Ends the session unless it is kept, then answers: when Ask returns,
 * its session is gone. */
static void
ask_finish (Ask *ask)
{
  g_clear_handle_id (&ask->timeout_id, g_source_remove);
  g_clear_signal_handler (&ask->event_id, ask->session);
  g_clear_signal_handler (&ask->closed_id, ask->session);
  if (!ask->keep && !copilotd_session_is_closed (ask->session))
    {
      copilotd_session_destroy_async (ask->session, on_destroyed, ask);
      return;
    }
  ask_answer (ask);
  ask_free (ask);
}

static void
on_cli_event (CopilotdSession *session,
              const char      *type,
              JsonObject      *data,
              gpointer         user_data)
{
  Ask *ask = user_data;

  if (ask->idle)
    return;
  if (strcmp (type, "assistant.message") == 0 && !json_object_has_member (data, "parentToolCallId"))
    {
      const char *content = copilotd_json_get_string (data, "content", NULL);

      if (content != NULL && *content != '\0')
        {
          /* Within max-message-size, like SendAndWait's answer. */
          g_free (ask->content);
          ask->content = copilotd_utf8_strdup_bounded (content,
                                                       copilotd_manager_get_config (ask->manager)->max_message_size -
                                                       COPILOTD_MESSAGE_RESERVE, NULL);
        }
    }
  else if (strcmp (type, "session.error") == 0 && ask->error == NULL)
    ask->error = copilotd_error_new_for_session_error (data);
  else if (strcmp (type, "session.idle") == 0 && ask->message_id != NULL)
    {
      ask->idle = TRUE;
      ask->aborted = copilotd_json_get_boolean (data, "aborted", FALSE);
      ask_finish (ask);
    }
}

static void
on_session_closed (CopilotdSession *session,
                   const char      *reason,
                   gpointer         user_data)
{
  Ask *ask = user_data;

  if (ask->idle)
    return;
  ask->idle = TRUE;
  g_clear_error (&ask->error);
  ask->error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "Session %s was closed (%s)",
                            copilotd_session_get_id (session), reason);
  ask_finish (ask);
}

static gboolean
on_timeout (gpointer user_data)
{
  Ask *ask = user_data;

  ask->timeout_id = 0;
  ask->idle = TRUE;
  g_clear_error (&ask->error);
  ask->error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_TIMEOUT,
                            "The turn did not finish in time; session %s goes on",
                            copilotd_session_get_id (ask->session));
  /* A turn that goes on keeps its session. */
  ask->keep = TRUE;
  ask_finish (ask);
  return G_SOURCE_REMOVE;
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Ask *ask = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_session_call_finish (COPILOTD_SESSION (source), result, &error);
  const char *message_id = NULL;

  if (ask->idle)
    return;   /* closed or timed out already */
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    message_id = copilotd_json_get_string (json_node_get_object (node), "messageId", NULL);
  if (message_id == NULL)
    {
      ask->idle = TRUE;
      g_clear_error (&ask->error);
      ask->error = error ? g_steal_pointer (&error)
                         : g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_BACKEND_FAILED,
                                                "The CLI answered session.send without a messageId");
      ask_finish (ask);
      return;
    }
  ask->message_id = g_strdup (message_id);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Ask *ask = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GVariant) timeout = NULL;
  gboolean was_live = FALSE;
  gboolean persist = FALSE;
  guint timeout_ms = DEFAULT_ASK_TIMEOUT_MS;

  ask->session = copilotd_manager_start_session_finish (COPILOTD_MANAGER (source), result, &was_live, &error);
  if (ask->session == NULL)
    {
      g_dbus_method_invocation_return_gerror (ask->invocation, error);
      ask_free (ask);
      return;
    }
  copilotd_session_release (ask->session);
  copilotd_option_get_boolean (ask->options, "persist", &persist, NULL);
  ask->keep = persist || was_live;

  if (!copilotd_option_lookup (ask->options, "timeout-ms", G_VARIANT_TYPE_UINT32, &timeout, &error) ||
      !copilotd_session_parse_send (ask->session, ask->invocation, ask->prompt, ask->options, &params, &error))
    {
      ask->idle = TRUE;
      ask->error = g_steal_pointer (&error);
      ask_finish (ask);
      return;
    }
  if (timeout != NULL)
    timeout_ms = g_variant_get_uint32 (timeout);

  ask->event_id = g_signal_connect (ask->session, "cli-event", G_CALLBACK (on_cli_event), ask);
  ask->closed_id = g_signal_connect (ask->session, "session-closed", G_CALLBACK (on_session_closed), ask);
  if (timeout_ms > 0)
    ask->timeout_id = g_timeout_add (timeout_ms, on_timeout, ask);
  json_object_remove_member (params, "sessionId");
  /* Its prompts go to the asker's agent, as for Send. */
  copilotd_session_set_turn_sender (ask->session, g_dbus_method_invocation_get_sender (ask->invocation));
  copilotd_session_call_async (ask->session, "session.send", g_steal_pointer (&params), on_sent, ask);
}

static void
ask_authorized (GObject               *object,
                GDBusMethodInvocation *invocation)
{
  CopilotdManager *self = COPILOTD_MANAGER (object);
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  g_autoptr(GError) error = NULL;
  g_autofree char *session_id = NULL;
  const char *prompt;
  Ask *ask;

  ask = g_new0 (Ask, 1);
  ask->manager = g_object_ref (self);
  ask->invocation = g_object_ref (invocation);
  g_variant_get (parameters, "(&s@a{sv})", &prompt, &ask->options);
  ask->prompt = g_strdup (prompt);

  if (*prompt == '\0' || !copilotd_option_get_string (ask->options, "session-id", &session_id, &error))
    {
      if (error == NULL)
        error = g_error_new_literal (COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS, "The prompt is empty");
      g_dbus_method_invocation_return_gerror (invocation, error);
      ask_free (ask);
      return;
    }
  /* With session-id Ask continues that session: resumed, or joined live. */
  copilotd_manager_start_session_async (self, invocation, session_id, ask->options, on_started, ask);
}

gboolean
copilotd_manager_handle_ask (CopilotdDbusManager   *iface,
                             GDBusMethodInvocation *invocation,
                             const char            *prompt,
                             GVariant              *options)
{
  copilotd_polkit_authorize (copilotd_manager_get_config (COPILOTD_MANAGER (iface))->system_bus,
                             G_OBJECT (iface), invocation, ask_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
