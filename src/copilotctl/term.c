/* SPDX-License-Identifier: MIT */
/* term.c: lines from the terminal (or stdin) without blocking the main loop
 *
 * A CtlTerm keeps at most one read in flight and hands each line to whoever
 * asked for it last. A consumer that gives up (a permission prompt that the
 * daemon withdrew) just stops listening: the read itself is never cancelled,
 * so no typed byte is lost between a withdrawn prompt and the next one, and
 * a line that nobody asked for is dropped.
 *
 * When stdin and stdout are a terminal, stdin's lines are read through
 * libedit (line editing, and a history kept in
 * $XDG_STATE_HOME/copilotctl/history), in its callback mode, one character
 * each time the main loop sees stdin readable: every line of stdin then
 * goes through libedit, so that no two readers share the descriptor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <editline/readline.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>

#include "copilotctl.h"

#define HISTORY_LENGTH 1000

struct _CtlTerm {
  GDataInputStream *input;   /* owned */
  FILE *output;              /* unowned (stderr) or owned (/dev/tty) */
  gboolean owns_output;
  gboolean reading;
  gboolean eof;
  gboolean edit;             /* lines come through libedit */
  guint edit_watch;
  CtlTermLineFunc func;      /* the current consumer, nullable */
  gpointer func_data;        /* unowned */
};

static void deliver (CtlTerm    *term,
                     const char *line);

/* ---- libedit --------------------------------------------------------- */

static CtlTerm *editing;     /* unowned: the term libedit reads a line for */
static char *history_path;   /* owned, nullable */

static void
edit_restore (void)
{
  if (editing != NULL)
    rl_callback_handler_remove ();
  editing = NULL;
}

static void
history_load (void)
{
  static gboolean loaded = FALSE;
  g_autofree char *dir = NULL;

  if (loaded)
    return;
  loaded = TRUE;
  using_history ();
  stifle_history (HISTORY_LENGTH);
  dir = g_build_filename (g_get_user_state_dir (), "copilotctl", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("No history: cannot create '%s': %s", dir, g_strerror (errno));
      return;
    }
  history_path = g_build_filename (dir, "history", NULL);
  read_history (history_path);
  /* copilotctl owns SIGINT (g_unix_signal_add): libedit must not. */
  rl_catch_signals = 0;
  atexit (edit_restore);
}

typedef struct {
  CtlTerm *term;
  char *line;                /* owned (malloc), nullable: end of input */
} EditLine;

static void
deliver_edit_line (gpointer user_data)
{
  EditLine *edit_line = user_data;

  if (edit_line->line == NULL)
    edit_line->term->eof = TRUE;
  deliver (edit_line->term, edit_line->line);
  free (edit_line->line);
  g_free (edit_line);
}

/* libedit has a whole line: hand it over from the main loop, outside of
 * libedit, which the consumer may call again at once. */
static void
edit_line_cb (char *line)
{
  CtlTerm *term = editing;
  EditLine *edit_line = g_new0 (EditLine, 1);

  rl_callback_handler_remove ();
  editing = NULL;
  g_clear_handle_id (&term->edit_watch, g_source_remove);
  term->reading = FALSE;
  if (line != NULL && *line != '\0')
    {
      add_history (line);
      if (history_path != NULL)
        write_history (history_path);
    }
  edit_line->term = term;
  edit_line->line = line;
  g_idle_add_once (deliver_edit_line, edit_line);
}

static gboolean
edit_ready_cb (gint         fd,
               GIOCondition condition,
               gpointer     user_data)
{
  rl_callback_read_char ();
  return G_SOURCE_CONTINUE;
}

static void
edit_start (CtlTerm    *term,
            const char *prompt)
{
  history_load ();
  term->reading = TRUE;
  editing = term;
  rl_callback_handler_install (prompt != NULL ? prompt : "", edit_line_cb);
  term->edit_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, edit_ready_cb, term);
}

/* ---- terms ----------------------------------------------------------- */

