/* SPDX-License-Identifier: MIT */
/* copilotctl.c: the command-line client of copilotd
 *
 * Talks to copilotd only through its D-Bus API, in the manner of busctl and
 * bluetoothctl. This file holds the dispatcher, the bus connection and the
 * one-shot commands; ask/chat live in turn.c, monitor in monitor.c, the
 * terminal agent in agent.c.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>

#include "copilotd-error.h"
#include "copilotctl.h"

gboolean ctl_opt_json = FALSE;
static gboolean opt_system = FALSE;
static char *opt_address = NULL;
static gboolean opt_version = FALSE;

GOptionEntry ctl_global_entries[] = {
  { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl_opt_json, N_("Print JSON, one object per line"), NULL },
  { "system", 0, 0, G_OPTION_ARG_NONE, &opt_system, N_("Use copilotd on the system bus"), NULL },
  { "address", 0, 0, G_OPTION_ARG_STRING, &opt_address, N_("Use copilotd on the bus at this address"), N_("ADDRESS") },
  G_OPTION_ENTRY_NULL
};

static const char *current_command = NULL;

void
ctl_usage_error (const char *command,
                 const char *format,
                 ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fprintf (stderr, "copilotctl: %s\n", message);
  if (command != NULL)
    fprintf (stderr, _("Try “copilotctl %s --help” for more information."), command);
  else
    fprintf (stderr, "%s", _("Try “copilotctl --help” for more information."));
  fputc ('\n', stderr);
}

static void
bus_closed_cb (GDBusConnection *bus,
               gboolean         remote_peer_vanished,
               GError          *error,
               gpointer         user_data)
{
  ctl_printerr ("%s", _("lost the connection to the bus"));
  exit (CTL_EXIT_FAILURE);
}

/* Connects once the command has parsed its options (global options may
 * follow the command name). Prints the error itself. */
