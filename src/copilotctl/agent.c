/* SPDX-License-Identifier: MIT */
/* agent.c: the terminal agent that answers permission prompts and questions
 *
 * Exports io.github.copilotd.Copilot1.Agent at CTL_AGENT_PATH on copilotctl's
 * own connection. Requests are asked one at a time, in arrival order; each
 * method invocation is answered only when the person has typed a line, so
 * the main loop keeps running (and streaming) while a prompt is shown.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "copilotd-error.h"
#include "agent-private.h"

static void ask_next (CtlAgent *self);

static void
request_free (Request *request)
{
  g_clear_object (&request->invocation);
  g_free (request->session_path);
  g_free (request->request_id);
  g_clear_pointer (&request->request, g_variant_unref);
  agent_request_clear (request);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static const char *
request_string (Request    *request,
                const char *key)
{
  return agent_request_string (request, key);
}

static gboolean
request_boolean (Request    *request,
                 const char *key,
                 gboolean    fallback)
{
  gboolean value;

  if (!g_variant_lookup (request->request, key, "b", &value))
    return fallback;
  return value;
}

/* What the person (or the --json reader) sees of the command. */
static const char *
permission_subject (Request *request)
{
  const char *keys[] = { "command", "path", "url", "tool-name" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *value = request_string (request, keys[i]);

      if (value != NULL && *value != '\0')
        return value;
    }
  return NULL;
}

static const char *
decision_name (guint decision)
{
  switch (decision)
    {
    case 1:
      return "approved";
    case 2:
      return "approved-for-session";
    case 3:
      return "approved-for-location";
    default:
      return "rejected";
    }
}

static void
report_permission_json (Request *request,
                        guint    decision)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *session_id = ctl_session_id_from_path (request->session_path);
  const char *keys[] = { "kind", "intention", "command", "path", "url", "tool-name" };

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "permission");
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *value = request_string (request, keys[i]);

      if (value == NULL)
        continue;
      json_builder_set_member_name (builder, keys[i]);
      json_builder_add_string_value (builder, value);
    }
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, session_id);
  json_builder_set_member_name (builder, "decision");
  json_builder_add_string_value (builder, decision_name (decision));
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static void
report_user_input_json (Request    *request,
                        guint       response,
                        const char *answer)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const char *question = request_string (request, "question");

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "user_input");
  json_builder_set_member_name (builder, "question");
  json_builder_add_string_value (builder, question ? question : "");
  json_builder_set_member_name (builder, "response");
  json_builder_add_string_value (builder, response == 0 ? "answered" : "cancelled");
  if (answer != NULL)
    {
      json_builder_set_member_name (builder, "answer");
      json_builder_add_string_value (builder, answer);
    }
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static void
complete_permission (Request    *request,
                     guint       decision,
                     const char *feedback)
{
  g_auto(GVariantBuilder) results = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  if (decision == 0)
    g_variant_builder_add (&results, "{sv}", "feedback",
                           g_variant_new_string (feedback ? feedback : _(FEEDBACK_REJECTED)));
  if (request->agent->ctl->json)
    report_permission_json (request, decision);
  copilotd_dbus_agent_complete_request_permission (request->agent->skeleton,
                                                   g_steal_pointer (&request->invocation),
                                                   decision,
                                                   g_variant_builder_end (&results));
}

static void
complete_user_input (Request    *request,
                     guint       response,
                     const char *answer,
                     gboolean    was_freeform)
{
  g_auto(GVariantBuilder) results = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  if (response == 0)
    {
      g_variant_builder_add (&results, "{sv}", "answer", g_variant_new_string (answer));
      g_variant_builder_add (&results, "{sv}", "was-freeform", g_variant_new_boolean (was_freeform));
    }
  if (request->agent->ctl->json)
    report_user_input_json (request, response, response == 0 ? answer : NULL);
  copilotd_dbus_agent_complete_request_user_input (request->agent->skeleton,
                                                   g_steal_pointer (&request->invocation),
                                                   response,
                                                   g_variant_builder_end (&results));
}

