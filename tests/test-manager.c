/* SPDX-License-Identifier: MIT */
/* test-manager.c: the Manager interface of copilotd against the fake CLI
 *
 * Every case talks to an in-process daemon on a private bus, as a client
 * would (tests/daemon-fixture.h), and checks what a client sees: error
 * names, values, signals; and what the CLI received (FAKE_CLI_RECORD).
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "daemon-fixture.h"

#define TEST_UUID "0b0e8c1e-4c47-4f2a-9a43-5d7c2b0a6f11"

static GVariant *
manager_call (Fixture    *fx,
              const char *method,
              GVariant   *params,
              const char *reply_type,
              GError    **error)
{
  return call_sync_iterate (fx->client, ROOT_PATH, MANAGER_IFACE, method, params, reply_type, error);
}

static void
send_and_wait_ok (GDBusConnection *conn,
                  const char      *path,
                  const char      *prompt,
                  char           **out_content)
{
  g_autoptr(GVariant) reply = call_ok (conn, path, SESSION_IFACE, "SendAndWait",
                                       g_variant_new ("(sa{sv})", prompt, NULL), "(sa{sv})");

  if (out_content != NULL)
    g_variant_get (reply, "(sa{sv})", out_content, NULL);
}

/* ---- CreateSession ---- */

static void
test_create (Fixture       *fx,
             gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) props = NULL;
  const char *id = NULL, *state = NULL, *model = NULL, *start = NULL;
  g_autofree char *escaped = NULL;
  g_autoptr(JsonObject) params = NULL;

  g_assert_true (object_is_managed (fx->client, path));

  all = call_ok (fx->client, path, PROPERTIES_IFACE, "GetAll",
                 g_variant_new ("(s)", SESSION_IFACE), "(a{sv})");
  props = g_variant_get_child_value (all, 0);
  g_assert_true (g_variant_lookup (props, "Id", "&s", &id));
  g_assert_true (g_variant_lookup (props, "State", "&s", &state));
  g_assert_true (g_variant_lookup (props, "Model", "&s", &model));
  g_assert_true (g_variant_lookup (props, "StartTime", "&s", &start));
  g_assert_true (g_uuid_string_is_valid (id));
  escaped = g_strdelimit (g_strdup (id), "-", '_');
  g_assert_cmpstr (path + strlen (SESSION_PATH_PREFIX), ==, escaped);
  g_assert_cmpstr (state, ==, "idle");
  g_assert_cmpstr (start, !=, "");
  /* The CLI names its default model in session.start, just after the reply. */
  if (*model == '\0')
    {
      g_autofree char *now = NULL;
      /* The CLI wrote session.start before it read this session.getMessages,
       * and copilotd handles its frames in order. */
      g_autoptr(GVariant) messages = call_ok (fx->client, path, SESSION_IFACE, "GetMessages",
                                              g_variant_new ("(a{sv})", NULL), NULL);

      now = get_string_property (fx->client, path, SESSION_IFACE, "Model");
      g_assert_cmpstr (now, ==, "claude-sonnet-4.5");
    }
  else
    g_assert_cmpstr (model, ==, "claude-sonnet-4.5");

  /* The defaults the daemon always sends. */
  params = record_last (fx, "session.create");
  g_assert_cmpstr (json_object_get_string_member (params, "sessionId"), ==, id);
  g_assert_true (json_object_get_boolean_member (params, "streaming"));
  g_assert_true (json_object_get_boolean_member (params, "requestPermission"));
  g_assert_true (json_object_get_boolean_member (params, "requestUserInput"));
  /* No client-name given: the creator is named by its executable. */
  {
    g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
    g_autofree char *name = g_path_get_basename (exe);

    g_assert_cmpstr (json_object_get_string_member (params, "clientName"), ==, name);
  }
  g_assert_true (json_object_get_boolean_member (params, "requestElicitation"));
  g_assert_true (json_object_get_boolean_member (params, "requestExitPlanMode"));
  g_assert_true (json_object_get_boolean_member (params, "requestAutoModeSwitch"));
}

static const char *
strv_member_joined (JsonObject *params,
                    const char *member,
                    char      **out)
{
  JsonArray *array = json_object_get_array_member (params, member);
  GString *s = g_string_new (NULL);

  g_assert_nonnull (array);
  for (guint i = 0; i < json_array_get_length (array); i++)
    g_string_append_printf (s, "%s%s", i ? "," : "", json_array_get_string_element (array, i));
  *out = g_string_free (s, FALSE);
  return *out;
}