gboolean
ctl_connect (Ctl *ctl)
{
  g_autoptr(GError) error = NULL;

  ctl->json = ctl_opt_json;
  if (ctl->manager != NULL)
    return TRUE;

  if (opt_address != NULL)
    ctl->bus = g_dbus_connection_new_for_address_sync (opt_address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  else
    ctl->bus = g_bus_get_sync (opt_system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (ctl->bus == NULL)
    {
      ctl_printerr (_("cannot connect to the bus: %s"), error->message);
      return FALSE;
    }
  g_dbus_connection_set_exit_on_close (ctl->bus, FALSE);
  g_signal_connect (ctl->bus, "closed", G_CALLBACK (bus_closed_cb), ctl);

  ctl->manager = copilotd_dbus_manager_proxy_new_sync (ctl->bus,
                                                       G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                                       G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                                       CTL_BUS_NAME, CTL_ROOT_PATH, NULL, &error);
  if (ctl->manager == NULL)
    {
      ctl_print_error (error);
      return FALSE;
    }
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (ctl->manager), CTL_CALL_TIMEOUT_MS);
  g_debug ("Connected to the bus as %s", g_dbus_connection_get_unique_name (ctl->bus));
  return TRUE;
}

static char *
get_name_owner (Ctl     *ctl,
                GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  char *owner = NULL;

  reply = g_dbus_connection_call_sync (ctl->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       g_variant_new ("(s)", CTL_BUS_NAME), G_VARIANT_TYPE ("(s)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s)", &owner);
  return owner;
}

/* The unique name of copilotd: signals are matched on it, and agent calls
 * are only believed when they come from it. */
const char *
ctl_daemon_owner (Ctl     *ctl,
                  GError **error)
{
  if (ctl->daemon_owner == NULL)
    ctl->daemon_owner = get_name_owner (ctl, error);
  return ctl->daemon_owner;
}

gboolean
ctl_sender_is_daemon (Ctl        *ctl,
                      const char *sender)
{
  if (sender == NULL)
    return FALSE;
  if (g_strcmp0 (ctl->daemon_owner, sender) == 0)
    return TRUE;
  /* copilotd may have been restarted (and activated again) since. */
  g_clear_pointer (&ctl->daemon_owner, g_free);
  ctl->daemon_owner = get_name_owner (ctl, NULL);
  return g_strcmp0 (ctl->daemon_owner, sender) == 0;
}

char *
ctl_session_path_from_id (const char *session_id)
{
  GString *path = g_string_new (CTL_SESSION_PREFIX);

  for (const char *p = session_id; *p != '\0'; p++)
    g_string_append_c (path, g_ascii_isalnum (*p) ? *p : '_');
  return g_string_free (path, FALSE);
}

char *
ctl_session_id_from_path (const char *object_path)
{
  char *id;

  if (object_path == NULL)
    return g_strdup ("");
  if (!g_str_has_prefix (object_path, CTL_SESSION_PREFIX))
    return g_strdup (object_path);
  id = g_strdup (object_path + strlen (CTL_SESSION_PREFIX));
  g_strdelimit (id, "_", '-');
  return id;
}

static void
add_id (GPtrArray  *ids,
        const char *id)
{
  if (id != NULL && *id != '\0' && !g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
    g_ptr_array_add (ids, g_strdup (id));
}

/* Every session id the caller can name: stored ones (ListSessions) and live
 * ones (the ObjectManager), since a session is stored only once it has a
 * message. */
static GPtrArray *
known_session_ids (Ctl     *ctl,
                   GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) sessions = NULL;
  g_autoptr(GVariant) objects = NULL;
  GVariantIter iter;
  GVariant *entry;
  const char *path;

  if (!copilotd_dbus_manager_call_list_sessions_sync (ctl->manager, g_variant_new ("a{sv}", NULL),
                                                      &sessions, NULL, error))
    return NULL;
  g_variant_iter_init (&iter, sessions);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      add_id (ids, ctl_vardict_get_string (entry, "session-id"));
      g_variant_unref (entry);
    }

  objects = g_dbus_connection_call_sync (ctl->bus, CTL_BUS_NAME, CTL_ROOT_PATH,
                                         "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                         NULL, G_VARIANT_TYPE ("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE,
                                         CTL_CALL_TIMEOUT_MS, NULL, NULL);
  if (objects != NULL)
    {
      g_autoptr(GVariantIter) paths = NULL;

      g_variant_get (objects, "(a{oa{sa{sv}}})", &paths);
      while (g_variant_iter_next (paths, "{&o@a{sa{sv}}}", &path, NULL))
        if (g_str_has_prefix (path, CTL_SESSION_PREFIX))
          {
            g_autofree char *id = ctl_session_id_from_path (path);
            add_id (ids, id);
          }
    }
  return g_steal_pointer (&ids);
}

/* The session id that @arg names: a whole id (dashes or the underscores of
 * its object path), or the start of exactly one known id, as monitor
 * prints them. Every command that takes a session id goes through here, so
 * they all say the same when there is none. */
char *
ctl_resolve_session_id (Ctl        *ctl,
                        const char *arg,
                        GError    **error)
{
  g_autofree char *wanted = g_ascii_strdown (arg, -1);
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) matches = g_ptr_array_new ();

  g_strdelimit (wanted, "_", '-');
  if (g_uuid_string_is_valid (wanted))
    return g_steal_pointer (&wanted);
  if (*wanted == '\0')
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND, _("No session %s"), arg);
      return NULL;
    }

  ids = known_session_ids (ctl, error);
  if (ids == NULL)
    return NULL;
  for (guint i = 0; i < ids->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (ids, i), wanted))
      g_ptr_array_add (matches, g_ptr_array_index (ids, i));
  if (matches->len == 1)
    return g_strdup (g_ptr_array_index (matches, 0));
  if (matches->len == 0)
    g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND, _("No session %s"), arg);
  else
    g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_INVALID_ARGS,
                 _("%s is the start of %u session ids; give more of it"), arg, matches->len);
  return NULL;
}

/* A call on a session object that is not (or no longer) live: copilotd
 * answers Closed or NotFound; an older one, or the bus, UnknownObject. */
gboolean
ctl_error_is_gone_session (const GError *error)
{
  return g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED) ||
         g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE);
}

