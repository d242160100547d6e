/* SPDX-License-Identifier: MIT */
/* copilot-prompt.c: one request of the daemon to an agent
 *
 * Wraps the pending D-Bus method call. It is answered exactly once: by the
 * app through a reply function, by the library with the refusal of its
 * kind when the daemon withdraws it (Cancel), or when the last reference
 * goes away unanswered — so a request can never hang on a forgotten
 * prompt, and a forgotten one is never approved.
 */
#include "config.h"

#include "copilot-private.h"

struct _CopilotPrompt
{
  GObject parent_instance;

  CopilotPromptKind kind;
  GDBusMethodInvocation *invocation;  /* owned, NULL once answered */
  char *session_path;                 /* owned */
  char *request_id;                   /* owned */
  GVariant *request;                  /* owned: a{sv} */
  char *request_json;                 /* owned, nullable */
  gboolean answered;
  gboolean cancelled;
};

/**
 * CopilotPrompt:
 *
 * One request of copilotd to a [class@Copilot.Agent]. Answer it once with
 * the reply function of its [property@Copilot.Prompt:kind]; a prompt
 * dropped unanswered is refused, and [signal@Copilot.Prompt::cancelled]
 * says the daemon withdrew it.
 */
G_DEFINE_FINAL_TYPE (CopilotPrompt, copilot_prompt, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KIND,
  PROP_SESSION_PATH,
  PROP_REQUEST_ID,
  PROP_REQUEST,
  PROP_REQUEST_JSON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CANCELLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char * const kind_names[] = {
  [COPILOT_PROMPT_KIND_PERMISSION] = "permission",
  [COPILOT_PROMPT_KIND_USER_INPUT] = "user-input",
  [COPILOT_PROMPT_KIND_ELICITATION] = "elicitation",
  [COPILOT_PROMPT_KIND_PLAN_APPROVAL] = "plan-approval",
  [COPILOT_PROMPT_KIND_MODE_SWITCH] = "mode-switch",
};

static void
answer (CopilotPrompt *self,
        GVariant      *reply)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (reply);
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&self->invocation);

  self->answered = TRUE;
  if (invocation != NULL)
    g_dbus_method_invocation_return_value (invocation, sunk);
}

/* What "no" is for each kind: fail closed. */
static GVariant *
refusal (CopilotPrompt *self)
{
  switch (self->kind)
    {
    case COPILOT_PROMPT_KIND_PERMISSION:
      return g_variant_new_parsed ("(@u 0, @a{sv} {})");
    case COPILOT_PROMPT_KIND_USER_INPUT:
      return g_variant_new_parsed ("(@u 1, @a{sv} {})");
    case COPILOT_PROMPT_KIND_ELICITATION:
      return g_variant_new_parsed ("('cancel', '{}', @a{sv} {})");
    case COPILOT_PROMPT_KIND_PLAN_APPROVAL:
      return g_variant_new_parsed ("(false, @a{sv} {})");
    case COPILOT_PROMPT_KIND_MODE_SWITCH:
      return g_variant_new_parsed ("('no', @a{sv} {})");
    default:
      g_assert_not_reached ();
    }
}

CopilotPrompt *
copilot_prompt_new_internal (CopilotPromptKind      kind,
                             GDBusMethodInvocation *invocation,
                             const char            *session_path,
                             const char            *request_id,
                             GVariant              *request,
                             const char            *request_json)
{
  CopilotPrompt *self = g_object_new (COPILOT_TYPE_PROMPT, NULL);

  self->kind = kind;
  self->invocation = g_object_ref (invocation);
  self->session_path = g_strdup (session_path);
  self->request_id = g_strdup (request_id);
  self->request = g_variant_ref (request);
  self->request_json = g_strdup (request_json);
  return self;
}

void
copilot_prompt_withdraw (CopilotPrompt *self)
{
  g_autoptr(CopilotPrompt) hold = g_object_ref (self);

  if (self->answered || self->cancelled)
    return;
  self->cancelled = TRUE;
  answer (self, refusal (self));
  g_signal_emit (self, signals[SIGNAL_CANCELLED], 0);
}

static void
copilot_prompt_finalize (GObject *object)
{
  CopilotPrompt *self = COPILOT_PROMPT (object);

  if (!self->answered)
    {
      g_debug ("libcopilot: prompt %s finalized unanswered: refusing", self->request_id);
      answer (self, refusal (self));
    }
  g_clear_object (&self->invocation);
  g_clear_pointer (&self->session_path, g_free);
  g_clear_pointer (&self->request_id, g_free);
  g_clear_pointer (&self->request, g_variant_unref);
  g_clear_pointer (&self->request_json, g_free);

  G_OBJECT_CLASS (copilot_prompt_parent_class)->finalize (object);
}