/* The neutral answer of any kind: rejected, unanswered, cancelled, not
 * approved, no. */
static void
refuse (Request *request)
{
  if (request->kind == REQUEST_PERMISSION)
    complete_permission (request, 0, NULL);
  else if (request->kind == REQUEST_USER_INPUT)
    complete_user_input (request, 1, NULL, FALSE);
  else
    agent_request_refuse (request);
}

/* Answers a request nobody will be asked about: --yes, --no, --json or no
 * terminal. Never approves unless --yes was given. */
static void
answer_without_asking (CtlAgent *self,
                       Request  *request)
{
  gboolean yes = self->mode == CTL_ANSWER_YES;
  gboolean human = !self->ctl->json;

  if (request->kind != REQUEST_PERMISSION && request->kind != REQUEST_USER_INPUT)
    agent_request_answer_without_asking (self, request);
  else if (request->kind == REQUEST_PERMISSION)
    {
      const char *kind = request_string (request, "kind");
      const char *subject = permission_subject (request);

      if (human && self->mode == CTL_ANSWER_ASK)
        ctl_printerr (_("permission denied (no terminal; use --yes to approve): %s %s"),
                      kind ? kind : "?", subject ? subject : "");
      else if (human)
        fprintf (stderr, "%s%s %s %s: %s%s\n",
                 ctl_style (stderr, CTL_STYLE_DIM), ctl_glyph ("▸", ">"),
                 kind ? kind : "?", subject ? subject : "",
                 yes ? _("approved (--yes)") : _("rejected (--no)"),
                 ctl_style (stderr, CTL_STYLE_RESET));
      complete_permission (request, yes ? 1 : 0, NULL);
    }
  else
    {
      g_autofree char **choices = NULL;

      g_variant_lookup (request->request, "choices", "^a&s", &choices);
      if (yes)
        {
          gboolean has_choice = choices != NULL && choices[0] != NULL;
          const char *answer = has_choice ? choices[0] : "yes";

          if (human)
            fprintf (stderr, "%s%s %s %s%s\n", ctl_style (stderr, CTL_STYLE_DIM),
                     ctl_glyph ("▸", ">"), _("question answered (--yes):"), answer,
                     ctl_style (stderr, CTL_STYLE_RESET));
          complete_user_input (request, 0, answer, !has_choice);
        }
      else
        {
          if (human && self->mode == CTL_ANSWER_ASK)
            ctl_printerr ("%s", _("question left unanswered (no terminal)"));
          complete_user_input (request, 1, NULL, FALSE);
        }
    }
}

static void
show_permission (CtlAgent *self,
                 Request  *request,
                 FILE     *out)
{
  const char *kind = request_string (request, "kind");
  const char *intention = request_string (request, "intention");
  const char *diff = request_string (request, "diff");
  const char *bold = ctl_style (out, CTL_STYLE_BOLD);
  const char *yellow = ctl_style (out, CTL_STYLE_YELLOW);
  const char *reset = ctl_style (out, CTL_STYLE_RESET);
  const char *title;
  struct { const char *key; const char *label; } fields[] = {
    { "command", N_("Command:") },
    { "path", N_("Path:") },
    { "url", N_("URL:") },
    { "tool-name", N_("Tool:") },
  };

  if (g_strcmp0 (kind, "shell") == 0)
    title = _("Copilot wants to run a command");
  else if (g_strcmp0 (kind, "write") == 0)
    title = _("Copilot wants to write a file");
  else if (g_strcmp0 (kind, "read") == 0)
    title = _("Copilot wants to read a file");
  else if (g_strcmp0 (kind, "url") == 0)
    title = _("Copilot wants to fetch a URL");
  else if (g_strcmp0 (kind, "mcp") == 0)
    title = _("Copilot wants to use an MCP tool");
  else if (g_strcmp0 (kind, "custom-tool") == 0)
    title = _("Copilot wants to use a tool");
  else
    title = _("Copilot asks for permission");

  fprintf (out, "\n%s%s%s %s[%s]%s\n", bold, yellow, title, reset, kind ? kind : "?", reset);
  agent_show_asker (self, request, out);
  if (self->show_session)
    {
      g_autofree char *session_id = ctl_session_id_from_path (request->session_path);

      fprintf (out, "  %-10s %s\n", _("Session:"), session_id);
    }
  if (intention != NULL && *intention != '\0')
    fprintf (out, "  %-10s %s\n", _("Intention:"), intention);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const char *value = request_string (request, fields[i].key);

      if (value != NULL && *value != '\0')
        fprintf (out, "  %-10s %s%s%s\n", _(fields[i].label), bold, value, reset);
    }
  if (diff != NULL && *diff != '\0')
    ctl_print_diff (out, diff, "    ");
}

