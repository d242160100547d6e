/* SPDX-License-Identifier: MIT */
/* test-battery-bus.c: every method of the daemon called with bad input
 *
 * One daemon (the fake CLI behind it) serves the whole battery. Each case
 * calls one Manager, AgentManager or Session method with input a client
 * must not be able to hurt the daemon with — options of the wrong type,
 * unknown keys, empty and over-limit strings, bad ids and object paths,
 * the wrong signature — or as a caller it must refuse (a stranger: another
 * connection of the same UID that neither owns nor subscribes to the
 * session), or on a session that is closed. Each must get the named error
 * of the table (io.github.copilotd.Copilot1.Error.* or, for a signature
 * GDBus checks itself, the standard org.freedesktop.DBus.Error.*), or
 * succeed where DESIGN.md says unknown keys are ignored. After every case
 * another client pings the daemon, reads its status and runs a turn: the
 * daemon serves others throughout. Each case is a TAP test of its own.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "daemon-fixture.h"
#include "providers.h"

typedef enum {
  ON_MANAGER,        /* the root object, Manager */
  ON_AGENT_MANAGER,  /* the root object, AgentManager */
  ON_SESSION,        /* the owner's live session */
  ON_CLOSED,         /* a session that was destroyed */
} Target;

typedef enum {
  AS_OWNER,          /* the connection that created the session */
  AS_STRANGER,       /* same UID, neither owner nor subscriber */
} Caller;

typedef struct {
  const char *name;        /* the TAP name below /battery/bus/ */
  Target target;
  Caller caller;
  const char *method;
  /* GVariant text; @ID@ the live session's id, @CLOSED_ID@ the closed
   * one's, @UUID@ an id no session has, @HUGE@ a string one byte over the
   * prompt limit, @LONG@ a string of 4097 bytes, @BIG@ one past the
   * message size the test gives the daemon, @HOOKS@ one hook provider past
 * the limit. */
  const char *params;
  /* Short name in the project's domain, a full error name, or NULL: the
   * call succeeds. */
  const char *error;
  const char *message_part;  /* nullable: the error message contains it */
} BadCall;

#define UUID "00000000-0000-4000-8000-00000000beef"
#define NONE "@a{sv} {}"
/* What the daemon may send in this test: small, so that a reply past it
 * is cheap to provoke (the daemon clamps it to at least 128 KiB). */
#define TEST_MAX_MESSAGE (512 * 1024)

