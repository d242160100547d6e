/* SPDX-License-Identifier: MIT */
/* control.c: copilotctl's session control and account commands
 *
 * mode, plan, rename, info, compact, rewind, commands, run (one session
 * each), and login, logout, whoami. A live session is joined with
 * Subscribe; a session that is only on disk is resumed for the command
 * and ended again afterwards (its history stays on disk).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "copilotd-error.h"
#include "copilotctl.h"

typedef struct {
  CopilotdDbusSession *proxy;   /* owned */
  char *id;                     /* owned */
  gboolean resumed;             /* not live before: destroyed afterwards */
} CtlSession;

static void
ctl_session_free (CtlSession *session)
{
  if (session->resumed && session->proxy != NULL)
    copilotd_dbus_session_call_destroy_sync (session->proxy, ctl_empty_options (), NULL, NULL);
  g_clear_object (&session->proxy);
  g_free (session->id);
  g_free (session);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlSession, ctl_session_free)


/* The session named by @arg (an id or its unique start), callable. */
static CtlSession *
open_session (Ctl         *ctl,
              const char  *arg,
              GError     **error)
{
  g_autoptr(CtlSession) session = g_new0 (CtlSession, 1);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;

  session->id = ctl_resolve_session_id (ctl, arg, error);
  if (session->id == NULL)
    return NULL;
  path = ctl_session_path_from_id (session->id);
  session->proxy = ctl_session_proxy_new (ctl, path, error);
  if (session->proxy == NULL)
    return NULL;
  if (copilotd_dbus_session_call_subscribe_sync (session->proxy, ctl_empty_options (), NULL, NULL, &local_error))
    return g_steal_pointer (&session);
  if (!ctl_error_is_gone_session (local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  /* Not live: resumed for this command. */
  g_clear_pointer (&path, g_free);
  if (!copilotd_dbus_manager_call_resume_session_sync (ctl->manager, session->id, ctl_empty_options (),
                                                       &path, NULL, error))
    return NULL;
  session->resumed = TRUE;
  return g_steal_pointer (&session);
}

static int
fail (const GError *error)
{
  ctl_print_error (error);
  return CTL_EXIT_FAILURE;
}

/* ctl_parse_simple(), then open_session() of the ID in argv[1]: 0 with
 * @out_session set, or the exit status the command returns. */
static int
parse_session_command (Ctl          *ctl,
                       const char   *parameters,
                       const char   *summary,
                       int          *argc,
                       char       ***argv,
                       int           min_args,
                       int           max_args,
                       CtlSession  **out_session)
{
  g_autoptr(GError) error = NULL;
  int status;

  status = ctl_parse_simple (ctl, parameters, summary, argc, argv, min_args, max_args);
  if (status != 0)
    return status;
  *out_session = open_session (ctl, (*argv)[1], &error);
  return *out_session != NULL ? 0 : fail (error);
}

static void
print_vardict (Ctl      *ctl,
               GVariant *dict)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize (dict);

  if (ctl->json)
    {
      ctl_json_print (node);
      return;
    }
  for (gsize i = 0; i < g_variant_n_children (dict); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
      g_autoptr(GVariant) value = NULL;
      g_autofree char *text = NULL;
      const char *key;

      g_variant_get (entry, "{&sv}", &key, &value);
      if (g_str_has_suffix (key, "-json"))
        continue;
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        text = g_variant_dup_string (value, NULL);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_autofree const char **strv = g_variant_get_strv (value, NULL);

          text = g_strjoinv (", ", (char **) strv);
        }
      else
        text = g_variant_print (value, FALSE);
      printf ("%s%-18s%s %s\n", ctl_style (stdout, CTL_STYLE_BOLD), key,
              ctl_style (stdout, CTL_STYLE_RESET), text);
    }
}

/* ---- mode, rename, info, compact --------------------------------------- */

