/* SPDX-License-Identifier: MIT */
/* copilot-hook-call.c: one run of a hook this app serves
 *
 * Wraps the pending HookProvider.Invoke (DESIGN.md §9). Answered exactly
 * once: by the app, or with empty output (no opinion) when the last
 * reference goes away unanswered. The daemon waits at most its
 * `hook-timeout`; when it stops waiting (that, or the session ended) it
 * sends HookProvider.Cancel, and the call is cancelled: ::cancelled is
 * emitted and a later answer is ignored.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotHookCall
{
  GObject parent_instance;

  GDBusMethodInvocation *invocation;  /* owned, NULL once answered */
  char *session_path;                 /* owned */
  char *hook_type;                    /* owned */
  char *input_json;                   /* owned */
  GVariant *context;                  /* owned: a{sv} */
  gboolean cancelled;
};

enum {
  SIGNAL_CANCELLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/**
 * CopilotHookCall:
 *
 * One run of a hook of a type the app added with
 * [method@Copilot.Client.add_hooks], handed to
 * [signal@Copilot.Client::handle-hook]. Keep a reference to answer later
 * with [method@Copilot.HookCall.return_output]; a call dropped unanswered
 * answers with empty output.
 *
 * The daemon waits for an answer at most its `hook-timeout` (30 s by
 * default), and not after the session ended. When it stops waiting, the
 * call is cancelled: [signal@Copilot.HookCall::cancelled] is emitted (so
 * that an app can close the dialog or stop the work it started for it),
 * and an answer given afterwards is ignored.
 */
G_DEFINE_FINAL_TYPE (CopilotHookCall, copilot_hook_call, G_TYPE_OBJECT)

static void
answer (CopilotHookCall *self,
        const char      *output_json)
{
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&self->invocation);

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", output_json ? output_json : ""));
}

CopilotHookCall *
copilot_hook_call_new_internal (GDBusMethodInvocation *invocation,
                                const char            *session_path,
                                const char            *hook_type,
                                const char            *input_json,
                                GVariant              *context)
{
  CopilotHookCall *self = g_object_new (COPILOT_TYPE_HOOK_CALL, NULL);

  self->invocation = g_object_ref (invocation);
  self->session_path = g_strdup (session_path);
  self->hook_type = g_strdup (hook_type);
  self->input_json = g_strdup (input_json);
  self->context = g_variant_ref (context);
  return self;
}

void
copilot_hook_call_withdraw (CopilotHookCall *self)
{
  g_autoptr(CopilotHookCall) hold = g_object_ref (self);

  if (self->invocation == NULL || self->cancelled)
    return;
  self->cancelled = TRUE;
  /* Not read by the daemon any more; frees the invocation. */
  answer (self, NULL);
  g_signal_emit (self, signals[SIGNAL_CANCELLED], 0);
}

static void
copilot_hook_call_finalize (GObject *object)
{
  CopilotHookCall *self = COPILOT_HOOK_CALL (object);

  if (self->invocation != NULL)
    answer (self, NULL);
  g_clear_pointer (&self->session_path, g_free);
  g_clear_pointer (&self->hook_type, g_free);
  g_clear_pointer (&self->input_json, g_free);
  g_clear_pointer (&self->context, g_variant_unref);

  G_OBJECT_CLASS (copilot_hook_call_parent_class)->finalize (object);
}

static void
copilot_hook_call_class_init (CopilotHookCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = copilot_hook_call_finalize;

  /**
   * CopilotHookCall::cancelled:
   * @self: the call
   *
   * The daemon stopped waiting for the answer: its `hook-timeout` passed
   * or the session ended. The hook counts as having no output; a later
   * answer is ignored.
   */
  signals[SIGNAL_CANCELLED] =
    g_signal_new ("cancelled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
copilot_hook_call_init (CopilotHookCall *self)
{
}

/**
 * copilot_hook_call_get_session_path:
 * @self: a #CopilotHookCall
 *
 * Returns: the object path of the session whose CLI runs the hook
 */
const char *
copilot_hook_call_get_session_path (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), NULL);
  return self->session_path;
}

/**
 * copilot_hook_call_get_hook_type:
 * @self: a #CopilotHookCall
 *
 * Returns: the CLI's hook type: `preToolUse`, `userPromptSubmitted`, …
 */
const char *
copilot_hook_call_get_hook_type (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), NULL);
  return self->hook_type;
}

/**
 * copilot_hook_call_get_input_json:
 * @self: a #CopilotHookCall
 *
 * Returns: the hook's input, JSON text as the CLI gives it
 */
const char *
copilot_hook_call_get_input_json (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), NULL);
  return self->input_json;
}

/**
 * copilot_hook_call_get_context:
 * @self: a #CopilotHookCall
 *
 * Returns: (transfer none): the `a{sv}` context the daemon passed along
 */
GVariant *
copilot_hook_call_get_context (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), NULL);
  return self->context;
}

/**
 * copilot_hook_call_is_answered:
 * @self: a #CopilotHookCall
 *
 * Returns: whether the call has been answered
 */
gboolean
copilot_hook_call_is_answered (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), FALSE);
  return self->invocation == NULL;
}

/**
 * copilot_hook_call_is_cancelled:
 * @self: a #CopilotHookCall
 *
 * Returns: whether the daemon stopped waiting for the answer (see
 *   #CopilotHookCall::cancelled)
 */
gboolean
copilot_hook_call_is_cancelled (CopilotHookCall *self)
{
  g_return_val_if_fail (COPILOT_IS_HOOK_CALL (self), FALSE);
  return self->cancelled;
}

/**
 * copilot_hook_call_return_output:
 * @self: a #CopilotHookCall
 * @output_json: (nullable): the hook's output, JSON text in the CLI's
 *   shape for the hook type (e.g. `{"modifiedPrompt": "…"}`), or %NULL
 *   for no opinion
 *
 * Answers the hook, once, now or later. A cancelled call ignores it.
 */
void
copilot_hook_call_return_output (CopilotHookCall *self,
                                 const char      *output_json)
{
  g_return_if_fail (COPILOT_IS_HOOK_CALL (self));

  if (self->invocation == NULL)
    {
      if (!self->cancelled)
        g_critical ("%s: the %s hook was answered already", G_STRFUNC, self->hook_type);
      return;
    }
  answer (self, output_json);
}
