/* SPDX-License-Identifier: MIT */
/* fuzz-jsonrpc.c: arbitrary bytes from the CLI into the JSON-RPC layer
 *
 * The input is what the CLI writes on its stdout: Content-Length framing,
 * JSON bodies, responses to the daemon's calls and requests and
 * notifications of its own. It is fed in two pieces (the first byte picks
 * the split) so that frames cut across reads are exercised too.
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "fuzz-common.h"
#include "jsonrpc.h"
#include "utf8.h"

static void
on_notification (CopilotdJsonrpc *rpc,
                 const char      *method,
                 JsonNode        *params,
                 gpointer         user_data)
{
  /* What the session code reads of every event. */
  if (params != NULL && JSON_NODE_HOLDS_OBJECT (params))
    {
      g_autofree char *text = json_to_string (params, FALSE);

      g_assert (g_utf8_validate (text, -1, NULL));
    }
}

static gboolean
on_request (CopilotdJsonrpc *rpc,
            const char      *method,
            JsonNode        *params,
            JsonNode        *id,
            gpointer         user_data)
{
  g_assert (g_utf8_validate (method, -1, NULL));
  copilotd_jsonrpc_reply_error (rpc, id, -32601, "no");
  return TRUE;
}

/* A delta read without a tree: every string UTF-8 and as long as said.
 * Every other one is declined, so that the tree path reads it too. */
static gboolean
on_delta (const CopilotdJsonDelta *delta,
          gpointer                 user_data)
{
  const char * const meta[] = { delta->id, delta->parent_id, delta->timestamp, delta->agent_id };
  guint *n = user_data;

  g_assert (g_utf8_validate (delta->session_id, -1, NULL));
  g_assert (g_str_equal (delta->type, "assistant.message_delta") ||
            g_str_equal (delta->type, "assistant.reasoning_delta"));
  for (gsize i = 0; i < G_N_ELEMENTS (meta); i++)
    g_assert (meta[i] == NULL || g_utf8_validate (meta[i], -1, NULL));
  g_assert (strlen (delta->message_id) == delta->message_id_len);
  g_assert (g_utf8_validate_len (delta->message_id, delta->message_id_len, NULL));
  g_assert (strlen (delta->text) == delta->text_len);
  g_assert (g_utf8_validate_len (delta->text, delta->text_len, NULL));
  return (*n)++ % 2 == 0;
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = copilotd_jsonrpc_call_finish (COPILOTD_JSONRPC (source), result, &error);
}

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
  g_autoptr(GInputStream) in = g_memory_input_stream_new ();
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(CopilotdJsonrpc) rpc = copilotd_jsonrpc_new (in, out);
  gsize split = size > 0 ? data[0] % (size + 1) : 0;
  gsize fixed_len = 0;
  g_autofree char *fixed = NULL;
  guint n_deltas = 0;

  g_signal_connect (rpc, "notification", G_CALLBACK (on_notification), NULL);
  g_signal_connect (rpc, "request", G_CALLBACK (on_request), NULL);
  copilotd_jsonrpc_set_delta_func (rpc, on_delta, &n_deltas);
  /* Ids 1 and 2 are pending, so responses find a caller. */
  copilotd_jsonrpc_call_async (rpc, "ping", NULL, NULL, on_call_done, NULL);
  copilotd_jsonrpc_call_async (rpc, "status.get", NULL, NULL, on_call_done, NULL);

  copilotd_jsonrpc_feed (rpc, data, split);
  copilotd_jsonrpc_feed (rpc, data + split, size - split);
  copilotd_jsonrpc_close (rpc, NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  /* The repair itself: its output is always UTF-8 and never longer. */
  fixed = copilotd_json_text_make_valid ((const char *) data, size, &fixed_len);
  if (fixed != NULL)
    g_assert (g_utf8_validate_len (fixed, fixed_len, NULL));
  return 0;
}