CopilotdDbusSession *
ctl_session_proxy_new (Ctl        *ctl,
                       const char *object_path,
                       GError    **error)
{
  CopilotdDbusSession *session;

  session = copilotd_dbus_session_proxy_new_sync (ctl->bus, G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                                  CTL_BUS_NAME, object_path, NULL, error);
  if (session != NULL)
    g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (session), CTL_CALL_TIMEOUT_MS);
  return session;
}

GVariant *
ctl_empty_options (void)
{
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
}

/* Parses the options of a command without options of its own; 0 when the
 * arguments are fine and the bus is connected, else the exit status. */
int
ctl_parse_simple (Ctl         *ctl,
              const char  *parameters,
              const char  *summary,
              int         *argc,
              char      ***argv,
              int          min_args,
              int          max_args)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      ctl_usage_error (current_command, "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (*argc - 1 < min_args)
    {
      ctl_usage_error (current_command, "%s", _("missing argument"));
      return CTL_EXIT_USAGE;
    }
  if (max_args >= 0 && *argc - 1 > max_args)
    {
      ctl_usage_error (current_command, _("unexpected argument: %s"), (*argv)[max_args + 1]);
      return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;
  return 0;
}

static void
print_dict_json (GVariant *dict)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize (dict);

  ctl_json_print (node);
}

static int
compare_modified (gconstpointer a,
                  gconstpointer b)
{
  GVariant *left = *(GVariant **) a;
  GVariant *right = *(GVariant **) b;

  /* Newest first; ISO 8601 times of one source sort as text. */
  return g_strcmp0 (ctl_vardict_get_string (right, "modified-time"),
                    ctl_vardict_get_string (left, "modified-time"));
}

static int
cmd_sessions (Ctl   *ctl,
              int    argc,
              char **argv)
{
  g_autoptr(GVariant) sessions = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(CtlTable) table = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *entry;
  int status;

  status = ctl_parse_simple (ctl, "", _("List the sessions Copilot keeps, newest first."), &argc, &argv, 0, 0);
  if (status != 0)
    return status;
  if (!copilotd_dbus_manager_call_list_sessions_sync (ctl->manager, ctl_empty_options (),
                                                      &sessions, NULL, &error))
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }

  g_variant_iter_init (&iter, sessions);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    g_ptr_array_add (entries, entry);
  g_ptr_array_sort (entries, compare_modified);

  if (ctl->json)
    {
      for (guint i = 0; i < entries->len; i++)
        print_dict_json (g_ptr_array_index (entries, i));
      return CTL_EXIT_OK;
    }

  if (entries->len == 0)
    {
      printf ("%s\n", _("No sessions."));
      return CTL_EXIT_OK;
    }

  table = ctl_table_new (4, _("ID"), _("MODIFIED"), _("LIVE"), _("SUMMARY"));
  for (guint i = 0; i < entries->len; i++)
    {
      GVariant *session = g_ptr_array_index (entries, i);
      const char *summary = ctl_vardict_get_string (session, "summary");
      g_autofree char *modified = ctl_format_time (ctl_vardict_get_string (session, "modified-time"));

      if (summary == NULL || *summary == '\0')
        summary = ctl_vardict_get_string (session, "name");
      ctl_table_add_row (table, ctl_vardict_get_string (session, "session-id"), modified,
                         ctl_vardict_get_string (session, "object") != NULL ? "*" : "",
                         summary);
    }
  ctl_table_print (table, stdout);
  return CTL_EXIT_OK;
}

