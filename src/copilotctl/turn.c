/* SPDX-License-Identifier: MIT */
/* turn.c: `copilotctl ask` and `copilotctl chat`
 *
 * Both create (or resume) a session, act as its agent, send prompts and
 * render the session's unicast Event and Delta signals as they arrive. A turn
 * ends with session.idle (or session.error); Closed ends everything.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>

#include "copilotctl.h"

#define NO_STREAM G_MAXUINT
#define ERROR_IDLE_WAIT_MS 3000

typedef struct {
  Ctl *ctl;                       /* unowned */
  CopilotdDbusSession *session;   /* owned, nullable */
  char *path;                     /* owned, nullable */
  char *id;                       /* owned, nullable */
  CtlAgent *agent;                /* owned, nullable */
  guint subscription;
  gboolean chat;
  gboolean closed;
  gboolean joined;                /* it was live before: not ours to end */

  /* The current turn */
  gboolean in_turn;
  gboolean aborting;
  gboolean aborted;
  GHashTable *streamed;           /* owned: ids of messages whose text was streamed */
  char *content;                  /* owned, nullable: last assistant.message content */
  char *error_message;            /* owned, nullable: from session.error */
  guint error_timeout_id;

  /* Human output */
  gboolean stdout_tty;
  gboolean out_col0;              /* stdout is at the start of a line */
  guint last_stream;
  gboolean progress;              /* a spinner on stderr */
  guint spinner_id;
  guint spinner_frame;
  char *spinner_label;            /* owned */
  gboolean spinner_visible;
  gboolean prompting;             /* the agent has a prompt on screen */

  guint sigint_id;
  int status;
} Turn;

static void chat_prompt (Turn *self);

/* Keeps stderr lines (progress, tools, prompts) off a half-written answer. */
static void
ensure_newline (Turn *self)
{
  if (self->last_stream == 1 && self->stdout_tty)
    fputs (ctl_style (stdout, CTL_STYLE_RESET), stdout);
  if (!self->out_col0)
    {
      fputc ('\n', stdout);
      self->out_col0 = TRUE;
    }
  self->last_stream = NO_STREAM;
  fflush (stdout);
}

static void
spinner_draw (Turn *self)
{
  static const char * const frames[] = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" };
  static const char * const ascii_frames[] = { "|", "/", "-", "\\" };
  const char *frame;

  if (g_get_charset (NULL))
    frame = frames[self->spinner_frame % G_N_ELEMENTS (frames)];
  else
    frame = ascii_frames[self->spinner_frame % G_N_ELEMENTS (ascii_frames)];
  self->spinner_frame++;

  fprintf (stderr, "\r\033[K%s%s %s%s", ctl_style (stderr, CTL_STYLE_DIM), frame,
           self->spinner_label, ctl_style (stderr, CTL_STYLE_RESET));
  fflush (stderr);
  self->spinner_visible = TRUE;
}

static gboolean
spinner_tick_cb (gpointer user_data)
{
  Turn *self = user_data;

  spinner_draw (self);
  return G_SOURCE_CONTINUE;
}

static void
spinner_hide (Turn *self)
{
  g_clear_handle_id (&self->spinner_id, g_source_remove);
  if (self->spinner_visible)
    {
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      self->spinner_visible = FALSE;
    }
}

static void
spinner_show (Turn       *self,
              const char *label)
{
  if (!self->progress || self->prompting || !self->in_turn)
    return;
  g_free (self->spinner_label);
  self->spinner_label = g_strdup (label);
  ensure_newline (self);
  spinner_draw (self);
  if (self->spinner_id == 0)
    self->spinner_id = g_timeout_add (100, spinner_tick_cb, self);
}

