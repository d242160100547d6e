/* test-session.c: the Session interface of copilotd against the fake CLI */
#include "config.h"

#include <string.h>

#include "daemon-fixture.h"

static void
test_send_and_wait (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *path = create_session (fx->client, NULL);
  g_autoptr(GVariant) reply = call_ok (fx->client, path, SESSION_IFACE, "SendAndWait",
                                       g_variant_new ("(sa{sv})", "hello", NULL), "(sa{sv})");
  const char *content;

  g_variant_get (reply, "(&sa{sv})", &content, NULL);
  g_assert_cmpstr (content, ==, "Echo: hello");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/session/send-and-wait", Fixture, NULL, fixture_setup, test_send_and_wait, fixture_teardown);
  return g_test_run ();
}
