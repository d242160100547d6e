/* SPDX-License-Identifier: MIT */
/* bench-peer.c: the D-Bus ends of tests/bench/bench-daemon.py
 *
 * One program, one mode per measurement; each prints one JSON line on
 * stdout (logs go to stderr) and talks to $DBUS_SESSION_BUS_ADDRESS:
 *
 *   flood N RATE       CreateSession on copilotd (its CLI is flood-cli),
 *                      Send "FLOOD N RATE", receive the Delta signals until
 *                      the assistant.message Event
 *   raw-sub            the subscriber of the raw pair: prints its unique
 *                      name, then receives like `flood`
 *   raw-emit DEST N RATE  the emitter of the raw pair: the same Delta
 *                      signal shape, unicast to DEST, stamped like flood-cli
 *   raw-server         owns io.github.copilotd.Bench with an empty method
 *   rtt status|empty K K sequential calls of GetStatus or of the raw
 *                      empty method; round trips in µs
 *   sessions           live sessions owned by this connection: reads a
 *                      total a line, creates up to it, prints; holds them
 *                      until stdin closes
 *   coldstart K CMD…   K times: exec CMD, wait until it owns the bus name,
 *                      SIGTERM it
 *   turn K PROMPT WORDS DIR [R]  end to end on a real CLI: CreateSession
 *                      in DIR (first and warm), K × (Send PROMPT → final
 *                      assistant.message), R (default K) × (a WORDS-word
 *                      answer: words/s at the client)
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "bench-common.h"

#define BUS_NAME "io.github.copilotd.Copilot1"
#define ROOT_PATH "/io/github/copilotd/Copilot1"
#define MANAGER_IFACE "io.github.copilotd.Copilot1.Manager"
#define SESSION_IFACE "io.github.copilotd.Copilot1.Session"
/* As long as a session path, so that the raw signals weigh the same. */
#define RAW_PATH "/io/github/copilotd/Copilot1/session/00000000_0000_4000_8000_000000000000"
#define RAW_MESSAGE_ID "10000000-0000-4000-8000-000000000000"
#define RAW_NAME "io.github.copilotd.Bench"
#define RAW_IFACE "io.github.copilotd.Bench"
#define IDLE_TIMEOUT_S 60

static GMainLoop *loop;

static GDBusConnection *
connect_bus (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  if (connection == NULL)
    g_error ("Cannot connect to the bus: %s", error->message);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

static GVariant *
call (GDBusConnection *connection,
      const char      *dest,
      const char      *path,
      const char      *iface,
      const char      *method,
      GVariant        *params,
      const char      *reply_type)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (connection, dest, path, iface, method, params,
                                       reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                       G_DBUS_CALL_FLAGS_NONE, 600000, NULL, &error);
  if (reply == NULL)
    g_error ("%s failed: %s", method, error->message);
  return reply;
}

