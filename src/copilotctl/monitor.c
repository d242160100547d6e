/* SPDX-License-Identifier: MIT */
/* monitor.c: `copilotctl monitor [ID]`, the events of live sessions as they happen
 *
 * Subscribes to one session, or to every live session and to those that
 * appear later (ObjectManager InterfacesAdded, and SessionLifecycle
 * "created" in case the daemon exports its sessions without the object
 * manager). Prints one line per signal until Ctrl-C.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "copilotd-error.h"
#include "copilotctl.h"

#define SUBSCRIBE_RETRIES 3

typedef struct {
  Ctl *ctl;                 /* unowned */
  char *only_path;          /* owned, nullable: the one session monitored */
  GHashTable *subscribed;   /* owned: object paths, also those being subscribed */
  guint session_signals;
  guint objects_added;
  guint lifecycle;
  guint name_watch;
  int status;
} Monitor;

typedef struct {
  Monitor *monitor;         /* unowned */
  char *path;               /* owned */
  guint retries_left;
} SubscribeCall;

static void subscribe_session (Monitor    *self,
                               const char *path,
                               guint       retries);

static void
quit (Monitor *self,
      int      status)
{
  self->status = status;
  g_main_loop_quit (self->ctl->loop);
}

/* Newlines and tabs as escapes, so that every signal stays on one line. */
static char *
escape_text (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '\t')
        g_string_append (out, "\\t");
      else if (*p == '\r')
        g_string_append (out, "\\r");
      else if (*p == '\\')
        g_string_append (out, "\\\\");
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
event_summary (const char *type,
               JsonNode   *data,
               const char *data_json)
{
  const char *text = NULL;

  if (data == NULL)
    return ctl_one_line (data_json);

  if (g_str_equal (type, "user.message") || g_str_equal (type, "assistant.message") ||
      g_str_equal (type, "assistant.reasoning"))
    {
      JsonNode *requests = ctl_json_get_member (data, "toolRequests");
      GString *summary = g_string_new (ctl_json_get_string (data, "content"));

      if (requests != NULL && JSON_NODE_HOLDS_ARRAY (requests))
        {
          JsonArray *array = json_node_get_array (requests);

          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              const char *name = ctl_json_get_string (json_array_get_element (array, i), "name");

              g_string_append_printf (summary, " %s %s", ctl_glyph ("→", "->"), name ? name : "?");
            }
        }
      return g_string_free (summary, FALSE);
    }
  if (g_str_equal (type, "tool.execution_start"))
    {
      const char *detail = ctl_tool_detail (data);

      return g_strdup_printf ("%s%s%s", ctl_json_get_string (data, "toolName") ?: "?",
                              detail ? ": " : "", detail ? detail : "");
    }
  if (g_str_equal (type, "tool.execution_complete"))
    {
      const char *message = ctl_json_get_string (ctl_json_get_member (data, "error"), "message");

      if (ctl_json_get_boolean (data, "success"))
        return g_strdup_printf ("%s %s", ctl_json_get_string (data, "toolCallId") ?: "", _("succeeded"));
      return g_strdup_printf ("%s %s%s%s", ctl_json_get_string (data, "toolCallId") ?: "",
                              _("failed"), message ? ": " : "", message ? message : "");
    }
  if (g_str_equal (type, "permission.requested"))
    {
      JsonNode *request = ctl_json_get_member (data, "permissionRequest");
      const char *keys[] = { "fullCommandText", "path", "fileName", "url", "toolName" };

      for (guint i = 0; i < G_N_ELEMENTS (keys) && text == NULL; i++)
        text = ctl_json_get_string (request, keys[i]);
      return g_strdup_printf ("%s%s%s", ctl_json_get_string (request, "kind") ?: "?",
                              text ? " " : "", text ? text : "");
    }
  if (g_str_equal (type, "session.idle"))
    return g_strdup (ctl_json_get_boolean (data, "aborted") ? _("aborted") : "");
  if (g_str_equal (type, "session.title_changed"))
    text = ctl_json_get_string (data, "title");
  else if (g_str_equal (type, "user_input.requested"))
    text = ctl_json_get_string (data, "question");
  else
    text = ctl_json_get_string (data, "message");
  if (text != NULL)
    return g_strdup (text);
  return ctl_one_line (data_json);
}

