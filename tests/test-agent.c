/* SPDX-License-Identifier: MIT */
/* test-agent.c: an Agent and a ToolProvider served by the test itself */
#include "config.h"

#include <string.h>

#include "copilotd-dbus.h"
#include "test-agent.h"
#include "test-util.h"

/* ---- agent ---- */

typedef struct {
  TestAgent *agent;               /* unowned: the agent removes its sources */
  GDBusMethodInvocation *invocation;  /* unowned: in agent->held */
  guint source_id;
} DelayedAnswer;

static void
agent_reply (TestAgent             *agent,
             GDBusMethodInvocation *invocation)
{
  GVariantBuilder results;
  const char *method;

  if (agent->mode == TEST_AGENT_ERROR)
    {
      g_dbus_method_invocation_return_dbus_error (invocation, "org.example.Error.Broken", "broken");
      return;
    }
  g_variant_builder_init (&results, G_VARIANT_TYPE_VARDICT);
  if (agent->label != NULL)
    g_variant_builder_add (&results, "{sv}", "answered-by", g_variant_new_string (agent->label));
  method = g_dbus_method_invocation_get_method_name (invocation);
  if (strcmp (method, "RequestElicitation") == 0)
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssa{sv})", "accept",
                                                                      "{\"color\":\"green\"}", &results));
  else if (strcmp (method, "RequestPlanApproval") == 0)
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ba{sv})", TRUE, &results));
  else if (strcmp (method, "RequestModeSwitch") == 0)
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(sa{sv})", "yes", &results));
  else if (strcmp (method, "RequestPermission") == 0)
    {
      if (agent->feedback != NULL)
        g_variant_builder_add (&results, "{sv}", "feedback", g_variant_new_string (agent->feedback));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ua{sv})", agent->decision, &results));
    }
  else
    {
      if (agent->answer != NULL)
        {
          g_variant_builder_add (&results, "{sv}", "answer", g_variant_new_string (agent->answer));
          g_variant_builder_add (&results, "{sv}", "was-freeform", g_variant_new_boolean (TRUE));
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ua{sv})", agent->response, &results));
    }
}

static gboolean
on_delayed_answer (gpointer user_data)
{
  DelayedAnswer *delayed = user_data;
  TestAgent *agent = delayed->agent;

  /* held keeps a reference of its own: the reply consumes the handler's. */
  if (g_ptr_array_remove (agent->held, delayed->invocation))
    agent_reply (agent, delayed->invocation);
  delayed->source_id = 0;
  g_ptr_array_remove (agent->delayed, delayed);
  return G_SOURCE_REMOVE;
}

static void
delayed_answer_free (DelayedAnswer *delayed)
{
  g_clear_handle_id (&delayed->source_id, g_source_remove);
  g_free (delayed);
}