static int
compare_u64 (gconstpointer a,
             gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* The @p-th percentile of @values (sorted here), in µs. */
static double
percentile_us (GArray *values,
               double  p)
{
  guint i;

  if (values->len == 0)
    return -1;
  g_array_sort (values, compare_u64);
  i = (guint) (p / 100.0 * (values->len - 1) + 0.5);
  return g_array_index (values, guint64, MIN (i, values->len - 1)) / 1000.0;
}

/* @ns printed /1000: nanoseconds as µs. */
static void
print_samples (GString    *out,
               const char *name,
               GArray     *ns)
{
  g_string_append_printf (out, "\"%s\":[", name);
  for (guint i = 0; i < ns->len; i++)
    g_string_append_printf (out, "%s%.1f", i ? "," : "", g_array_index (ns, guint64, i) / 1000.0);
  g_string_append (out, "]");
}

/* ---- receiving deltas (flood, raw-sub) --------------------------------- */

typedef struct {
  guint64 expected;
  guint64 records;        /* deltas, counted by their <seq>:<ns>; records */
  guint64 signals;        /* Delta signals: fewer than records when merged */
  guint64 next_seq;
  guint64 out_of_order;
  guint64 last_serial;
  guint64 serial_errors;
  guint64 first_ns, last_ns;
  GArray *latencies;      /* ns */
  gboolean done;
  guint idle_id;
} Receiver;

static gboolean
on_idle_timeout (gpointer user_data)
{
  Receiver *r = user_data;

  g_printerr ("bench-peer: nothing received for %d s\n", IDLE_TIMEOUT_S);
  r->idle_id = 0;
  r->done = TRUE;
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
receiver_poke (Receiver *r)
{
  if (r->idle_id != 0)
    g_source_remove (r->idle_id);
  r->idle_id = g_timeout_add_seconds (IDLE_TIMEOUT_S, on_idle_timeout, r);
}

static void
on_session_signal (GDBusConnection *connection,
                   const char      *sender,
                   const char      *path,
                   const char      *iface,
                   const char      *member,
                   GVariant        *params,
                   gpointer         user_data)
{
  Receiver *r = user_data;
  guint64 now = bench_now_ns ();
  guint64 serial;

  if (strcmp (member, "Delta") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsus)")))
    {
      const char *text;

      g_variant_get (params, "(t&su&s)", &serial, NULL, NULL, &text);
      r->signals++;
      while (*text != '\0')
        {
          char *end;
          guint64 seq = g_ascii_strtoull (text, &end, 10);
          guint64 stamp;

          if (*end != ':')
            break;
          stamp = g_ascii_strtoull (end + 1, &end, 10);
          if (*end != ';')
            break;
          text = end + 1;
          if (seq != r->next_seq)
            r->out_of_order++;
          r->next_seq = seq + 1;
          r->records++;
          g_array_append_val (r->latencies, (guint64) { now > stamp ? now - stamp : 0 });
        }
      if (r->first_ns == 0)
        r->first_ns = now;
      r->last_ns = now;
    }
  else if (strcmp (member, "Event") == 0 && g_variant_is_of_type (params, G_VARIANT_TYPE ("(tsa{sv}s)")))
    {
      const char *type;

      g_variant_get (params, "(t&s@a{sv}&s)", &serial, &type, NULL, NULL);
      if (strcmp (type, "assistant.message") == 0)
        {
          r->done = TRUE;
          g_main_loop_quit (loop);
        }
    }
  else
    return;

  if (serial <= r->last_serial)
    r->serial_errors++;
  r->last_serial = serial;
  receiver_poke (r);
}

static void
receiver_print (Receiver *r)
{
  double seconds = (r->last_ns - r->first_ns) / 1e9;

  printf ("{\"expected\":%" G_GUINT64_FORMAT ",\"records\":%" G_GUINT64_FORMAT ",\"signals\":%" G_GUINT64_FORMAT
          ",\"lost\":%" G_GINT64_FORMAT ",\"out_of_order\":%" G_GUINT64_FORMAT ",\"serial_errors\":%" G_GUINT64_FORMAT
          ",\"rate\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
          r->expected, r->records, r->signals, (gint64) (r->expected - r->records), r->out_of_order,
          r->serial_errors, seconds > 0 ? (r->records - 1) / seconds : 0.0,
          percentile_us (r->latencies, 50), percentile_us (r->latencies, 99),
          percentile_us (r->latencies, 100));
  fflush (stdout);
}

static void
receive (GDBusConnection *connection,
         const char      *sender,
         const char      *path,
         Receiver        *r)
{
  g_dbus_connection_signal_subscribe (connection, sender, SESSION_IFACE, NULL, path, NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_session_signal, r, NULL);
}

static int
mode_flood (guint64 count,
            guint   rate)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  Receiver r = { .expected = count, .latencies = g_array_sized_new (FALSE, FALSE, sizeof (guint64), count) };
  g_autoptr(GVariant) created = NULL;
  g_autoptr(GVariant) sent = NULL;
  g_autofree char *prompt = g_strdup_printf ("FLOOD %" G_GUINT64_FORMAT " %u", count, rate);
  const char *path;

  created = call (connection, BUS_NAME, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                  g_variant_new_parsed ("(@a{sv} {},)"), "(o)");
  g_variant_get (created, "(&o)", &path);
  receive (connection, BUS_NAME, path, &r);
  sent = call (connection, BUS_NAME, path, SESSION_IFACE, "Send",
               g_variant_new ("(s@a{sv})", prompt, g_variant_new_parsed ("@a{sv} {}")), "(s)");
  receiver_poke (&r);
  if (!r.done)
    g_main_loop_run (loop);
  receiver_print (&r);
  g_array_unref (r.latencies);
  return 0;
}

static int
mode_raw_sub (guint64 count)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  Receiver r = { .expected = count, .latencies = g_array_sized_new (FALSE, FALSE, sizeof (guint64), count) };

  receive (connection, NULL, RAW_PATH, &r);
  /* The match rule is in place once a round trip to the bus is done. */
  g_variant_unref (call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "GetId", NULL, "(s)"));
  printf ("%s\n", g_dbus_connection_get_unique_name (connection));
  fflush (stdout);
  receiver_poke (&r);
  g_main_loop_run (loop);
  receiver_print (&r);
  g_array_unref (r.latencies);
  return 0;
}