int
ctl_cmd_mode (Ctl   *ctl,
              int    argc,
              char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) mode = NULL;
  int status;

  status = parse_session_command (ctl, _("ID [interactive|plan|autopilot]"),
                                  _("Show or set the mode of a session."), &argc, &argv, 1, 2, &session);
  if (status != 0)
    return status;
  if (argc > 2 &&
      !copilotd_dbus_session_call_set_mode_sync (session->proxy, argv[2], ctl_empty_options (), NULL, &error))
    return fail (error);

  /* What the daemon reports, not what was asked for. */
  mode = g_dbus_connection_call_sync (ctl->bus, CTL_BUS_NAME,
                                      g_dbus_proxy_get_object_path (G_DBUS_PROXY (session->proxy)),
                                      "org.freedesktop.DBus.Properties", "Get",
                                      g_variant_new ("(ss)", CTL_SESSION_IFACE, "Mode"),
                                      G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (mode == NULL)
    return fail (error);
  {
    g_autoptr(GVariant) value = NULL;

    g_variant_get (mode, "(v)", &value);
    if (ctl->json)
      printf ("{\"mode\":\"%s\"}\n", g_variant_get_string (value, NULL));
    else
      printf ("%s\n", g_variant_get_string (value, NULL));
  }
  return CTL_EXIT_OK;
}

int
ctl_cmd_rename (Ctl   *ctl,
                int    argc,
                char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int status;

  status = parse_session_command (ctl, _("ID NAME…"), _("Give a session a name."), &argc, &argv, 2, -1,
                                  &session);
  if (status != 0)
    return status;
  name = g_strjoinv (" ", argv + 2);
  if (!copilotd_dbus_session_call_set_name_sync (session->proxy, name, ctl_empty_options (), NULL, &error))
    return fail (error);
  return CTL_EXIT_OK;
}

int
ctl_cmd_info (Ctl   *ctl,
              int    argc,
              char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) info = NULL;
  GVariantDict options;
  int status;

  status = parse_session_command (ctl, _("ID"), _("Show a session's name, mode, model, context and usage."),
                                  &argc, &argv, 1, 1, &session);
  if (status != 0)
    return status;
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "usage", "b", TRUE);
  g_variant_dict_insert (&options, "context", "b", TRUE);
  if (!copilotd_dbus_session_call_get_info_sync (session->proxy, g_variant_dict_end (&options), &info,
                                                 NULL, &error))
    return fail (error);
  print_vardict (ctl, info);
  return CTL_EXIT_OK;
}

int
ctl_cmd_compact (Ctl   *ctl,
                 int    argc,
                 char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  GVariantDict options;
  int status;

  status = parse_session_command (ctl, _("ID [INSTRUCTIONS…]"), _("Replace a session's history by a summary."),
                                  &argc, &argv, 1, -1, &session);
  if (status != 0)
    return status;
  g_variant_dict_init (&options, NULL);
  if (argc > 2)
    {
      g_autofree char *instructions = g_strjoinv (" ", argv + 2);

      g_variant_dict_insert (&options, "instructions", "s", instructions);
    }
  if (!copilotd_dbus_session_call_compact_sync (session->proxy, g_variant_dict_end (&options), &result,
                                                NULL, &error))
    return fail (error);
  print_vardict (ctl, result);
  return CTL_EXIT_OK;
}

/* ---- plan -------------------------------------------------------------- */

static char *
read_all (int       fd,
          GError  **error)
{
  g_autoptr(GInputStream) input = G_INPUT_STREAM (g_unix_input_stream_new (fd, FALSE));
  g_autoptr(GOutputStream) buffer = g_memory_output_stream_new_resizable ();

  if (g_output_stream_splice (buffer, input, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
    return NULL;
  return g_strndup (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (buffer)),
                    g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (buffer)));
}

/* The new plan: from standard input when it is not a terminal, else from
 * $VISUAL/$EDITOR editing @current. */
