/* SPDX-License-Identifier: MIT */
/* fuzz-common.h: what every libFuzzer target of copilotd shares
 *
 * GLib criticals and errors abort (libFuzzer then keeps the input as a
 * crash); warnings and debug lines are dropped, or a fuzzer would spend its
 * time printing "Skipping a frame that is not JSON".
 */
#pragma once

#include <stdlib.h>

#include <glib.h>

static void
fuzz_log_handler (const char     *domain,
                  GLogLevelFlags  level,
                  const char     *message,
                  gpointer        user_data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
    {
      g_printerr ("%s: %s\n", domain ? domain : "(none)", message);
      abort ();
    }
}

static void
fuzz_init_logging (void)
{
  g_log_set_default_handler (fuzz_log_handler, NULL);
  g_log_set_writer_func (g_log_writer_default, NULL, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
}