static int
mode_raw_emit (const char *dest,
               guint64     count,
               guint       rate)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  guint64 start = bench_now_ns ();
  guint64 serial = 1;
  GVariantBuilder meta;

  for (guint64 i = 0; i < count; i++)
    {
      char text[64];

      if (rate > 0)
        {
          guint64 due = start + i * G_GUINT64_CONSTANT (1000000000) / rate;
          struct timespec ts = { (time_t) (due / 1000000000), (long) (due % 1000000000) };

          while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        }
      g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ";", i, bench_now_ns ());
      g_dbus_connection_emit_signal (connection, dest, RAW_PATH, SESSION_IFACE, "Delta",
                                     g_variant_new ("(tsus)", serial++, RAW_MESSAGE_ID, 0u, text), NULL);
    }
  g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&meta, "{sv}", "id", g_variant_new_string ("00000000-0000-4000-8000-000000000001"));
  g_dbus_connection_emit_signal (connection, dest, RAW_PATH, SESSION_IFACE, "Event",
                                 g_variant_new ("(tsa{sv}s)", serial++, "assistant.message", &meta, "{}"), NULL);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  printf ("{}\n");
  return 0;
}

/* ---- round trips --------------------------------------------------------- */

static const char raw_xml[] =
  "<node><interface name='" RAW_IFACE "'><method name='Empty'/></interface></node>";

static void
on_raw_call (GDBusConnection       *connection,
             const char            *sender,
             const char            *path,
             const char            *iface,
             const char            *method,
             GVariant              *params,
             GDBusMethodInvocation *invocation,
             gpointer               user_data)
{
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static int
mode_raw_server (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (raw_xml, NULL);
  const GDBusInterfaceVTable vtable = { on_raw_call, NULL, NULL, { 0 } };
  g_autoptr(GVariant) owned = NULL;

  g_dbus_connection_register_object (connection, "/bench", info->interfaces[0], &vtable, NULL, NULL, NULL);
  owned = call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "RequestName", g_variant_new ("(su)", RAW_NAME, 4u), "(u)");
  printf ("ready\n");
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

static int
mode_rtt (const char *what,
          guint       count)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GArray) ns = g_array_new (FALSE, FALSE, sizeof (guint64));
  gboolean status = strcmp (what, "status") == 0;
  g_autoptr(GString) out = g_string_new ("{");

  for (guint i = 0; i < count + count / 10; i++)
    {
      guint64 t0 = bench_now_ns ();
      GVariant *reply;

      if (status)
        reply = call (connection, BUS_NAME, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");
      else
        reply = call (connection, RAW_NAME, "/bench", RAW_IFACE, "Empty", NULL, "()");
      g_variant_unref (reply);
      if (i >= count / 10)   /* the first tenth warms up */
        g_array_append_val (ns, (guint64) { bench_now_ns () - t0 });
    }
  g_string_append_printf (out, "\"p50_us\":%.1f,\"p99_us\":%.1f}", percentile_us (ns, 50), percentile_us (ns, 99));
  printf ("%s\n", out->str);
  return 0;
}

/* ---- live sessions -------------------------------------------------------- */

typedef struct {
  guint wanted, started, ok, failed;
  GDBusConnection *connection;
} Creator;

static void create_next (Creator *c);

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Creator *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply != NULL)
    c->ok++;
  else
    {
      if (c->failed++ == 0)
        g_printerr ("bench-peer: CreateSession: %s\n", error->message);
    }
  if (c->ok + c->failed == c->wanted)
    g_main_loop_quit (loop);
  else
    create_next (c);
}