static void
print_transcript_entry (const char *type,
                        GVariant   *meta,
                        const char *data_json,
                        gboolean   *first)
{
  g_autoptr(JsonNode) data = ctl_json_parse (data_json);
  const char *bold = ctl_style (stdout, CTL_STYLE_BOLD);
  const char *dim = ctl_style (stdout, CTL_STYLE_DIM);
  const char *reset = ctl_style (stdout, CTL_STYLE_RESET);

  if (g_strcmp0 (type, "user.message") == 0 || g_strcmp0 (type, "assistant.message") == 0)
    {
      const char *content = ctl_json_get_string (data, "content");
      gboolean user = type[0] == 'u';

      if (content == NULL || *content == '\0')
        return;
      if (!*first)
        putchar ('\n');
      *first = FALSE;
      printf ("%s%s%s%s\n", bold, user ? ctl_style (stdout, CTL_STYLE_GREEN) : ctl_style (stdout, CTL_STYLE_CYAN),
              user ? _("You:") : _("Copilot:"), reset);
      fputs (content, stdout);
      if (!g_str_has_suffix (content, "\n"))
        putchar ('\n');
    }
  else if (g_strcmp0 (type, "tool.execution_start") == 0)
    {
      const char *name = ctl_json_get_string (data, "toolName");
      const char *detail = ctl_tool_detail (data);
      g_autofree char *line = ctl_one_line (detail);

      printf ("%s%s %s%s%s%s\n", dim, ctl_glyph ("▸", ">"), name ? name : "?",
              detail ? ": " : "", detail ? line : "", reset);
    }
  else if (g_strcmp0 (type, "tool.execution_complete") == 0 &&
           !ctl_json_get_boolean (data, "success"))
    {
      const char *message = ctl_json_get_string (ctl_json_get_member (data, "error"), "message");
      g_autofree char *line = ctl_one_line (message ? message : _("failed"));

      printf ("%s%s %s%s\n", dim, ctl_glyph ("✗", "x"), line, reset);
    }
  else if (g_strcmp0 (type, "session.error") == 0)
    {
      const char *message = ctl_json_get_string (data, "message");

      printf ("%s%s %s%s\n", ctl_style (stdout, CTL_STYLE_RED), _("error:"),
              message ? message : "", reset);
    }
  else if (g_strcmp0 (type, "abort") == 0)
    printf ("%s%s%s\n", dim, _("(aborted)"), reset);
}

static void
print_metadata (GVariant *metadata)
{
  g_autoptr(CtlTable) table = ctl_table_new (2, "", "");
  g_autofree char *started = ctl_format_time (ctl_vardict_get_string (metadata, "start-time"));
  g_autofree char *modified = ctl_format_time (ctl_vardict_get_string (metadata, "modified-time"));

  ctl_table_add_row (table, _("Session:"), ctl_vardict_get_string (metadata, "session-id"));
  if (ctl_vardict_get_string (metadata, "summary") != NULL)
    ctl_table_add_row (table, _("Summary:"), ctl_vardict_get_string (metadata, "summary"));
  if (ctl_vardict_get_string (metadata, "cwd") != NULL)
    ctl_table_add_row (table, _("Directory:"), ctl_vardict_get_string (metadata, "cwd"));
  ctl_table_add_row (table, _("Started:"), started);
  ctl_table_add_row (table, _("Modified:"), modified);
  printf ("%s", ctl_style (stdout, CTL_STYLE_DIM));
  ctl_table_print_body (table, stdout);
  printf ("%s\n", ctl_style (stdout, CTL_STYLE_RESET));
}