static const BadCall manager_cases[] = {
  /* CreateSession: every kind of option, wrong. */
  { "create/model-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'model': <42>},)", "InvalidArgs", "model" },
  { "create/streaming-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'streaming': <'yes'>},)", "InvalidArgs", "streaming" },
  { "create/persist-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'persist': <@u 1>},)", "InvalidArgs", "persist" },
  { "create/tools-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'tools': <'grep'>},)", "InvalidArgs", "tools" },
  { "create/tools-entry-without-name", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'tools': <[{'description': <'d'>}]>},)", "InvalidArgs", NULL },
  { "create/tools-entry-bad-parameters", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'tools': <[{'name': <'t'>, 'parameters': <'{not json'>}]>},)", "InvalidArgs", NULL },
  { "create/available-tools-type", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'available-tools': <[1, 2]>},)", "InvalidArgs", "available-tools" },
  { "create/session-id-not-uuid", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'session-id': <'../../etc/passwd'>},)", "InvalidArgs", NULL },
  { "create/session-id-empty", ON_MANAGER, AS_OWNER, "CreateSession", "({'session-id': <''>},)", "InvalidArgs", NULL },
  { "create/session-id-live", ON_MANAGER, AS_OWNER, "CreateSession", "({'session-id': <'@ID@'>},)", "AlreadyExists", NULL },
  { "create/working-directory-relative", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'working-directory': <'relative/dir'>},)", "InvalidArgs", NULL },
  { "create/working-directory-missing", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'working-directory': <'/nonexistent/copilotd-battery'>},)", "InvalidArgs", NULL },
  { "create/mcp-servers-not-json", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'mcp-servers': <'{not json'>},)", "InvalidArgs", "mcp-servers" },
  { "create/extra-params-not-object", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'extra-params': <'[1, 2]'>},)", "InvalidArgs", "extra-params" },
  { "create/provider-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'provider': <{'a': 1}>},)", "InvalidArgs", "provider" },
  { "create/hooks-over-limit", ON_MANAGER, AS_OWNER, "CreateSession", "({'hooks': <@HOOKS@>},)", "LimitsExceeded", NULL },
  { "create/hooks-type", ON_MANAGER, AS_OWNER, "CreateSession", "({'hooks': <'preToolUse'>},)", "InvalidArgs", "hooks" },
  { "create/commands-bad-name", ON_MANAGER, AS_OWNER, "CreateSession",
    "({'commands': <[{'provider': <@o '/c'>, 'name': <'no spaces allowed'>}]>},)", "InvalidArgs", NULL },
  { "create/signature", ON_MANAGER, AS_OWNER, "CreateSession", "('model',)",
    "org.freedesktop.DBus.Error.InvalidArgs", NULL },
  /* ResumeSession */
  { "resume/id-empty", ON_MANAGER, AS_OWNER, "ResumeSession", "('', " NONE ")", "InvalidArgs", NULL },
  { "resume/id-not-uuid", ON_MANAGER, AS_OWNER, "ResumeSession", "('../x', " NONE ")", "InvalidArgs", NULL },
  { "resume/id-unknown", ON_MANAGER, AS_OWNER, "ResumeSession", "('" UUID "', " NONE ")", "NotFound", NULL },
  { "resume/model-type", ON_MANAGER, AS_OWNER, "ResumeSession", "('@CLOSED_ID@', {'model': <true>})", "InvalidArgs", "model" },
  { "resume/live-by-stranger-model-type", ON_MANAGER, AS_STRANGER, "ResumeSession",
    "('@ID@', {'streaming': <'no'>})", "InvalidArgs", "streaming" },
  /* The rest of the Manager */
  { "list-sessions/cwd-type", ON_MANAGER, AS_OWNER, "ListSessions", "({'cwd': <@u 7>},)", "InvalidArgs", "cwd" },
  { "list-sessions/unknown-key", ON_MANAGER, AS_OWNER, "ListSessions", "({'no-such-key': <'x'>},)", NULL, NULL },
  { "get-metadata/id-empty", ON_MANAGER, AS_OWNER, "GetSessionMetadata", "('',)", "InvalidArgs", NULL },
  { "get-metadata/id-not-uuid", ON_MANAGER, AS_OWNER, "GetSessionMetadata", "('@LONG@',)", "InvalidArgs", NULL },
  { "get-metadata/id-unknown", ON_MANAGER, AS_OWNER, "GetSessionMetadata", "('" UUID "',)", "NotFound", NULL },
  { "delete/id-empty", ON_MANAGER, AS_OWNER, "DeleteSession", "('',)", "InvalidArgs", NULL },
  { "delete/id-not-uuid", ON_MANAGER, AS_OWNER, "DeleteSession", "('*',)", "InvalidArgs", NULL },
  { "delete/live-by-stranger", ON_MANAGER, AS_STRANGER, "DeleteSession", "('@ID@',)", "AccessDenied", NULL },
  { "list-models/unknown-key", ON_MANAGER, AS_OWNER, "ListModels", "({'no-such-key': <42>},)", NULL, NULL },
  { "ping/empty", ON_MANAGER, AS_OWNER, "Ping", "('',)", NULL, NULL },
  /* The CLI echoes the message: a reply past the message size. */
  { "ping/reply-over-message-size", ON_MANAGER, AS_OWNER, "Ping", "('@BIG@',)", "LimitsExceeded", NULL },
  { "set-foreground/id-empty", ON_MANAGER, AS_OWNER, "SetForegroundSession", "('',)", "InvalidArgs", NULL },
  { "ask/prompt-empty", ON_MANAGER, AS_OWNER, "Ask", "('', " NONE ")", "InvalidArgs", NULL },
  { "ask/prompt-over-limit", ON_MANAGER, AS_OWNER, "Ask", "('@HUGE@', " NONE ")", "InvalidArgs", NULL },
  { "ask/model-type", ON_MANAGER, AS_OWNER, "Ask", "('hi', {'model': <@y 1>})", "InvalidArgs", "model" },
  { "ask/timeout-type", ON_MANAGER, AS_OWNER, "Ask", "('hi', {'timeout-ms': <'soon'>})", "InvalidArgs", "timeout-ms" },
  { "ask/session-id-not-uuid", ON_MANAGER, AS_OWNER, "Ask", "('hi', {'session-id': <'x'>})", "InvalidArgs", NULL },
  { "sign-in/host-not-url", ON_MANAGER, AS_OWNER, "SignIn", "('ftp://example.com', 'token', " NONE ")", "InvalidArgs", NULL },
  { "sign-in/token-empty", ON_MANAGER, AS_OWNER, "SignIn", "('', '', " NONE ")", "InvalidArgs", NULL },
  { "sign-in/token-over-limit", ON_MANAGER, AS_OWNER, "SignIn", "('', '@LONG@', " NONE ")", "InvalidArgs", NULL },
  { "sign-in/token-blank", ON_MANAGER, AS_OWNER, "SignIn", "('', 'a b', " NONE ")", "InvalidArgs", NULL },
  { "get-account/quota-type", ON_MANAGER, AS_OWNER, "GetAccount", "({'quota': <'yes'>},)", "InvalidArgs", "quota" },
  { "unknown-method", ON_MANAGER, AS_OWNER, "NoSuchMethod", "()", "org.freedesktop.DBus.Error.UnknownMethod", NULL },
  /* AgentManager */
  { "register-agent/capabilities-type", ON_AGENT_MANAGER, AS_OWNER, "RegisterAgent",
    "(@o '/battery/agent', {'capabilities': <'permission'>})", "InvalidArgs", "capabilities" },
  { "register-agent/fallback-type", ON_AGENT_MANAGER, AS_OWNER, "RegisterAgent",
    "(@o '/battery/agent', {'fallback': <'yes'>})", "InvalidArgs", "fallback" },
  { "unregister-agent/never-registered", ON_AGENT_MANAGER, AS_OWNER, "UnregisterAgent", "(@o '/battery/agent',)", "NotFound", NULL },
  { "default-agent/never-registered", ON_AGENT_MANAGER, AS_OWNER, "RequestDefaultAgent", "(@o '/',)", "NotFound", NULL },
};