static char *
member_json (JsonObject *params,
             const char *member)
{
  JsonNode *node = json_object_get_member (params, member);

  g_assert_nonnull (node);
  return json_to_string (node, FALSE);
}

static void
test_create_options (Fixture       *fx,
                     gconstpointer  data)
{
  GVariantBuilder b;
  const char *tools[] = { "view", "bash", NULL };
  const char *excluded[] = { "web_fetch", NULL };
  const char *skills[] = { "/tmp/skills-a", "/tmp/skills-b", NULL };
  const char *disabled[] = { "pdf", NULL };
  g_autofree char *path = NULL;
  g_autofree char *escaped = NULL;
  g_autoptr(JsonObject) params = NULL;
  JsonObject *system_message;
  char *joined = NULL;
  g_autofree char *json = NULL;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "session-id", g_variant_new_string (TEST_UUID));
  g_variant_builder_add (&b, "{sv}", "model", g_variant_new_string ("gpt-5-mini"));
  g_variant_builder_add (&b, "{sv}", "reasoning-effort", g_variant_new_string ("high"));
  g_variant_builder_add (&b, "{sv}", "client-name", g_variant_new_string ("test-client"));
  g_variant_builder_add (&b, "{sv}", "agent", g_variant_new_string ("reviewer"));
  g_variant_builder_add (&b, "{sv}", "working-directory", g_variant_new_string (fx->home));
  g_variant_builder_add (&b, "{sv}", "system-message", g_variant_new_string ("Be terse."));
  g_variant_builder_add (&b, "{sv}", "available-tools", g_variant_new_strv (tools, -1));
  g_variant_builder_add (&b, "{sv}", "excluded-tools", g_variant_new_strv (excluded, -1));
  g_variant_builder_add (&b, "{sv}", "skill-directories", g_variant_new_strv (skills, -1));
  g_variant_builder_add (&b, "{sv}", "disabled-skills", g_variant_new_strv (disabled, -1));
  g_variant_builder_add (&b, "{sv}", "mcp-servers",
                         g_variant_new_string ("{\"fs\":{\"type\":\"local\",\"command\":\"mcp-fs\",\"args\":[\"-v\"]}}"));
  g_variant_builder_add (&b, "{sv}", "custom-agents",
                         g_variant_new_string ("[{\"name\":\"reviewer\",\"prompt\":\"Review.\"}]"));
  g_variant_builder_add (&b, "{sv}", "provider",
                         g_variant_new_string ("{\"type\":\"openai\",\"baseUrl\":\"http://127.0.0.1:1\"}"));
  g_variant_builder_add (&b, "{sv}", "infinite-sessions", g_variant_new_string ("{\"enabled\":false}"));
  g_variant_builder_add (&b, "{sv}", "config-dir", g_variant_new_string ("/tmp/copilot-config"));
  g_variant_builder_add (&b, "{sv}", "extra-params",
                         g_variant_new_string ("{\"customFlag\":42,\"agent\":\"from-extra\"}"));
  path = create_session (fx->client, g_variant_builder_end (&b));

  /* session-id is honoured and mapped to the path. */
  escaped = g_strdelimit (g_strdup (TEST_UUID), "-", '_');
  g_assert_true (g_str_has_suffix (path, escaped));

  params = record_last (fx, "session.create");
  g_assert_cmpstr (json_object_get_string_member (params, "sessionId"), ==, TEST_UUID);
  g_assert_cmpstr (json_object_get_string_member (params, "model"), ==, "gpt-5-mini");
  g_assert_cmpstr (json_object_get_string_member (params, "reasoningEffort"), ==, "high");
  g_assert_cmpstr (json_object_get_string_member (params, "clientName"), ==, "test-client");
  g_assert_cmpstr (json_object_get_string_member (params, "workingDirectory"), ==, fx->home);
  g_assert_true (json_object_get_boolean_member (params, "streaming"));
  system_message = json_object_get_object_member (params, "systemMessage");
  g_assert_cmpstr (json_object_get_string_member (system_message, "mode"), ==, "append");
  g_assert_cmpstr (json_object_get_string_member (system_message, "content"), ==, "Be terse.");
  g_assert_cmpstr (strv_member_joined (params, "availableTools", &joined), ==, "view,bash");
  g_clear_pointer (&joined, g_free);
  g_assert_cmpstr (strv_member_joined (params, "excludedTools", &joined), ==, "web_fetch");
  g_clear_pointer (&joined, g_free);
  g_assert_cmpstr (strv_member_joined (params, "skillDirectories", &joined), ==, "/tmp/skills-a,/tmp/skills-b");
  g_clear_pointer (&joined, g_free);
  g_assert_cmpstr (strv_member_joined (params, "disabledSkills", &joined), ==, "pdf");
  g_clear_pointer (&joined, g_free);
  json = member_json (params, "mcpServers");
  g_assert_cmpstr (json, ==, "{\"fs\":{\"type\":\"local\",\"command\":\"mcp-fs\",\"args\":[\"-v\"]}}");
  g_clear_pointer (&json, g_free);
  json = member_json (params, "customAgents");
  g_assert_cmpstr (json, ==, "[{\"name\":\"reviewer\",\"prompt\":\"Review.\"}]");
  g_clear_pointer (&json, g_free);
  json = member_json (params, "provider");
  g_assert_cmpstr (json, ==, "{\"type\":\"openai\",\"baseUrl\":\"http://127.0.0.1:1\"}");
  g_clear_pointer (&json, g_free);
  json = member_json (params, "infiniteSessions");
  g_assert_cmpstr (json, ==, "{\"enabled\":false}");
  g_assert_cmpstr (json_object_get_string_member (params, "configDir"), ==, "/tmp/copilot-config");
  /* extra-params is merged last: it adds and overrides. */
  g_assert_cmpint (json_object_get_int_member (params, "customFlag"), ==, 42);
  g_assert_cmpstr (json_object_get_string_member (params, "agent"), ==, "from-extra");
  g_assert_true (json_object_get_boolean_member (params, "requestPermission"));
  g_assert_true (json_object_get_boolean_member (params, "requestUserInput"));
}

