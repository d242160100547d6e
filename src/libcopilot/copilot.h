/* SPDX-License-Identifier: MIT */
/* copilot.h: libcopilot, the GObject client library of copilotd
 *
 * Include only this header.
 */
#pragma once

#define COPILOT_INSIDE
#include "copilot-types.h"
#include "copilot-error.h"
#include "copilot-client.h"
#include "copilot-session.h"
#include "copilot-prompt.h"
#include "copilot-agent.h"
#include "copilot-tool.h"
#include "copilot-tool-call.h"
#include "copilot-hook-call.h"
#include "copilot-command-call.h"
#include "copilot-attachment.h"
#include "copilot-enums.h"
#undef COPILOT_INSIDE
