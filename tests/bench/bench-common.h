/* SPDX-License-Identifier: MIT */
/* bench-common.h: what the benchmark's helper programs share */
#pragma once

#include <time.h>

#include <glib.h>

/* CLOCK_MONOTONIC in nanoseconds: the flood writer stamps each delta with
 * it and the subscriber, on the same machine, subtracts it. */
static inline guint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}
