/* term.c: lines from the terminal (or stdin) without blocking the main loop
 *
 * A CtlTerm keeps at most one read in flight and hands each line to whoever
 * asked for it last. A consumer that gives up (a permission prompt that the
 * daemon withdrew) just stops listening: the read itself is never cancelled,
 * so no typed byte is lost between a withdrawn prompt and the next one, and
 * a line that nobody asked for is dropped.
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "copilotctl.h"

struct _CtlTerm {
  GDataInputStream *input;   /* owned */
  FILE *output;              /* unowned (stderr) or owned (/dev/tty) */
  gboolean owns_output;
  gboolean reading;
  gboolean eof;
  CtlTermLineFunc func;      /* the current consumer, nullable */
  gpointer func_data;        /* unowned */
};

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
    term = ctl_term_new (STDIN_FILENO, FALSE, stderr, FALSE);
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

static void start_read (CtlTerm *term);

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
    start_read (term);
}

static void
start_read (CtlTerm *term)
{
  if (term->reading || term->eof)
    return;
  term->reading = TRUE;
  g_data_input_stream_read_line_async (term->input, G_PRIORITY_DEFAULT, NULL,
                                       read_line_cb, term);
}

/* Calls @func once, from the main loop, with the next line (NULL at end of
 * input). Replaces any earlier consumer. */
void
ctl_term_request_line (CtlTerm        *term,
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
  start_read (term);
}

void
ctl_term_cancel_request (CtlTerm *term)
{
  term->func = NULL;
  term->func_data = NULL;
}
