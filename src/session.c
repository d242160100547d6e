/* SPDX-License-Identifier: MIT */
/* session.c: one live CLI session exported on D-Bus
 *
 * A CopilotdSession subclasses the generated Session skeleton. It turns
 * D-Bus calls into CLI requests, relays the CLI's events as unicast Event
 * and Delta signals to its subscribers (never broadcast: chat content must
 * not reach processes that merely match on the interface), keeps a replay
 * ring, and hands permission prompts, questions and tool calls to the
 * agent registry and the tool router. Its calls to the CLI go through
 * session-link.c, which holds them while the CLI does not have the session.
 */
#include "config.h"

#include <string.h>

#include "auth-store.h"
#include "bounded.h"
#include "copilotd-error.h"
#include "options.h"
#include "providers.h"
#include "send-options.h"
#include "session-control.h"
#include "session-private.h"
#include "peer-gate.h"

static void copilotd_session_iface_init (CopilotdDbusSessionIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CopilotdSession, copilotd_session, COPILOTD_DBUS_TYPE_SESSION_SKELETON,
                               G_IMPLEMENT_INTERFACE (COPILOTD_DBUS_TYPE_SESSION, copilotd_session_iface_init))

enum { SIGNAL_CLOSED, SIGNAL_CLI_EVENT, N_SIGNALS };
static guint signals[N_SIGNALS];

char *
copilotd_session_path_for_id (const char *session_id)
{
  g_autofree char *escaped = g_strdelimit (g_strdup (session_id), "-", '_');

  return g_strdup_printf ("/io/github/copilotd/Copilot1/session/%s", escaped);
}

/* ---- state ------------------------------------------------------------ */

void
session_update_state (CopilotdSession *self)
{
  CopilotdDbusSession *iface = COPILOTD_DBUS_SESSION (self);
  const char *state;

  if (self->closed)
    state = "closed";
  else if (copilotd_prompts_get_n_waiting (self->prompts) > 0)
    state = "waiting";
  else if (self->busy)
    state = "busy";
  else
    state = "idle";

  if (g_strcmp0 (copilotd_dbus_session_get_state (iface), state) != 0)
    {
      g_debug ("Session '%s' state '%s'", self->id, state);
      copilotd_dbus_session_set_state (iface, state);
    }
}

/* ---- relay ------------------------------------------------------------ */

static char *
now_iso8601 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format_iso8601 (now);
}

/* Events that copilotd itself adds to a session's stream. */
void
session_relay_synthetic (CopilotdSession *self,
                         const char      *type,
                         JsonObject      *data)
{
  g_autoptr(JsonObject) event = json_object_new ();
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *timestamp = now_iso8601 ();

  json_object_set_string_member (event, "type", type);
  json_object_set_object_member (event, "data", data);
  json_object_set_string_member (event, "id", id);
  json_object_set_string_member (event, "timestamp", timestamp);
  json_object_set_boolean_member (event, "ephemeral", TRUE);
  copilotd_event_relay_relay (self->relay, event);
}

gboolean
copilotd_session_handle_request (CopilotdSession *self,
                                 const char      *method,
                                 JsonObject      *params,
                                 JsonNode        *id)
{
  if (self->closed)
    return FALSE;
  /* Without a hook provider it is answered as unsupported (-32601): the
   * CLI then goes on as with no output. */
  if (strcmp (method, "hooks.invoke") == 0 && copilotd_providers_has_hooks (self->providers))
    {
      session_run_hooks (self, params, id);
      return TRUE;
    }
  return copilotd_prompts_handle_request (self->prompts, method, params, id);
}

void
copilotd_session_set_turn_sender (CopilotdSession *self,
                                  const char      *sender)
{
  if (g_strcmp0 (self->turn_sender, sender) == 0)
    return;
  g_free (self->turn_sender);
  self->turn_sender = g_strdup (sender);
}