/* A dim line on stderr for what happens around the answer. */
static void
note (Turn       *self,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static void
note (Turn       *self,
      const char *format,
      ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  spinner_hide (self);
  ensure_newline (self);
  fprintf (stderr, "%s%s%s\n", ctl_style (stderr, CTL_STYLE_DIM), text,
           ctl_style (stderr, CTL_STYLE_RESET));
  fflush (stderr);
}

static void
json_line (const char *type,
           ...)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  va_list args;
  const char *key;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  va_start (args, type);
  while ((key = va_arg (args, const char *)) != NULL)
    {
      const char *value = va_arg (args, const char *);

      if (value == NULL)
        continue;
      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, value);
    }
  va_end (args);
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static void
print_result_json (Turn *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "result");
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, self->id);
  json_builder_set_member_name (builder, "content");
  json_builder_add_string_value (builder, self->content ? self->content : "");
  json_builder_set_member_name (builder, "aborted");
  json_builder_add_boolean_value (builder, self->aborted);
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static void
quit (Turn *self,
      int   status)
{
  self->status = status;
  g_main_loop_quit (self->ctl->loop);
}

static void
end_turn (Turn *self)
{
  gboolean failed = self->error_message != NULL;
  gboolean interrupted = self->aborting;

  g_clear_handle_id (&self->error_timeout_id, g_source_remove);
  if (!self->in_turn)
    return;
  self->in_turn = FALSE;
  self->aborting = FALSE;
  spinner_hide (self);
  ensure_newline (self);

  if (failed)
    {
      if (self->ctl->json)
        json_line ("error", "message", self->error_message, NULL);
      else
        ctl_printerr ("%s", self->error_message);
    }
  else if (self->ctl->json)
    print_result_json (self);

  if (self->chat)
    chat_prompt (self);
  else
    quit (self, interrupted ? CTL_EXIT_INTERRUPTED :
                failed || self->aborted ? CTL_EXIT_FAILURE : CTL_EXIT_OK);
}

static void
on_delta (Turn       *self,
          const char *message_id,
          guint       stream,
          const char *text)
{
  if (self->ctl->json)
    {
      json_line (stream == 0 ? "delta" : "reasoning",
                 "message_id", message_id, "text", text, NULL);
      return;
    }

  if (stream != 0 && !self->stdout_tty)
    return;
  if (*text == '\0')
    return;

  spinner_hide (self);
  if (stream != self->last_stream && self->last_stream != NO_STREAM)
    ensure_newline (self);
  if (stream == 0)
    {
      g_hash_table_add (self->streamed, g_strdup (message_id));
      fputs (text, stdout);
    }
  else
    fprintf (stdout, "%s%s%s", ctl_style (stdout, CTL_STYLE_DIM), text,
             ctl_style (stdout, CTL_STYLE_RESET));
  self->last_stream = stream;
  self->out_col0 = g_str_has_suffix (text, "\n");
  fflush (stdout);
}

static void
on_assistant_message (Turn     *self,
                      JsonNode *data)
{
  const char *message_id = ctl_json_get_string (data, "messageId");
  const char *content = ctl_json_get_string (data, "content");
  JsonNode *requests = ctl_json_get_member (data, "toolRequests");
  gboolean more = requests != NULL && JSON_NODE_HOLDS_ARRAY (requests) &&
                  json_array_get_length (json_node_get_array (requests)) > 0;

  /* Messages of sub-agents are not the answer to the prompt. */
  if (ctl_json_get_member (data, "parentToolCallId") != NULL)
    return;

  g_free (self->content);
  self->content = g_strdup (content ? content : "");

  if (self->ctl->json)
    {
      json_line ("message", "message_id", message_id, "content", content, NULL);
      return;
    }

  /* Without streaming (or when deltas were missed) this is the only text. */
  if (content != NULL && *content != '\0' &&
      (message_id == NULL || !g_hash_table_contains (self->streamed, message_id)))
    {
      spinner_hide (self);
      ensure_newline (self);
      fputs (content, stdout);
      self->out_col0 = g_str_has_suffix (content, "\n");
    }
  ensure_newline (self);
  if (more)
    spinner_show (self, _("thinking…"));
}

