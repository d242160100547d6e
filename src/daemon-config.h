/* SPDX-License-Identifier: MIT */
/* config.h: daemon settings from defaults, the config file and options */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Every field is plain data; strings are owned. */
typedef struct {
  char *cli_path;                 /* owned, nullable */
  char *cli_url;                  /* owned, nullable: HOST:PORT of a running CLI server */
  char *copilot_home;             /* owned, nullable */
  gboolean system_bus;
  guint idle_exit;                /* seconds, 0 = never */
  guint permission_timeout;       /* seconds, 0 = none; default 300 */
  guint tool_timeout;             /* seconds, 0 = none; default 120 */
  guint hook_timeout;             /* seconds, 0 = none; default 30: hook and command providers */
  guint max_sessions_per_uid;     /* 64 */
  guint max_agents_per_uid;       /* 16 */
  guint max_subscribers;          /* 16 per session */
  guint max_tools;                /* 128 per session */
  gsize max_prompt_bytes;         /* 1 MiB */
  guint ring_max_events;          /* 2000 */
  gsize ring_max_bytes;           /* 4 MiB */
  gsize max_message_size;         /* 8 MiB: an Event, a reply, a history page */
  guint coalesce_backlog;         /* 128 unconfirmed signals; 0 = never merge deltas */
  guint agent_max_in_flight;      /* 4 per agent */
  guint restart_max_failures;     /* 5 failed starts ... */
  guint restart_window;           /* ... within this many seconds: failed */
  guint call_timeout;             /* seconds a CLI call may take, 0 = none; 30 */
  guint handshake_timeout;        /* seconds for connect/ping at start, 0 = none; 30 */
  guint stop_timeout;             /* seconds from SIGTERM to SIGKILL; 5 */
  guint backend_idle_timeout;     /* seconds before an unused CLI stops, 0 = never; 300 */
  guint session_idle_timeout;     /* seconds before a quiet session closes, 0 = never */
} CopilotdConfig;

CopilotdConfig *copilotd_config_new       (void);
void            copilotd_config_free      (CopilotdConfig  *config);
gboolean        copilotd_config_load_file (CopilotdConfig  *config,
                                           const char      *path,
                                           GError         **error);
gboolean        copilotd_config_load_default_files (CopilotdConfig  *config,
                                                    GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CopilotdConfig, copilotd_config_free)

G_END_DECLS