/* Agents are chosen by who owns the session and who sent the turn. */
static void
fill_prompt_target (gpointer              user_data,
                    CopilotdPromptTarget *target)
{
  CopilotdSession *self = user_data;

  target->owner = self->owner;
  target->turn_sender = self->turn_sender;
  target->uid = self->uid;

  /* Who is asking (DESIGN.md §9): the owner's client-name, which the
   * manager derived from the owner's process when it gave none. */
  target->client_name = self->client_name;
  target->client_pid = self->owner != NULL ? copilotd_callers_get_pid (self->ctx.callers, self->owner) : 0;
  target->working_directory = self->cwd != NULL ? self->cwd : self->working_directory;
}

static void
on_prompts_changed (gpointer user_data)
{
  session_update_state (user_data);
}

/* ---- session-idle-timeout ---------------------------------------------- */

static void session_touch (CopilotdSession *self);

static gboolean
on_session_idle (gpointer user_data)
{
  CopilotdSession *self = user_data;

  self->idle_close_source = 0;
  /* A running turn or a prompt with an agent is activity too. */
  if (self->busy || copilotd_prompts_get_n_waiting (self->prompts) > 0)
    {
      session_touch (self);
      return G_SOURCE_REMOVE;
    }
  g_debug ("Session '%s' was quiet for %u s", self->id, self->ctx.config->session_idle_timeout);
  copilotd_session_close (self, "idle-timeout");
  return G_SOURCE_REMOVE;
}

/* Activity (a call from a client, an event from the CLI) restarts the
 * session's idle clock. */
static void
session_touch (CopilotdSession *self)
{
  g_clear_handle_id (&self->idle_close_source, g_source_remove);
  if (self->closed || self->ctx.config->session_idle_timeout == 0)
    return;
  self->idle_close_source = g_timeout_add_seconds (self->ctx.config->session_idle_timeout,
                                                   on_session_idle, self);
}

/* ---- CLI events -------------------------------------------------------- */

static void
process_event (CopilotdSession *self,
               JsonObject      *event)
{
  const char *type = copilotd_json_get_string (event, "type", "");
  JsonNode *data_node = json_object_get_member (event, "data");
  JsonObject *data = data_node && JSON_NODE_HOLDS_OBJECT (data_node) ? json_node_get_object (data_node) : NULL;
  g_autoptr(JsonObject) empty = NULL;

  if (data == NULL)
    data = empty = json_object_new ();
  session_touch (self);

  if (strcmp (type, "user.message") == 0 || strcmp (type, "assistant.turn_start") == 0)
    {
      self->busy = TRUE;
      session_update_state (self);
    }
  else if (strcmp (type, "assistant.message") == 0)
    {
      if (!json_object_has_member (data, "parentToolCallId"))
        {
          const char *content = copilotd_json_get_string (data, "content", NULL);

          if (content != NULL && *content != '\0')
            {
              g_free (self->last_content);
              self->last_content = copilotd_utf8_strdup_bounded (content, self->ctx.config->max_message_size -
                                                                          COPILOTD_MESSAGE_RESERVE, NULL);
            }
        }
    }
  else if (strcmp (type, "session.start") == 0 || strcmp (type, "session.resume") == 0)
    {
      /* Without an explicit model the create/resume reply has an empty
       * modelState; the CLI names its pick only here. */
      const char *model = copilotd_json_get_string (data, "selectedModel", NULL);
      JsonNode *context = json_object_get_member (data, "context");

      /* The CLI's own working directory when the creator named none. */
      if (context != NULL && JSON_NODE_HOLDS_OBJECT (context))
        {
          const char *cwd = copilotd_json_get_string (json_node_get_object (context),
                                                                        "cwd", NULL);
          if (cwd != NULL)
            {
              g_free (self->cwd);
              self->cwd = g_strdup (cwd);
            }
        }
      if (model != NULL && *model != '\0')
        copilotd_session_set_cli_property (self, "model", model);
    }
  else if (strcmp (type, "session.model_change") == 0)
    {
      const char *model = copilotd_json_get_string (data, "newModel", NULL);
      if (model != NULL)
        copilotd_session_set_cli_property (self, "model", model);
    }
  else if (strcmp (type, "abort") == 0)
    copilotd_prompts_cancel_all (self->prompts);
  else if (strcmp (type, "command.execute") == 0)
    session_run_command (self, data);
  else if (!copilotd_session_control_handle_event (self, type, data))
    copilotd_prompts_handle_event (self->prompts, type, data, self->tools);

  copilotd_event_relay_relay (self->relay, event);

  /* Waiters are answered after the idle event went out, so a client sees
   * the whole turn before SendAndWait returns. */
  if (strcmp (type, "session.error") == 0)
    {
      g_autoptr(GError) error = copilotd_error_new_for_session_error (data);

      session_finish_waiters (self, error, FALSE);
      self->idle_owed = TRUE;
    }
  else if (strcmp (type, "session.idle") == 0)
    {
      self->busy = FALSE;
      session_update_state (self);
      session_finish_waiters (self, NULL, copilotd_json_get_boolean (data, "aborted", FALSE));
      self->idle_owed = FALSE;
    }
  else if (strcmp (type, "user.message") == 0)
    {
      const char *message_id = copilotd_json_get_string (data, "messageId", NULL);

      g_free (self->last_user_message);
      self->last_user_message = g_strdup (message_id);
      for (GList *l = self->waiters; l != NULL && message_id != NULL; l = l->next)
        {
          Waiter *waiter = l->data;

          if (g_strcmp0 (waiter->message_id, message_id) == 0)
            waiter->started = TRUE;
        }
    }
  g_signal_emit (self, signals[SIGNAL_CLI_EVENT], 0, type, data);
}