static gboolean
error_timeout_cb (gpointer user_data)
{
  Turn *self = user_data;

  /* After a rate limit the CLI asks about the auto model before its
   * session.idle: a question on the screen waits for its answer. */
  if (self->prompting)
    return G_SOURCE_CONTINUE;
  self->error_timeout_id = 0;
  end_turn (self);
  return G_SOURCE_REMOVE;
}

static void
on_event (Turn       *self,
          const char *type,
          const char *data_json)
{
  g_autoptr(JsonNode) data = ctl_json_parse (data_json);

  if (g_strcmp0 (type, "assistant.message") == 0)
    on_assistant_message (self, data);
  else if (g_strcmp0 (type, "tool.execution_start") == 0)
    {
      const char *name = ctl_json_get_string (data, "toolName");
      const char *detail = ctl_tool_detail (data);

      if (self->ctl->json)
        json_line ("tool", "name", name, "detail", detail, NULL);
      else
        {
          g_autofree char *line = ctl_one_line (detail ? detail : name);
          g_autofree char *cut = ctl_truncate (line, ctl_terminal_width (stderr) > 14 ?
                                                     ctl_terminal_width (stderr) - 14 : 0);

          g_autofree char *label = g_strdup_printf (_("running %s…"), name ? name : "");

          note (self, "%s %s %s", ctl_glyph ("▸", ">"), _("running:"), cut);
          spinner_show (self, label);
        }
    }
  else if (g_strcmp0 (type, "tool.execution_complete") == 0)
    {
      JsonNode *error = ctl_json_get_member (data, "error");
      const char *message = ctl_json_get_string (error, "message");

      if (!self->ctl->json && !ctl_json_get_boolean (data, "success") && message != NULL)
        {
          g_autofree char *line = ctl_one_line (message);

          note (self, "%s %s", ctl_glyph ("✗", "x"), line);
        }
      if (!self->ctl->json)
        spinner_show (self, _("thinking…"));
    }
  else if (g_strcmp0 (type, "session.warning") == 0 && !self->ctl->json)
    {
      const char *message = ctl_json_get_string (data, "message");

      if (message != NULL)
        note (self, "%s %s", _("warning:"), message);
    }
  else if (g_strcmp0 (type, "copilotd.backend_restarted") == 0 && !self->ctl->json)
    note (self, "%s", _("(the Copilot CLI was restarted)"));
  else if (g_strcmp0 (type, "session.error") == 0)
    {
      const char *message = ctl_json_get_string (data, "message");

      g_free (self->error_message);
      self->error_message = g_strdup (message ? message : _("the session failed"));
      /* session.idle follows; ending the turn now would let that idle end
       * the next one. Do not wait for it forever, though. */
      if (self->error_timeout_id == 0)
        self->error_timeout_id = g_timeout_add (ERROR_IDLE_WAIT_MS, error_timeout_cb, self);
    }
  else if (g_strcmp0 (type, "session.idle") == 0)
    {
      if (ctl_json_get_boolean (data, "aborted"))
        self->aborted = TRUE;
      end_turn (self);
    }
}

static void
on_closed (Turn     *self,
           GVariant *details)
{
  const char *reason = ctl_vardict_get_string (details, "reason");

  self->closed = TRUE;
  spinner_hide (self);
  ensure_newline (self);
  if (self->ctl->json)
    json_line ("closed", "reason", reason, NULL);
  else
    ctl_printerr (_("the session was closed (%s)"), reason ? reason : _("no reason given"));
  quit (self, CTL_EXIT_FAILURE);
}

