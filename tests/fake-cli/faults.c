/* SPDX-License-Identifier: MIT */
/* faults.c: failures the real CLI will not produce on demand
 *
 * Tests switch them on through the environment (the daemon passes its
 * environment through to the CLI it spawns):
 *
 *   FAKE_CLI_PROTOCOL_VERSION=N  protocolVersion in connect/ping/status.get
 *                                (default 3; "none" omits it)
 *   FAKE_CLI_NO_CONNECT=1        connect → -32601 "Unhandled method connect"
 *   FAKE_CLI_EXIT_AT_START=1     _exit(1) right after the "started" line
 *   FAKE_CLI_GARBAGE_AFTER=N     after N responses write one framed
 *                                {"id":null,"error":{"code":-32700,…}} and
 *                                then write nothing more (stays alive)
 *   FAKE_CLI_RECORD=FILE         append every frame received, compact JSON,
 *                                one per line, flushed
 *   FAKE_CLI_HANG=m1,m2          never answer (nor run) these methods
 *   FAKE_CLI_DELAY=m1:ms,m2:ms   run (and answer) these methods that many
 *                                ms late, while later frames are read and
 *                                answered; the record gets a line
 *                                {"fake-dispatched":"m1"} when one runs
 *   FAKE_CLI_WEDGE_AFTER=N       after N responses answer nothing more, not
 *                                even ping, yet stay alive and read (0: a
 *                                CLI silent from the start)
 *   FAKE_CLI_IGNORE_SIGTERM=1    ignore SIGTERM, and stay after stdin EOF
 *                                and runtime.shutdown: only SIGKILL ends it
 *   FAKE_CLI_VERSION=TEXT        the version connect/status.get report
 *   FAKE_CLI_QUOTA_BYTES=N       account.getQuota's result carries N bytes
 *
 * To add a fault: a field in FakeCli's "Knobs" (fake-cli.h), read it in
 * faults_init(), free it in faults_clear(), and act on it where it bites
 * (a hook here called from framing.c or methods.c); document it above.
 * Faults that a prompt triggers mid-turn (CRASH) are prompt directives
 * instead: see prompts.c.
 */
#include "fake-cli.h"

void
faults_init (void)
{
  const char *value;

  if (g_strcmp0 (g_getenv ("FAKE_CLI_EXIT_AT_START"), "1") == 0)
    {
      g_printerr ("fake-cli: exiting at start (FAKE_CLI_EXIT_AT_START)\n");
      _exit (1);
    }

  cli.protocol_version = g_strdup (g_getenv ("FAKE_CLI_PROTOCOL_VERSION") ?
                                   g_getenv ("FAKE_CLI_PROTOCOL_VERSION") : "3");
  cli.version = g_strdup (g_getenv ("FAKE_CLI_VERSION") ? g_getenv ("FAKE_CLI_VERSION") : FAKE_VERSION);
  cli.no_connect = g_strcmp0 (g_getenv ("FAKE_CLI_NO_CONNECT"), "1") == 0;
  cli.garbage_after = -1;
  value = g_getenv ("FAKE_CLI_GARBAGE_AFTER");
  if (value != NULL)
    {
      guint64 n;

      if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT32, &n, NULL))
        cli.garbage_after = n;
    }
  cli.wedge_after = -1;
  value = g_getenv ("FAKE_CLI_WEDGE_AFTER");
  if (value != NULL)
    {
      guint64 n;

      if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT32, &n, NULL))
        cli.wedge_after = n;
    }
  cli.ignore_sigterm = g_strcmp0 (g_getenv ("FAKE_CLI_IGNORE_SIGTERM"), "1") == 0;
  value = g_getenv ("FAKE_CLI_HANG");
  cli.hang = value ? g_strsplit (value, ",", -1) : NULL;
  value = g_getenv ("FAKE_CLI_DELAY");
  cli.delay = value ? g_strsplit (value, ",", -1) : NULL;
  value = g_getenv ("FAKE_CLI_RECORD");
  if (value != NULL && *value != '\0')
    {
      cli.record = fopen (value, "a");
      if (cli.record == NULL)
        g_printerr ("fake-cli: cannot open %s: %s\n", value, g_strerror (errno));
    }
}