static void
test_create_options_replace (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(JsonObject) params = NULL;
  JsonObject *system_message;

  path = create_session (fx->client,
                         g_variant_new_parsed ("{'streaming': <false>, 'system-message': <'Only this.'>, "
                                               "'system-message-mode': <'replace'>, 'agent': <'plain'>}"));
  params = record_last (fx, "session.create");
  g_assert_false (json_object_get_boolean_member (params, "streaming"));
  g_assert_cmpstr (json_object_get_string_member (params, "agent"), ==, "plain");
  system_message = json_object_get_object_member (params, "systemMessage");
  g_assert_cmpstr (json_object_get_string_member (system_message, "mode"), ==, "replace");
  g_assert_cmpstr (json_object_get_string_member (system_message, "content"), ==, "Only this.");
}

static void
test_create_invalid (Fixture       *fx,
                     gconstpointer  data)
{
  static const struct { const char *options; const char *key; } cases[] = {
    { "{'streaming': <'yes'>}", "streaming" },
    { "{'model': <42>}", "model" },
    { "{'reasoning-effort': <'extreme'>}", "reasoning-effort" },
    { "{'system-message': <'x'>, 'system-message-mode': <'x'>}", "system-message-mode" },
    { "{'session-id': <'not-a-uuid'>}", "session-id" },
    { "{'working-directory': <'relative/dir'>}", "working-directory" },
    { "{'working-directory': <'/nonexistent/copilotd-test'>}", "working-directory" },
    { "{'mcp-servers': <'{not json'>}", "mcp-servers" },
    { "{'provider': <'[1,2]'>}", "provider" },
    { "{'extra-params': <'[1]'>}", "extra-params" },
    { "{'extra-params': <'\"text\"'>}", "extra-params" },
    { "{'available-tools': <'bash'>}", "available-tools" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;

      g_test_message ("options %s", cases[i].options);
      reply = manager_call (fx, "CreateSession",
                            g_variant_new ("(@a{sv})", g_variant_new_parsed (cases[i].options)),
                            "(o)", &error);
      g_assert_null (reply);
      assert_dbus_error (error, "InvalidArgs", cases[i].key);
    }
  /* Nothing reached the CLI. */
  g_assert_cmpuint (record_count (fx, "session.create"), ==, 0);
}

static void
test_create_unknown_keys (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client,
                                          g_variant_new_parsed ("{'no-such-option': <42>, 'future': <['a']>}"));
  g_autoptr(JsonObject) params = record_last (fx, "session.create");

  g_assert_false (json_object_has_member (params, "noSuchOption"));
  g_assert_false (json_object_has_member (params, "future"));
}