static void
on_session_signal (GDBusConnection *bus,
                   const char      *sender,
                   const char      *path,
                   const char      *interface,
                   const char      *member,
                   GVariant        *parameters,
                   gpointer         user_data)
{
  Turn *self = user_data;

  if (g_strcmp0 (member, "Delta") == 0 &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(tsus)")))
    {
      const char *message_id, *text;
      guint64 serial;
      guint stream;

      g_variant_get (parameters, "(t&su&s)", &serial, &message_id, &stream, &text);
      if (self->in_turn)
        on_delta (self, message_id, stream, text);
    }
  else if (g_strcmp0 (member, "Event") == 0 &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(tsa{sv}s)")))
    {
      const char *type, *data_json;
      guint64 serial;

      g_variant_get (parameters, "(t&s@a{sv}&s)", &serial, &type, NULL, &data_json);
      if (self->in_turn)
        on_event (self, type, data_json);
    }
  else if (g_strcmp0 (member, "Closed") == 0 &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) details = g_variant_get_child_value (parameters, 0);

      on_closed (self, details);
    }
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Turn *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message_id = NULL;

  if (copilotd_dbus_session_call_send_finish (COPILOTD_DBUS_SESSION (source),
                                              &message_id, result, &error))
    return;

  spinner_hide (self);
  ensure_newline (self);
  ctl_print_error (error);
  self->in_turn = FALSE;
  if (self->chat && !self->closed)
    chat_prompt (self);
  else
    quit (self, CTL_EXIT_FAILURE);
}

/* The turn's state, before its events arrive. */
static void
begin_turn (Turn *self)
{
  g_hash_table_remove_all (self->streamed);
  g_clear_pointer (&self->content, g_free);
  g_clear_pointer (&self->error_message, g_free);
  self->aborted = FALSE;
  self->aborting = FALSE;
  self->in_turn = TRUE;
  self->last_stream = NO_STREAM;
  spinner_show (self, _("thinking…"));
}

static void
start_turn (Turn       *self,
            const char *prompt)
{
  begin_turn (self);
  copilotd_dbus_session_call_send (self->session, prompt,
                                   g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0),
                                   NULL, send_cb, self);
}

static void
chat_line_cb (const char *line,
              gpointer    user_data)
{
  Turn *self = user_data;
  g_autofree char *prompt = NULL;

  if (line == NULL)
    {
      ensure_newline (self);
      quit (self, CTL_EXIT_OK);
      return;
    }
  self->out_col0 = TRUE;
  prompt = g_strstrip (g_strdup (line));
  if (*prompt == '\0')
    {
      chat_prompt (self);
      return;
    }
  if (g_strcmp0 (prompt, "/quit") == 0 || g_strcmp0 (prompt, "/exit") == 0)
    {
      quit (self, CTL_EXIT_OK);
      return;
    }
  if (prompt[0] == '/')
    {
      g_autoptr(GError) error = NULL;

      /* A slash command (control.c); one whose work is a turn starts it. */
      if (ctl_chat_command (self->ctl, self->session, prompt, &error))
        begin_turn (self);
      else
        {
          if (error != NULL)
            ctl_print_error (error);
          chat_prompt (self);
        }
      return;
    }
  start_turn (self, prompt);
}

static void
chat_prompt (Turn *self)
{
  CtlTerm *term = ctl_term_get_stdin ();

  if (ctl_term_is_editing (term) && !self->ctl->json)
    {
      /* libedit shows the prompt, and knows its width. */
      self->out_col0 = FALSE;
      ctl_term_request_line_with_prompt (term, _("you> "), chat_line_cb, self);
      return;
    }
  if (isatty (STDIN_FILENO) && !self->ctl->json)
    {
      fprintf (stdout, "%s%s%s", ctl_style (stdout, CTL_STYLE_BOLD), _("you> "),
               ctl_style (stdout, CTL_STYLE_RESET));
      fflush (stdout);
      /* Until a line is typed (and echoed), the cursor is after the prompt. */
      self->out_col0 = FALSE;
    }
  ctl_term_request_line (ctl_term_get_stdin (), chat_line_cb, self);
}

static void
abort_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!copilotd_dbus_session_call_abort_finish (COPILOTD_DBUS_SESSION (source), result, &error))
    ctl_print_error (error);
}