static void
create_next (Creator *c)
{
  if (c->started == c->wanted)
    return;
  c->started++;
  g_dbus_connection_call (c->connection, BUS_NAME, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                          g_variant_new_parsed ("(@a{sv} {},)"), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, 600000, NULL, on_created, c);
}

/* Reads totals from stdin, one a line: creates sessions until that many
 * are live, then prints; holds them all until stdin closes. */
static int
mode_sessions (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  Creator c = { .connection = connection };
  char buf[64];

  while (fgets (buf, sizeof buf, stdin) != NULL)
    {
      c.wanted = (guint) atoi (buf);
      for (guint i = 0; i < 16 && c.started < c.wanted; i++)
        create_next (&c);
      if (c.ok + c.failed < c.wanted)
        g_main_loop_run (loop);
      g_dbus_connection_flush_sync (connection, NULL, NULL);
      printf ("{\"ok\":%u,\"failed\":%u}\n", c.ok, c.failed);
      fflush (stdout);
    }
  return 0;
}

/* ---- cold start ----------------------------------------------------------- */

static void
on_name_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  guint64 *t = user_data;

  if (*t == 0)
    *t = bench_now_ns ();
  g_main_loop_quit (loop);
}

static void
on_name_vanished (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  g_main_loop_quit (loop);
}

static int
mode_coldstart (guint  runs,
                char **argv)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GArray) ns = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GString) out = g_string_new ("{");

  for (guint i = 0; i < runs; i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 t0, t1 = 0;
      GPid pid;
      guint watch;
      int status;

      watch = g_bus_watch_name_on_connection (connection, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                              on_name_appeared, on_name_vanished, &t1, NULL);
      g_main_loop_run (loop);   /* the first vanished: nobody owns it yet */
      t0 = bench_now_ns ();
      if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                          NULL, NULL, &pid, &error))
        g_error ("Cannot start %s: %s", argv[0], error->message);
      while (t1 == 0)
        g_main_loop_run (loop);
      g_array_append_val (ns, (guint64) { t1 - t0 });
      g_bus_unwatch_name (watch);
      kill (pid, SIGTERM);
      waitpid (pid, &status, 0);
    }
  print_samples (out, "us", ns);
  g_string_append (out, "}");
  printf ("%s\n", out->str);
  return 0;
}

/* ---- end to end (real CLI) ------------------------------------------------ */

typedef struct {
  guint64 deltas, words;
  guint64 first_ns, last_ns;
  gboolean done;
} Turn;

static void
on_turn_signal (GDBusConnection *connection,
                const char      *sender,
                const char      *path,
                const char      *iface,
                const char      *member,
                GVariant        *params,
                gpointer         user_data)
{
  Turn *t = user_data;
  guint64 now = bench_now_ns ();

  if (strcmp (member, "Delta") == 0)
    {
      const char *text;
      guint stream;

      g_variant_get (params, "(t&su&s)", NULL, NULL, &stream, &text);
      if (stream != 0)
        return;
      t->deltas++;
      for (const char *p = text; (p = strstr (p, "word")) != NULL; p += 4)
        t->words++;
      if (t->first_ns == 0)
        t->first_ns = now;
      t->last_ns = now;
    }
  else if (strcmp (member, "Event") == 0)
    {
      const char *type;

      g_variant_get (params, "(t&s@a{sv}&s)", NULL, &type, NULL, NULL);
      if (strcmp (type, "assistant.message") == 0)
        {
          t->done = TRUE;
          g_main_loop_quit (loop);
        }
    }
}

static guint64
run_turn (GDBusConnection *connection,
          const char      *path,
          const char      *prompt,
          Turn            *t)
{
  guint64 t0;

  memset (t, 0, sizeof *t);
  t0 = bench_now_ns ();
  g_variant_unref (call (connection, BUS_NAME, path, SESSION_IFACE, "Send",
                         g_variant_new ("(s@a{sv})", prompt, g_variant_new_parsed ("@a{sv} {}")), "(s)"));
  while (!t->done)
    g_main_loop_run (loop);
  return bench_now_ns () - t0;
}