static void
show_user_input (CtlAgent *self,
                 Request  *request,
                 FILE     *out)
{
  const char *question = request_string (request, "question");
  g_autofree const char **choices = NULL;

  fprintf (out, "\n%s%s%s %s\n", ctl_style (out, CTL_STYLE_BOLD),
           _("Copilot asks:"), ctl_style (out, CTL_STYLE_RESET),
           question ? question : "");
  agent_show_asker (self, request, out);
  if (self->show_session)
    {
      g_autofree char *session_id = ctl_session_id_from_path (request->session_path);

      fprintf (out, "  %-10s %s\n", _("Session:"), session_id);
    }
  if (g_variant_lookup (request->request, "choices", "^a&s", &choices))
    for (guint i = 0; choices[i] != NULL; i++)
      fprintf (out, "  %u) %s\n", i + 1, choices[i]);
}

static void
show_question (CtlAgent *self,
               Request  *request)
{
  FILE *out = ctl_term_get_output (self->term);

  if (request->kind != REQUEST_PERMISSION && request->kind != REQUEST_USER_INPUT)
    {
      agent_request_show_question (self, request, out);
      return;
    }
  if (request->kind == REQUEST_PERMISSION)
    {
      if (request->stage == STAGE_REASON)
        fputs (_("Reason to tell Copilot (optional): "), out);
      else if (request_boolean (request, "can-offer-session-approval", TRUE))
        fputs (_("Allow? [y]es once / [a]lways for this session / [n]o: "), out);
      else
        fputs (_("Allow? [y]es once / [n]o: "), out);
    }
  else
    {
      g_autofree const char **choices = NULL;
      gboolean has_choices = g_variant_lookup (request->request, "choices", "^a&s", &choices) &&
                             choices[0] != NULL;

      if (has_choices && request_boolean (request, "allow-freeform", TRUE))
        fputs (_("Answer (number or text): "), out);
      else if (has_choices)
        fputs (_("Answer (number): "), out);
      else
        fputs (_("Answer: "), out);
    }
  fflush (out);
}

static void line_cb (const char *line, gpointer user_data);

/* Done with the head of the queue: drop it and ask the next one. */
static void
finish_head (CtlAgent *self)
{
  g_autoptr(Request) request = g_queue_pop_head (&self->requests);

  if (self->term != NULL)
    ctl_term_cancel_request (self->term);
  if (self->prompt_func != NULL)
    self->prompt_func (FALSE, self->prompt_data);
  ask_next (self);
}

static gboolean
handle_permission_line (CtlAgent   *self,
                        Request    *request,
                        const char *answer)
{
  if (request->stage == STAGE_REASON)
    {
      complete_permission (request, 0, *answer != '\0' ? answer : NULL);
      return TRUE;
    }

  if (g_ascii_strcasecmp (answer, "y") == 0 || g_ascii_strcasecmp (answer, "yes") == 0)
    {
      complete_permission (request, 1, NULL);
      return TRUE;
    }
  if ((g_ascii_strcasecmp (answer, "a") == 0 || g_ascii_strcasecmp (answer, "always") == 0) &&
      request_boolean (request, "can-offer-session-approval", TRUE))
    {
      complete_permission (request, 2, NULL);
      return TRUE;
    }
  if (g_ascii_strcasecmp (answer, "n") == 0 || g_ascii_strcasecmp (answer, "no") == 0)
    {
      request->stage = STAGE_REASON;
      return FALSE;
    }
  return FALSE;
}