static gboolean
sigint_cb (gpointer user_data)
{
  Turn *self = user_data;

  if (!self->in_turn || self->aborting || self->session == NULL)
    {
      /* At the prompt, or a second Ctrl-C while aborting: leave. */
      spinner_hide (self);
      ensure_newline (self);
      quit (self, CTL_EXIT_INTERRUPTED);
      return G_SOURCE_CONTINUE;
    }

  self->aborting = TRUE;
  if (!self->ctl->json)
    note (self, "%s", _("(aborted)"));
  copilotd_dbus_session_call_abort (self->session,
                                    g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0),
                                    NULL, abort_cb, self);
  return G_SOURCE_CONTINUE;
}

static void
on_prompt (gboolean prompting,
           gpointer user_data)
{
  Turn *self = user_data;

  if (prompting)
    {
      spinner_hide (self);
      ensure_newline (self);
      self->prompting = TRUE;
    }
  else
    {
      self->prompting = FALSE;
      spinner_show (self, _("thinking…"));
    }
}

static GVariant *
session_options (const char *model,
                 const char *cwd)
{
  g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&options, "{sv}", "client-name", g_variant_new_string (CTL_CLIENT_NAME));
  g_variant_builder_add (&options, "{sv}", "streaming", g_variant_new_boolean (TRUE));
  if (model != NULL)
    g_variant_builder_add (&options, "{sv}", "model", g_variant_new_string (model));
  if (cwd != NULL)
    g_variant_builder_add (&options, "{sv}", "working-directory", g_variant_new_string (cwd));
  return g_variant_builder_end (&options);
}

/* Agent first, then the session, then the signal match, so that nothing of
 * the first turn can be missed. */
static gboolean
turn_setup (Turn         *self,
            const char   *resume_id,
            const char   *model,
            const char   *cwd,
            CtlAnswerMode mode,
            GError      **error)
{
  Ctl *ctl = self->ctl;
  g_autoptr(GError) local_error = NULL;
  const char *owner;
  const char *id;

  self->agent = ctl_agent_new (ctl, mode, FALSE, error);
  if (self->agent == NULL)
    return FALSE;
  ctl_agent_set_prompt_func (self->agent, on_prompt, self);

  if (resume_id != NULL)
    {
      g_autofree char *wanted = ctl_resolve_session_id (ctl, resume_id, error);

      /* A live session (another app's, or another copilotctl's) is joined
       * and left live; one brought back from disk is ended again. */
      if (wanted != NULL)
        {
          g_autofree char *live_path = ctl_session_path_from_id (wanted);
          g_autoptr(CopilotdDbusSession) live = ctl_session_proxy_new (ctl, live_path, NULL);

          self->joined = live != NULL &&
                         copilotd_dbus_session_call_subscribe_sync (live, ctl_empty_options (),
                                                                    NULL, NULL, NULL);
        }
      if (wanted == NULL ||
          !copilotd_dbus_manager_call_resume_session_sync (ctl->manager, wanted,
                                                           session_options (model, cwd),
                                                           &self->path, NULL, error))
        return FALSE;
    }
  else if (!copilotd_dbus_manager_call_create_session_sync (ctl->manager,
                                                            session_options (model, cwd),
                                                            &self->path, NULL, error))
    return FALSE;

  self->session = ctl_session_proxy_new (ctl, self->path, error);
  if (self->session == NULL)
    return FALSE;
  id = copilotd_dbus_session_get_id (self->session);
  self->id = (id != NULL && *id != '\0') ? g_strdup (id) : ctl_session_id_from_path (self->path);

  owner = ctl_daemon_owner (ctl, error);
  if (owner == NULL)
    return FALSE;
  self->subscription = g_dbus_connection_signal_subscribe (ctl->bus, owner, CTL_SESSION_IFACE,
                                                           NULL, self->path, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE,
                                                           on_session_signal, self, NULL);

  /* A resumed session may be live and owned by another connection of ours. */
  if (resume_id != NULL &&
      !copilotd_dbus_session_call_subscribe_sync (self->session,
                                                  g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0),
                                                  NULL, NULL, error))
    return FALSE;

  /* Without an agent the turn still runs; prompts are then refused. */
  if (!ctl_agent_register (self->agent, FALSE, &local_error))
    {
      if (!ctl->json)
        {
          g_dbus_error_strip_remote_error (local_error);
          ctl_printerr (_("cannot answer permission prompts: %s"), local_error->message);
        }
    }
  return TRUE;
}

