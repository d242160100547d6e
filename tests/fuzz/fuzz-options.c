/* SPDX-License-Identifier: MIT */
/* fuzz-options.c: the a{sv} options of CreateSession and Send
 *
 * The input is a serialised a{sv}, as a peer sends it on the bus (GVariant
 * checks untrusted data itself). It goes through CreateSession's option
 * parsing (which includes `tools`), the `tools` parser alone, and the
 * conversion of Send's `attachments` to JSON. Each must succeed or fail
 * with an error, never a critical.
 */
#include "config.h"

#include <gio/gio.h>

#include "fuzz-common.h"
#include "options.h"
#include "session-options.h"
#include "tool-router.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_logging ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(GPtrArray) tools = NULL;
  g_autofree char *session_id = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) tools_value = NULL;
  g_autoptr(GVariant) attachments = NULL;
  gboolean persist = FALSE;

  if (copilotd_session_options_parse (options, ":1.42", 8, &params, &tools, &persist, &session_id, &error))
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *text = NULL;

      json_node_set_object (node, params);
      text = json_to_string (node, FALSE);
      g_assert (g_utf8_validate (text, -1, NULL));
    }
  else
    g_assert (error != NULL);
  g_clear_error (&error);

  tools_value = g_variant_lookup_value (options, "tools", NULL);
  if (tools_value != NULL)
    {
      g_autoptr(GPtrArray) parsed = copilotd_tools_parse (tools_value, ":1.42", 8, &error);

      g_assert ((parsed != NULL) == (error == NULL));
      g_clear_error (&error);
    }

  if (copilotd_option_lookup (options, "attachments", G_VARIANT_TYPE ("aa{sv}"), &attachments, &error) &&
      attachments != NULL)
    {
      g_autoptr(JsonNode) json = copilotd_variant_to_json (attachments);
      g_autofree char *text = json_to_string (json, FALSE);

      g_assert (g_utf8_validate (text, -1, NULL));
    }
  return 0;
}