static void
print_line (Monitor    *self,
            const char *path,
            guint64     serial,
            const char *type,
            const char *summary)
{
  g_autofree char *id = ctl_session_id_from_path (path);
  g_autofree char *prefix = NULL;
  g_autofree char *flat = ctl_one_line (summary);
  g_autofree char *line = NULL;
  g_autofree char *cut = NULL;
  guint width = ctl_terminal_width (stdout);

  /* With several sessions, each line says whose it is. */
  if (self->only_path == NULL)
    prefix = g_strdup_printf ("%.8s ", id);
  line = g_strdup_printf ("%s%" G_GUINT64_FORMAT " %s", prefix ? prefix : "", serial, type);
  if (width > 0)
    {
      guint used = ctl_display_width (line) + 1;

      cut = ctl_truncate (flat, width > used ? width - used : 1);
    }
  else
    cut = g_strdup (flat);

  printf ("%s%s%" G_GUINT64_FORMAT "%s %s%s%s%s%s\n", prefix ? prefix : "",
          ctl_style (stdout, CTL_STYLE_DIM), serial, ctl_style (stdout, CTL_STYLE_RESET),
          ctl_style (stdout, CTL_STYLE_BOLD), type, ctl_style (stdout, CTL_STYLE_RESET),
          *cut != '\0' ? " " : "", cut);
  fflush (stdout);
}

static void
on_event (Monitor    *self,
          const char *path,
          guint64     serial,
          const char *type,
          GVariant   *meta,
          const char *data_json)
{
  g_autoptr(JsonNode) data = ctl_json_parse (data_json);
  g_autofree char *summary = NULL;

  if (self->ctl->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autofree char *id = ctl_session_id_from_path (path);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "serial");
      json_builder_add_int_value (builder, (gint64) serial);
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, id);
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
      return;
    }

  summary = event_summary (type, data, data_json);
  print_line (self, path, serial, type, summary);
}

static void
on_delta (Monitor    *self,
          const char *path,
          guint64     serial,
          const char *message_id,
          guint       stream,
          const char *text)
{
  g_autofree char *summary = NULL;
  g_autofree char *escaped = NULL;

  if (self->ctl->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autofree char *id = ctl_session_id_from_path (path);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "serial");
      json_builder_add_int_value (builder, (gint64) serial);
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, id);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "delta");
      json_builder_set_member_name (builder, "message_id");
      json_builder_add_string_value (builder, message_id);
      json_builder_set_member_name (builder, "stream");
      json_builder_add_int_value (builder, stream);
      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, text);
      json_builder_end_object (builder);
      ctl_json_print_builder (builder);
      return;
    }

  escaped = escape_text (text);
  summary = g_strdup_printf ("%s %s", message_id, escaped);
  print_line (self, path, serial, stream == 0 ? "delta" : "reasoning-delta", summary);
}

static void
on_closed (Monitor    *self,
           const char *path,
           GVariant   *details)
{
  const char *reason = ctl_vardict_get_string (details, "reason");
  g_autofree char *id = ctl_session_id_from_path (path);

  g_hash_table_remove (self->subscribed, path);
  if (self->ctl->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, id);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "closed");
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, reason ? reason : "");
      json_builder_end_object (builder);
      ctl_json_print_builder (builder);
    }
  else
    printf ("%s%s %s (%s)%s\n", ctl_style (stdout, CTL_STYLE_DIM), id, _("closed"),
            reason ? reason : "", ctl_style (stdout, CTL_STYLE_RESET));
  fflush (stdout);

  if (self->only_path != NULL)
    quit (self, CTL_EXIT_OK);
}

