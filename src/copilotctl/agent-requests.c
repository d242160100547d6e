/* SPDX-License-Identifier: MIT */
/* agent-requests.c: forms, plans and mode switches on the terminal
 *
 * The three Agent requests of DESIGN.md §9 for `copilotctl agent` and
 * `ask`: an MCP server's form is asked field by field (its JSON Schema's
 * properties, in order), a plan is shown with its actions to pick from,
 * and the switch to the auto model after a rate limit is a yes/always/no
 * question. Without a terminal, --yes and --no decide; otherwise the
 * neutral answer (cancel, not approved, no) is given.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "agent-private.h"

/* A string of the request, kept with it: a string looked up in a dict
 * that came over the bus may not outlive the lookup. */
const char *
agent_request_string (Request    *request,
                      const char *key)
{
  char *value = NULL;

  if (request->strings == NULL)
    request->strings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_lookup_extended (request->strings, key, NULL, (gpointer *) &value))
    return value;
  if (!g_variant_lookup (request->request, key, "s", &value))
    value = NULL;
  g_hash_table_insert (request->strings, g_strdup (key), value);
  return value;
}

static const char *
request_string (Request    *request,
                const char *key)
{
  return agent_request_string (request, key);
}

void
agent_request_clear (Request *request)
{
  g_clear_pointer (&request->strings, g_hash_table_unref);
  g_clear_pointer (&request->schema_json, g_free);
  g_clear_pointer (&request->properties, json_object_unref);
  g_clear_pointer (&request->field_names, g_ptr_array_unref);
  g_clear_pointer (&request->content, json_object_unref);
}

/* ---- answers ------------------------------------------------------------ */

static void
report_json (Request    *request,
             const char *type,
             const char *answer)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *session_id = ctl_session_id_from_path (request->session_path);
  const char *client = request_string (request, "client-name");

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, session_id);
  if (client != NULL)
    {
      json_builder_set_member_name (builder, "client_name");
      json_builder_add_string_value (builder, client);
    }
  json_builder_set_member_name (builder, "answer");
  json_builder_add_string_value (builder, answer);
  json_builder_end_object (builder);
  ctl_json_print_builder (builder);
}

static void
complete_elicitation (Request    *request,
                      const char *action)
{
  g_autofree char *content = NULL;

  if (g_str_equal (action, "accept") && request->content != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), request->content);

      content = json_to_string (node, FALSE);
    }
  if (request->agent->ctl->json)
    report_json (request, "elicitation", action);
  copilotd_dbus_agent_complete_request_elicitation (request->agent->skeleton,
                                                    g_steal_pointer (&request->invocation),
                                                    action, content ? content : "{}",
                                                    g_variant_new ("a{sv}", NULL));
}

static void
complete_plan (Request    *request,
               gboolean    approved,
               const char *action,
               const char *feedback)
{
  g_auto(GVariantBuilder) results = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  if (approved && action != NULL)
    g_variant_builder_add (&results, "{sv}", "action", g_variant_new_string (action));
  if (!approved && feedback != NULL && *feedback != '\0')
    g_variant_builder_add (&results, "{sv}", "feedback", g_variant_new_string (feedback));
  if (request->agent->ctl->json)
    report_json (request, "plan", approved ? (action ? action : "approved") : "rejected");
  copilotd_dbus_agent_complete_request_plan_approval (request->agent->skeleton,
                                                      g_steal_pointer (&request->invocation),
                                                      approved, g_variant_builder_end (&results));
}

static void
complete_mode_switch (Request    *request,
                      const char *answer)
{
  if (request->agent->ctl->json)
    report_json (request, "mode_switch", answer);
  copilotd_dbus_agent_complete_request_mode_switch (request->agent->skeleton,
                                                    g_steal_pointer (&request->invocation),
                                                    answer, g_variant_new ("a{sv}", NULL));
}

void
agent_request_refuse (Request *request)
{
  switch (request->kind)
    {
    case REQUEST_ELICITATION:
      complete_elicitation (request, "cancel");
      break;
    case REQUEST_PLAN:
      complete_plan (request, FALSE, NULL, NULL);
      break;
    case REQUEST_MODE_SWITCH:
      complete_mode_switch (request, "no");
      break;
    case REQUEST_PERMISSION:
    case REQUEST_USER_INPUT:
    default:
      g_assert_not_reached ();
    }
}

/* ---- the form's fields -------------------------------------------------- */

