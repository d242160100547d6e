/* copilotd-offline-model: a small local model server that speaks enough of
 * the Copilot model API (OpenAI chat-completions over HTTP/1.1, SSE when
 * streaming) for the real Copilot CLI to hold whole conversations.
 *
 * It is both the offline default a newcomer talks to without a GitHub login
 * and the mock model of the end-to-end tests, so its answers are
 * deterministic and driven by directives in the last user message (RUN:,
 * WRITE:, ASK:, TOOL:, SLOW:, FAIL:, "create a file named X").
 *
 *   http.c        the HTTP/1.1 server: connections, parsing, SSE
 *   directives.c  what to answer: the directives and the demo rule
 *   replies.c     the endpoints: chat completions, models, user
 *   main.c        options, the request log, signals
 *
 * Copyright 2026 copilotd authors
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "http.h"
#include "replies.h"

static gboolean
on_quit_signal (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_debug ("Signal received, exiting");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int    argc,
      char **argv)
{
  gint port = 0;
  gint delay_ms = -1;
  g_autofree gchar *address = NULL;
  g_autofree gchar *log_path = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on (0: pick a free one)", "N" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "Loopback address to bind (127.0.0.1)", "ADDR" },
    { "log", 'l', 0, G_OPTION_ARG_FILENAME, &log_path, "Append each completion request as a JSON line to FILE", "FILE" },
    { "delay-ms", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Pause before each streamed chunk", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  ModelState state = { 0 };
  HttpServer *server;

  setlocale (LC_ALL, "");

  /* stdout carries only the "listening on port" line. */
  g_log_writer_default_set_use_stderr (TRUE);

  context = g_option_context_new ("- local offline model for the Copilot CLI");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (port < 0 || port > 65535)
    {
      g_printerr ("Invalid port %d\n", port);
      return 2;
    }

  inet = g_inet_address_new_from_string (address ? address : "127.0.0.1");
  if (inet == NULL || !g_inet_address_get_is_loopback (inet))
    {
      g_printerr ("Only a loopback address may be bound, not “%s”\n", address);
      return 2;
    }

  if (log_path != NULL)
    {
      state.log = fopen (log_path, "a");
      if (state.log == NULL)
        {
          g_printerr ("Cannot open %s: %s\n", log_path, g_strerror (errno));
          return 1;
        }
    }

  state.delay_ms = delay_ms;
  loop = g_main_loop_new (NULL, FALSE);
  bind_address = g_inet_socket_address_new (inet, port);
  server = http_server_new (bind_address, replies_handle_request, &state, &error);
  if (server == NULL)
    {
      g_printerr ("Cannot listen on port %d: %s\n", port, error->message);
      return 1;
    }
  state.port = http_server_get_port (server);

  g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  g_unix_signal_add (SIGINT, on_quit_signal, loop);

  g_print ("listening on port %u\n", state.port);
  fflush (stdout);

  g_main_loop_run (loop);

  http_server_free (server);
  if (state.log != NULL)
    fclose (state.log);
  return 0;
}