static void
test_create_already_exists (Fixture       *fx,
                            gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, g_variant_new_parsed ("{'session-id': <%s>}", TEST_UUID));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = manager_call (fx, "CreateSession",
                        g_variant_new ("(@a{sv})", g_variant_new_parsed ("{'session-id': <%s>}", TEST_UUID)),
                        "(o)", &error);
  assert_dbus_error (error, "AlreadyExists", NULL);
  g_assert_cmpuint (record_count (fx, "session.create"), ==, 1);
}

static void
test_create_limits (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GDBusConnection *other = fixture_connect (fx);

  fx->config->max_sessions_per_uid = 2;
  a = create_session (fx->client, NULL);
  /* The limit is per UID, not per connection. */
  b = create_session (other, NULL);
  reply = manager_call (fx, "CreateSession", g_variant_new ("(a{sv})", NULL), "(o)", &error);
  assert_dbus_error (error, "LimitsExceeded", NULL);
  g_assert_cmpuint (record_count (fx, "session.create"), ==, 2);

  /* Destroying one frees a slot. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, a, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  g_free (a);
  a = create_session (fx->client, NULL);
}

/* ---- ResumeSession ---- */

static void
test_resume_live (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(GVariant) reply = NULL;
  const char *again;

  reply = manager_call (fx, "ResumeSession", g_variant_new ("(sa{sv})", id, NULL), "(o)", NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(&o)", &again);
  g_assert_cmpstr (again, ==, path);
  /* Contract §8: a live resume reaches the CLI as a second client's does. */
  g_assert_cmpuint (record_count (fx, "session.resume"), ==, 1);
}

static void
test_resume_destroyed (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) messages = NULL;
  g_autoptr(GVariant) events = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *content = NULL;
  const char *again;
  gboolean saw_user = FALSE, saw_answer = FALSE;

  send_and_wait_ok (fx->client, path, "first turn", &content);
  g_assert_cmpstr (content, ==, "Echo: first turn");
  reply = call_ok (fx->client, path, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_false (object_is_managed (fx->client, path));

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ResumeSession",
                   g_variant_new ("(s@a{sv})", id, g_variant_new_parsed ("{'model': <'gpt-5-mini'>}")), "(o)");
  g_variant_get (reply, "(&o)", &again);
  g_assert_cmpstr (again, ==, path);
  g_assert_true (object_is_managed (fx->client, path));

  /* Options are re-sent on resume; the id is the session's. */
  params = record_last (fx, "session.resume");
  g_assert_cmpstr (json_object_get_string_member (params, "sessionId"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (params, "model"), ==, "gpt-5-mini");
  g_assert_true (json_object_get_boolean_member (params, "requestPermission"));

  messages = call_ok (fx->client, path, SESSION_IFACE, "GetMessages", g_variant_new ("(a{sv})", NULL),
                      "(a(sa{sv}s))");
  events = g_variant_get_child_value (messages, 0);
  for (gsize i = 0; i < g_variant_n_children (events); i++)
    {
      const char *type, *data_json;
      g_autoptr(JsonObject) obj = NULL;

      g_variant_get_child (events, i, "(&s@a{sv}&s)", &type, NULL, &data_json);
      obj = parse_json_object (data_json);
      if (strcmp (type, "user.message") == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (obj, "content", NULL), "first turn") == 0)
        saw_user = TRUE;
      if (strcmp (type, "assistant.message") == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (obj, "content", NULL), "Echo: first turn") == 0)
        saw_answer = TRUE;
    }
  g_assert_true (saw_user);
  g_assert_true (saw_answer);

  /* And it takes a new turn. */
  g_clear_pointer (&content, g_free);
  send_and_wait_ok (fx->client, path, "second turn", &content);
  g_assert_cmpstr (content, ==, "Echo: second turn");
}