static char *
create_session (GDBusConnection *connection,
                const char      *workdir,
                guint64         *ns)
{
  g_autoptr(GVariant) reply = NULL;
  guint64 t0 = bench_now_ns ();
  GVariantBuilder options;
  char *path;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "working-directory", g_variant_new_string (workdir));
  reply = call (connection, BUS_NAME, ROOT_PATH, MANAGER_IFACE, "CreateSession",
                g_variant_new ("(a{sv})", &options), "(o)");
  *ns = bench_now_ns () - t0;
  g_variant_get (reply, "(o)", &path);
  return path;
}

static int
mode_turn (guint       runs,
           const char *prompt,
           guint       words,
           const char *workdir,
           guint       rate_runs)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GArray) create_ns = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GArray) turn_ns = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GArray) rate = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GString) out = g_string_new ("{");
  g_autofree char *path = NULL;
  g_autofree char *long_prompt = g_strdup_printf ("SLOW: %u", words);
  guint64 first_create;
  Turn t;

  path = create_session (connection, workdir, &first_create);
  g_dbus_connection_signal_subscribe (connection, BUS_NAME, SESSION_IFACE, NULL, path, NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_turn_signal, &t, NULL);
  run_turn (connection, path, prompt, &t);   /* warm-up */
  for (guint i = 0; i < runs; i++)
    {
      guint64 ns;
      g_autofree char *other = create_session (connection, workdir, &ns);

      g_array_append_val (create_ns, ns);
      g_variant_unref (call (connection, BUS_NAME, other, SESSION_IFACE, "Destroy",
                             g_variant_new_parsed ("(@a{sv} {},)"), NULL));
    }
  for (guint i = 0; i < runs; i++)
    g_array_append_val (turn_ns, (guint64) { run_turn (connection, path, prompt, &t) });
  for (guint i = 0; i < rate_runs; i++)
    {
      run_turn (connection, path, long_prompt, &t);
      if (t.words != words)
        g_printerr ("bench-peer: %" G_GUINT64_FORMAT " words of %u arrived\n", t.words, words);
      /* words per second, ×1000 so that print_samples prints words/s */
      g_array_append_val (rate, (guint64) { (guint64) ((t.words - 1) / ((t.last_ns - t.first_ns) / 1e9) * 1000) });
      g_printerr ("bench-peer: %" G_GUINT64_FORMAT " Delta signals for %" G_GUINT64_FORMAT " words\n",
                  t.deltas, t.words);
    }
  g_string_append_printf (out, "\"first_create_ms\":%.2f,", first_create / 1e6);
  print_samples (out, "create_us", create_ns);
  g_string_append (out, ",");
  print_samples (out, "turn_us", turn_ns);
  g_string_append (out, ",");
  print_samples (out, "words_per_s", rate);
  g_string_append (out, "}");
  printf ("%s\n", out->str);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";

  loop = g_main_loop_new (NULL, FALSE);
  if (strcmp (mode, "flood") == 0 && argc == 4)
    return mode_flood (g_ascii_strtoull (argv[2], NULL, 10), atoi (argv[3]));
  if (strcmp (mode, "raw-sub") == 0 && argc == 3)
    return mode_raw_sub (g_ascii_strtoull (argv[2], NULL, 10));
  if (strcmp (mode, "raw-emit") == 0 && argc == 5)
    return mode_raw_emit (argv[2], g_ascii_strtoull (argv[3], NULL, 10), atoi (argv[4]));
  if (strcmp (mode, "raw-server") == 0)
    return mode_raw_server ();
  if (strcmp (mode, "rtt") == 0 && argc == 4)
    return mode_rtt (argv[2], atoi (argv[3]));
  if (strcmp (mode, "sessions") == 0)
    return mode_sessions ();
  if (strcmp (mode, "coldstart") == 0 && argc > 3)
    return mode_coldstart (atoi (argv[2]), argv + 3);
  if (strcmp (mode, "turn") == 0 && (argc == 6 || argc == 7))
    return mode_turn (atoi (argv[2]), argv[3], atoi (argv[4]), argv[5], atoi (argv[argc == 7 ? 6 : 2]));
  g_printerr ("Usage: bench-peer flood|raw-sub|raw-emit|raw-server|rtt|sessions|coldstart|turn …\n");
  return 2;
}
