/* SPDX-License-Identifier: MIT */
/* copilot-types.h: what every libcopilot header shares */
#pragma once

#if !defined(COPILOT_INSIDE) && !defined(COPILOT_COMPILATION)
#error "Only <copilot.h> can be included directly."
#endif

#include <gio/gio.h>

G_BEGIN_DECLS

/* Only the symbols marked with this are exported from libcopilot-1.so. */
#define COPILOT_PUBLIC __attribute__ ((visibility ("default"))) extern

/**
 * COPILOT_BUS_NAME:
 *
 * The well-known bus name of copilotd.
 */
#define COPILOT_BUS_NAME "io.github.copilotd.Copilot1"

/**
 * COPILOT_OBJECT_PATH:
 *
 * The object path of copilotd's Manager and AgentManager.
 */
#define COPILOT_OBJECT_PATH "/io/github/copilotd/Copilot1"

typedef struct _CopilotClient CopilotClient;
typedef struct _CopilotSession CopilotSession;
typedef struct _CopilotAgent CopilotAgent;
typedef struct _CopilotPrompt CopilotPrompt;
typedef struct _CopilotTool CopilotTool;
typedef struct _CopilotToolCall CopilotToolCall;
typedef struct _CopilotHookCall CopilotHookCall;
typedef struct _CopilotCommandCall CopilotCommandCall;

G_END_DECLS