static void
on_session_signal (GDBusConnection *bus,
                   const char      *sender,
                   const char      *path,
                   const char      *interface,
                   const char      *member,
                   GVariant        *parameters,
                   gpointer         user_data)
{
  Monitor *self = user_data;

  if (g_str_equal (member, "Event") &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(tsa{sv}s)")))
    {
      g_autoptr(GVariant) meta = NULL;
      const char *type, *data_json;
      guint64 serial;

      g_variant_get (parameters, "(t&s@a{sv}&s)", &serial, &type, &meta, &data_json);
      on_event (self, path, serial, type, meta, data_json);
    }
  else if (g_str_equal (member, "Delta") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(tsus)")))
    {
      const char *message_id, *text;
      guint64 serial;
      guint stream;

      g_variant_get (parameters, "(t&su&s)", &serial, &message_id, &stream, &text);
      on_delta (self, path, serial, message_id, stream, text);
    }
  else if (g_str_equal (member, "Closed") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) details = g_variant_get_child_value (parameters, 0);

      on_closed (self, path, details);
    }
}

static gboolean
retry_subscribe_cb (gpointer user_data)
{
  SubscribeCall *call = user_data;

  subscribe_session (call->monitor, call->path, call->retries_left);
  g_free (call->path);
  g_free (call);
  return G_SOURCE_REMOVE;
}

static void
subscribe_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  SubscribeCall *call = user_data;
  Monitor *self = call->monitor;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    {
      if (!self->ctl->json && self->only_path == NULL)
        {
          g_autofree char *id = ctl_session_id_from_path (call->path);

          printf ("%s%s %s%s\n", ctl_style (stdout, CTL_STYLE_DIM), id, _("monitored"),
                  ctl_style (stdout, CTL_STYLE_RESET));
          fflush (stdout);
        }
      g_free (call->path);
      g_free (call);
      return;
    }

  g_hash_table_remove (self->subscribed, call->path);
  if (self->only_path != NULL)
    {
      ctl_print_error (error);
      quit (self, CTL_EXIT_FAILURE);
    }
  else if (call->retries_left > 0 && ctl_error_is_gone_session (error) &&
           !g_error_matches (error, COPILOTD_ERROR, COPILOTD_ERROR_CLOSED))
    {
      /* "created" can come before the object is on the bus. */
      call->retries_left--;
      g_timeout_add (300, retry_subscribe_cb, call);
      return;
    }
  else
    g_debug ("Cannot monitor %s: %s", call->path, error->message);
  g_free (call->path);
  g_free (call);
}

static void
subscribe_session (Monitor    *self,
                   const char *path,
                   guint       retries)
{
  SubscribeCall *call;

  if (!g_variant_is_object_path (path) || g_hash_table_contains (self->subscribed, path))
    return;
  if (self->only_path != NULL && !g_str_equal (path, self->only_path))
    return;
  g_hash_table_add (self->subscribed, g_strdup (path));

  call = g_new0 (SubscribeCall, 1);
  call->monitor = self;
  call->path = g_strdup (path);
  call->retries_left = retries;
  g_dbus_connection_call (self->ctl->bus, CTL_BUS_NAME, path, CTL_SESSION_IFACE, "Subscribe",
                          g_variant_new ("(a{sv})", NULL), G_VARIANT_TYPE ("(t)"),
                          G_DBUS_CALL_FLAGS_NONE, CTL_CALL_TIMEOUT_MS, NULL,
                          subscribe_cb, call);
}

static void
on_interfaces_added (GDBusConnection *bus,
                     const char      *sender,
                     const char      *path,
                     const char      *interface,
                     const char      *member,
                     GVariant        *parameters,
                     gpointer         user_data)
{
  Monitor *self = user_data;
  g_autoptr(GVariant) interfaces = NULL;
  g_autoptr(GVariant) session_iface = NULL;
  const char *object_path;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(oa{sa{sv}})")))
    return;
  g_variant_get (parameters, "(&o@a{sa{sv}})", &object_path, &interfaces);
  session_iface = g_variant_lookup_value (interfaces, CTL_SESSION_IFACE, NULL);
  if (session_iface != NULL)
    subscribe_session (self, object_path, 0);
}

static void
on_lifecycle (GDBusConnection *bus,
              const char      *sender,
              const char      *path,
              const char      *interface,
              const char      *member,
              GVariant        *parameters,
              gpointer         user_data)
{
  Monitor *self = user_data;
  const char *type, *session_id;
  g_autoptr(GVariant) metadata = NULL;
  g_autofree char *session_path = NULL;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssa{sv})")))
    return;
  g_variant_get (parameters, "(&s&s@a{sv})", &type, &session_id, &metadata);

  if (self->ctl->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "lifecycle");
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, type);
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, session_id);
      json_builder_set_member_name (builder, "metadata");
      json_builder_add_value (builder, json_gvariant_serialize (metadata));
      json_builder_end_object (builder);
      ctl_json_print_builder (builder);
    }
  else
    {
      printf ("%s%s %s%s\n", ctl_style (stdout, CTL_STYLE_DIM), session_id, type,
              ctl_style (stdout, CTL_STYLE_RESET));
      fflush (stdout);
    }

  if (!g_str_equal (type, "created"))
    return;
  session_path = ctl_session_path_from_id (session_id);
  subscribe_session (self, session_path, SUBSCRIBE_RETRIES);
}

static void
name_vanished_cb (GDBusConnection *bus,
                  const char      *name,
                  gpointer         user_data)
{
  Monitor *self = user_data;

  ctl_printerr ("%s", _("copilotd left the bus"));
  quit (self, CTL_EXIT_FAILURE);
}