static char *
edit_text (const char  *current,
           GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *command = NULL;
  g_autofree char *quoted = NULL;
  g_autofree char *text = NULL;
  const char *editor = g_getenv ("VISUAL");
  int fd;
  int wait_status;

  if (!isatty (STDIN_FILENO))
    return read_all (STDIN_FILENO, error);

  if (editor == NULL || *editor == '\0')
    editor = g_getenv ("EDITOR");
  if (editor == NULL || *editor == '\0')
    editor = "vi";
  fd = g_file_open_tmp ("copilotctl-plan-XXXXXX.md", &path, error);
  if (fd < 0)
    return NULL;
  close (fd);
  if (!g_file_set_contents (path, current ? current : "", -1, error))
    return NULL;
  quoted = g_shell_quote (path);
  command = g_strdup_printf ("%s %s", editor, quoted);
  if (!g_spawn_command_line_sync (command, NULL, NULL, &wait_status, error) ||
      !g_spawn_check_wait_status (wait_status, error) ||
      !g_file_get_contents (path, &text, NULL, error))
    {
      g_unlink (path);
      return NULL;
    }
  g_unlink (path);
  return g_steal_pointer (&text);
}

int
ctl_cmd_plan (Ctl   *ctl,
              int    argc,
              char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autofree char *content = NULL;
  const char *action;
  int status;

  status = ctl_parse_simple (ctl, _("ID [show|edit|delete]"),
                             _("Show, edit or delete the plan of a session. “edit” opens $EDITOR, "
                               "or reads the new plan from standard input when it is not a terminal."),
                             &argc, &argv, 1, 2);
  if (status != 0)
    return status;
  action = argc > 2 ? argv[2] : "show";
  if (strcmp (action, "show") != 0 && strcmp (action, "edit") != 0 && strcmp (action, "delete") != 0)
    {
      ctl_usage_error ("plan", _("unknown action: %s"), action);
      return CTL_EXIT_USAGE;
    }
  session = open_session (ctl, argv[1], &error);
  if (session == NULL)
    return fail (error);

  if (strcmp (action, "delete") == 0)
    return copilotd_dbus_session_call_delete_plan_sync (session->proxy, ctl_empty_options (), NULL, &error)
           ? CTL_EXIT_OK : fail (error);

  if (!copilotd_dbus_session_call_get_plan_sync (session->proxy, ctl_empty_options (), &content, &info,
                                                 NULL, &error))
    return fail (error);
  if (strcmp (action, "show") == 0)
    {
      if (ctl->json)
        {
          g_autoptr(JsonBuilder) builder = json_builder_new ();

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "content");
          json_builder_add_string_value (builder, content);
          json_builder_set_member_name (builder, "exists");
          {
            gboolean exists = FALSE;

            g_variant_lookup (info, "exists", "b", &exists);
            json_builder_add_boolean_value (builder, exists);
          }
          json_builder_end_object (builder);
          ctl_json_print_builder (builder);
        }
      else if (*content == '\0')
        ctl_printerr ("%s", _("this session has no plan"));
      else
        fputs (content, stdout);
      return CTL_EXIT_OK;
    }

  {
    g_autofree char *text = edit_text (content, &error);

    if (text == NULL ||
        !copilotd_dbus_session_call_set_plan_sync (session->proxy, text, ctl_empty_options (), NULL, &error))
      return fail (error);
  }
  return CTL_EXIT_OK;
}

/* ---- rewind ------------------------------------------------------------ */