static void
print_event_json (const char *type,
                  GVariant   *meta,
                  const char *data_json)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) data = ctl_json_parse (data_json);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "meta");
  json_builder_add_value (builder, json_gvariant_serialize (meta));
  json_builder_set_member_name (builder, "data");
  if (data != NULL)
    json_builder_add_value (builder, g_steal_pointer (&data));
  else
    json_builder_add_string_value (builder, data_json);
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static int
cmd_show (Ctl   *ctl,
          int    argc,
          char **argv)
{
  g_autoptr(GVariant) metadata = NULL;
  g_autoptr(GVariant) events = NULL;
  g_autoptr(CopilotdDbusSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *resumed_path = NULL;
  g_autofree char *resolved = NULL;
  const char *path;
  const char *id;
  GVariantIter iter;
  const char *type, *data_json;
  GVariant *meta;
  gboolean first = TRUE;
  int status;

  status = ctl_parse_simple (ctl, _("ID"), _("Print the conversation of a session."), &argc, &argv, 1, 1);
  if (status != 0)
    return status;
  resolved = ctl_resolve_session_id (ctl, argv[1], &error);
  if (resolved == NULL)
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }
  id = resolved;

  if (!copilotd_dbus_manager_call_get_session_metadata_sync (ctl->manager, id, &metadata, NULL, &error))
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }

  /* A live session is read in place (subscribing grants access to a session
   * of another connection of ours); a stored one is brought back briefly.
   * A session that closes in between is brought back as well. */
  path = ctl_vardict_get_string (metadata, "object");
  if (path != NULL)
    {
      session = ctl_session_proxy_new (ctl, path, &error);
      if (session != NULL &&
          copilotd_dbus_session_call_subscribe_sync (session, ctl_empty_options (), NULL, NULL, &error))
        {
          if (!copilotd_dbus_session_call_get_messages_sync (session, ctl_empty_options (), &events,
                                                             NULL, &error))
            status = CTL_EXIT_FAILURE;
          copilotd_dbus_session_call_unsubscribe_sync (session, NULL, NULL);
        }
      else if (ctl_error_is_gone_session (error))
        {
          g_debug ("Session %s went away, resuming it: %s", id, error->message);
          g_clear_error (&error);
          g_clear_object (&session);
          path = NULL;
        }
      else
        status = CTL_EXIT_FAILURE;
    }

  if (path == NULL)
    {
      g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

      g_variant_builder_add (&options, "{sv}", "client-name", g_variant_new_string (CTL_CLIENT_NAME));
      if (!copilotd_dbus_manager_call_resume_session_sync (ctl->manager, id,
                                                           g_variant_builder_end (&options),
                                                           &resumed_path, NULL, &error))
        {
          ctl_print_error (error);
          return CTL_EXIT_FAILURE;
        }
      session = ctl_session_proxy_new (ctl, resumed_path, &error);
      if (session == NULL ||
          !copilotd_dbus_session_call_get_messages_sync (session, ctl_empty_options (), &events, NULL, &error))
        status = CTL_EXIT_FAILURE;
      /* Leave it as it was: not live. */
      if (session != NULL)
        copilotd_dbus_session_call_destroy_sync (session, ctl_empty_options (), NULL, NULL);
    }

  if (status != CTL_EXIT_OK)
    {
      ctl_print_error (error);
      return status;
    }
  if (events == NULL)
    return status;

  if (!ctl->json)
    print_metadata (metadata);
  g_variant_iter_init (&iter, events);
  while (g_variant_iter_next (&iter, "(&s@a{sv}&s)", &type, &meta, &data_json))
    {
      if (ctl->json)
        print_event_json (type, meta, data_json);
      else
        print_transcript_entry (type, meta, data_json, &first);
      g_variant_unref (meta);
    }
  fflush (stdout);
  return CTL_EXIT_OK;
}

static int
cmd_delete (Ctl   *ctl,
            int    argc,
            char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  status = ctl_parse_simple (ctl, _("ID…"), _("Delete sessions for good."), &argc, &argv, 1, -1);
  if (status != 0)
    return status;

  for (int i = 1; i < argc; i++)
    {
      g_autofree char *id = ctl_resolve_session_id (ctl, argv[i], &error);

      if (id == NULL ||
          !copilotd_dbus_manager_call_delete_session_sync (ctl->manager, id, NULL, &error))
        {
          ctl_print_error (error);
          return CTL_EXIT_FAILURE;
        }
    }
  return CTL_EXIT_OK;
}

static int
cmd_models (Ctl   *ctl,
            int    argc,
            char **argv)
{
  g_autoptr(GVariant) models = NULL;
  g_autoptr(CtlTable) table = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *model;
  int status;

  status = ctl_parse_simple (ctl, "", _("List the models Copilot offers."), &argc, &argv, 0, 0);
  if (status != 0)
    return status;
  if (!copilotd_dbus_manager_call_list_models_sync (ctl->manager, ctl_empty_options (), &models, NULL, &error))
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }

  table = ctl_table_new (4, _("ID"), _("NAME"), _("VENDOR"), _("CONTEXT"));
  g_variant_iter_init (&iter, models);
  while ((model = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 tokens = 0;
      g_autofree char *context = NULL;

      if (ctl->json)
        print_dict_json (model);
      if (g_variant_lookup (model, "max-context-tokens", "u", &tokens) && tokens > 0)
        context = g_strdup_printf ("%u", tokens);
      ctl_table_add_row (table, ctl_vardict_get_string (model, "id"),
                         ctl_vardict_get_string (model, "name"),
                         ctl_vardict_get_string (model, "vendor"),
                         context ? context : "-");
      g_variant_unref (model);
    }
  if (!ctl->json)
    ctl_table_print (table, stdout);
  return CTL_EXIT_OK;
}