static void
load_fields (Request *request)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root, *properties;

  request->field_names = g_ptr_array_new_with_free_func (g_free);
  request->content = json_object_new ();
  if (request->schema_json == NULL ||
      !json_parser_load_from_data (parser, request->schema_json, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  properties = json_object_get_member (json_node_get_object (root), "properties");
  if (properties == NULL || !JSON_NODE_HOLDS_OBJECT (properties))
    return;
  request->properties = json_object_ref (json_node_get_object (properties));
  {
    g_autoptr(GList) names = json_object_get_members (request->properties);

    for (GList *l = names; l != NULL; l = l->next)
      if (JSON_NODE_HOLDS_OBJECT (json_object_get_member (request->properties, l->data)))
        g_ptr_array_add (request->field_names, g_strdup (l->data));
  }
}

static JsonObject *
field_schema (Request *request)
{
  const char *name = g_ptr_array_index (request->field_names, request->field);

  return json_object_get_object_member (request->properties, name);
}

static const char *
schema_string (JsonObject *schema,
               const char *member)
{
  JsonNode *node = json_object_get_member (schema, member);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonArray *
field_choices (JsonObject *schema)
{
  JsonNode *node = json_object_get_member (schema, "enum");

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* Stores @text as the current field's value; FALSE when it does not fit. */
static gboolean
set_field (Request    *request,
           const char *text)
{
  JsonObject *schema = field_schema (request);
  const char *name = g_ptr_array_index (request->field_names, request->field);
  const char *type = schema_string (schema, "type");
  JsonArray *choices = field_choices (schema);
  guint64 number;

  if (*text == '\0')
    {
      JsonNode *fallback = json_object_get_member (schema, "default");

      if (fallback != NULL)
        json_object_set_member (request->content, name, json_node_copy (fallback));
      return TRUE;   /* left out: the server decides whether it was required */
    }
  if (choices != NULL)
    {
      guint n = json_array_get_length (choices);

      if (g_ascii_string_to_unsigned (text, 10, 1, n, &number, NULL))
        {
          json_object_set_member (request->content, name,
                                  json_node_copy (json_array_get_element (choices, number - 1)));
          return TRUE;
        }
      for (guint i = 0; i < n; i++)
        if (g_strcmp0 (json_array_get_string_element (choices, i), text) == 0)
          {
            json_object_set_string_member (request->content, name, text);
            return TRUE;
          }
      return FALSE;
    }
  if (g_strcmp0 (type, "boolean") == 0)
    {
      if (g_ascii_strcasecmp (text, "y") == 0 || g_ascii_strcasecmp (text, "yes") == 0 ||
          g_ascii_strcasecmp (text, "true") == 0)
        json_object_set_boolean_member (request->content, name, TRUE);
      else if (g_ascii_strcasecmp (text, "n") == 0 || g_ascii_strcasecmp (text, "no") == 0 ||
               g_ascii_strcasecmp (text, "false") == 0)
        json_object_set_boolean_member (request->content, name, FALSE);
      else
        return FALSE;
      return TRUE;
    }
  if (g_strcmp0 (type, "integer") == 0 || g_strcmp0 (type, "number") == 0)
    {
      char *end = NULL;
      double value = g_ascii_strtod (text, &end);

      if (end == text || *end != '\0')
        return FALSE;
      if (g_strcmp0 (type, "integer") == 0)
        {
          if (value != (double) (gint64) value)
            return FALSE;
          json_object_set_int_member (request->content, name, (gint64) value);
        }
      else
        json_object_set_double_member (request->content, name, value);
      return TRUE;
    }
  json_object_set_string_member (request->content, name, text);
  return TRUE;
}

/* --yes fills in defaults; a form with a required field without one is
 * declined: an answer is never invented. */
static gboolean
fill_defaults (Request *request)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *required = NULL;
  JsonNode *root;

  for (request->field = 0; request->field < request->field_names->len; request->field++)
    set_field (request, "");
  if (request->schema_json != NULL &&
      json_parser_load_from_data (parser, request->schema_json, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root) &&
      json_object_has_member (json_node_get_object (root), "required") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "required")))
    required = json_object_get_array_member (json_node_get_object (root), "required");
  for (guint i = 0; required != NULL && i < json_array_get_length (required); i++)
    {
      const char *name = json_array_get_string_element (required, i);

      if (name != NULL && !json_object_has_member (request->content, name))
        return FALSE;
    }
  return TRUE;
}

/* ---- showing and asking ------------------------------------------------- */