static CtlTerm *
ctl_term_new (int      fd,
              gboolean close_fd,
              FILE    *output,
              gboolean owns_output)
{
  CtlTerm *term = g_new0 (CtlTerm, 1);
  g_autoptr(GInputStream) base = g_unix_input_stream_new (fd, close_fd);

  term->input = g_data_input_stream_new (base);
  g_data_input_stream_set_newline_type (term->input, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  term->output = output;
  term->owns_output = owns_output;
  return term;
}

/* The process lives as long as these do, so they are never freed. */
CtlTerm *
ctl_term_get_stdin (void)
{
  static CtlTerm *term = NULL;

  if (term == NULL)
    {
      term = ctl_term_new (STDIN_FILENO, FALSE, stderr, FALSE);
      term->edit = isatty (STDIN_FILENO) && isatty (STDOUT_FILENO) &&
                   g_strcmp0 (g_getenv ("TERM"), "dumb") != 0;
    }
  return term;
}

/* Where a person can answer a prompt: stdin when it is a terminal, else
 * /dev/tty (stdin may carry the prompt text), else nowhere (NULL). */
CtlTerm *
ctl_term_get_interactive (void)
{
  static CtlTerm *tty_term = NULL;
  static gboolean tried = FALSE;
  int fd;
  FILE *output;

  if (isatty (STDIN_FILENO))
    return ctl_term_get_stdin ();
  if (tried)
    return tty_term;
  tried = TRUE;

  fd = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  if (isatty (STDERR_FILENO))
    output = stderr;
  else
    {
      int out_fd = dup (fd);

      output = out_fd >= 0 ? fdopen (out_fd, "w") : NULL;
      if (output == NULL)
        {
          if (out_fd >= 0)
            close (out_fd);
          close (fd);
          return NULL;
        }
    }
  tty_term = ctl_term_new (fd, TRUE, output, output != stderr);
  return tty_term;
}

FILE *
ctl_term_get_output (CtlTerm *term)
{
  return term->output;
}

gboolean
ctl_term_at_eof (CtlTerm *term)
{
  return term->eof;
}

gboolean
ctl_term_is_editing (CtlTerm *term)
{
  return term->edit;
}

static void
deliver (CtlTerm    *term,
         const char *line)
{
  CtlTermLineFunc func = term->func;
  gpointer data = term->func_data;

  term->func = NULL;
  term->func_data = NULL;
  if (func != NULL)
    func (line, data);
}

static void start_read (CtlTerm    *term,
                        const char *prompt);

static void
deliver_eof_cb (gpointer user_data)
{
  CtlTerm *term = user_data;

  deliver (term, NULL);
}

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CtlTerm *term = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;

  term->reading = FALSE;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                    result, &length, &error);
  if (line == NULL)
    {
      /* End of input, a closed terminal or text that is not UTF-8: in
       * every case nothing more can be read. */
      if (error != NULL)
        g_debug ("Reading the terminal failed: %s", error->message);
      term->eof = TRUE;
      deliver (term, NULL);
      return;
    }

  deliver (term, line);
  if (term->func != NULL)
    start_read (term, NULL);
}

static void
start_read (CtlTerm    *term,
            const char *prompt)
{
  if (term->reading || term->eof)
    return;
  if (term->edit)
    {
      edit_start (term, prompt);
      return;
    }
  term->reading = TRUE;
  g_data_input_stream_read_line_async (term->input, G_PRIORITY_DEFAULT, NULL,
                                       read_line_cb, term);
}

/* Calls @func once, from the main loop, with the next line (NULL at end of
 * input). Replaces any earlier consumer. @prompt (nullable) is shown by
 * libedit when the term edits lines; otherwise the caller prints its own. */
void
ctl_term_request_line_with_prompt (CtlTerm        *term,
                                   const char     *prompt,
                                   CtlTermLineFunc func,
                                   gpointer        user_data)
{
  term->func = func;
  term->func_data = user_data;
  if (term->eof)
    {
      /* Deliver from the main loop, never from inside the caller. */
      g_idle_add_once (deliver_eof_cb, term);
      return;
    }
  start_read (term, prompt);
}

void
ctl_term_request_line (CtlTerm        *term,
                       CtlTermLineFunc func,
                       gpointer        user_data)
{
  ctl_term_request_line_with_prompt (term, NULL, func, user_data);
}

void
ctl_term_cancel_request (CtlTerm *term)
{
  term->func = NULL;
  term->func_data = NULL;
}