static gboolean
stop_cb (gpointer user_data)
{
  quit (user_data, CTL_EXIT_OK);
  return G_SOURCE_CONTINUE;
}

static gboolean
interrupt_cb (gpointer user_data)
{
  quit (user_data, CTL_EXIT_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

int
ctl_cmd_monitor (Ctl   *ctl,
                 int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_("[ID]"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sessions = NULL;
  Monitor monitor = { 0 };
  Monitor *self = &monitor;
  const char *owner;
  guint sigint, sigterm;
  GVariantIter iter;
  GVariant *entry;

  g_option_context_set_summary (context,
    _("Print the events of a session, or of every live session, until Ctrl-C."));
  g_option_context_add_main_entries (context, ctl_global_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      ctl_usage_error ("monitor", "%s", error->message);
      return CTL_EXIT_USAGE;
    }
  if (argc > 2)
    {
      ctl_usage_error ("monitor", _("unexpected argument: %s"), argv[2]);
      return CTL_EXIT_USAGE;
    }
  if (!ctl_connect (ctl))
    return CTL_EXIT_FAILURE;

  self->ctl = ctl;
  self->subscribed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (argc == 2)
    {
      g_autoptr(GVariant) metadata = NULL;
      g_autofree char *id = ctl_resolve_session_id (ctl, argv[1], &error);
      const char *path;

      if (id == NULL ||
          !copilotd_dbus_manager_call_get_session_metadata_sync (ctl->manager, id, &metadata,
                                                                 NULL, &error))
        goto failed;
      path = ctl_vardict_get_string (metadata, "object");
      if (path == NULL)
        {
          ctl_printerr (_("session %s is not live; “copilotctl chat --resume %s” brings it back"),
                        id, id);
          self->status = CTL_EXIT_FAILURE;
          goto out;
        }
      self->only_path = g_strdup (path);
    }
  else if (!copilotd_dbus_manager_call_list_sessions_sync (ctl->manager,
                                                           g_variant_new ("a{sv}", NULL),
                                                           &sessions, NULL, &error))
    goto failed;

  /* The calls above started copilotd if it was not running. */
  owner = ctl_daemon_owner (ctl, &error);
  if (owner == NULL)
    goto failed;
  self->session_signals = g_dbus_connection_signal_subscribe (ctl->bus, owner, CTL_SESSION_IFACE,
                                                              NULL, self->only_path, NULL,
                                                              G_DBUS_SIGNAL_FLAGS_NONE,
                                                              on_session_signal, self, NULL);
  self->name_watch = g_bus_watch_name_on_connection (ctl->bus, CTL_BUS_NAME,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     NULL, name_vanished_cb, self, NULL);
  if (self->only_path != NULL)
    subscribe_session (self, self->only_path, 0);
  else
    {
      self->objects_added = g_dbus_connection_signal_subscribe (ctl->bus, owner,
                                                                "org.freedesktop.DBus.ObjectManager",
                                                                "InterfacesAdded", CTL_ROOT_PATH,
                                                                NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                on_interfaces_added, self, NULL);
      self->lifecycle = g_dbus_connection_signal_subscribe (ctl->bus, owner, CTL_MANAGER_IFACE,
                                                            "SessionLifecycle", CTL_ROOT_PATH,
                                                            NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                            on_lifecycle, self, NULL);
      g_variant_iter_init (&iter, sessions);
      while ((entry = g_variant_iter_next_value (&iter)) != NULL)
        {
          const char *path = ctl_vardict_get_string (entry, "object");

          if (path != NULL)
            subscribe_session (self, path, 0);
          g_variant_unref (entry);
        }
    }

  sigint = g_unix_signal_add (SIGINT, interrupt_cb, self);
  sigterm = g_unix_signal_add (SIGTERM, stop_cb, self);
  g_main_loop_run (ctl->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  goto out;

failed:
  ctl_print_error (error);
  self->status = CTL_EXIT_FAILURE;
out:
  if (self->session_signals != 0)
    g_dbus_connection_signal_unsubscribe (ctl->bus, self->session_signals);
  if (self->objects_added != 0)
    g_dbus_connection_signal_unsubscribe (ctl->bus, self->objects_added);
  if (self->lifecycle != 0)
    g_dbus_connection_signal_unsubscribe (ctl->bus, self->lifecycle);
  if (self->name_watch != 0)
    g_bus_unwatch_name (self->name_watch);
  g_clear_pointer (&self->subscribed, g_hash_table_unref);
  g_free (self->only_path);
  return self->status;
}
