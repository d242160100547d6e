/* SPDX-License-Identifier: MIT */
/* callers.c: who is calling: UID per unique name, and who left the bus
 *
 * The UID of a peer comes from the bus driver's GetConnectionCredentials.
 * The call is synchronous on purpose: the driver answers in microseconds,
 * the result is cached for the life of the unique name (which the bus never
 * reuses), and a synchronous lookup keeps every method handler a straight
 * line. Signals that arrive during the call are queued by GDBus and
 * dispatched afterwards, so a NameOwnerChanged for a name we just cached is
 * never lost.
 */
#include "config.h"

#include "callers.h"

struct _CopilotdCallers
{
  GObject parent_instance;

  GDBusConnection *connection;  /* owned */
  GHashTable *uids;             /* owned: unique name → uid (boxed guint) */
  GHashTable *pids;             /* owned: unique name → process id, when the bus knows it */
  GHashTable *watched;          /* owned: set of unique names */
  GHashTable *idles;            /* owned: unique name → GSource id of a pending "already gone" report */
  guint name_owner_changed_id;
};

enum {
  SIGNAL_VANISHED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (CopilotdCallers, copilotd_callers, G_TYPE_OBJECT)

/* Reports @name gone once, whichever of NameOwnerChanged or the
 * already-gone idle comes first. */
static void
name_gone (CopilotdCallers *self,
           const char      *name)
{
  gboolean known = FALSE;
  guint idle_id;

  idle_id = GPOINTER_TO_UINT (g_hash_table_lookup (self->idles, name));
  if (idle_id != 0)
    {
      g_source_remove (idle_id);
      g_hash_table_remove (self->idles, name);
      known = TRUE;
    }

  known |= g_hash_table_remove (self->uids, name);
  g_hash_table_remove (self->pids, name);
  known |= g_hash_table_remove (self->watched, name);

  if (!known)
    return;

  g_debug ("Peer “%s” left the bus", name);
  g_signal_emit (self, signals[SIGNAL_VANISHED], 0, name);
}

static void
on_name_owner_changed (GDBusConnection *connection,
                       const char      *sender_name,
                       const char      *object_path,
                       const char      *interface_name,
                       const char      *signal_name,
                       GVariant        *parameters,
                       gpointer         user_data)
{
  CopilotdCallers *self = COPILOTD_CALLERS (user_data);
  const char *name, *old_owner, *new_owner;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;

  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (name[0] != ':' || new_owner[0] != '\0')
    return;

  g_object_ref (self);
  name_gone (self, name);
  g_object_unref (self);
}

typedef struct {
  GWeakRef self;
  char *name;
} GoneIdle;

static void
gone_idle_free (gpointer data)
{
  GoneIdle *idle = data;

  g_weak_ref_clear (&idle->self);
  g_free (idle->name);
  g_free (idle);
}

static gboolean
on_gone_idle (gpointer user_data)
{
  GoneIdle *idle = user_data;
  g_autoptr(CopilotdCallers) self = g_weak_ref_get (&idle->self);

  if (self == NULL)
    return G_SOURCE_REMOVE;

  /* name_gone() must not remove this running source. */
  g_hash_table_remove (self->idles, idle->name);
  g_hash_table_add (self->watched, g_strdup (idle->name));
  name_gone (self, idle->name);

  return G_SOURCE_REMOVE;
}

static void
copilotd_callers_dispose (GObject *object)
{
  CopilotdCallers *self = COPILOTD_CALLERS (object);
  GHashTableIter iter;
  gpointer value;

  if (self->name_owner_changed_id != 0)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->name_owner_changed_id);
      self->name_owner_changed_id = 0;
    }

  if (self->idles != NULL)
    {
      g_hash_table_iter_init (&iter, self->idles);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_source_remove (GPOINTER_TO_UINT (value));
      g_hash_table_remove_all (self->idles);
    }

  g_clear_object (&self->connection);

  G_OBJECT_CLASS (copilotd_callers_parent_class)->dispose (object);
}

static void
copilotd_callers_finalize (GObject *object)
{
  CopilotdCallers *self = COPILOTD_CALLERS (object);

  g_clear_pointer (&self->uids, g_hash_table_unref);
  g_clear_pointer (&self->pids, g_hash_table_unref);
  g_clear_pointer (&self->watched, g_hash_table_unref);
  g_clear_pointer (&self->idles, g_hash_table_unref);

  G_OBJECT_CLASS (copilotd_callers_parent_class)->finalize (object);
}