void
copilotd_session_handle_event (CopilotdSession *self,
                               JsonObject      *event)
{
  if (self->closed)
    return;
  if (self->hold > 0)
    {
      g_queue_push_tail (&self->held, json_object_ref (event));
      return;
    }
  process_event (self, event);
}

/**
 * copilotd_session_handle_delta:
 * @delta: a plain delta read without a tree (copilotd_json_read_delta())
 *
 * Does what copilotd_session_handle_event() does with the same event —
 * for a delta that is restarting the idle clock and relaying it — when it
 * can without the tree: nobody waits on "cli-event", nothing is held, the
 * relay takes it (copilotd_event_relay_relay_delta()).
 *
 * Returns: %FALSE, having done nothing, when the tree is needed.
 */
gboolean
copilotd_session_handle_delta (CopilotdSession         *self,
                               const CopilotdJsonDelta *delta)
{
  if (self->closed)
    return TRUE;
  if (self->hold > 0 || g_signal_has_handler_pending (self, signals[SIGNAL_CLI_EVENT], 0, TRUE))
    return FALSE;
  if (!copilotd_event_relay_relay_delta (self->relay, delta))
    return FALSE;
  session_touch (self);
  return TRUE;
}

void
copilotd_session_hold (CopilotdSession *self)
{
  self->hold++;
}

void
copilotd_session_release (CopilotdSession *self)
{
  JsonObject *event;

  g_return_if_fail (self->hold > 0);
  if (--self->hold > 0)
    return;

  g_object_ref (self);
  while (self->hold == 0 && (event = g_queue_pop_head (&self->held)) != NULL)
    {
      if (!self->closed)
        process_event (self, event);
      json_object_unref (event);
    }
  g_object_unref (self);
}

/**
 * copilotd_session_set_cli_property:
 * @name: "model" or "start-time"
 *
 * Sets a property from what the CLI said, cut to COPILOTD_META_STRING_MAX:
 * properties reach every peer in PropertiesChanged and GetManagedObjects,
 * so no CLI text may make one a message the bus refuses.
 */
void
copilotd_session_set_cli_property (CopilotdSession *self,
                                   const char      *name,
                                   const char      *value)
{
  g_autofree char *bounded = copilotd_utf8_strdup_bounded (value, COPILOTD_META_STRING_MAX, NULL);

  g_object_set (self, name, bounded, NULL);
}

