/* SPDX-License-Identifier: MIT */
/* copilot-session.c: one conversation of copilotd
 *
 * The object: its properties, signals and initialisation, and the
 * cancellables that abort its turn. The in-order delivery of the daemon's
 * signals is copilot-session-delivery.c; turns and the plain Session calls
 * are copilot-session-turn.c.
 */
#include "config.h"

#include "copilot-session-private.h"

/**
 * CopilotSession:
 *
 * One conversation of copilotd (a `Session` object of the daemon).
 *
 * [method@Copilot.Session.send] and [method@Copilot.Session.send_and_wait]
 * run turns; a `GCancellable` given to them aborts the turn. The answer
 * streams through [signal@Copilot.Session::delta]; complete messages,
 * tool calls, errors and the end of the turn come as
 * [signal@Copilot.Session::message], [signal@Copilot.Session::tool-started],
 * [signal@Copilot.Session::tool-finished], [signal@Copilot.Session::error]
 * and [signal@Copilot.Session::idle]; every event as
 * [signal@Copilot.Session::event]. Each event is delivered once, in the
 * daemon's order; missed ones are fetched again with `GetEvents`.
 */
G_DEFINE_FINAL_TYPE (CopilotSession, copilot_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_OBJECT_PATH,
  PROP_ID,
  PROP_STATE,
  PROP_MODEL,
  PROP_MODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

guint copilot_session_signals[N_SIGNALS];

/* A GCancellable of send() that aborts the turn it started. */
typedef struct {
  CopilotSession *session;       /* unowned */
  GCancellable *cancellable;     /* owned */
  gulong handler;
} TurnCancel;

static void
turn_cancel_free (TurnCancel *tc)
{
  g_cancellable_disconnect (tc->cancellable, tc->handler);
  g_object_unref (tc->cancellable);
  g_free (tc);
}

/* ---- state ---- */

static void
set_string (CopilotSession *self,
            char          **field,
            const char     *value,
            guint           prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
copilot_session_handle_properties (CopilotSession *self,
                                   GVariant       *changed)
{
  const char *s;

  if (g_variant_lookup (changed, "Id", "&s", &s))
    set_string (self, &self->id, s, PROP_ID);
  if (g_variant_lookup (changed, "State", "&s", &s))
    set_string (self, &self->state, s, PROP_STATE);
  if (g_variant_lookup (changed, "Model", "&s", &s))
    set_string (self, &self->model, s, PROP_MODEL);
  if (g_variant_lookup (changed, "Mode", "&s", &s))
    set_string (self, &self->mode, s, PROP_MODE);
}

void
copilot_session_update_state (CopilotSession *self,
                              const char     *state)
{
  set_string (self, &self->state, state, PROP_STATE);
}

void
copilot_session_update_mode (CopilotSession *self,
                             const char     *mode)
{
  set_string (self, &self->mode, mode, PROP_MODE);
}

void
copilot_session_end_turn (CopilotSession *self)
{
  g_ptr_array_set_size (self->turn_cancels, 0);
}

/* ---- initialisation ---- */

static void
on_init_properties (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotSession *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) dict = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  dict = g_variant_get_child_value (reply, 0);
  copilot_session_handle_properties (self, dict);
  g_task_return_boolean (task, TRUE);
}

static void
get_properties (GTask *task)
{
  CopilotSession *self = g_task_get_source_object (task);

  copilot_client_call (self->client, self->path, "org.freedesktop.DBus.Properties", "GetAll",
                       g_variant_new ("(s)", COPILOT_IFACE_SESSION), G_VARIANT_TYPE ("(a{sv})"),
                       -1, g_task_get_cancellable (task), on_init_properties, g_object_ref (task));
}

static void
on_init_subscribed (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CopilotSession *self = g_task_get_source_object (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (self->next_serial == 0)
    g_variant_get (reply, "(t)", &self->next_serial);
  get_properties (task);
}

void
copilot_session_init_async (CopilotSession      *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, copilot_session_init_async);
  /* A resumed session: subscribe (a no-op for its owner) and learn where
   * its events stand. */
  if (self->next_serial == 0)
    copilot_client_call (self->client, self->path, COPILOT_IFACE_SESSION, "Subscribe",
                         g_variant_new_parsed ("(@a{sv} {},)"), G_VARIANT_TYPE ("(t)"),
                         -1, cancellable, on_init_subscribed, g_steal_pointer (&task));
  else
    get_properties (task);
}

gboolean
copilot_session_init_finish (CopilotSession  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

CopilotSession *
copilot_session_new_internal (CopilotClient *client,
                              const char    *path,
                              guint64        initial_serial)
{
  CopilotSession *self = g_object_new (COPILOT_TYPE_SESSION,
                                       "client", client,
                                       "object-path", path,
                                       NULL);

  self->next_serial = initial_serial;
  return self;
}

/* ---- GObject ---- */

static void
copilot_session_dispose (GObject *object)
{
  CopilotSession *self = COPILOT_SESSION (object);

  g_cancellable_cancel (self->cancellable);
  if (self->client != NULL && self->path != NULL)
    copilot_client_forget_session (self->client, self->path);
  g_ptr_array_set_size (self->turn_cancels, 0);
  g_queue_clear_full (&self->early, (GDestroyNotify) g_variant_unref);

  G_OBJECT_CLASS (copilot_session_parent_class)->dispose (object);
}

static void
copilot_session_finalize (GObject *object)
{
  CopilotSession *self = COPILOT_SESSION (object);

  g_clear_object (&self->client);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->state, g_free);
  g_clear_pointer (&self->model, g_free);
  g_clear_pointer (&self->mode, g_free);
  g_clear_pointer (&self->delta_message_id, g_free);
  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_pointer (&self->turn_cancels, g_ptr_array_unref);

  G_OBJECT_CLASS (copilot_session_parent_class)->finalize (object);
}

static void
copilot_session_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CopilotSession *self = COPILOT_SESSION (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_OBJECT_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_STATE:
      g_value_set_string (value, self->state);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_MODE:
      g_value_set_string (value, self->mode);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_session_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CopilotSession *self = COPILOT_SESSION (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_OBJECT_PATH:
      self->path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_session_class_init (CopilotSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilot_session_dispose;
  object_class->finalize = copilot_session_finalize;
  object_class->get_property = copilot_session_get_property;
  object_class->set_property = copilot_session_set_property;

  /**
   * CopilotSession:client:
   *
   * The client the session belongs to.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, COPILOT_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotSession:object-path:
   *
   * The session's D-Bus object path.
   */
  properties[PROP_OBJECT_PATH] =
    g_param_spec_string ("object-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotSession:id:
   *
   * The CLI session id (a UUID), for copilot_client_resume_session().
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotSession:state:
   *
   * `idle`, `busy`, `waiting` (a prompt is with an agent) or `closed`.
   */
  properties[PROP_STATE] =
    g_param_spec_string ("state", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotSession:model:
   *
   * The model the session uses.
   */
  properties[PROP_MODEL] =
    g_param_spec_string ("model", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotSession:mode:
   *
   * `interactive`, `plan` or `autopilot` (the `Mode` property of Contract
   * 2, and `session.mode_changed` events); %NULL when the daemon does not
   * say.
   */
  properties[PROP_MODE] =
    g_param_spec_string ("mode", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotSession::event:
   * @self: the session
   * @type: the CLI event type (`assistant.message`, `session.idle`, …),
   *   also the signal's detail
   * @data_json: the event's `data`, JSON text as the CLI sent it
   *
   * Every event the daemon relays, once and in order, missed ones
   * backfilled. Streamed text comes as #CopilotSession::delta instead.
   * The typed signals below follow this one for the events they cover.
   */
  copilot_session_signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CopilotSession::delta:
   * @self: the session
   * @stream: 0 for the answer, 1 for reasoning
   * @text: the next piece of text
   *
   * Streamed text. The #CopilotSession::message that follows is
   * authoritative.
   */
  copilot_session_signals[SIGNAL_DELTA] =
    g_signal_new ("delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  /**
   * CopilotSession::message:
   * @self: the session
   * @message_id: the message's id
   * @content: the whole message
   *
   * A complete assistant message of the main agent (`assistant.message`
   * without a parent tool call). A turn may have several, the last being
   * the answer.
   */
  copilot_session_signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CopilotSession::tool-started:
   * @self: the session
   * @tool_call_id: the call's id
   * @tool_name: the tool
   * @arguments_json: its arguments, JSON text
   *
   * A tool began (`tool.execution_start`).
   */
  copilot_session_signals[SIGNAL_TOOL_STARTED] =
    g_signal_new ("tool-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CopilotSession::tool-finished:
   * @self: the session
   * @tool_call_id: the call's id
   * @success: whether it succeeded
   * @result_json: its `result` (or `error` when it failed), JSON text
   *
   * A tool ended (`tool.execution_complete`).
   */
  copilot_session_signals[SIGNAL_TOOL_FINISHED] =
    g_signal_new ("tool-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING);
  /**
   * CopilotSession::idle:
   * @self: the session
   * @aborted: whether the turn was aborted
   *
   * The turn is over (`session.idle`).
   */
  copilot_session_signals[SIGNAL_IDLE] =
    g_signal_new ("idle", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  /**
   * CopilotSession::error:
   * @self: the session
   * @error_type: the CLI's `errorType` (`authorization`, `rate_limit`, …)
   * @message: a message for people
   *
   * The turn failed (`session.error`); #CopilotSession::idle follows.
   */
  copilot_session_signals[SIGNAL_ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * CopilotSession::closed:
   * @self: the session
   * @reason: `destroyed`, `deleted`, `owner-vanished`, `backend-failed`,
   *   `idle-timeout`; or `daemon-vanished` (the library's own: copilotd
   *   left the bus, and its live sessions with it)
   *
   * The daemon closed the session; it takes no more calls.
   */
  copilot_session_signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
copilot_session_init (CopilotSession *self)
{
  self->cancellable = g_cancellable_new ();
  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  self->turn_cancels = g_ptr_array_new_with_free_func ((GDestroyNotify) turn_cancel_free);
  g_queue_init (&self->early);
}

/* ---- accessors ---- */

/**
 * copilot_session_get_client:
 * @self: a #CopilotSession
 *
 * Returns: (transfer none): the session's client
 */
CopilotClient *
copilot_session_get_client (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->client;
}

/**
 * copilot_session_get_object_path:
 * @self: a #CopilotSession
 *
 * Returns: the session's D-Bus object path
 */
const char *
copilot_session_get_object_path (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->path;
}

/**
 * copilot_session_get_id:
 * @self: a #CopilotSession
 *
 * Returns: (nullable): the CLI session id
 */
const char *
copilot_session_get_id (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->id;
}

/**
 * copilot_session_get_state:
 * @self: a #CopilotSession
 *
 * Returns: (nullable): the #CopilotSession:state
 */
const char *
copilot_session_get_state (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->state;
}

/**
 * copilot_session_get_model:
 * @self: a #CopilotSession
 *
 * Returns: (nullable): the #CopilotSession:model
 */
const char *
copilot_session_get_model (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->model;
}

/**
 * copilot_session_get_mode:
 * @self: a #CopilotSession
 *
 * Returns: (nullable): the #CopilotSession:mode
 */
const char *
copilot_session_get_mode (CopilotSession *self)
{
  g_return_val_if_fail (COPILOT_IS_SESSION (self), NULL);
  return self->mode;
}

/* ---- a turn's cancellables ---- */

static void
on_abort_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CopilotSession) self = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = copilot_client_call_finish (self->client, result, &error);
  if (reply == NULL)
    g_debug ("libcopilot: Abort on %s failed: %s", self->path, error->message);
}

static void
send_abort (CopilotSession *self)
{
  copilot_client_call (self->client, self->path, COPILOT_IFACE_SESSION, "Abort",
                       g_variant_new_parsed ("(@a{sv} {},)"), G_VARIANT_TYPE ("()"),
                       -1, NULL, on_abort_sent, g_object_ref (self));
}

static gboolean
abort_idle_cb (gpointer user_data)
{
  send_abort (user_data);
  return G_SOURCE_REMOVE;
}

/* May run in any thread (g_cancellable_cancel's): go back to the session's
 * context to call. */
static void
on_turn_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  CopilotSession *self = user_data;

  g_idle_add_full (G_PRIORITY_DEFAULT, abort_idle_cb, g_object_ref (self), g_object_unref);
}

void
copilot_session_watch_turn (CopilotSession *self,
                            GCancellable   *cancellable)
{
  TurnCancel *tc;

  if (cancellable == NULL)
    return;
  tc = g_new0 (TurnCancel, 1);
  tc->session = self;
  tc->cancellable = g_object_ref (cancellable);
  /* Called at once if it is cancelled already. */
  tc->handler = g_cancellable_connect (cancellable, G_CALLBACK (on_turn_cancelled), self, NULL);
  g_ptr_array_add (self->turn_cancels, tc);
}