static void
test_resume_unknown (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = manager_call (fx, "ResumeSession", g_variant_new ("(sa{sv})", TEST_UUID, NULL), "(o)", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  reply = manager_call (fx, "ResumeSession", g_variant_new ("(sa{sv})", "nope", NULL), "(o)", &error);
  assert_dbus_error (error, "InvalidArgs", NULL);
  g_assert_false (object_is_managed (fx->client, SESSION_PATH_PREFIX "0b0e8c1e_4c47_4f2a_9a43_5d7c2b0a6f11"));
}

/* ---- ListSessions, GetSessionMetadata, GetLastSessionId ---- */

static GVariant *
find_entry (GVariant   *entries,
            const char *id)
{
  for (gsize i = 0; i < g_variant_n_children (entries); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (entries, i);
      const char *sid;

      if (g_variant_lookup (entry, "session-id", "&s", &sid) && strcmp (sid, id) == 0)
        return g_steal_pointer (&entry);
    }
  return NULL;
}

static void
test_list_sessions (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *sub = g_build_filename (fx->home, "project", NULL);
  g_autofree char *live = NULL, *live_id = NULL, *gone = NULL, *gone_id = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GVariant) entry = NULL;
  const char *s;
  const char *object;
  gboolean remote;

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  live = create_session (fx->client, g_variant_new_parsed ("{'working-directory': <%s>}", sub));
  live_id = session_id_of (fx->client, live);
  gone = create_session (fx->client, NULL);
  gone_id = session_id_of (fx->client, gone);
  send_and_wait_ok (fx->client, gone, "remember me", NULL);
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, gone, SESSION_IFACE, "Destroy", g_variant_new ("(a{sv})", NULL), "()");

  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListSessions", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  entries = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 2);

  entry = find_entry (entries, live_id);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "object", "&o", &object));
  g_assert_cmpstr (object, ==, live);
  g_assert_true (g_variant_lookup (entry, "cwd", "&s", &s));
  g_assert_cmpstr (s, ==, sub);
  g_assert_true (g_variant_lookup (entry, "start-time", "&s", &s));
  g_assert_cmpstr (s, !=, "");
  g_assert_true (g_variant_lookup (entry, "modified-time", "&s", &s));
  /* Named after the app that created it (this test), not the daemon. */
  g_assert_true (g_variant_lookup (entry, "client-name", "&s", &s));
  g_assert_cmpstr (s, ==, "test-manager");
  g_assert_true (g_variant_lookup (entry, "is-remote", "b", &remote));
  g_assert_false (remote);
  g_clear_pointer (&entry, g_variant_unref);

  entry = find_entry (entries, gone_id);
  g_assert_nonnull (entry);
  g_assert_false (g_variant_lookup (entry, "object", "&o", &object));
  g_assert_true (g_variant_lookup (entry, "summary", "&s", &s));
  g_assert_cmpstr (s, ==, "remember me");
  g_clear_pointer (&entry, g_variant_unref);

  /* Filtered by cwd: only the live one. */
  g_clear_pointer (&entries, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListSessions",
                   g_variant_new ("(@a{sv})", g_variant_new_parsed ("{'cwd': <%s>}", sub)), "(aa{sv})");
  entries = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 1);
  entry = find_entry (entries, live_id);
  g_assert_nonnull (entry);
  {
    g_autoptr(JsonObject) list = record_last (fx, "session.list");

    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (list, "filter"), "cwd"), ==, sub);
  }

  /* A filter key with the wrong type names the key. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) bad = manager_call (fx, "ListSessions",
                                            g_variant_new ("(@a{sv})", g_variant_new_parsed ("{'cwd': <1>}")),
                                            "(aa{sv})", &error);
    assert_dbus_error (error, "InvalidArgs", "cwd");
  }
}

static void
test_session_metadata (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) meta = NULL;
  g_autoptr(GError) error = NULL;
  const char *s;

  send_and_wait_ok (fx->client, path, "summary here", NULL);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetSessionMetadata", g_variant_new ("(s)", id), "(a{sv})");
  meta = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (meta, "session-id", "&s", &s));
  g_assert_cmpstr (s, ==, id);
  g_assert_true (g_variant_lookup (meta, "object", "&o", &s));
  g_assert_cmpstr (s, ==, path);
  g_assert_true (g_variant_lookup (meta, "summary", "&s", &s));
  g_assert_cmpstr (s, ==, "summary here");
  g_assert_true (g_variant_lookup (meta, "start-time", "&s", &s));
  g_assert_true (g_variant_lookup (meta, "modified-time", "&s", &s));
  g_assert_true (g_variant_lookup (meta, "cwd", "&s", &s));

  g_clear_pointer (&reply, g_variant_unref);
  reply = manager_call (fx, "GetSessionMetadata", g_variant_new ("(s)", TEST_UUID), "(a{sv})", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  reply = manager_call (fx, "GetSessionMetadata", g_variant_new ("(s)", "x"), "(a{sv})", &error);
  assert_dbus_error (error, "InvalidArgs", NULL);
}

static void
test_last_session_id (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *a = NULL, *b = NULL, *b_id = NULL;
  const char *last;

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetLastSessionId", NULL, "(s)");
  g_variant_get (reply, "(&s)", &last);
  g_assert_cmpstr (last, ==, "");

  a = create_session (fx->client, NULL);
  spin (20);
  b = create_session (fx->client, NULL);
  b_id = session_id_of (fx->client, b);
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetLastSessionId", NULL, "(s)");
  g_variant_get (reply, "(&s)", &last);
  g_assert_cmpstr (last, ==, b_id);
}

/* ---- DeleteSession ---- */

