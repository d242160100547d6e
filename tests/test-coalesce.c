/* SPDX-License-Identifier: MIT */
/* test-coalesce.c: deltas merged for a subscriber that falls behind
 *
 * A second subscriber (tests/coalesce-subscriber.py, a separate process)
 * is stopped with SIGSTOP while the fake CLI streams a burst of deltas
 * with multi-byte characters, then continued. What it then reads must be
 * exactly the answer, in order, with serials that increase, in fewer Delta
 * signals than deltas (event-relay.c merged them), each merged Delta
 * carrying the serial of its last delta. The owner, which kept reading,
 * gets the same text. Not timed: README "Performance" measures.
 *
 * Deltas that reach copilotd together, in one write of the CLI's, are
 * merged for a subscriber that keeps up too: the first delta of the
 * message alone, the rest in far fewer Delta signals, the text exact.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon-fixture.h"

#define BURST 2000

typedef struct {
  char *line;      /* owned */
  char *out;       /* owned */
  gboolean done;
} Reading;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Reading *r = user_data;

  r->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  r->done = TRUE;
}

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Reading *r = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &r->out, NULL, &error);
  g_assert_no_error (error);
  r->done = TRUE;
}

static char *
expected_text (void)
{
  GString *text = g_string_new (NULL);

  for (guint i = 1; i <= BURST; i++)
    g_string_append_printf (text, "é€😀 %u ", i);
  return g_string_free (text, FALSE);
}

static guint
count_chunks_of (const char *text,
                 const char *mark)
{
  guint n = 0;

  for (const char *p = text; (p = strstr (p, mark)) != NULL; p += strlen (mark))
    n++;
  return n;
}

static guint
count_chunks (const char *text)
{
  return count_chunks_of (text, "😀");
}

static void
test_slow_subscriber (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "coalesce-subscriber.py", NULL);
  g_autofree char *expected = expected_text ();
  g_autofree char *prompt = g_strdup_printf ("BURST: %u", BURST);
  g_autoptr(GVariant) sent = NULL;
  g_autoptr(GSubprocess) helper = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) owner_text = g_string_new (NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  Reading ready = { 0 }, result = { 0 };
  JsonObject *got;
  JsonArray *deltas, *serials;
  GPid pid;
  int status;

  helper = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             "/usr/bin/python3", script, g_test_dbus_get_bus_address (fx->bus), path, NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, on_line, &ready);
  wait_flag (&ready.done, 30, "the subscriber to subscribe");
  g_assert_cmpstr (ready.line, ==, "ready");
  g_free (ready.line);

  /* It stops reading: its socket fills, then the bus queues for it. */
  pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (helper), NULL, 10);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, WUNTRACED), ==, pid);
  g_assert_true (WIFSTOPPED (status));

  sent = call_ok (fx->client, path, SESSION_IFACE, "Send", g_variant_new ("(sa{sv})", prompt, NULL), "(s)");
  signal_log_wait (log, 0, "Event", "session.idle", 60);

  /* It reads again. */
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  g_subprocess_communicate_utf8_async (helper, NULL, NULL, on_communicated, &result);
  wait_flag (&result.done, 60, "the subscriber to read everything");
  g_assert_true (g_subprocess_get_successful (helper));

  g_assert_true (json_parser_load_from_data (parser, result.out, -1, &error));
  g_assert_no_error (error);
  got = json_node_get_object (json_parser_get_root (parser));
  deltas = json_object_get_array_member (got, "deltas");
  serials = json_object_get_array_member (got, "serials");

  /* Everything it received, Delta or Event, in increasing serials. */
  for (guint i = 1; i < json_array_get_length (serials); i++)
    g_assert_cmpint (json_array_get_int_element (serials, i), >, json_array_get_int_element (serials, i - 1));

  for (guint i = 0; i < json_array_get_length (deltas); i++)
    {
      JsonArray *d = json_array_get_array_element (deltas, i);
      const char *part = json_array_get_string_element (d, 3);

      g_assert_true (g_utf8_validate (part, -1, NULL));
      if (i == 0)
        /* The first delta of the message is never held back. */
        g_assert_cmpstr (part, ==, "é€😀 1 ");
      else
        {
          /* A merged Delta has the serial of its last delta: deltas of
           * one message have consecutive serials. */
          JsonArray *prev = json_array_get_array_element (deltas, i - 1);

          g_assert_cmpint (json_array_get_int_element (d, 0) - json_array_get_int_element (prev, 0), ==,
                           count_chunks (part));
          g_assert_cmpstr (json_array_get_string_element (d, 1), ==, json_array_get_string_element (prev, 1));
        }
      g_string_append (text, part);
    }
  g_assert_cmpstr (text->str, ==, expected);
  /* It fell behind, so deltas were merged. */
  g_assert_cmpuint (json_array_get_length (deltas), <, BURST);
  g_test_message ("%u Delta signals carried %u deltas", json_array_get_length (deltas), BURST);

  /* The owner read along and got the same text. */
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      const char *part;

      if (strcmp (sig->member, "Delta") != 0)
        continue;
      g_variant_get_child (sig->params, 3, "&s", &part);
      g_string_append (owner_text, part);
    }
  g_assert_cmpstr (owner_text->str, ==, expected);
  g_free (result.out);
}