static const BadCall session_cases[] = {
  { "send/prompt-empty", ON_SESSION, AS_OWNER, "Send", "('', " NONE ")", "InvalidArgs", NULL },
  { "send/prompt-over-limit", ON_SESSION, AS_OWNER, "Send", "('@HUGE@', " NONE ")", "InvalidArgs", NULL },
  { "send/attachments-type", ON_SESSION, AS_OWNER, "Send", "('hi', {'attachments': <'file'>})", "InvalidArgs", "attachments" },
  { "send/attachment-type-unknown", ON_SESSION, AS_OWNER, "Send",
    "('hi', {'attachments': <[{'type': <'teleport'>}]>})", "InvalidArgs", NULL },
  { "send/attachment-file-missing", ON_SESSION, AS_OWNER, "Send",
    "('hi', {'attachments': <[{'type': <'file'>, 'path': <'/nonexistent/copilotd-battery'>}]>})", "InvalidArgs", NULL },
  { "send/mode-unknown", ON_SESSION, AS_OWNER, "Send", "('hi', {'mode': <'sideways'>})", "InvalidArgs", NULL },
  { "send/mode-type", ON_SESSION, AS_OWNER, "Send", "('hi', {'mode': <1>})", "InvalidArgs", "mode" },
  { "send/signature", ON_SESSION, AS_OWNER, "Send", "(42, " NONE ")", "org.freedesktop.DBus.Error.InvalidArgs", NULL },
  { "send-and-wait/prompt-empty", ON_SESSION, AS_OWNER, "SendAndWait", "('', " NONE ")", "InvalidArgs", NULL },
  { "send-and-wait/timeout-type", ON_SESSION, AS_OWNER, "SendAndWait", "('hi', {'timeout-ms': <'soon'>})", "InvalidArgs", "timeout-ms" },
  { "get-messages/offset-type", ON_SESSION, AS_OWNER, "GetMessages", "({'offset': <'0'>},)", "InvalidArgs", "offset" },
  { "get-messages/max-type", ON_SESSION, AS_OWNER, "GetMessages", "({'max': <-1>},)", "InvalidArgs", "max" },
  { "get-messages/unknown-key", ON_SESSION, AS_OWNER, "GetMessages", "({'no-such-key': <1>},)", NULL, NULL },
  { "set-model/empty", ON_SESSION, AS_OWNER, "SetModel", "('', " NONE ")", "InvalidArgs", NULL },
  { "set-model/effort-type", ON_SESSION, AS_OWNER, "SetModel", "('gpt-5', {'reasoning-effort': <3>})", "InvalidArgs", "reasoning-effort" },
  { "subscribe/types-type", ON_SESSION, AS_OWNER, "Subscribe", "({'types': <'assistant.*'>},)", "InvalidArgs", "types" },
  { "subscribe/types-over-limit", ON_SESSION, AS_OWNER, "Subscribe", "({'types': <['@LONG@']>},)", "LimitsExceeded", NULL },
  { "get-events/max-zero", ON_SESSION, AS_OWNER, "GetEvents", "(@t 0, @u 0)", NULL, NULL },
  { "get-events/since-future", ON_SESSION, AS_OWNER, "GetEvents", "(@t 18446744073709551615, @u 4294967295)", NULL, NULL },
  { "set-mode/unknown", ON_SESSION, AS_OWNER, "SetMode", "('sideways', " NONE ")", "InvalidArgs", NULL },
  { "set-mode/empty", ON_SESSION, AS_OWNER, "SetMode", "('', " NONE ")", "InvalidArgs", NULL },
  { "set-plan/over-limit", ON_SESSION, AS_OWNER, "SetPlan", "('@HUGE@', " NONE ")", "InvalidArgs", NULL },
  { "set-name/empty", ON_SESSION, AS_OWNER, "SetName", "('  ', " NONE ")", "InvalidArgs", NULL },
  { "set-name/over-limit", ON_SESSION, AS_OWNER, "SetName", "('@LONG@', " NONE ")", "InvalidArgs", NULL },
  { "get-info/context-type", ON_SESSION, AS_OWNER, "GetInfo", "({'context': <'yes'>},)", "InvalidArgs", "context" },
  { "compact/instructions-type", ON_SESSION, AS_OWNER, "Compact", "({'instructions': <1>},)", "InvalidArgs", "instructions" },
  { "rewind/event-id-empty", ON_SESSION, AS_OWNER, "Rewind", "('', " NONE ")", "InvalidArgs", NULL },
  { "rewind/preview-type", ON_SESSION, AS_OWNER, "Rewind", "('e-1', {'preview': <'yes'>})", "InvalidArgs", "preview" },
  { "execute-command/name-empty", ON_SESSION, AS_OWNER, "ExecuteCommand", "('', '', " NONE ")", "InvalidArgs", NULL },
  { "call/method-empty", ON_SESSION, AS_OWNER, "Call", "('', '{}', " NONE ")", "InvalidArgs", NULL },
  { "call/method-never-listed", ON_SESSION, AS_OWNER, "Call", "('session.destroy', '{}', " NONE ")", "InvalidArgs", "never" },
  { "call/method-shell", ON_SESSION, AS_OWNER, "Call", "('session.shell.exec', '{}', " NONE ")", "InvalidArgs", "never" },
  { "call/params-not-json", ON_SESSION, AS_OWNER, "Call", "('session.plan.read', '{not json', " NONE ")", "InvalidArgs", NULL },
  { "call/params-not-object", ON_SESSION, AS_OWNER, "Call", "('session.plan.read', '[1]', " NONE ")", "InvalidArgs", NULL },
  { "call/params-over-limit", ON_SESSION, AS_OWNER, "Call", "('session.plan.read', '@HUGE@', " NONE ")", "InvalidArgs", "limit" },
  { "unknown-method", ON_SESSION, AS_OWNER, "NoSuchMethod", "()", "org.freedesktop.DBus.Error.UnknownMethod", NULL },
};