static void
copilot_prompt_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CopilotPrompt *self = COPILOT_PROMPT (object);

  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_string (value, kind_names[self->kind]);
      break;
    case PROP_SESSION_PATH:
      g_value_set_string (value, self->session_path);
      break;
    case PROP_REQUEST_ID:
      g_value_set_string (value, self->request_id);
      break;
    case PROP_REQUEST:
      g_value_set_variant (value, self->request);
      break;
    case PROP_REQUEST_JSON:
      g_value_set_string (value, self->request_json);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
copilot_prompt_class_init (CopilotPromptClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = copilot_prompt_finalize;
  object_class->get_property = copilot_prompt_get_property;

  /**
   * CopilotPrompt:kind:
   *
   * `permission`, `user-input`, `elicitation`, `plan-approval` or
   * `mode-switch`: which #CopilotAgent signal brought it, and which reply
   * function answers it.
   */
  properties[PROP_KIND] =
    g_param_spec_string ("kind", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotPrompt:session-path:
   *
   * The object path of the session asking.
   */
  properties[PROP_SESSION_PATH] =
    g_param_spec_string ("session-path", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotPrompt:request-id:
   *
   * The CLI's id of the request.
   */
  properties[PROP_REQUEST_ID] =
    g_param_spec_string ("request-id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotPrompt:request:
   *
   * The request's `a{sv}`: for a permission `kind`, `intention`,
   * `command`, `path`, `url`, `tool-name`, `diff`; for a question
   * `question`, `choices`, `allow-freeform`; and who asks (`client-name`,
   * `client-pid`, `working-directory`) where the daemon says.
   */
  properties[PROP_REQUEST] =
    g_param_spec_variant ("request", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * CopilotPrompt:request-json:
   *
   * The CLI's own request, JSON text: the `permissionRequest` of a
   * permission, the requested schema of an elicitation; %NULL for the
   * other kinds.
   */
  properties[PROP_REQUEST_JSON] =
    g_param_spec_string ("request-json", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CopilotPrompt::cancelled:
   * @self: the prompt
   *
   * The daemon withdrew the request (the turn was aborted, another agent
   * answered, it timed out). Close its dialog; a later reply is ignored.
   */
  signals[SIGNAL_CANCELLED] =
    g_signal_new ("cancelled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
copilot_prompt_init (CopilotPrompt *self)
{
}

/**
 * copilot_prompt_get_kind:
 * @self: a #CopilotPrompt
 *
 * Returns: the #CopilotPrompt:kind
 */
const char *
copilot_prompt_get_kind (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  return kind_names[self->kind];
}

/**
 * copilot_prompt_get_session_path:
 * @self: a #CopilotPrompt
 *
 * Returns: the object path of the session asking
 */
const char *
copilot_prompt_get_session_path (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  return self->session_path;
}

/**
 * copilot_prompt_get_request_id:
 * @self: a #CopilotPrompt
 *
 * Returns: the CLI's request id
 */
const char *
copilot_prompt_get_request_id (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  return self->request_id;
}

/**
 * copilot_prompt_get_request:
 * @self: a #CopilotPrompt
 *
 * Returns: (transfer none): the #CopilotPrompt:request, an `a{sv}`
 */
GVariant *
copilot_prompt_get_request (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  return self->request;
}

/**
 * copilot_prompt_get_request_json:
 * @self: a #CopilotPrompt
 *
 * Returns: (nullable): the #CopilotPrompt:request-json
 */
const char *
copilot_prompt_get_request_json (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  return self->request_json;
}

/**
 * copilot_prompt_dup_client_name:
 * @self: a #CopilotPrompt
 *
 * The app whose session asks, as a dialog names it: the request's
 * `client-name` when the daemon gave one.
 *
 * Returns: (transfer full) (nullable): the asking app's name
 */
char *
copilot_prompt_dup_client_name (CopilotPrompt *self)
{
  const char *name = NULL;

  g_return_val_if_fail (COPILOT_IS_PROMPT (self), NULL);
  if (g_variant_lookup (self->request, "client-name", "&s", &name) && *name != '\0')
    return g_strdup (name);
  return NULL;
}

/**
 * copilot_prompt_is_answered:
 * @self: a #CopilotPrompt
 *
 * Returns: whether the prompt was answered (or withdrawn)
 */
gboolean
copilot_prompt_is_answered (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), FALSE);
  return self->answered;
}

/**
 * copilot_prompt_is_cancelled:
 * @self: a #CopilotPrompt
 *
 * Returns: whether the daemon withdrew the prompt
 */
gboolean
copilot_prompt_is_cancelled (CopilotPrompt *self)
{
  g_return_val_if_fail (COPILOT_IS_PROMPT (self), FALSE);
  return self->cancelled;
}

static gboolean
check_reply (CopilotPrompt *self,
             gboolean       ok_kind,
             const char    *function)
{
  if (self->cancelled)
    return FALSE;  /* withdrawn: a late answer is fine and ignored */
  if (self->answered)
    {
      g_critical ("%s: prompt %s was answered already", function, self->request_id);
      return FALSE;
    }
  if (!ok_kind)
    {
      g_critical ("%s: not a reply for a %s prompt", function, kind_names[self->kind]);
      return FALSE;
    }
  return TRUE;
}

static GVariant *
results_or_empty (GVariant *results)
{
  if (results == NULL)
    return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
  return results;
}

/**
 * copilot_prompt_reply:
 * @self: a #CopilotPrompt
 * @decision: for a permission a #CopilotPermissionDecision; for a
 *   question 0 (answered) or 1 (cancelled); for a plan approval nonzero to
 *   approve
 * @results: (nullable): the reply's `a{sv}` (`feedback` for a refused
 *   permission, `answer` for a question, `action` or `feedback` for a
 *   plan); a floating reference is consumed
 *
 * Answers a `permission`, `user-input` or `plan-approval` prompt. Once:
 * a prompt the daemon withdrew ignores the reply.
 */
void
copilot_prompt_reply (CopilotPrompt *self,
                      guint          decision,
                      GVariant      *results)
{
  GVariant *r;

  g_return_if_fail (COPILOT_IS_PROMPT (self));
  g_return_if_fail (results == NULL || g_variant_is_of_type (results, G_VARIANT_TYPE_VARDICT));

  r = results_or_empty (results);
  if (!check_reply (self, self->kind == COPILOT_PROMPT_KIND_PERMISSION ||
                          self->kind == COPILOT_PROMPT_KIND_USER_INPUT ||
                          self->kind == COPILOT_PROMPT_KIND_PLAN_APPROVAL, G_STRFUNC))
    {
      g_variant_unref (g_variant_ref_sink (r));
      return;
    }
  if (self->kind == COPILOT_PROMPT_KIND_PLAN_APPROVAL)
    answer (self, g_variant_new ("(b@a{sv})", decision != 0, r));
  else
    answer (self, g_variant_new ("(u@a{sv})", decision, r));
}

/**
 * copilot_prompt_reply_answer:
 * @self: a `user-input` #CopilotPrompt
 * @answer_text: the answer: one of the request's `choices`, or free text
 *
 * Answers a question.
 */
void
copilot_prompt_reply_answer (CopilotPrompt *self,
                             const char    *answer_text)
{
  g_autofree const char **choices = NULL;
  GVariantDict results;
  gboolean freeform = TRUE;

  g_return_if_fail (COPILOT_IS_PROMPT (self));
  g_return_if_fail (answer_text != NULL);

  if (!check_reply (self, self->kind == COPILOT_PROMPT_KIND_USER_INPUT, G_STRFUNC))
    return;
  if (g_variant_lookup (self->request, "choices", "^a&s", &choices))
    freeform = !g_strv_contains (choices, answer_text);
  g_variant_dict_init (&results, NULL);
  g_variant_dict_insert (&results, "answer", "s", answer_text);
  g_variant_dict_insert (&results, "was-freeform", "b", freeform);
  answer (self, g_variant_new ("(u@a{sv})", 0, g_variant_dict_end (&results)));
}

/**
 * copilot_prompt_reply_elicitation:
 * @self: an `elicitation` #CopilotPrompt
 * @action: `accept`, `decline` or `cancel`
 * @content_json: (nullable): the form's content, a JSON object matching
 *   the requested schema (for `accept`)
 * @results: (nullable): the reply's `a{sv}`; a floating reference is
 *   consumed
 *
 * Answers an MCP server's form.
 */
void
copilot_prompt_reply_elicitation (CopilotPrompt *self,
                                  const char    *action,
                                  const char    *content_json,
                                  GVariant      *results)
{
  GVariant *r;

  g_return_if_fail (COPILOT_IS_PROMPT (self));
  g_return_if_fail (action != NULL);

  r = results_or_empty (results);
  if (!check_reply (self, self->kind == COPILOT_PROMPT_KIND_ELICITATION, G_STRFUNC))
    {
      g_variant_unref (g_variant_ref_sink (r));
      return;
    }
  answer (self, g_variant_new ("(ss@a{sv})", action, content_json ? content_json : "{}", r));
}

/**
 * copilot_prompt_reply_mode_switch:
 * @self: a `mode-switch` #CopilotPrompt
 * @answer_text: `yes`, `yes-always` or `no`
 * @results: (nullable): the reply's `a{sv}`; a floating reference is
 *   consumed
 *
 * Answers the CLI's offer to switch mode after a rate limit.
 */
void
copilot_prompt_reply_mode_switch (CopilotPrompt *self,
                                  const char    *answer_text,
                                  GVariant      *results)
{
  GVariant *r;

  g_return_if_fail (COPILOT_IS_PROMPT (self));
  g_return_if_fail (answer_text != NULL);

  r = results_or_empty (results);
  if (!check_reply (self, self->kind == COPILOT_PROMPT_KIND_MODE_SWITCH, G_STRFUNC))
    {
      g_variant_unref (g_variant_ref_sink (r));
      return;
    }
  answer (self, g_variant_new ("(s@a{sv})", answer_text, r));
}