static void
copilotd_callers_class_init (CopilotdCallersClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = copilotd_callers_dispose;
  object_class->finalize = copilotd_callers_finalize;

  /**
   * CopilotdCallers::vanished:
   * @unique_name: the unique name that left the bus
   *
   * A unique name that was looked up or watched lost its owner.
   */
  signals[SIGNAL_VANISHED] =
    g_signal_new ("vanished",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
copilotd_callers_init (CopilotdCallers *self)
{
  self->uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->pids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->idles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

CopilotdCallers *
copilotd_callers_new (GDBusConnection *connection)
{
  CopilotdCallers *self;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);

  self = g_object_new (COPILOTD_TYPE_CALLERS, NULL);
  self->connection = g_object_ref (connection);

  /* Subscribed before any lookup so that no departure can slip between a
   * lookup and the subscription. */
  self->name_owner_changed_id =
    g_dbus_connection_signal_subscribe (connection,
                                        "org.freedesktop.DBus",
                                        "org.freedesktop.DBus",
                                        "NameOwnerChanged",
                                        "/org/freedesktop/DBus",
                                        NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_name_owner_changed,
                                        self, NULL);

  return self;
}

gboolean
copilotd_callers_get_uid (CopilotdCallers  *self,
                          const char       *unique_name,
                          uid_t            *out_uid,
                          GError          **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) credentials = NULL;
  guint32 uid, pid;
  guint *cached;

  g_return_val_if_fail (COPILOTD_IS_CALLERS (self), FALSE);

  if (unique_name == NULL || unique_name[0] != ':' ||
      !g_dbus_is_unique_name (unique_name))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   "“%s” is not a unique bus name", unique_name ? unique_name : "(null)");
      return FALSE;
    }

  cached = g_hash_table_lookup (self->uids, unique_name);
  if (cached != NULL)
    {
      if (out_uid != NULL)
        *out_uid = (uid_t) *cached;
      return TRUE;
    }

  reply = g_dbus_connection_call_sync (self->connection,
                                       "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus",
                                       "GetConnectionCredentials",
                                       g_variant_new ("(s)", unique_name),
                                       G_VARIANT_TYPE ("(a{sv})"),
                                       G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, error);
  if (reply == NULL)
    {
      g_prefix_error (error, "Cannot get the credentials of “%s”: ", unique_name);
      return FALSE;
    }

  credentials = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (credentials, "UnixUserID", "u", &uid))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
                   "The bus did not say which user “%s” runs as", unique_name);
      return FALSE;
    }

  if (g_variant_lookup (credentials, "ProcessID", "u", &pid))
    g_hash_table_insert (self->pids, g_strdup (unique_name), GUINT_TO_POINTER (pid));

  cached = g_new (guint, 1);
  *cached = uid;
  g_hash_table_insert (self->uids, g_strdup (unique_name), cached);
  g_debug ("Peer “%s” is UID %u", unique_name, uid);

  if (out_uid != NULL)
    *out_uid = (uid_t) uid;
  return TRUE;
}

void
copilotd_callers_watch (CopilotdCallers *self,
                        const char      *unique_name)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_owner = FALSE;
  GoneIdle *idle;
  guint id;

  g_return_if_fail (COPILOTD_IS_CALLERS (self));
  g_return_if_fail (unique_name != NULL);

  if (unique_name[0] != ':' || !g_dbus_is_unique_name (unique_name))
    return;

  if (g_hash_table_contains (self->watched, unique_name) ||
      g_hash_table_contains (self->idles, unique_name))
    return;

  /* The name may have left before we were told about it; then no
   * NameOwnerChanged will ever come, so ask the bus now. */
  reply = g_dbus_connection_call_sync (self->connection,
                                       "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus",
                                       "NameHasOwner",
                                       g_variant_new ("(s)", unique_name),
                                       G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, &error);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);
  else
    g_warning ("Cannot check whether “%s” is on the bus: %s", unique_name, error->message);

  if (has_owner)
    {
      g_hash_table_add (self->watched, g_strdup (unique_name));
      return;
    }

  /* Reported from an idle so the caller finishes its own bookkeeping
   * before it hears that the name is gone. */
  idle = g_new0 (GoneIdle, 1);
  g_weak_ref_init (&idle->self, self);
  idle->name = g_strdup (unique_name);
  id = g_idle_add_full (G_PRIORITY_DEFAULT, on_gone_idle, idle, gone_idle_free);
  g_hash_table_insert (self->idles, g_strdup (unique_name), GUINT_TO_POINTER (id));
}

/* The process ID the bus driver has for @unique_name (cached with its UID);
 * 0 when the bus does not say (a peer on another machine, or gone). */
guint32
copilotd_callers_get_pid (CopilotdCallers *self,
                          const char      *unique_name)
{
  g_return_val_if_fail (COPILOTD_IS_CALLERS (self), 0);

  if (unique_name == NULL ||
      (!g_hash_table_contains (self->uids, unique_name) &&
       !copilotd_callers_get_uid (self, unique_name, NULL, NULL)))
    return 0;

  return GPOINTER_TO_UINT (g_hash_table_lookup (self->pids, unique_name));
}

GPtrArray *
copilotd_callers_list_names (CopilotdCallers *self,
                             uid_t            uid)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  const char *name;
  guint *cached;

  g_return_val_if_fail (COPILOTD_IS_CALLERS (self), names);

  g_hash_table_iter_init (&iter, self->uids);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &cached))
    if ((uid_t) *cached == uid)
      g_ptr_array_add (names, g_strdup (name));
  return names;
}