/* Every Session method with good arguments: a stranger gets AccessDenied
 * from each (Subscribe aside: any connection of the UID may), and a closed
 * session NotFound from each. */
static const struct {
  const char *name;
  const char *method;
  const char *params;
  const char *stranger_error;  /* NULL: AccessDenied */
} session_methods[] = {
  { "send", "Send", "('hi', " NONE ")" },
  { "send-and-wait", "SendAndWait", "('hi', " NONE ")" },
  { "abort", "Abort", "(" NONE ",)" },
  { "destroy", "Destroy", "(" NONE ",)" },
  { "get-messages", "GetMessages", "(" NONE ",)" },
  { "set-model", "SetModel", "('gpt-5', " NONE ")" },
  { "subscribe", "Subscribe", "(" NONE ",)" },
  /* Nothing to undo: it never subscribed. */
  { "unsubscribe", "Unsubscribe", "()", "NotFound" },
  { "get-events", "GetEvents", "(@t 0, @u 10)" },
  { "set-mode", "SetMode", "('plan', " NONE ")" },
  { "get-plan", "GetPlan", "(" NONE ",)" },
  { "set-plan", "SetPlan", "('# plan', " NONE ")" },
  { "delete-plan", "DeletePlan", "(" NONE ",)" },
  { "set-name", "SetName", "('battery', " NONE ")" },
  { "get-info", "GetInfo", "(" NONE ",)" },
  { "compact", "Compact", "(" NONE ",)" },
  { "list-rewind-points", "ListRewindPoints", "(" NONE ",)" },
  { "rewind", "Rewind", "('e-1', " NONE ")" },
  { "list-commands", "ListCommands", "(" NONE ",)" },
  { "execute-command", "ExecuteCommand", "('help', '', " NONE ")" },
  { "call", "Call", "('session.plan.read', '{}', " NONE ")" },
};