static void
turn_teardown (Turn *self)
{
  Ctl *ctl = self->ctl;

  spinner_hide (self);
  g_clear_handle_id (&self->sigint_id, g_source_remove);
  g_clear_handle_id (&self->error_timeout_id, g_source_remove);
  if (self->subscription != 0)
    g_dbus_connection_signal_unsubscribe (ctl->bus, self->subscription);
  self->subscription = 0;

  /* Destroy, not delete: the session stays on disk and can be resumed. */
  if (self->session != NULL && !self->closed && !self->joined)
    {
      g_autoptr(GError) error = NULL;

      if (!copilotd_dbus_session_call_destroy_sync (self->session,
                                                    g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0),
                                                    NULL, &error))
        ctl_print_error (error);
    }
  if (self->id != NULL && !ctl->json)
    {
      fflush (stdout);
      fprintf (stderr, "%s", ctl_style (stderr, CTL_STYLE_DIM));
      fprintf (stderr, _("Session %s (resume with: copilotctl chat --resume %s)"), self->id, self->id);
      fprintf (stderr, "%s\n", ctl_style (stderr, CTL_STYLE_RESET));
    }

  g_clear_pointer (&self->agent, ctl_agent_free);
  g_clear_object (&self->session);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->streamed, g_hash_table_unref);
  g_clear_pointer (&self->content, g_free);
  g_clear_pointer (&self->error_message, g_free);
  g_clear_pointer (&self->spinner_label, g_free);
}

static void
turn_init (Turn    *self,
           Ctl     *ctl,
           gboolean chat)
{
  memset (self, 0, sizeof *self);
  self->ctl = ctl;
  self->chat = chat;
  self->streamed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->stdout_tty = isatty (STDOUT_FILENO);
  self->out_col0 = TRUE;
  self->last_stream = NO_STREAM;
  self->progress = !ctl->json && isatty (STDERR_FILENO);
  self->status = CTL_EXIT_OK;
  self->sigint_id = g_unix_signal_add (SIGINT, sigint_cb, self);
}

static gboolean
parse_answer_mode (const char    *command,
                   gboolean       yes,
                   gboolean       no,
                   CtlAnswerMode *mode)
{
  if (yes && no)
    {
      ctl_usage_error (command, "%s", _("--yes and --no cannot be used together"));
      return FALSE;
    }
  *mode = yes ? CTL_ANSWER_YES : no ? CTL_ANSWER_NO : CTL_ANSWER_ASK;
  return TRUE;
}

/* NULL after a usage error was printed. */
static char *
absolute_directory (const char *command,
                    const char *dir)
{
  g_autofree char *path = NULL;

  if (dir == NULL)
    return g_get_current_dir ();
  path = g_canonicalize_filename (dir, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      ctl_usage_error (command, _("not a directory: %s"), dir);
      return NULL;
    }
  return g_steal_pointer (&path);
}

static int
run_session (Ctl          *ctl,
             gboolean      chat,
             const char   *resume_id,
             const char   *model,
             const char   *cwd,
             CtlAnswerMode mode,
             const char   *prompt)
{
  Turn turn;
  g_autoptr(GError) error = NULL;
  int status;

  turn_init (&turn, ctl, chat);
  if (!turn_setup (&turn, resume_id, model, cwd, mode, &error))
    {
      ctl_print_error (error);
      turn.status = CTL_EXIT_FAILURE;
    }
  else
    {
      if (chat)
        chat_prompt (&turn);
      else
        start_turn (&turn, prompt);
      g_main_loop_run (ctl->loop);
    }
  status = turn.status;
  turn_teardown (&turn);
  return status;
}