static void
agent_method_call (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *path,
                   const char            *iface,
                   const char            *method,
                   GVariant              *params,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  TestAgent *agent = user_data;

  if (strcmp (method, "Cancel") == 0)
    {
      const char *request_id;

      g_variant_get (params, "(&s)", &request_id);
      g_ptr_array_add (agent->cancels, g_strdup (request_id));
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  if (strcmp (method, "Release") == 0)
    {
      agent->n_release++;
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }

  /* RequestPermission, RequestUserInput and the §9 kinds. */
  g_clear_pointer (&agent->last_method, g_free);
  g_clear_pointer (&agent->last_session, g_free);
  g_clear_pointer (&agent->last_request, g_variant_unref);
  g_clear_pointer (&agent->last_request_id, g_free);
  g_clear_pointer (&agent->last_request_json, g_free);
  g_variant_get_child (params, 0, "o", &agent->last_session);
  g_variant_get_child (params, 1, "s", &agent->last_request_id);
  agent->last_request = g_variant_get_child_value (params, 2);
  if (g_variant_n_children (params) > 3)
    g_variant_get_child (params, 3, "s", &agent->last_request_json);
  agent->last_method = g_strdup (method);
  g_ptr_array_add (agent->requests, g_strdup (agent->last_request_id));
  if (agent->log != NULL)
    g_ptr_array_add (agent->log, g_strdup (agent->label));
  if (strcmp (method, "RequestPermission") == 0)
    agent->n_permission++;
  else if (strcmp (method, "RequestUserInput") == 0)
    agent->n_input++;

  if (agent->mode != TEST_AGENT_HOLD && agent->delay_ms == 0)
    {
      agent_reply (agent, invocation);
      return;
    }
  g_ptr_array_add (agent->held, g_object_ref (invocation));
  if (agent->mode != TEST_AGENT_HOLD)
    {
      DelayedAnswer *delayed = g_new0 (DelayedAnswer, 1);

      delayed->agent = agent;
      delayed->invocation = invocation;
      delayed->source_id = g_timeout_add (agent->delay_ms, on_delayed_answer, delayed);
      g_ptr_array_add (agent->delayed, delayed);
    }
}

static const GDBusInterfaceVTable agent_vtable = { agent_method_call, NULL, NULL, { 0 } };

TestAgent *
test_agent_new (GDBusConnection *conn,
                const char      *path)
{
  TestAgent *agent = g_new0 (TestAgent, 1);
  g_autoptr(GError) error = NULL;

  agent->conn = g_object_ref (conn);
  agent->path = g_strdup (path);
  agent->decision = 1;
  agent->requests = g_ptr_array_new_with_free_func (g_free);
  agent->cancels = g_ptr_array_new_with_free_func (g_free);
  agent->held = g_ptr_array_new_with_free_func (g_object_unref);
  agent->delayed = g_ptr_array_new_with_free_func ((GDestroyNotify) delayed_answer_free);
  agent->reg_id = g_dbus_connection_register_object (conn, path, copilotd_dbus_agent_interface_info (),
                                                     &agent_vtable, agent, NULL, &error);
  g_assert_no_error (error);
  return agent;
}

void
test_agent_register (TestAgent *agent)
{
  g_autoptr(GVariant) reply = call_ok (agent->conn, ROOT_PATH, AGENT_MANAGER_IFACE, "RegisterAgent",
                                       g_variant_new ("(oa{sv})", agent->path, NULL), "()");
}

void
test_agent_answer_held (TestAgent *agent)
{
  while (agent->held->len > 0)
    {
      GDBusMethodInvocation *invocation = g_ptr_array_steal_index (agent->held, 0);

      agent_reply (agent, invocation);
      g_object_unref (invocation);
    }
}

void
test_agent_return_held (TestAgent *agent,
                        GVariant  *reply)
{
  GDBusMethodInvocation *invocation;

  g_assert_cmpuint (agent->held->len, >, 0);
  invocation = g_ptr_array_steal_index (agent->held, 0);
  g_dbus_method_invocation_return_value (invocation, reply);
  g_object_unref (invocation);
}

void
test_agent_free (TestAgent *agent)
{
  g_ptr_array_unref (agent->delayed);
  /* Replies on a closed connection are dropped quietly. */
  test_agent_answer_held (agent);
  if (!g_dbus_connection_is_closed (agent->conn))
    g_dbus_connection_unregister_object (agent->conn, agent->reg_id);
  g_object_unref (agent->conn);
  g_free (agent->path);
  g_free (agent->label);
  g_free (agent->feedback);
  g_free (agent->answer);
  g_free (agent->last_method);
  g_free (agent->last_session);
  g_clear_pointer (&agent->last_request, g_variant_unref);
  g_free (agent->last_request_json);
  g_free (agent->last_request_id);
  g_ptr_array_unref (agent->requests);
  g_ptr_array_unref (agent->cancels);
  g_ptr_array_unref (agent->held);
  g_free (agent);
}

/* ---- tool provider ---- */

static void
tool_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *path,
                  const char            *iface,
                  const char            *method,
                  GVariant              *params,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  TestTool *tool = user_data;
  GVariantBuilder extra;

  if (strcmp (method, "Cancel") == 0)
    {
      const char *call_id;

      g_variant_get (params, "(&s)", &call_id);
      g_ptr_array_add (tool->cancels, g_strdup (call_id));
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  tool->n_invoke++;
  g_clear_pointer (&tool->last_session, g_free);
  g_clear_pointer (&tool->last_call_id, g_free);
  g_clear_pointer (&tool->last_tool, g_free);
  g_clear_pointer (&tool->last_args, g_free);
  g_clear_pointer (&tool->last_context, g_variant_unref);
  g_variant_get (params, "(osss@a{sv})", &tool->last_session, &tool->last_call_id,
                 &tool->last_tool, &tool->last_args, &tool->last_context);
  if (tool->answer != NULL && tool->answer (tool, invocation))
    return;
  if (tool->hold)
    {
      g_ptr_array_add (tool->held, g_object_ref (invocation));
      return;
    }
  g_variant_builder_init (&extra, G_VARIANT_TYPE_VARDICT);
  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(usa{sv})", 0, tool->result_text, &extra));
}

static const GDBusInterfaceVTable tool_vtable = { tool_method_call, NULL, NULL, { 0 } };

TestTool *
test_tool_new (GDBusConnection *conn,
               const char      *path,
               const char      *result_text)
{
  TestTool *tool = g_new0 (TestTool, 1);
  g_autoptr(GError) error = NULL;

  tool->conn = g_object_ref (conn);
  tool->path = g_strdup (path);
  tool->result_text = g_strdup (result_text);
  tool->held = g_ptr_array_new_with_free_func (g_object_unref);
  tool->cancels = g_ptr_array_new_with_free_func (g_free);
  tool->reg_id = g_dbus_connection_register_object (conn, path, copilotd_dbus_tool_provider_interface_info (),
                                                    &tool_vtable, tool, NULL, &error);
  g_assert_no_error (error);
  return tool;
}

void
test_tool_return_held (TestTool *tool,
                       GVariant *reply)
{
  GDBusMethodInvocation *invocation;

  g_assert_cmpuint (tool->held->len, >, 0);
  invocation = g_ptr_array_steal_index (tool->held, 0);
  g_dbus_method_invocation_return_value (invocation, reply);
  g_object_unref (invocation);
}

void
test_tool_free (TestTool *tool)
{
  /* Replies on a closed connection are dropped quietly. */
  for (guint i = 0; i < tool->held->len; i++)
    g_dbus_method_invocation_return_dbus_error (g_ptr_array_index (tool->held, i),
                                                "org.freedesktop.DBus.Error.Failed", "gone");
  g_ptr_array_unref (tool->held);
  g_ptr_array_unref (tool->cancels);
  if (!g_dbus_connection_is_closed (tool->conn))
    g_dbus_connection_unregister_object (tool->conn, tool->reg_id);
  g_object_unref (tool->conn);
  g_free (tool->path);
  g_free (tool->result_text);
  g_free (tool->last_tool);
  g_free (tool->last_args);
  g_free (tool->last_session);
  g_free (tool->last_call_id);
  g_clear_pointer (&tool->last_context, g_variant_unref);
  g_free (tool);
}