/* The one daemon of the battery and its clients. */
static Fixture fx;
static GDBusConnection *stranger;   /* unowned: fx.extra_clients */
static GDBusConnection *other;      /* unowned: the client served throughout */
static char *live_path;             /* owned: fx.client's session */
static char *live_id;               /* owned */
static char *closed_path;           /* owned: destroyed at setup */
static char *closed_id;             /* owned */
static char *other_path;            /* owned: other's session */
static guint other_turns;

static char *
replace (char       *text,
         const char *token,
         const char *value)
{
  g_auto(GStrv) parts = g_strsplit (text, token, -1);

  g_free (text);
  return g_strjoinv (value, parts);
}

static GVariant *
expand_params (const char *params)
{
  g_autofree char *huge = g_strnfill (fx.config->max_prompt_bytes + 1, 'h');
  g_autofree char *longer = g_strnfill (4097, 'l');
  g_autofree char *big = g_strnfill (TEST_MAX_MESSAGE + 1, 'b');
  g_autoptr(GError) error = NULL;
  char *text = g_strdup (params);
  GVariant *value;

  text = replace (text, "@ID@", live_id);
  text = replace (text, "@CLOSED_ID@", closed_id);
  text = replace (text, "@UUID@", UUID);
  text = replace (text, "@HUGE@", huge);
  text = replace (text, "@LONG@", longer);
  text = replace (text, "@BIG@", big);
  if (strstr (text, "@HOOKS@") != NULL)
    {
      g_autoptr(GString) hooks = g_string_new ("[");

      for (guint i = 0; i <= COPILOTD_MAX_PROVIDERS; i++)
        g_string_append_printf (hooks, "%s{'provider': <@o '/battery/hook/%u'>, 'types': <['preToolUse']>}",
                                i ? ", " : "", i);
      g_string_append (hooks, "]");
      text = replace (text, "@HOOKS@", hooks->str);
    }
  value = g_variant_parse (NULL, text, NULL, NULL, &error);
  g_assert_no_error (error);
  g_free (text);
  return value;
}

