/* SPDX-License-Identifier: MIT */
/* main.c: a scripted stand-in for the Copilot CLI
 *
 * The daemon's integration tests spawn this instead of the real
 * `copilot --headless --stdio`: it speaks the same JSON-RPC 2.0 with LSP
 * Content-Length framing (PROTOCOL.md §1.4) on stdin/stdout, keeps sessions
 * like the real CLI (live ones, plus a "disk" that survives restarts under
 * $COPILOT_HOME), and plays turns whose shape is chosen by the prompt
 * (prompts.c: `PERMISSION:`, `ASK:`, `TOOL:`, `SLOW:`, `HOOK:`, `ERROR:`,
 * `CRASH`). The events of a turn are replayed from the real transcripts in
 * tests/data/, so the daemon sees the same noise as in production.
 *
 * Faults the real CLI will not produce on demand are switched on through
 * FAKE_CLI_* environment variables (faults.c). Also read:
 *
 *   FAKE_CLI_DATA_DIR=DIR        where the transcripts are (default: the
 *                                source tree's tests/data)
 *   COPILOT_HOME=DIR             sessions persist in DIR/fake-cli-state.json
 *
 * One thread, one GMainLoop: stdin is a pollable stream, turns are queues of
 * actions pumped from idle/timeout sources, so events of a turn always go
 * out after the response to the request that started it, and a turn can
 * park while it waits for the client's answer. fake-cli.h lists where each
 * concern lives. Log lines go to stderr; stdout carries only frames.
 */
#include "fake-cli.h"

FakeCli cli;

static gboolean
signal_cb (gpointer user_data)
{
  g_main_loop_quit (cli.loop);
  return G_SOURCE_CONTINUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  guint sigterm_id, sigint_id;

  /* Arguments are those of the real CLI (--headless --stdio …); none of
   * them changes what the fake does, so all are ignored. */
  signal (SIGPIPE, SIG_IGN);
  /* stdout carries only frames: log lines go to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_printerr ("fake-cli: started pid %d\n", (int) getpid ());

  faults_init ();
  cli.next_rpc_id = 1;

  if (!transcripts_load (&error))
    {
      g_printerr ("fake-cli: cannot load transcripts: %s\n", error->message);
      return 2;
    }
  state_load ();

  cli.loop = g_main_loop_new (NULL, FALSE);
  framing_start ();
  if (faults_ignore_sigterm ())
    {
      signal (SIGTERM, SIG_IGN);
      sigterm_id = 0;
    }
  else
    sigterm_id = g_unix_signal_add (SIGTERM, signal_cb, NULL);
  sigint_id = g_unix_signal_add (SIGINT, signal_cb, NULL);

  /* FAKE_CLI_GARBAGE_AFTER=0: the very first frame is the bad one. */
  faults_maybe_write_garbage ();
  g_main_loop_run (cli.loop);

  sessions_shutdown_all ();

  g_clear_handle_id (&sigterm_id, g_source_remove);
  g_source_remove (sigint_id);
  state_clear ();
  framing_stop ();
  g_main_loop_unref (cli.loop);
  transcripts_clear ();
  faults_clear ();
  return 0;
}