static void
test_delete_session (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(SignalLog) log = signal_log_new (fx->client, SESSION_IFACE, path);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  LoggedSignal *closed;
  const char *reason = NULL;
  guint index;

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "DeleteSession", g_variant_new ("(s)", id), "()");
  index = signal_log_wait (log, 0, "Closed", NULL, 5);
  closed = signal_log_get (log, index);
  {
    g_autoptr(GVariant) details = g_variant_get_child_value (closed->params, 0);

    g_assert_true (g_variant_lookup (details, "reason", "&s", &reason));
    g_assert_cmpstr (reason, ==, "deleted");
  }
  g_assert_false (object_is_managed (fx->client, path));
  g_assert_cmpuint (record_count (fx, "session.delete"), ==, 1);

  g_clear_pointer (&reply, g_variant_unref);
  reply = manager_call (fx, "DeleteSession", g_variant_new ("(s)", id), "()", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  reply = manager_call (fx, "GetSessionMetadata", g_variant_new ("(s)", id), "(a{sv})", &error);
  assert_dbus_error (error, "NotFound", NULL);
  g_clear_error (&error);
  reply = manager_call (fx, "ResumeSession", g_variant_new ("(sa{sv})", id, NULL), "(o)", &error);
  assert_dbus_error (error, "NotFound", NULL);
}

/* ---- models, status, auth, ping, foreground ---- */

static void
test_list_models (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GVariant) models = NULL;
  gboolean found = FALSE;

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  models = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (models), ==, 3);
  for (gsize i = 0; i < g_variant_n_children (models); i++)
    {
      g_autoptr(GVariant) m = g_variant_get_child_value (models, i);
      const char *id, *name, *vendor, *caps;
      gboolean vision, effort;
      guint32 tokens;
      g_autoptr(JsonObject) caps_obj = NULL;

      g_assert_true (g_variant_lookup (m, "id", "&s", &id));
      if (strcmp (id, "claude-sonnet-4.5") != 0)
        continue;
      found = TRUE;
      g_assert_true (g_variant_lookup (m, "name", "&s", &name));
      g_assert_cmpstr (name, ==, "Claude Sonnet 4.5");
      g_assert_true (g_variant_lookup (m, "vendor", "&s", &vendor));
      g_assert_cmpstr (vendor, ==, "Anthropic");
      g_assert_true (g_variant_lookup (m, "supports-vision", "b", &vision));
      g_assert_false (vision);
      g_assert_true (g_variant_lookup (m, "supports-reasoning-effort", "b", &effort));
      g_assert_true (effort);
      g_assert_true (g_variant_lookup (m, "max-context-tokens", "u", &tokens));
      g_assert_cmpuint (tokens, ==, 200000);
      g_assert_true (g_variant_lookup (m, "capabilities-json", "&s", &caps));
      caps_obj = parse_json_object (caps);
      g_assert_cmpstr (json_object_get_string_member (caps_obj, "family"), ==, "claude-sonnet-4.5");
    }
  g_assert_true (found);

  again = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "ListModels", g_variant_new ("(a{sv})", NULL), "(aa{sv})");
  g_assert_true (g_variant_equal (reply, again));
  g_assert_cmpuint (record_count (fx, "models.list"), ==, 1);
}

/* With the CLI running, what status.get would say is known from the
 * handshake: GetStatus answers without a round trip to the CLI. */
