/* SPDX-License-Identifier: MIT */
/* app-info.c: which app a process is, for prompts that name who is asking
 *
 * An approval dialog names the app asking (DESIGN.md §9). When the app gave
 * no client-name, the daemon derives one from the caller's process ID (from
 * the bus driver's GetConnectionCredentials, not from anything the caller
 * claims):
 *
 * 1. Flatpak: /proc/PID/root/.flatpak-info, key Application/name. The file
 *    is mounted read-only by flatpak into every sandbox and cannot be
 *    written by the app, which is why xdg-desktop-portal trusts it too.
 * 2. Snap: a cgroup named snap.NAME.APP… (/proc/PID/cgroup), which snapd
 *    sets up and the app cannot leave.
 * 3. Otherwise the base name of /proc/PID/exe, else /proc/PID/comm. This
 *    is a hint for a person, not an identity: an unconfined process can
 *    run any executable it likes.
 *
 * The PID may be reused after the caller exits; the name is looked up while
 * the caller is still on the bus (its unique name is live), which makes
 * that unlikely but not impossible. It is a label, never a permission.
 */
#include "config.h"

#include <string.h>

#include "app-info.h"

static char *
flatpak_app_id (const char *proc_dir)
{
  g_autofree char *path = g_build_filename (proc_dir, "root", ".flatpak-info", NULL);
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autofree char *name = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, NULL))
    return NULL;

  name = g_key_file_get_string (keyfile, "Application", "name", NULL);
  if (name == NULL || *name == '\0')
    return NULL;
  return g_steal_pointer (&name);
}

static char *
snap_name (const char *proc_dir)
{
  g_autofree char *path = g_build_filename (proc_dir, "cgroup", NULL);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) segments = g_strsplit (lines[i], "/", -1);

      for (guint j = 0; segments[j] != NULL; j++)
        {
          const char *segment = segments[j];
          const char *dot;

          if (!g_str_has_prefix (segment, "snap."))
            continue;
          segment += strlen ("snap.");
          dot = strchr (segment, '.');
          if (dot != NULL && dot > segment)
            return g_strndup (segment, dot - segment);
        }
    }

  return NULL;
}

static char *
executable_name (const char *proc_dir)
{
  g_autofree char *exe = g_build_filename (proc_dir, "exe", NULL);
  g_autofree char *target = g_file_read_link (exe, NULL);
  g_autofree char *comm_path = NULL;
  g_autofree char *comm = NULL;

  if (target != NULL)
    {
      /* "/usr/bin/foo (deleted)" after an upgrade still names foo. */
      if (g_str_has_suffix (target, " (deleted)"))
        target[strlen (target) - strlen (" (deleted)")] = '\0';
      return g_path_get_basename (target);
    }

  comm_path = g_build_filename (proc_dir, "comm", NULL);
  if (!g_file_get_contents (comm_path, &comm, NULL, NULL))
    return NULL;
  g_strchomp (comm);
  if (*comm == '\0')
    return NULL;
  return g_steal_pointer (&comm);
}

char *
copilotd_app_name_for_pid (const char *proc_root,
                           guint32     pid)
{
  g_autofree char *pid_text = g_strdup_printf ("%u", pid);
  g_autofree char *proc_dir = NULL;
  char *name;

  if (pid == 0)
    return NULL;

  proc_dir = g_build_filename (proc_root != NULL ? proc_root : "/proc", pid_text, NULL);
  if ((name = flatpak_app_id (proc_dir)) != NULL ||
      (name = snap_name (proc_dir)) != NULL ||
      (name = executable_name (proc_dir)) != NULL)
    return name;

  return NULL;
}