static GVariant *
get_manager_properties (Ctl     *ctl,
                        GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (ctl->bus, CTL_BUS_NAME, CTL_ROOT_PATH,
                                       "org.freedesktop.DBus.Properties", "GetAll",
                                       g_variant_new ("(s)", CTL_MANAGER_IFACE),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       CTL_CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return NULL;
  return g_variant_get_child_value (reply, 0);
}

static void
status_row (CtlTable   *table,
            GVariant   *dict,
            const char *key,
            const char *label)
{
  g_autoptr(GVariant) value = dict ? g_variant_lookup_value (dict, key, NULL) : NULL;
  g_autofree char *text = NULL;

  if (value == NULL)
    return;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    text = g_variant_dup_string (value, NULL);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    text = g_strdup (g_variant_get_boolean (value) ? _("yes") : _("no"));
  else
    text = g_variant_print (value, FALSE);
  if (*text == '\0')
    return;
  ctl_table_add_row (table, label, text);
}

static int
cmd_status (Ctl   *ctl,
            int    argc,
            char **argv)
{
  g_autoptr(GVariant) status_dict = NULL;
  g_autoptr(GVariant) auth = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) auth_error = NULL;
  g_autoptr(CtlTable) table = NULL;
  int status;

  status = ctl_parse_simple (ctl, "", _("Show the state of copilotd, the Copilot CLI and the login."),
                         &argc, &argv, 0, 0);
  if (status != 0)
    return status;

  /* GetAuthStatus starts the CLI when it is not running yet; GetStatus
   * never does, so it comes second and reports that CLI. */
  copilotd_dbus_manager_call_get_auth_status_sync (ctl->manager, &auth, NULL, &auth_error);
  if (!copilotd_dbus_manager_call_get_status_sync (ctl->manager, &status_dict, NULL, &error))
    {
      ctl_print_error (error);
      return CTL_EXIT_FAILURE;
    }
  properties = get_manager_properties (ctl, NULL);

  if (ctl->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) status_node = json_gvariant_serialize (status_dict);
      JsonObject *object = json_node_get_object (status_node);

      if (properties != NULL)
        {
          guint32 api_version;

          if (g_variant_lookup (properties, "ApiVersion", "u", &api_version))
            json_object_set_int_member (object, "api-version", api_version);
        }
      if (auth != NULL)
        json_object_set_member (object, "auth", json_gvariant_serialize (auth));
      ctl_json_print (status_node);
    }
  else
    {
      table = ctl_table_new (2, "", "");
      status_row (table, status_dict, "daemon-version", _("Daemon version:"));
      status_row (table, properties, "ApiVersion", _("API version:"));
      status_row (table, status_dict, "backend-state", _("Backend state:"));
      status_row (table, status_dict, "version", _("CLI version:"));
      status_row (table, status_dict, "protocol-version", _("Protocol version:"));
      status_row (table, auth, "authenticated", _("Authenticated:"));
      status_row (table, auth, "auth-type", _("Auth type:"));
      status_row (table, auth, "login", _("Login:"));
      status_row (table, auth, "host", _("Host:"));
      status_row (table, auth, "status-message", _("Status:"));
      /* The header row is empty: print the rows only. */
      ctl_table_print_body (table, stdout);
    }

  if (auth == NULL)
    {
      ctl_print_error (auth_error);
      return CTL_EXIT_FAILURE;
    }
  return CTL_EXIT_OK;
}

typedef struct {
  const char *name;
  int (*run) (Ctl *ctl, int argc, char **argv);
  const char *help;
} Command;