static void
test_status_local (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  guint before = record_count (fx, "status.get");
  const char *s;
  guint32 u;

  for (guint i = 0; i < 3; i++)
    {
      g_clear_pointer (&reply, g_variant_unref);
      reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");
    }
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "version", "&s", &s));
  g_assert_cmpstr (s, ==, "1.0.102-fake");
  g_assert_true (g_variant_lookup (status, "protocol-version", "u", &u));
  g_assert_cmpuint (u, ==, 3);
  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &s));
  g_assert_cmpstr (s, ==, "running");
  /* A round trip through the fake CLI would have been recorded before
   * its reply. */
  g_assert_cmpuint (record_count (fx, "status.get"), ==, before);
}

static void
test_status (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  const char *s;
  guint32 u;
  gboolean b;

  /* GetStatus never starts the CLI (test-backend.c): something else must. */
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "start"), "(a{sv})");
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetStatus", NULL, "(a{sv})");
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "version", "&s", &s));
  g_assert_cmpstr (s, ==, "1.0.102-fake");
  g_assert_true (g_variant_lookup (status, "protocol-version", "u", &u));
  g_assert_cmpuint (u, ==, 3);
  g_assert_true (g_variant_lookup (status, "daemon-version", "&s", &s));
  g_assert_cmpstr (s, ==, PACKAGE_VERSION);
  g_assert_true (g_variant_lookup (status, "backend-state", "&s", &s));
  g_assert_cmpstr (s, ==, "running");

  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&status, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetAuthStatus", NULL, "(a{sv})");
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "authenticated", "b", &b));
  g_assert_true (b);
  g_assert_true (g_variant_lookup (status, "auth-type", "&s", &s));
  g_assert_true (g_variant_lookup (status, "login", "&s", &s));
  g_assert_cmpstr (s, !=, "");

  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&status, g_variant_unref);
  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "hello"), "(a{sv})");
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "message", "&s", &s));
  g_assert_true (strstr (s, "hello") != NULL);
  g_assert_true (g_variant_lookup (status, "timestamp", "&s", &s));
  g_assert_true (g_variant_lookup (status, "protocol-version", "u", &u));
  g_assert_cmpuint (u, ==, 3);
  {
    g_autoptr(JsonObject) ping = record_last (fx, "ping");

    g_assert_cmpstr (json_object_get_string_member (ping, "message"), ==, "hello");
  }
}

static void
test_foreground (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *s;

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "GetForegroundSession", NULL, "(s)");
  g_variant_get (reply, "(&s)", &s);
  g_assert_cmpstr (s, ==, "");
  g_clear_pointer (&reply, g_variant_unref);
  reply = manager_call (fx, "SetForegroundSession", g_variant_new ("(s)", TEST_UUID), "()", &error);
  assert_dbus_error (error, "Failed", "TUI");
}

/* ---- properties and signals ---- */

static gboolean
changed_has (SignalLog  *log,
             const char *name,
             const char *value)
{
  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);
      g_autoptr(GVariant) changed = NULL;
      const char *v;

      if (strcmp (sig->member, "PropertiesChanged") != 0)
        continue;
      changed = g_variant_get_child_value (sig->params, 1);
      if (g_variant_lookup (changed, name, "&s", &v) && strcmp (v, value) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
test_properties (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(SignalLog) log = signal_log_new (fx->client, PROPERTIES_IFACE, ROOT_PATH);
  g_autoptr(GVariant) version = get_property (fx->client, ROOT_PATH, MANAGER_IFACE, "Version");
  g_autoptr(GVariant) api = get_property (fx->client, ROOT_PATH, MANAGER_IFACE, "ApiVersion");
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) proto = NULL;
  g_autofree char *state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_autofree char *backend_version = NULL;

  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, PACKAGE_VERSION);
  g_assert_cmpuint (g_variant_get_uint32 (api), ==, 2);
  /* Lazy: nothing started the CLI yet. */
  g_assert_cmpstr (state, ==, "stopped");
  g_assert_false (g_file_test (fx->record_path, G_FILE_TEST_EXISTS));

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "Ping", g_variant_new ("(s)", "x"), "(a{sv})");
  g_free (state);
  state = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendState");
  g_assert_cmpstr (state, ==, "running");
  backend_version = get_string_property (fx->client, ROOT_PATH, MANAGER_IFACE, "BackendVersion");
  g_assert_cmpstr (backend_version, ==, "1.0.102-fake");
  proto = get_property (fx->client, ROOT_PATH, MANAGER_IFACE, "ProtocolVersion");
  g_assert_cmpuint (g_variant_get_uint32 (proto), ==, 3);

  WAIT_FOR (changed_has (log, "BackendState", "running"), 5);
  g_assert_true (changed_has (log, "BackendState", "running"));
}