int
ctl_cmd_ask (Ctl   *ctl,
             int    argc,
             char **argv)
{
  g_autofree char *model = NULL;
  g_autofree char *cwd = NULL;
  g_autofree char *directory = NULL;
  g_autofree char *prompt = NULL;
  g_autofree char *resume = NULL;
  gboolean yes = FALSE, no = FALSE;
  CtlAnswerMode mode;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "session", 's', 0, G_OPTION_ARG_STRING, &resume, N_("Continue the session with this ID"), N_("ID") },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, N_("Use this model"), N_("MODEL") },
    { "cwd", 'C', 0, G_OPTION_ARG_FILENAME, &cwd, N_("Working directory of the session (default: the current one)"), N_("DIR") },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Approve every permission request without asking"), NULL },
    { "no", 'n', 0, G_OPTION_ARG_NONE, &no, N_("Reject every permission request without asking"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (_("PROMPT…"));
  g_option_context_set_summary (context, _("Ask Copilot once and print the answer."));
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Without PROMPT the prompt is read from standard input."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      ctl_usage_error ("ask", "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (!parse_answer_mode ("ask", yes, no, &mode))
    return CTL_EXIT_USAGE;
  if (argc > 1 && g_strcmp0 (argv[1], "--") == 0)
    {
      argv++;
      argc--;
    }

  if (argc > 1)
    prompt = g_strjoinv (" ", argv + 1);
  else if (!isatty (STDIN_FILENO))
    {
      g_autoptr(GInputStream) input = NULL;
      g_autoptr(GOutputStream) buffer = g_memory_output_stream_new_resizable ();

      input = G_INPUT_STREAM (g_unix_input_stream_new (STDIN_FILENO, FALSE));
      if (g_output_stream_splice (buffer, input, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                  NULL, &error) < 0)
        {
          ctl_print_error (error);
          return CTL_EXIT_FAILURE;
        }
      /* NULL data when nothing was read. */
      prompt = g_strndup (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (buffer)),
                          g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (buffer)));
      if (prompt != NULL)
        g_strstrip (prompt);
    }
  if (prompt == NULL || *prompt == '\0')
    {
      ctl_usage_error ("ask", "%s", _("no prompt given"));
      return CTL_EXIT_USAGE;
    }

  if (resume == NULL || cwd != NULL)
    {
      directory = absolute_directory ("ask", cwd);
      if (directory == NULL)
        return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;
  return run_session (ctl, FALSE, resume, model, directory, mode, prompt);
}

int
ctl_cmd_chat (Ctl   *ctl,
              int    argc,
              char **argv)
{
  g_autofree char *model = NULL;
  g_autofree char *cwd = NULL;
  g_autofree char *resume = NULL;
  g_autofree char *directory = NULL;
  gboolean yes = FALSE, no = FALSE;
  CtlAnswerMode mode;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "resume", 'r', 0, G_OPTION_ARG_STRING, &resume, N_("Continue the session with this ID"), N_("ID") },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, N_("Use this model"), N_("MODEL") },
    { "cwd", 'C', 0, G_OPTION_ARG_FILENAME, &cwd, N_("Working directory of a new session (default: the current one)"), N_("DIR") },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Approve every permission request without asking"), NULL },
    { "no", 'n', 0, G_OPTION_ARG_NONE, &no, N_("Reject every permission request without asking"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Talk with Copilot, one prompt per line."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Type /quit or press Ctrl-D to leave; Ctrl-C stops the current answer."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      ctl_usage_error ("chat", "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      ctl_usage_error ("chat", _("unexpected argument: %s"), argv[1]);
      return CTL_EXIT_USAGE;
    }
  if (!parse_answer_mode ("chat", yes, no, &mode))
    return CTL_EXIT_USAGE;
  if (resume == NULL || cwd != NULL)
    {
      directory = absolute_directory ("chat", cwd);
      if (directory == NULL)
        return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;
  return run_session (ctl, TRUE, resume, model, directory, mode, NULL);
}