/* ---- access ------------------------------------------------------------ */

/**
 * copilotd_session_check_caller:
 *
 * Whether the caller of @invocation may call the session's methods: the
 * owner and subscribers of a session that is not closed. When not, the
 * invocation has been answered with Closed or AccessDenied.
 */
gboolean
copilotd_session_check_caller (CopilotdSession       *self,
                               GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  if (self->closed)
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED,
                                             "Session %s is closed", self->id);
      return FALSE;
    }
  if (sender == NULL ||
      g_strcmp0 (sender, self->owner) == 0 ||
      copilotd_event_relay_is_subscribed (self->relay, sender))
    {
      session_touch (self);
      return TRUE;
    }

  g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                                         "Only the owner of session %s and its subscribers may call %s",
                                         self->id, g_dbus_method_invocation_get_method_name (invocation));
  return FALSE;
}

/* ---- D-Bus methods ----------------------------------------------------- */

typedef struct {
  CopilotdSession *session;             /* owned */
  GDBusMethodInvocation *invocation;    /* owned, nullable */
  gboolean held;
  guint page_offset;                    /* GetMessages: options offset, max */
  guint page_max;
} CallContext;

static CallContext *
call_context_new (CopilotdSession       *self,
                  GDBusMethodInvocation *invocation)
{
  CallContext *ctx = g_new0 (CallContext, 1);

  ctx->session = g_object_ref (self);
  ctx->invocation = g_object_ref (invocation);
  return ctx;
}

static void
call_context_free (CallContext *ctx)
{
  if (ctx->held)
    copilotd_session_release (ctx->session);
  g_object_unref (ctx->session);
  g_clear_object (&ctx->invocation);
  g_free (ctx);
}

static JsonNode *
finish_call (GObject                *source,
             GAsyncResult           *result,
             CallContext            *ctx)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = copilotd_session_call_finish (ctx->session, result, &error);
  if (node == NULL)
    g_dbus_method_invocation_return_gerror (ctx->invocation, error);
  return node;
}

/* Calls the CLI for a method; @callback replies. Takes @params (NULL:
 * just the session id). */
static void
call_cli (CopilotdSession       *self,
          GDBusMethodInvocation *invocation,
          const char            *method,
          JsonObject            *params,
          GAsyncReadyCallback    callback)
{
  copilotd_session_call_async (self, method, params, callback, call_context_new (self, invocation));
}

static void
on_void_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CallContext *ctx = user_data;
  g_autoptr(JsonNode) node = finish_call (source, result, ctx);

  if (node != NULL)
    g_dbus_method_invocation_return_value (ctx->invocation, NULL);
  call_context_free (ctx);
}

static gboolean
handle_abort (CopilotdDbusSession   *iface,
              GDBusMethodInvocation *invocation,
              GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  /* Agents and tool providers hear Cancel at once, not after the CLI. */
  copilotd_prompts_cancel_all (self->prompts);
  params = json_object_new ();
  json_object_set_string_member (params, "reason", "user_initiated");
  call_cli (self, invocation, "session.abort", params, on_void_done);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_get_messages_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  CallContext *ctx = user_data;
  g_autoptr(JsonNode) node = finish_call (source, result, ctx);

  if (node != NULL)
    {
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *events = object ? json_object_get_member (object, "events") : NULL;
      JsonArray *array = events && JSON_NODE_HOLDS_ARRAY (events) ? json_node_get_array (events) : NULL;

      g_dbus_method_invocation_return_value (ctx->invocation, g_variant_new_tuple ((GVariant *[]) {
        copilotd_history_page (array, ctx->page_offset, ctx->page_max,
                               ctx->session->ctx.config->max_message_size) }, 1));
    }
  call_context_free (ctx);
}