static const Command commands[] = {
  { "ask", ctl_cmd_ask, N_("Ask Copilot once and print the answer") },
  { "chat", ctl_cmd_chat, N_("Talk with Copilot, one prompt per line") },
  { "sessions", cmd_sessions, N_("List sessions") },
  { "show", cmd_show, N_("Print the conversation of a session") },
  { "delete", cmd_delete, N_("Delete a session for good") },
  { "models", cmd_models, N_("List the available models") },
  { "status", cmd_status, N_("Show the state of copilotd and the Copilot CLI") },
  { "monitor", ctl_cmd_monitor, N_("Print the events of live sessions as they happen") },
  { "agent", ctl_cmd_agent, N_("Answer the permission prompts of all sessions here") },
  { "mode", ctl_cmd_mode, N_("Show or set the mode of a session (interactive, plan, autopilot)") },
  { "plan", ctl_cmd_plan, N_("Show, edit or delete the plan of a session") },
  { "rename", ctl_cmd_rename, N_("Give a session a name") },
  { "info", ctl_cmd_info, N_("Show a session's name, mode, model, context and usage") },
  { "compact", ctl_cmd_compact, N_("Replace a session's history by a summary") },
  { "rewind", ctl_cmd_rewind, N_("List a session's turns, or undo turns (and their file changes)") },
  { "commands", ctl_cmd_commands, N_("List the slash commands of a session") },
  { "run", ctl_cmd_run, N_("Run a slash command in a session") },
  { "login", ctl_cmd_login, N_("Sign in with a GitHub token (from standard input or gh auth token)") },
  { "logout", ctl_cmd_logout, N_("Sign out") },
  { "whoami", ctl_cmd_whoami, N_("Show who is signed in") },
};

static char *
commands_summary (void)
{
  GString *text = g_string_new (_("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "\n  %-10s %s", commands[i].name, _(commands[i].help));
  g_string_append_printf (text, "\n\n%s",
                          _("Run “copilotctl COMMAND --help” for the options of a command."));
  return g_string_free (text, FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *prgname = NULL;
  Ctl ctl = { 0 };
  const Command *command = NULL;
  int status;
  const GOptionEntry version_entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, N_("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };

  /* Log lines (G_MESSAGES_DEBUG) go to stderr: stdout carries only the
   * output, JSON with --json. */
  g_log_writer_default_set_use_stderr (TRUE);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Registers the error domain, so remote errors map to COPILOTD_ERROR. */
  (void) COPILOTD_ERROR;

  context = g_option_context_new (_("COMMAND [ARGUMENTS…]"));
  summary = commands_summary ();
  g_option_context_set_summary (context, _("Talk to GitHub Copilot through copilotd."));
  g_option_context_set_description (context, summary);
  /* Stop at the command name: the rest belongs to the command. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, version_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      ctl_usage_error (NULL, "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (opt_version)
    {
      printf ("copilotctl %s\n", PACKAGE_VERSION);
      return CTL_EXIT_OK;
    }
  if (argc < 2)
    {
      ctl_usage_error (NULL, "%s", _("no command given"));
      return CTL_EXIT_USAGE;
    }
  if (g_strcmp0 (argv[1], "help") == 0)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      fputs (help, stdout);
      return CTL_EXIT_OK;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (argv[1], commands[i].name) == 0)
      command = &commands[i];
  if (command == NULL)
    {
      ctl_usage_error (NULL, _("unknown command: %s"), argv[1]);
      return CTL_EXIT_USAGE;
    }

  /* "Usage: copilotctl ask [OPTION…]" in the command's --help. */
  current_command = command->name;
  prgname = g_strdup_printf ("copilotctl %s", command->name);
  g_set_prgname (prgname);

  ctl.loop = g_main_loop_new (NULL, FALSE);
  status = command->run (&ctl, argc - 1, argv + 1);

  if (ctl.bus != NULL)
    g_dbus_connection_flush_sync (ctl.bus, NULL, NULL);
  g_clear_object (&ctl.manager);
  g_clear_pointer (&ctl.daemon_owner, g_free);
  if (ctl.bus != NULL)
    g_signal_handlers_disconnect_by_func (ctl.bus, bus_closed_cb, &ctl);
  g_clear_object (&ctl.bus);
  g_clear_pointer (&ctl.loop, g_main_loop_unref);
  g_clear_pointer (&opt_address, g_free);
  return status;
}