/* Another client is served: Ping, GetStatus and a whole turn. */
static void
assert_others_served (void)
{
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) answer = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autofree char *prompt = g_strdup_printf ("turn %u", ++other_turns);
  g_autofree char *expected = g_strdup_printf ("Echo: %s", prompt);
  const char *message, *content;

  pong = call_ok (other, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "alive"), "(a{sv})");
  g_variant_get (pong, "(@a{sv})", &dict);
  g_assert_true (g_variant_lookup (dict, "message", "&s", &message));
  g_assert_cmpstr (message, ==, "pong: alive");
  status = call_ok (other, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");
  answer = call_ok (other, other_path, SESSION_IFACE, "SendAndWait",
                    g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");
  g_variant_get (answer, "(&s@a{sv})", &content, NULL);
  g_assert_cmpstr (content, ==, expected);
}

static void
run_case (gconstpointer data)
{
  const BadCall *c = data;
  GDBusConnection *conn = c->caller == AS_STRANGER ? stranger : fx.client;
  const char *path = c->target == ON_SESSION ? live_path :
                     c->target == ON_CLOSED ? closed_path : ROOT_PATH;
  const char *iface = c->target == ON_AGENT_MANAGER ? AGENT_MANAGER_IFACE :
                      c->target == ON_MANAGER ? MANAGER_IFACE : SESSION_IFACE;
  g_autoptr(GVariant) params = expand_params (c->params);  /* not floating */
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = call_sync_iterate (conn, path, iface, c->method, params, NULL, &error);
  if (c->error == NULL)
    g_assert_no_error (error);
  else
    assert_dbus_error (error, c->error, c->message_part);

  /* The live session is unhurt, whoever called. */
  g_assert_true (object_is_managed (fx.client, live_path));
  assert_others_served ();
}

static GVariant *
resume_with_hook (const char *id,
                  guint       n)
{
  g_autofree char *text = g_strdup_printf ("('%s', {'hooks': <[{'provider': <@o '/battery/hook/%u'>, "
                                           "'types': <['preToolUse']>}]>})", id, n);

  return g_variant_new_parsed (text);
}

/* Hook providers joined by ResumeSession of a live session accumulated
 * without bound, the same one again at every call, each then invoked at
 * every hook. The same provider now replaces itself, and a session holds
 * at most COPILOTD_MAX_PROVIDERS. */
static void
test_resume_providers (void)
{
  g_autofree char *path = create_session (fx.client, NULL);
  g_autofree char *id = session_id_of (fx.client, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < COPILOTD_MAX_PROVIDERS + 4; i++)
    {
      g_clear_pointer (&reply, g_variant_unref);
      reply = call_ok (fx.client, ROOT_PATH, MANAGER_IFACE, "ResumeSession", resume_with_hook (id, 0), "(o)");
    }
  for (guint i = 1; i < COPILOTD_MAX_PROVIDERS; i++)
    {
      g_clear_pointer (&reply, g_variant_unref);
      reply = call_ok (fx.client, ROOT_PATH, MANAGER_IFACE, "ResumeSession", resume_with_hook (id, i), "(o)");
    }
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_sync_iterate (fx.client, ROOT_PATH, MANAGER_IFACE, "ResumeSession",
                             resume_with_hook (id, COPILOTD_MAX_PROVIDERS), "(o)", &error);
  assert_dbus_error (error, "LimitsExceeded", NULL);
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx.client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  assert_others_served ();
}

static void
on_fd_call_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PendingCall *call = user_data;

  call->reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL,
                                                                 result, &call->error);
  call->done = TRUE;
}

/* Each fd attachment of a Send was bounded (32 MiB), their number only by
 * the bus (1024 fds a message on a session bus): one call could make the
 * daemon read gigabytes. The bound is for all of them together. */
static void
test_send_attachments_total (void)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PendingCall) call = g_new0 (PendingCall, 1);
  GVariant *params;
  g_autofree char *name = NULL;
  int fd = g_file_open_tmp ("copilotd-battery-XXXXXX", &name, &error);

  g_assert_no_error (error);
  g_unlink (name);
  g_assert_cmpint (ftruncate (fd, 20 * 1024 * 1024), ==, 0);
  g_assert_cmpint (g_unix_fd_list_append (fds, fd, &error), ==, 0);
  g_assert_no_error (error);
  close (fd);
  params = g_variant_new_parsed ("('two big ones', {'attachments': <[{'type': <'fd'>, 'fd': <@h 0>},"
                                 " {'type': <'fd'>, 'fd': <@h 0>}]>})");
  g_dbus_connection_call_with_unix_fd_list (fx.client, BUS_NAME, live_path, SESSION_IFACE, "Send",
                                            params, G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                            fds, NULL, on_fd_call_done, call);
  wait_flag (&call->done, 60, "the reply to Send");
  assert_dbus_error (call->error, "InvalidArgs", "together");
  g_assert_true (object_is_managed (fx.client, live_path));
  assert_others_served ();
}