static const char *
lifecycle_type (LoggedSignal *sig,
                const char  **id)
{
  const char *type;

  g_variant_get (sig->params, "(&s&s@a{sv})", &type, id, NULL);
  return type;
}

static guint
count_lifecycle (SignalLog  *log,
                 const char *type,
                 const char *id)
{
  guint n = 0;

  for (guint i = 0; i < log->signals->len; i++)
    {
      LoggedSignal *sig = g_ptr_array_index (log->signals, i);
      const char *sid;

      if (strcmp (sig->member, "SessionLifecycle") == 0 &&
          strcmp (lifecycle_type (sig, &sid), type) == 0 && strcmp (sid, id) == 0)
        n++;
    }
  return n;
}

static void
test_lifecycle (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(SignalLog) log = signal_log_new (fx->client, MANAGER_IFACE, ROOT_PATH);
  g_autofree char *path = create_session (fx->client, NULL);
  g_autofree char *id = session_id_of (fx->client, path);
  g_autoptr(GVariant) reply = NULL;
  gint64 start, elapsed;
  guint updated;
  guint index;
  const char *sid;

  index = signal_log_wait (log, 0, "SessionLifecycle", NULL, 5);
  g_assert_cmpstr (lifecycle_type (signal_log_get (log, index), &sid), ==, "created");
  g_assert_cmpstr (sid, ==, id);
  {
    g_autoptr(GVariant) meta = g_variant_get_child_value (signal_log_get (log, index)->params, 2);
    const char *t;

    /* Times only: the summary is chat content. */
    g_assert_true (g_variant_lookup (meta, "start-time", "&s", &t));
    g_assert_false (g_variant_lookup (meta, "summary", "&s", &t));
  }

  /* A few turns inside one second: every turn makes the CLI say
   * "updated" several times, the daemon at most once a second. */
  spin (1100);
  signal_log_clear (log);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 3; i++)
    send_and_wait_ok (fx->client, path, "storm", NULL);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpuint (record_count (fx, "session.send"), ==, 3);
  spin (1200);
  updated = count_lifecycle (log, "updated", id);
  g_assert_cmpuint (updated, >=, 1);
  /* Within one second: at most the first and one trailing flush. On a
   * loaded machine the turns can take longer: one more per second. */
  g_assert_cmpuint (updated, <=, 2 + (guint) (elapsed / G_USEC_PER_SEC));

  reply = call_ok (fx->client, ROOT_PATH, MANAGER_IFACE, "DeleteSession", g_variant_new ("(s)", id), "()");
  WAIT_FOR (count_lifecycle (log, "deleted", id) > 0, 5);
  g_assert_cmpuint (count_lifecycle (log, "deleted", id), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/manager/create", test_create);
  ADD ("/manager/create/options", test_create_options);
  ADD ("/manager/create/options-replace", test_create_options_replace);
  ADD ("/manager/create/invalid", test_create_invalid);
  ADD ("/manager/create/unknown-keys", test_create_unknown_keys);
  ADD ("/manager/create/already-exists", test_create_already_exists);
  ADD ("/manager/create/limits", test_create_limits);
  ADD ("/manager/resume/live", test_resume_live);
  ADD ("/manager/resume/destroyed", test_resume_destroyed);
  ADD ("/manager/resume/unknown", test_resume_unknown);
  ADD ("/manager/list-sessions", test_list_sessions);
  ADD ("/manager/session-metadata", test_session_metadata);
  ADD ("/manager/last-session-id", test_last_session_id);
  ADD ("/manager/delete-session", test_delete_session);
  ADD ("/manager/list-models", test_list_models);
  ADD ("/manager/status", test_status);
  ADD ("/manager/status/local", test_status_local);
  ADD ("/manager/foreground", test_foreground);
  ADD ("/manager/properties", test_properties);
  ADD ("/manager/lifecycle", test_lifecycle);
#undef ADD

  return g_test_run ();
}