static gboolean
handle_user_input_line (CtlAgent   *self,
                        Request    *request,
                        const char *answer)
{
  g_autofree const char **choices = NULL;
  guint n_choices = 0;
  guint64 number;

  if (g_variant_lookup (request->request, "choices", "^a&s", &choices))
    n_choices = g_strv_length ((char **) choices);

  if (*answer == '\0')
    return FALSE;
  if (n_choices > 0 &&
      g_ascii_string_to_unsigned (answer, 10, 1, n_choices, &number, NULL))
    {
      complete_user_input (request, 0, choices[number - 1], FALSE);
      return TRUE;
    }
  for (guint i = 0; i < n_choices; i++)
    if (g_strcmp0 (choices[i], answer) == 0)
      {
        complete_user_input (request, 0, choices[i], FALSE);
        return TRUE;
      }
  if (n_choices == 0 || request_boolean (request, "allow-freeform", TRUE))
    {
      complete_user_input (request, 0, answer, TRUE);
      return TRUE;
    }
  return FALSE;
}

static void
line_cb (const char *line,
         gpointer    user_data)
{
  CtlAgent *self = user_data;
  Request *request = g_queue_peek_head (&self->requests);
  g_autofree char *answer = NULL;
  gboolean done;

  if (request == NULL)
    return;

  if (line == NULL)
    {
      /* The terminal went away: fail closed, and stop asking. */
      fputc ('\n', ctl_term_get_output (self->term));
      refuse (request);
      self->term = NULL;
      finish_head (self);
      return;
    }

  answer = g_strstrip (g_strdup (line));
  if (request->kind == REQUEST_PERMISSION)
    done = handle_permission_line (self, request, answer);
  else if (request->kind == REQUEST_USER_INPUT)
    done = handle_user_input_line (self, request, answer);
  else
    done = agent_request_handle_line (self, request, answer);

  if (done)
    {
      finish_head (self);
      return;
    }
  show_question (self, request);
  ctl_term_request_line (self->term, line_cb, self);
}

static void
ask_next (CtlAgent *self)
{
  Request *request;

  while ((request = g_queue_peek_head (&self->requests)) != NULL && self->term == NULL)
    {
      /* The terminal is gone: answer the rest without asking. */
      answer_without_asking (self, request);
      request_free (g_queue_pop_head (&self->requests));
    }
  if (request == NULL || request->shown)
    return;

  request->shown = TRUE;
  if (self->prompt_func != NULL)
    self->prompt_func (TRUE, self->prompt_data);
  if (request->kind == REQUEST_PERMISSION)
    show_permission (self, request, ctl_term_get_output (self->term));
  else if (request->kind == REQUEST_USER_INPUT)
    show_user_input (self, request, ctl_term_get_output (self->term));
  else
    agent_request_show (self, request, ctl_term_get_output (self->term));
  show_question (self, request);
  ctl_term_request_line (self->term, line_cb, self);
}

static gboolean
check_sender (CtlAgent              *self,
              GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  if (ctl_sender_is_daemon (self->ctl, sender))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, COPILOTD_ERROR,
                                         COPILOTD_ERROR_ACCESS_DENIED,
                                         "Only %s may call this agent", CTL_BUS_NAME);
  return FALSE;
}

static void
enqueue (CtlAgent              *self,
         RequestKind            kind,
         GDBusMethodInvocation *invocation,
         const char            *session_path,
         const char            *request_id,
         GVariant              *request_dict,
         const char            *schema_json)
{
  Request *request = g_new0 (Request, 1);

  request->agent = self;
  request->kind = kind;
  /* Returning TRUE from the handle-* signal hands us the caller's
   * reference, which completing the invocation consumes. */
  request->invocation = invocation;
  request->session_path = g_strdup (session_path);
  request->request_id = g_strdup (request_id);
  request->request = g_variant_ref (request_dict);
  request->schema_json = g_strdup (schema_json);
  agent_request_prepare (request);

  if (self->ctl->json || self->mode != CTL_ANSWER_ASK || self->term == NULL)
    {
      answer_without_asking (self, request);
      request_free (request);
      return;
    }
  g_queue_push_tail (&self->requests, request);
  ask_next (self);
}