int
ctl_cmd_rewind (Ctl   *ctl,
                int    argc,
                char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) points = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *event_id = NULL;
  gboolean preview = FALSE, files = FALSE;
  GVariantDict options;
  const GOptionEntry entries[] = {
    { "preview", 'p', 0, G_OPTION_ARG_NONE, &preview, N_("Change nothing; list the files a rewind would restore"), NULL },
    { "files", 'f', 0, G_OPTION_ARG_NONE, &files, N_("Also restore the files those turns changed"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (_("ID [TURN]"));
  g_option_context_set_summary (context, _("Without TURN, list the turns of a session. With TURN (its number "
                                           "in that list, or its event id), discard that turn and all later ones."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 2 || argc > 3)
    {
      ctl_usage_error ("rewind", "%s", error ? error->message : _("expected ID [TURN]"));
      return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;
  session = open_session (ctl, argv[1], &error);
  if (session == NULL ||
      !copilotd_dbus_session_call_list_rewind_points_sync (session->proxy, ctl_empty_options (), &points,
                                                           NULL, &error))
    return fail (error);

  if (argc == 2)
    {
      g_autoptr(JsonNode) node = json_gvariant_serialize (points);

      if (ctl->json)
        {
          ctl_json_print (node);
          return CTL_EXIT_OK;
        }
      for (gsize i = 0; i < g_variant_n_children (points); i++)
        {
          g_autoptr(GVariant) point = g_variant_get_child_value (points, i);
          g_autofree char *prompt = NULL;
          const char *text = ctl_vardict_get_string (point, "prompt");

          prompt = ctl_one_line (text ? text : "");
          printf ("%2zu  %s  %s\n", i + 1, ctl_vardict_get_string (point, "event-id"), prompt);
        }
      return CTL_EXIT_OK;
    }

  {
    char *end = NULL;
    guint64 n = g_ascii_strtoull (argv[2], &end, 10);

    if (end != NULL && *end == '\0' && n >= 1 && n <= g_variant_n_children (points))
      {
        g_autoptr(GVariant) point = g_variant_get_child_value (points, n - 1);

        event_id = g_strdup (ctl_vardict_get_string (point, "event-id"));
      }
    else
      event_id = g_strdup (argv[2]);
  }
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "preview", "b", preview);
  g_variant_dict_insert (&options, "restore-files", "b", files);
  if (!copilotd_dbus_session_call_rewind_sync (session->proxy, event_id, g_variant_dict_end (&options),
                                               &result, NULL, &error))
    return fail (error);
  print_vardict (ctl, result);
  return CTL_EXIT_OK;
}

/* ---- slash commands ---------------------------------------------------- */

int
ctl_cmd_commands (Ctl   *ctl,
                  int    argc,
                  char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) commands = NULL;
  g_autoptr(CtlTable) table = NULL;
  int status;

  status = parse_session_command (ctl, _("ID"), _("List the slash commands of a session."), &argc, &argv,
                                  1, 1, &session);
  if (status != 0)
    return status;
  if (!copilotd_dbus_session_call_list_commands_sync (session->proxy, ctl_empty_options (), &commands,
                                                      NULL, &error))
    return fail (error);
  if (ctl->json)
    {
      g_autoptr(JsonNode) node = json_gvariant_serialize (commands);

      ctl_json_print (node);
      return CTL_EXIT_OK;
    }
  table = ctl_table_new (2, _("COMMAND"), _("DESCRIPTION"));
  for (gsize i = 0; i < g_variant_n_children (commands); i++)
    {
      g_autoptr(GVariant) command = g_variant_get_child_value (commands, i);
      g_autofree char *name = g_strconcat ("/", ctl_vardict_get_string (command, "name"), NULL);
      const char *description = ctl_vardict_get_string (command, "description");

      ctl_table_add_row (table, name, description ? description : "");
    }
  ctl_table_print (table, stdout);
  return CTL_EXIT_OK;
}

static gboolean
execute (CopilotdDbusSession  *proxy,
         const char           *line,
         GVariant            **out_result,
         GError              **error)
{
  g_autofree char *name = NULL;
  const char *args;

  line += strspn (line, "/");
  args = line + strcspn (line, " \t");
  name = g_strndup (line, args - line);
  args += strspn (args, " \t");
  return copilotd_dbus_session_call_execute_command_sync (proxy, name, args, ctl_empty_options (),
                                                          out_result, NULL, error);
}

static void
print_command_result (Ctl      *ctl,
                      GVariant *result)
{
  const char *text = ctl_vardict_get_string (result, "text");
  const char *message = ctl_vardict_get_string (result, "message");

  if (ctl->json)
    print_vardict (ctl, result);
  else if (text != NULL)
    printf ("%s\n", text);
  else if (message != NULL)
    printf ("%s\n", message);
}

int
ctl_cmd_run (Ctl   *ctl,
             int    argc,
             char **argv)
{
  g_autoptr(CtlSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autofree char *line = NULL;
  int status;

  status = parse_session_command (ctl, _("ID /COMMAND [ARGUMENTS…]"), _("Run a slash command in a session."),
                                  &argc, &argv, 2, -1, &session);
  if (status != 0)
    return status;
  line = g_strjoinv (" ", argv + 2);
  if (!execute (session->proxy, line, &result, &error))
    return fail (error);
  print_command_result (ctl, result);
  return CTL_EXIT_OK;
}

gboolean
ctl_chat_command (Ctl                 *ctl,
                  CopilotdDbusSession *session,
                  const char          *line,
                  GError             **error)
{
  g_autoptr(GVariant) result = NULL;

  /* "/mode" is copilotctl's own: the daemon's SetMode, not a CLI command. */
  if (g_str_has_prefix (line, "/mode"))
    {
      g_autofree char *mode = g_strstrip (g_strdup (line + strlen ("/mode")));

      if (*mode != '\0' &&
          !copilotd_dbus_session_call_set_mode_sync (session, mode, ctl_empty_options (), NULL, error))
        return FALSE;
      printf ("%s\n", *mode != '\0' ? mode : copilotd_dbus_session_get_mode (session));
      return FALSE;
    }
  if (!execute (session, line, &result, error))
    return FALSE;
  print_command_result (ctl, result);
  return g_strcmp0 (ctl_vardict_get_string (result, "kind"), "agent-prompt") == 0;
}

/* ---- account ----------------------------------------------------------- */

static char *
token_from_gh (GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int wait_status;
  const char *argv[] = { "gh", "auth", "token", NULL };

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     &out, &err, &wait_status, error) ||
      !g_spawn_check_wait_status (wait_status, error))
    return NULL;
  return g_strstrip (g_steal_pointer (&out));
}

int
ctl_cmd_login (Ctl   *ctl,
               int    argc,
               char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) account = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *host = NULL;
  g_autofree char *token = NULL;
  gboolean with_token = FALSE;
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host, N_("The GitHub host (default https://github.com)"), N_("URL") },
    { "with-token", 0, 0, G_OPTION_ARG_NONE, &with_token, N_("Read the token from standard input"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Sign in with a GitHub token: read from standard input when it is "
                                           "not a terminal (or with --with-token), else from “gh auth token”."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 1)
    {
      ctl_usage_error ("login", "%s", error ? error->message : _("unexpected argument"));
      return CTL_EXIT_USAGE;
    }

  if (with_token || !isatty (STDIN_FILENO))
    {
      token = read_all (STDIN_FILENO, &error);
      if (token != NULL)
        g_strstrip (token);
    }
  else
    token = token_from_gh (&error);
  if (token == NULL)
    {
      ctl_printerr (_("no token: %s"), error->message);
      return CTL_EXIT_FAILURE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;
  if (!copilotd_dbus_manager_call_sign_in_sync (ctl->manager, host ? host : "", token, ctl_empty_options (),
                                                &account, NULL, &error))
    {
      memset (token, 0, strlen (token));
      return fail (error);
    }
  memset (token, 0, strlen (token));
  if (ctl->json)
    print_vardict (ctl, account);
  else
    printf (_("Signed in as %s\n"), ctl_vardict_get_string (account, "login"));
  return CTL_EXIT_OK;
}

int
ctl_cmd_logout (Ctl   *ctl,
                int    argc,
                char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  status = ctl_parse_simple (ctl, "", _("Sign out."), &argc, &argv, 0, 0);
  if (status != 0)
    return status;
  if (!copilotd_dbus_manager_call_sign_out_sync (ctl->manager, ctl_empty_options (), NULL, &error))
    return fail (error);
  return CTL_EXIT_OK;
}

int
ctl_cmd_whoami (Ctl   *ctl,
                int    argc,
                char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) account = NULL;
  const char *login;
  int status;

  status = ctl_parse_simple (ctl, "", _("Show who is signed in."), &argc, &argv, 0, 0);
  if (status != 0)
    return status;
  if (!copilotd_dbus_manager_call_get_account_sync (ctl->manager, ctl_empty_options (), &account, NULL, &error))
    return fail (error);
  login = ctl_vardict_get_string (account, "login");
  if (ctl->json)
    print_vardict (ctl, account);
  else if (login == NULL)
    {
      ctl_printerr ("%s", _("nobody is signed in"));
      return CTL_EXIT_FAILURE;
    }
  else
    printf ("%s (%s)\n", login, ctl_vardict_get_string (account, "host"));
  return CTL_EXIT_OK;
}