void
faults_clear (void)
{
  g_clear_pointer (&cli.protocol_version, g_free);
  g_clear_pointer (&cli.version, g_free);
  g_clear_pointer (&cli.hang, g_strfreev);
  g_clear_pointer (&cli.delay, g_strfreev);
  g_clear_pointer (&cli.record, fclose);
}

/* Sets protocolVersion in a connect/ping/status.get result. With
 * FAKE_CLI_PROTOCOL_VERSION=none it is left out, unless @always. */
void
faults_set_protocol_version (JsonObject *result,
                             gboolean    always)
{
  if (!always && g_strcmp0 (cli.protocol_version, "none") == 0)
    return;
  /* 64-bit, so that 4294967299 (2^32 + 3) goes out as written. */
  json_object_set_int_member (result, "protocolVersion", g_ascii_strtoll (cli.protocol_version, NULL, 10));
}

/* After FAKE_CLI_GARBAGE_AFTER responses the fake writes one -32700 with a
 * null id, like the real CLI after a framing error, and goes silent. */
void
faults_maybe_write_garbage (void)
{
  if (cli.garbage_after >= 0 && cli.n_responses >= (guint) cli.garbage_after && !cli.dead)
    {
      JsonObject *msg = new_message ();

      json_object_set_null_member (msg, "id");
      json_object_set_object_member (msg, "error",
                                     parse_object ("{\"code\":-32700,\"message\":\"Parse error\"}"));
      send_message (msg);
      cli.dead = TRUE;
      g_printerr ("fake-cli: desynchronised after %u responses\n", cli.n_responses);
    }
}

/* Called after every response the fake writes. */
void
faults_count_response (void)
{
  cli.n_responses++;
  faults_maybe_write_garbage ();
}

gboolean
faults_method_hangs (const char *method)
{
  if (cli.wedge_after >= 0 && cli.n_responses >= (guint64) cli.wedge_after)
    {
      g_printerr ("fake-cli: wedged, not answering %s (FAKE_CLI_WEDGE_AFTER)\n", method);
      return TRUE;
    }
  for (guint i = 0; cli.hang && cli.hang[i]; i++)
    if (g_strcmp0 (g_strstrip (cli.hang[i]), method) == 0)
      return TRUE;
  return FALSE;
}

typedef struct {
  JsonNode *id;        /* owned */
  char *method;        /* owned */
  JsonObject *params;  /* owned, nullable */
} DelayedCall;

static gboolean
run_delayed (gpointer user_data)
{
  DelayedCall *call = user_data;
  g_autofree char *marker = g_strdup_printf ("{\"fake-dispatched\":\"%s\"}", call->method);

  faults_record_frame (marker);
  methods_dispatch (call->id, call->method, call->params);
  json_node_unref (call->id);
  g_free (call->method);
  g_clear_pointer (&call->params, json_object_unref);
  g_free (call);
  return G_SOURCE_REMOVE;
}

/* FAKE_CLI_DELAY: TRUE when @method runs later instead of now. */
gboolean
faults_delay_method (JsonNode   *id,
                     const char *method,
                     JsonObject *params)
{
  for (guint i = 0; cli.delay && cli.delay[i]; i++)
    {
      const char *colon = strrchr (cli.delay[i], ':');
      DelayedCall *call;

      if (colon == NULL || strncmp (cli.delay[i], method, colon - cli.delay[i]) != 0 ||
          method[colon - cli.delay[i]] != '\0')
        continue;
      call = g_new0 (DelayedCall, 1);
      call->id = json_node_copy (id);
      call->method = g_strdup (method);
      call->params = params ? json_object_ref (params) : NULL;
      g_timeout_add (atoi (colon + 1), run_delayed, call);
      return TRUE;
    }
  return FALSE;
}

void
faults_record_frame (const char *text)
{
  if (cli.record == NULL)
    return;
  fputs (text, cli.record);
  fputc ('\n', cli.record);
  fflush (cli.record);
}

gboolean
faults_ignore_sigterm (void)
{
  return cli.ignore_sigterm;
}