static gboolean
handle_request_permission (CopilotdDbusAgent     *skeleton,
                           GDBusMethodInvocation *invocation,
                           const char            *session_path,
                           const char            *request_id,
                           GVariant              *request,
                           const char            *request_json,
                           CtlAgent              *self)
{
  if (check_sender (self, invocation))
    enqueue (self, REQUEST_PERMISSION, invocation, session_path, request_id, request, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_request_user_input (CopilotdDbusAgent     *skeleton,
                           GDBusMethodInvocation *invocation,
                           const char            *session_path,
                           const char            *request_id,
                           GVariant              *request,
                           CtlAgent              *self)
{
  if (check_sender (self, invocation))
    enqueue (self, REQUEST_USER_INPUT, invocation, session_path, request_id, request, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_request_elicitation (CopilotdDbusAgent     *skeleton,
                            GDBusMethodInvocation *invocation,
                            const char            *session_path,
                            const char            *request_id,
                            GVariant              *request,
                            const char            *schema_json,
                            CtlAgent              *self)
{
  if (check_sender (self, invocation))
    enqueue (self, REQUEST_ELICITATION, invocation, session_path, request_id, request, schema_json);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_request_plan_approval (CopilotdDbusAgent     *skeleton,
                              GDBusMethodInvocation *invocation,
                              const char            *session_path,
                              const char            *request_id,
                              GVariant              *request,
                              CtlAgent              *self)
{
  if (check_sender (self, invocation))
    enqueue (self, REQUEST_PLAN, invocation, session_path, request_id, request, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_request_mode_switch (CopilotdDbusAgent     *skeleton,
                            GDBusMethodInvocation *invocation,
                            const char            *session_path,
                            const char            *request_id,
                            GVariant              *request,
                            CtlAgent              *self)
{
  if (check_sender (self, invocation))
    enqueue (self, REQUEST_MODE_SWITCH, invocation, session_path, request_id, request, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Answers @link's request with the refusal (the daemon ignores it; it only
 * frees the invocation) and drops it, telling the person when it was the
 * one on screen. */
static void
withdraw (CtlAgent   *self,
          GList      *link,
          const char *why)
{
  Request *request = link->data;

  refuse (request);
  if (link == self->requests.head)
    {
      FILE *out = ctl_term_get_output (self->term);

      fprintf (out, "\n%s%s%s\n", ctl_style (out, CTL_STYLE_DIM), why, ctl_style (out, CTL_STYLE_RESET));
      finish_head (self);
    }
  else
    {
      g_queue_delete_link (&self->requests, link);
      request_free (request);
    }
}

static gboolean
handle_cancel (CtlAgent              *self,
               GDBusMethodInvocation *invocation,
               const char            *request_id,
               CopilotdDbusAgent     *skeleton)
{
  if (!check_sender (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  for (GList *link = self->requests.head; link != NULL; link = link->next)
    if (g_strcmp0 (((Request *) link->data)->request_id, request_id) == 0)
      {
        withdraw (self, link, _("(request withdrawn)"));
        break;
      }

  copilotd_dbus_agent_complete_cancel (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_release (CtlAgent              *self,
                GDBusMethodInvocation *invocation,
                CopilotdDbusAgent     *skeleton)
{
  if (!check_sender (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  copilotd_dbus_agent_complete_release (skeleton, invocation);
  if (self->release_func != NULL)
    ((void (*) (gpointer)) self->release_func) (self->release_data);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

CtlAgent *
ctl_agent_new (Ctl          *ctl,
               CtlAnswerMode mode,
               gboolean      show_session,
               GError      **error)
{
  g_autoptr(CtlAgent) self = g_new0 (CtlAgent, 1);

  self->ctl = ctl;
  self->mode = mode;
  self->show_session = show_session;
  if (!ctl->json && mode == CTL_ANSWER_ASK)
    self->term = ctl_term_get_interactive ();
  g_queue_init (&self->requests);

  self->skeleton = copilotd_dbus_agent_skeleton_new ();
  g_signal_connect (self->skeleton, "handle-request-permission",
                    G_CALLBACK (handle_request_permission), self);
  g_signal_connect (self->skeleton, "handle-request-user-input",
                    G_CALLBACK (handle_request_user_input), self);
  g_signal_connect (self->skeleton, "handle-request-elicitation",
                    G_CALLBACK (handle_request_elicitation), self);
  g_signal_connect (self->skeleton, "handle-request-plan-approval",
                    G_CALLBACK (handle_request_plan_approval), self);
  g_signal_connect (self->skeleton, "handle-request-mode-switch",
                    G_CALLBACK (handle_request_mode_switch), self);
  g_signal_connect_swapped (self->skeleton, "handle-cancel",
                            G_CALLBACK (handle_cancel), self);
  g_signal_connect_swapped (self->skeleton, "handle-release",
                            G_CALLBACK (handle_release), self);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                         ctl->bus, CTL_AGENT_PATH, error))
    return NULL;
  self->exported = TRUE;
  return g_steal_pointer (&self);
}

gboolean
ctl_agent_register (CtlAgent *self,
                    gboolean  fallback,
                    GError  **error)
{
  g_autoptr(CopilotdDbusAgentManager) manager = NULL;
  g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  manager = copilotd_dbus_agent_manager_proxy_new_sync (self->ctl->bus,
                                                        G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                                        G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                                        CTL_BUS_NAME, CTL_ROOT_PATH,
                                                        NULL, error);
  if (manager == NULL)
    return FALSE;
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (manager), CTL_CALL_TIMEOUT_MS);
  if (fallback)
    g_variant_builder_add (&options, "{sv}", "fallback", g_variant_new_boolean (TRUE));
  /* Every kind of prompt: forms, plans and mode switches too (§9). */
  g_variant_builder_add (&options, "{sv}", "capabilities",
                         g_variant_new_strv ((const char * const []) { "permission", "user-input",
                                                                       "elicitation", "plan-approval",
                                                                       "mode-switch" }, 5));
  return copilotd_dbus_agent_manager_call_register_agent_sync (manager, CTL_AGENT_PATH,
                                                               g_variant_builder_end (&options),
                                                               NULL, error);
}

void
ctl_agent_withdraw_all (CtlAgent *self)
{
  /* The ones waiting first: withdrawing the head asks the next one. */
  while (self->requests.length > 1)
    withdraw (self, self->requests.tail, _("(request withdrawn: copilotd left)"));
  if (self->requests.head != NULL)
    withdraw (self, self->requests.head, _("(request withdrawn: copilotd left)"));
}

void
ctl_agent_set_prompt_func (CtlAgent          *self,
                           CtlAgentPromptFunc func,
                           gpointer           user_data)
{
  self->prompt_func = func;
  self->prompt_data = user_data;
}

void
ctl_agent_set_release_func (CtlAgent *self,
                            GCallback func,
                            gpointer  user_data)
{
  self->release_func = func;
  self->release_data = user_data;
}

void
ctl_agent_free (CtlAgent *self)
{
  Request *request;

  if (self == NULL)
    return;

  /* Whatever is still pending gets the neutral answer of its kind: never
   * approve by default. */
  while ((request = g_queue_pop_head (&self->requests)) != NULL)
    {
      if (request->invocation != NULL)
        refuse (request);
      request_free (request);
    }
  if (self->term != NULL)
    ctl_term_cancel_request (self->term);
  if (self->exported)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  g_clear_object (&self->skeleton);
  g_free (self);
}