static gboolean
handle_get_messages (CopilotdDbusSession   *iface,
                     GDBusMethodInvocation *invocation,
                     GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GVariant) offset = NULL;
  g_autoptr(GVariant) max = NULL;
  g_autoptr(GError) error = NULL;
  CallContext *ctx;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!copilotd_option_lookup (options, "offset", G_VARIANT_TYPE_UINT32, &offset, &error) ||
      !copilotd_option_lookup (options, "max", G_VARIANT_TYPE_UINT32, &max, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  ctx = call_context_new (self, invocation);
  ctx->page_offset = offset ? g_variant_get_uint32 (offset) : 0;
  ctx->page_max = max ? g_variant_get_uint32 (max) : 0;
  copilotd_session_call_async (self, "session.getMessages", NULL, on_get_messages_done, ctx);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_set_model_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  CallContext *ctx = user_data;
  g_autoptr(JsonNode) node = finish_call (source, result, ctx);

  if (node != NULL)
    {
      const char *model = NULL;

      if (JSON_NODE_HOLDS_OBJECT (node))
        model = copilotd_json_get_string (json_node_get_object (node), "modelId", NULL);
      if (model != NULL)
        copilotd_session_set_cli_property (ctx->session, "model", model);
      g_dbus_method_invocation_return_value (ctx->invocation, NULL);
    }
  call_context_free (ctx);
}