#define TOGETHER 100

/* One write of the CLI's, escaped for the fake CLI's RAW: `!` line:
 * TOGETHER deltas of one message. */
static char *
deltas_in_one_write (const char *session_id)
{
  GString *line = g_string_new ("!");

  for (guint i = 1; i <= TOGETHER; i++)
    {
      g_autofree char *body = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"method\":\"session.event\",\"params\":"
                                               "{\"sessionId\":\"%s\",\"event\":{\"type\":"
                                               "\"assistant.message_delta\",\"data\":{\"messageId\":"
                                               "\"together\",\"deltaContent\":\"é€ %u \"},"
                                               "\"ephemeral\":true}}}", session_id, i);

      g_string_append_printf (line, "Content-Length: %zu\\r\\n\\r\\n%s", strlen (body), body);
    }
  return g_string_free (line, FALSE);
}

static void
test_read_together (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autofree char *write = deltas_in_one_write (id);
  g_autofree char *prompt = raw_prompt (fx, (const char *[]) { write, NULL });
  g_autoptr(GVariant) sent = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  guint64 last_serial = 0;
  guint n_signals = 0;

  for (guint i = 1; i <= TOGETHER; i++)
    g_string_append_printf (expected, "é€ %u ", i);
  sent = call_ok (fx->client, path, SESSION_IFACE, "Send", g_variant_new ("(sa{sv})", prompt, NULL), "(s)");
  signal_log_wait (log, 0, "Event", "session.idle", 60);

  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = signal_log_get (log, i);
      const char *message_id, *part;
      guint64 serial;

      if (strcmp (sig->member, "Delta") != 0)
        continue;
      g_variant_get (sig->params, "(t&su&s)", &serial, &message_id, NULL, &part);
      g_assert_cmpstr (message_id, ==, "together");
      if (n_signals == 0)
        /* The first delta of the message is never held back. */
        g_assert_cmpstr (part, ==, "é€ 1 ");
      else
        /* A merged Delta has the serial of its last delta. */
        g_assert_cmpuint (serial - last_serial, ==, (guint64) count_chunks_of (part, "€"));
      last_serial = serial;
      g_string_append (text, part);
      n_signals++;
    }
  g_assert_cmpstr (text->str, ==, expected->str);
  /* A pipe holds the whole write; however copilotd's reads cut it, each
   * read brought many deltas. */
  g_assert_cmpuint (n_signals, <, TOGETHER / 4);
  g_test_message ("%u Delta signals carried %u deltas written at once", n_signals, TOGETHER);
}

int
main (int   argc,
      char *argv[])
{
  test_init (&argc, &argv);
  g_test_add ("/coalesce/slow-subscriber", Fixture, NULL, fixture_setup, test_slow_subscriber, fixture_teardown);
  g_test_add ("/coalesce/read-together", Fixture, NULL, fixture_setup, test_read_together, fixture_teardown);
  return g_test_run ();
}
