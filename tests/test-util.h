/* test-util.h: a private bus and blocking-by-iterating calls for tests */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A new message-bus connection to @address. */
GDBusConnection *test_connect (const char *address);

/* Calls a method asynchronously and iterates the default main context
 * until the reply: a synchronous call to an object exported in this same
 * thread would deadlock. */
GVariant *test_call (GDBusConnection     *connection,
                     const char          *bus_name,
                     const char          *object_path,
                     const char          *interface_name,
                     const char          *method_name,
                     GVariant            *parameters,
                     const GVariantType  *reply_type,
                     GError             **error);

/* Iterates until *@flag is TRUE, failing the test after @timeout_s. */
void test_wait_for (const gboolean *flag,
                    guint           timeout_s);

/* Iterates until @done (@data) is TRUE, failing the test after @timeout_s. */
void test_wait_until (gboolean (*done) (gpointer data),
                      gpointer  data,
                      guint     timeout_s);

/* Iterates for @ms milliseconds. */
void test_spin (guint ms);

G_END_DECLS