static gboolean
handle_set_model (CopilotdDbusSession   *iface,
                  GDBusMethodInvocation *invocation,
                  const char            *model,
                  GVariant              *options)
{
  CopilotdSession *self = COPILOTD_SESSION (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *effort = NULL;
  JsonObject *params;

  if (!copilotd_session_check_caller (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (*model == '\0')
    {
      g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                                             "The model is empty");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!copilotd_option_get_string (options, "reasoning-effort", &effort, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  params = json_object_new ();
  json_object_set_string_member (params, "modelId", model);
  if (effort != NULL)
    json_object_set_string_member (params, "reasoningEffort", effort);
  if (!copilotd_model_options_parse (options, params, &error))
    {
      json_object_unref (params);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  call_cli (self, invocation, "session.model.switchTo", params, on_set_model_done);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
copilotd_session_iface_init (CopilotdDbusSessionIface *iface)
{
  iface->handle_send = session_handle_send;
  iface->handle_send_and_wait = session_handle_send_and_wait;
  iface->handle_abort = handle_abort;
  iface->handle_destroy = session_handle_destroy;
  iface->handle_get_messages = handle_get_messages;
  iface->handle_set_model = handle_set_model;
  iface->handle_subscribe = session_handle_subscribe;
  iface->handle_unsubscribe = session_handle_unsubscribe;
  iface->handle_get_events = session_handle_get_events;
  copilotd_session_control_iface_init (iface);
}

/* ---- lifecycle --------------------------------------------------------- */

void
copilotd_session_close (CopilotdSession *self,
                        const char      *reason)
{
  g_autoptr(GError) error = NULL;

  if (self->closed)
    return;

  g_debug ("Closing session '%s': %s", self->id, reason);
  g_object_ref (self);
  if (g_strcmp0 (reason, "owner-vanished") == 0 || g_strcmp0 (reason, "idle-timeout") == 0)
    session_link_forget (self);
  copilotd_prompts_close (self->prompts);
  self->closed = TRUE;
  g_clear_handle_id (&self->idle_close_source, g_source_remove);

  error = g_error_new (COPILOTD_ERROR, COPILOTD_ERROR_CLOSED, "Session %s was closed (%s)", self->id, reason);
  session_link_close (self, error);
  session_finish_waiters (self, error, TRUE);

  copilotd_event_relay_emit_closed (self->relay, reason);

  session_update_state (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);
  g_object_unref (self);
}

gboolean
copilotd_session_is_closed (CopilotdSession *self)
{
  return self->closed;
}

const char *
copilotd_session_get_id (CopilotdSession *self)
{
  return self->id;
}

const char *
copilotd_session_get_path (CopilotdSession *self)
{
  return self->path;
}

uid_t
copilotd_session_get_uid (CopilotdSession *self)
{
  return self->uid;
}

CopilotdBackend *
copilotd_session_get_backend (CopilotdSession *self)
{
  return self->ctx.backend;
}

static void
copilotd_session_dispose (GObject *object)
{
  CopilotdSession *self = COPILOTD_SESSION (object);

  self->closed = TRUE;
  g_clear_handle_id (&self->idle_close_source, g_source_remove);
  if (self->prompts != NULL)
    copilotd_prompts_close (self->prompts);
  g_clear_object (&self->prompts);
  g_queue_clear_full (&self->held, (GDestroyNotify) json_object_unref);
  session_link_dispose (self);

  G_OBJECT_CLASS (copilotd_session_parent_class)->dispose (object);
}

static void
copilotd_session_finalize (GObject *object)
{
  CopilotdSession *self = COPILOTD_SESSION (object);

  g_free (self->id);
  g_free (self->path);
  g_free (self->owner);
  g_free (self->turn_sender);
  g_free (self->cwd);
  g_free (self->last_user_message);
  g_free (self->last_content);
  g_clear_pointer (&self->params, g_free);
  g_clear_pointer (&self->client_name, g_free);
  g_clear_pointer (&self->working_directory, g_free);
  g_clear_pointer (&self->tools, g_ptr_array_unref);
  g_clear_pointer (&self->providers, g_ptr_array_unref);
  g_clear_pointer (&self->relay, copilotd_event_relay_free);
  g_list_free_full (self->waiters, (GDestroyNotify) session_waiter_free);

  G_OBJECT_CLASS (copilotd_session_parent_class)->finalize (object);
}

static void
copilotd_session_class_init (CopilotdSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  /* --session: callers of another UID get AccessDenied (peer-gate.c). */
  copilotd_peer_gate_install (G_DBUS_INTERFACE_SKELETON_CLASS (klass));

  object_class->dispose = copilotd_session_dispose;
  object_class->finalize = copilotd_session_finalize;

  signals[SIGNAL_CLOSED] =
    g_signal_new ("session-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_CLI_EVENT] =
    g_signal_new ("cli-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
}

static void
copilotd_session_init (CopilotdSession *self)
{
  g_queue_init (&self->held);
  session_link_init (self);
}

CopilotdSession *
copilotd_session_new (const CopilotdSessionContext *context,
                      const char                   *session_id,
                      const char                   *owner,
                      uid_t                         uid,
                      gboolean                      persist)
{
  CopilotdSession *self = g_object_new (COPILOTD_TYPE_SESSION, NULL);
  CopilotdDbusSession *iface = COPILOTD_DBUS_SESSION (self);

  self->ctx = *context;
  session_link_attach (self);
  self->id = g_strdup (session_id);
  self->path = copilotd_session_path_for_id (session_id);
  self->owner = g_strdup (owner);
  self->uid = uid;
  self->persist = persist;
  self->relay = copilotd_event_relay_new (context->connection, self->path,
                                         context->config->ring_max_events,
                                         context->config->ring_max_bytes);
  copilotd_event_relay_set_max_message_size (self->relay, context->config->max_message_size);
  copilotd_event_relay_set_coalesce_backlog (self->relay, context->config->coalesce_backlog);
  if (owner != NULL)
    copilotd_event_relay_subscribe (self->relay, owner, NULL);
  self->prompts = copilotd_prompts_new (session_id, self->path, context->backend,
                                        context->agents, context->tools,
                                        context->config->cli_url != NULL,
                                        fill_prompt_target, on_prompts_changed, self);

  session_touch (self);

  copilotd_dbus_session_set_id (iface, session_id);
  copilotd_dbus_session_set_model (iface, "");
  copilotd_dbus_session_set_start_time (iface, "");
  copilotd_dbus_session_set_state (iface, "idle");
  copilotd_dbus_session_set_mode (iface, "interactive");
  return self;
}
