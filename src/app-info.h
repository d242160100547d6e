/* SPDX-License-Identifier: MIT */
/* app-info.h: which app a process is, for prompts that name who is asking */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The app @pid belongs to: its Flatpak app id, else its Snap name, else
 * its executable's base name (else its comm). NULL when /proc says nothing
 * (the process is gone). Reads /proc/@pid under @proc_root ("/proc" when
 * NULL; tests pass a fake tree). */
char *copilotd_app_name_for_pid (const char *proc_root,
                                 guint32     pid);

G_END_DECLS