static void
add_case (const BadCall *c)
{
  g_autofree char *path = g_strdup_printf ("/battery/bus/%s/%s",
                                           c->target == ON_CLOSED ? "closed" :
                                           c->caller == AS_STRANGER && c->target == ON_SESSION ? "stranger" :
                                           c->target == ON_SESSION ? "session" :
                                           c->target == ON_AGENT_MANAGER ? "agent-manager" : "manager",
                                           c->name);

  g_test_add_data_func (path, c, run_case);
}

/* A method schema for the fake CLI's version (Call reads it): one public
 * method, under XDG_CACHE_HOME, which GLib reads once. */
static char *cache_dir;             /* owned */

static void
write_call_schema (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;

  cache_dir = g_dir_make_tmp ("copilotd-battery-cache-XXXXXX", &error);
  g_assert_no_error (error);
  dir = g_build_filename (cache_dir, "copilot", "pkg", "linux-x64", "1.0.102-fake", "schemas", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  file = g_build_filename (dir, "api.schema.json", NULL);
  g_file_set_contents (file, "{\"session\":{\"plan\":{\"read\":{\"rpcMethod\":\"session.plan.read\"}}}}",
                       -1, &error);
  g_assert_no_error (error);
  g_setenv ("XDG_CACHE_HOME", cache_dir, TRUE);
}

static void
remove_call_schema (void)
{
  const char *parts[] = { "linux-x64/1.0.102-fake/schemas/api.schema.json", "linux-x64/1.0.102-fake/schemas",
                          "linux-x64/1.0.102-fake", "linux-x64", "", NULL };

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (cache_dir, "copilot", "pkg", parts[i], NULL);

      g_remove (path);
    }
  {
    g_autofree char *copilot = g_build_filename (cache_dir, "copilot", NULL);

    g_remove (copilot);
  }
  g_remove (cache_dir);
  g_free (cache_dir);
}

static void
battery_setup (void)
{
  g_autoptr(GVariant) reply = NULL;

  fixture_setup (&fx, NULL);
  fx.config->max_message_size = TEST_MAX_MESSAGE;
  stranger = fixture_connect (&fx);
  other = fixture_connect (&fx);
  live_path = create_session (fx.client, NULL);
  live_id = session_id_of (fx.client, live_path);
  closed_path = create_session (fx.client, NULL);
  closed_id = session_id_of (fx.client, closed_path);
  reply = call_ok (fx.client, closed_path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  other_path = create_session (other, NULL);
}

static void
battery_teardown (void)
{
  fixture_teardown (&fx, NULL);
  g_free (live_path);
  g_free (live_id);
  g_free (closed_path);
  g_free (closed_id);
  g_free (other_path);
  remove_call_schema ();
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) generated = g_ptr_array_new_with_free_func (g_free);
  int status;

  write_call_schema ();
  test_init (&argc, &argv);

  for (gsize i = 0; i < G_N_ELEMENTS (manager_cases); i++)
    add_case (&manager_cases[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (session_cases); i++)
    add_case (&session_cases[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (session_methods); i++)
    {
      BadCall *as_stranger = g_new0 (BadCall, 1);
      BadCall *closed = g_new0 (BadCall, 1);

      *as_stranger = (BadCall) { session_methods[i].name, ON_SESSION, AS_STRANGER,
                                 session_methods[i].method, session_methods[i].params,
                                 session_methods[i].stranger_error ? session_methods[i].stranger_error
                                                                   : "AccessDenied", NULL };
      *closed = (BadCall) { session_methods[i].name, ON_CLOSED, AS_OWNER,
                            session_methods[i].method, session_methods[i].params,
                            "NotFound", NULL };
      /* Any connection of the owner's UID may subscribe (DESIGN.md §4). */
      if (strcmp (session_methods[i].method, "Subscribe") != 0)
        {
          g_ptr_array_add (generated, as_stranger);
          add_case (as_stranger);
        }
      else
        g_free (as_stranger);
      g_ptr_array_add (generated, closed);
      add_case (closed);
    }

  g_test_add_func ("/battery/bus/manager/resume/hooks-accumulate", test_resume_providers);
  g_test_add_func ("/battery/bus/session/send/attachments-total", test_send_attachments_total);

  battery_setup ();
  status = g_test_run ();
  battery_teardown ();
  return status;
}