void
agent_show_asker (CtlAgent *self,
                  Request  *request,
                  FILE     *out)
{
  const char *client = request_string (request, "client-name");
  guint32 pid = 0;

  if (client == NULL || *client == '\0')
    return;
  if (g_variant_lookup (request->request, "client-pid", "u", &pid) && pid != 0)
    fprintf (out, "  %-10s %s (pid %u)\n", _("App:"), client, pid);
  else
    fprintf (out, "  %-10s %s\n", _("App:"), client);
}

static void
show_session (CtlAgent *self,
              Request  *request,
              FILE     *out)
{
  g_autofree char *session_id = NULL;

  agent_show_asker (self, request, out);
  if (!self->show_session)
    return;
  session_id = ctl_session_id_from_path (request->session_path);
  fprintf (out, "  %-10s %s\n", _("Session:"), session_id);
}

void
agent_request_show (CtlAgent *self,
                    Request  *request,
                    FILE     *out)
{
  const char *bold = ctl_style (out, CTL_STYLE_BOLD);
  const char *yellow = ctl_style (out, CTL_STYLE_YELLOW);
  const char *reset = ctl_style (out, CTL_STYLE_RESET);

  switch (request->kind)
    {
    case REQUEST_ELICITATION:
      {
        const char *source = request_string (request, "source");
        const char *url = request_string (request, "url");

        fprintf (out, "\n%s%s%s%s\n", bold, yellow,
                 source ? _("An MCP server asks for input") : _("Copilot asks for input"), reset);
        show_session (self, request, out);
        if (source != NULL)
          fprintf (out, "  %-10s %s\n", _("Server:"), source);
        fprintf (out, "  %s%s%s\n", bold, request_string (request, "message") ?: "", reset);
        if (url != NULL)
          fprintf (out, "  %-10s %s\n", _("URL:"), url);
        for (guint i = 0; i < request->field_names->len; i++)
          {
            JsonObject *schema = json_object_get_object_member (request->properties,
                                                                g_ptr_array_index (request->field_names, i));
            const char *description = schema_string (schema, "description");

            fprintf (out, "  - %s%s%s%s%s\n", (char *) g_ptr_array_index (request->field_names, i),
                     description ? " (" : "", description ? description : "", description ? ")" : "",
                     "");
          }
      }
      break;
    case REQUEST_PLAN:
      {
        g_autofree const char **actions = NULL;
        const char *recommended = request_string (request, "recommended-action");
        const char *plan = request_string (request, "plan");

        fprintf (out, "\n%s%s%s%s\n", bold, yellow, _("Copilot has a plan"), reset);
        show_session (self, request, out);
        fprintf (out, "  %-10s %s%s%s\n", _("Summary:"), bold, request_string (request, "summary") ?: "", reset);
        if (plan != NULL && *plan != '\0')
          {
            g_auto(GStrv) lines = g_strsplit (plan, "\n", -1);

            for (guint i = 0; lines[i] != NULL; i++)
              fprintf (out, "    %s\n", lines[i]);
          }
        if (g_variant_lookup (request->request, "actions", "^a&s", &actions))
          for (guint i = 0; actions[i] != NULL; i++)
            fprintf (out, "  %u) %s%s\n", i + 1, actions[i],
                     g_strcmp0 (actions[i], recommended) == 0 ? _(" (recommended)") : "");
      }
      break;
    case REQUEST_MODE_SWITCH:
      {
        const char *code = request_string (request, "error-code");
        guint32 retry = 0;

        fprintf (out, "\n%s%s%s%s\n", bold, yellow, _("Copilot hit a rate limit"), reset);
        show_session (self, request, out);
        if (code != NULL)
          fprintf (out, "  %-10s %s\n", _("Error:"), code);
        if (g_variant_lookup (request->request, "retry-after", "u", &retry))
          fprintf (out, "  %-10s %u s\n", _("Retry in:"), retry);
        fprintf (out, "  %s\n", _("Switch to the auto model from the next turn?"));
      }
      break;
    case REQUEST_PERMISSION:
    case REQUEST_USER_INPUT:
    default:
      g_assert_not_reached ();
    }
}

void
agent_request_show_question (CtlAgent *self,
                             Request  *request,
                             FILE     *out)
{
  if (request->kind == REQUEST_ELICITATION && request->stage == STAGE_FIELD)
    {
      JsonObject *schema = field_schema (request);
      JsonArray *choices = field_choices (schema);
      const char *type = schema_string (schema, "type");

      for (guint i = 0; choices != NULL && i < json_array_get_length (choices); i++)
        fprintf (out, "    %u) %s\n", i + 1, json_array_get_string_element (choices, i) ?: "?");
      fprintf (out, "  %s%s%s: ", (char *) g_ptr_array_index (request->field_names, request->field),
               g_strcmp0 (type, "boolean") == 0 ? " [y/n]" : "",
               choices != NULL ? _(" (number)") : "");
    }
  else if (request->kind == REQUEST_ELICITATION)
    fputs (_("Fill in? [y]es / [n]o (decline) / [c]ancel: "), out);
  else if (request->kind == REQUEST_PLAN && request->stage == STAGE_REASON)
    fputs (_("What should change (told to Copilot, optional): "), out);
  else if (request->kind == REQUEST_PLAN)
    fputs (_("Approve? [Enter] recommended / action number / [n]o: "), out);
  else
    fputs (_("Switch? [y]es / [a]lways / [n]o: "), out);
  fflush (out);
}

static gboolean
is_answer (const char *answer,
           const char *short_form,
           const char *long_form)
{
  return g_ascii_strcasecmp (answer, short_form) == 0 || g_ascii_strcasecmp (answer, long_form) == 0;
}

gboolean
agent_request_handle_line (CtlAgent   *self,
                           Request    *request,
                           const char *answer)
{
  if (request->kind == REQUEST_ELICITATION)
    {
      if (request->stage == STAGE_FIELD)
        {
          if (!set_field (request, answer))
            return FALSE;
          if (++request->field < request->field_names->len)
            return FALSE;
          complete_elicitation (request, "accept");
          return TRUE;
        }
      if (is_answer (answer, "n", "no"))
        complete_elicitation (request, "decline");
      else if (is_answer (answer, "c", "cancel"))
        complete_elicitation (request, "cancel");
      else if (is_answer (answer, "y", "yes") && request->field_names->len > 0)
        {
          request->stage = STAGE_FIELD;
          request->field = 0;
          return FALSE;
        }
      else if (is_answer (answer, "y", "yes"))
        complete_elicitation (request, "accept");
      else
        return FALSE;
      return TRUE;
    }

  if (request->kind == REQUEST_PLAN)
    {
      g_autofree const char **actions = NULL;
      guint n_actions = 0;
      guint64 number;

      if (request->stage == STAGE_REASON)
        {
          complete_plan (request, FALSE, NULL, answer);
          return TRUE;
        }
      if (g_variant_lookup (request->request, "actions", "^a&s", &actions))
        n_actions = g_strv_length ((char **) actions);
      if (*answer == '\0')
        {
          complete_plan (request, TRUE, request_string (request, "recommended-action"), NULL);
          return TRUE;
        }
      if (n_actions > 0 && g_ascii_string_to_unsigned (answer, 10, 1, n_actions, &number, NULL))
        {
          complete_plan (request, TRUE, actions[number - 1], NULL);
          return TRUE;
        }
      if (is_answer (answer, "n", "no"))
        request->stage = STAGE_REASON;
      return FALSE;
    }

  if (is_answer (answer, "y", "yes"))
    complete_mode_switch (request, "yes");
  else if (is_answer (answer, "a", "always"))
    complete_mode_switch (request, "yes-always");
  else if (is_answer (answer, "n", "no"))
    complete_mode_switch (request, "no");
  else
    return FALSE;
  return TRUE;
}

void
agent_request_answer_without_asking (CtlAgent *self,
                                     Request  *request)
{
  gboolean yes = self->mode == CTL_ANSWER_YES;
  gboolean human = !self->ctl->json;
  const char *what = request->kind == REQUEST_ELICITATION ? _("form")
                     : request->kind == REQUEST_PLAN ? _("plan") : _("mode switch");

  if (human && self->mode == CTL_ANSWER_ASK)
    ctl_printerr (_("%s refused (no terminal; use --yes or --no)"), what);
  else if (human)
    fprintf (stderr, "%s%s %s: %s%s\n", ctl_style (stderr, CTL_STYLE_DIM), ctl_glyph ("▸", ">"),
             what, yes ? _("accepted (--yes)") : _("refused (--no)"),
             ctl_style (stderr, CTL_STYLE_RESET));

  if (request->kind == REQUEST_ELICITATION)
    {
      if (self->mode == CTL_ANSWER_ASK)
        complete_elicitation (request, "cancel");
      else if (yes && fill_defaults (request))
        complete_elicitation (request, "accept");
      else
        complete_elicitation (request, "decline");
    }
  else if (request->kind == REQUEST_PLAN)
    complete_plan (request, yes, request_string (request, "recommended-action"), NULL);
  else
    complete_mode_switch (request, yes ? "yes" : "no");
}

void
agent_request_prepare (Request *request)
{
  if (request->kind == REQUEST_ELICITATION)
    load_fields (request);
}
