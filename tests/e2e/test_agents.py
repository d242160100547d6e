#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: permission prompts, questions and custom tools, with real
prompts from the real Copilot CLI and agents/tool providers exported by
this process.  Every case that makes the model run or write something
asserts whether the file exists: it must appear only when an agent
approved it."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check, data  # noqa: E402

V = GLib.Variant

DENIED_TEXT = "Permission denied and could not request permission from user"


class Case:
    """A client that owns one session in a fresh working directory, with
    optional agent and tool provider; cleaned up by close()."""

    def __init__(self, fx, agent=True, tools=None):
        self.fx = fx
        self.client = fx.new_client()
        self.dir = tempfile.mkdtemp(dir=fx.workdir)
        self.agent = None
        self.extra = []            # (client, agent) to unregister
        self.provider = None
        if agent:
            self.agent = h.Agent(self.client)
            self.agent.register_with_daemon()
        options = {"working-directory": V("s", self.dir)}
        if tools is not None:
            self.provider = h.ToolProvider(self.client)
            options["tools"] = V("aa{sv}", tools)
        self.path = self.client.create_session(options)
        self.signals = h.Signals(self.client, self.path)
        self.n_requests = len(fx.model_requests())

    def file(self, name):
        return os.path.join(self.dir, name)

    def turn(self, prompt):
        """Send and wait for this turn's session.idle; returns its data."""
        after = self.fx.next_order()
        self.client.send(self.path, prompt)
        _, idle = self.signals.wait_event("session.idle", after=after)
        return data(idle)

    def requests(self):
        return self.fx.model_requests()[self.n_requests:]

    def last_tool_message(self):
        requests = self.requests()
        check(requests, "the model got no request")
        tools = [m for m in requests[-1]["messages"] if m.get("role") == "tool"]
        check(tools, "the model's last request has no tool message")
        content = tools[-1].get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        return content

    def close(self):
        c = self.client
        if not c.conn.is_closed():
            if self.agent is not None:
                c.call(h.ROOT, "AgentManager", "UnregisterAgent", (self.agent.path,), "(o)")
            c.call(self.path, "Session", "Destroy", ({},), "(a{sv})")
        for client, agent in self.extra:
            if not client.conn.is_closed():
                client.call(h.ROOT, "AgentManager", "UnregisterAgent", (agent.path,), "(o)")
            client.close()
        c.close()


def read(path):
    with open(path) as f:
        return f.read()


def check_shell_request(case, args, command):
    session, request_id, request, request_json = args
    check(session == case.path, f"RequestPermission for {session}, expected {case.path}")
    check(request_id, "empty request_id")
    check(request.get("kind") == "shell", f"request: {request}")
    check(command in request.get("command", ""), f"request command: {request}")
    raw = json.loads(request_json)
    check(raw.get("kind") == "shell", f"request_json: {request_json}")


def test_shell_approved_once(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestPermission"] = (1, {})
        target = case.file("a.txt")
        command = f"echo approved > {target}"
        idle = case.turn(f"RUN: {command}")
        check(not idle.get("aborted"), f"session.idle: {idle}")
        check(case.agent.count("RequestPermission") == 1,
              f"RequestPermission calls: {case.agent.calls}")
        check_shell_request(case, case.agent.args_of("RequestPermission")[0], command)
        check(os.path.exists(target), "the approved command did not write its file")
        check(read(target) == "approved\n", f"file content {read(target)!r}")
        check(case.signals.events("assistant.message"), "the turn had no answer")
    finally:
        case.close()


def test_shell_rejected_with_feedback(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestPermission"] = (0, {"feedback": V("s", "not today")})
        target = case.file("a.txt")
        case.turn(f"RUN: echo rejected > {target}")
        check(case.agent.count("RequestPermission") == 1,
              f"RequestPermission calls: {case.agent.calls}")
        check(not os.path.exists(target), "a rejected command wrote its file")
        tool = case.last_tool_message()
        check("not today" in tool, f"the model was not told the feedback: {tool!r}")
    finally:
        case.close()


def test_no_agent_denies(fx):
    case = Case(fx, agent=False)
    try:
        target = case.file("a.txt")
        idle = case.turn(f"RUN: echo unattended > {target}")
        check(not idle.get("aborted"), f"session.idle: {idle}")
        check(not os.path.exists(target), "a command ran without any agent")
        tool = case.last_tool_message()
        check(DENIED_TEXT in tool, f"the model's tool result: {tool!r}")
        check(case.client.get_property(case.path, "Session", "State") == "idle",
              "State is not idle after the denied turn")
    finally:
        case.close()


def test_approve_for_session(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestPermission"] = (2, {})
        target = case.file("b.txt")
        prompt = f"RUN: echo again >> {target}"
        case.turn(prompt)
        check(case.agent.count("RequestPermission") == 1,
              f"RequestPermission calls: {case.agent.calls}")
        check(read(target) == "again\n", f"after one turn: {read(target)!r}")
        case.turn(prompt)
        check(case.agent.count("RequestPermission") == 1,
              "the agent was asked again after approving for the session")
        check(read(target) == "again\nagain\n", f"after two turns: {read(target)!r}")
        # The approval covers that command, not every command.
        other = case.file("other.txt")
        case.turn(f"RUN: echo other > {other}")
        check(case.agent.count("RequestPermission") == 2,
              "a different command ran without asking the agent")
        check(read(other) == "other\n", f"the other file: {read(other)!r}")
    finally:
        case.close()


def tool_spec(skip_permission):
    schema = {"type": "object",
              "properties": {"question": {"type": "string"}},
              "required": ["question"]}
    return [{
        "name": V("s", "get_answer"),
        "description": V("s", "Answers any question"),
        "parameters": V("s", json.dumps(schema)),
        "provider": V("o", h.TOOLS_PATH),
        "skip-permission": V("b", skip_permission),
    }]


def run_custom_tool(fx, skip_permission):
    case = Case(fx, tools=tool_spec(skip_permission))
    try:
        case.agent.policies["RequestPermission"] = (1, {})
        case.provider.policies["Invoke"] = (0, "forty-two", {})
        content, _ = case.client.send_and_wait(
            case.path, 'TOOL: get_answer {"question": "life"}')
        check(case.provider.count("Invoke") == 1, f"Invoke calls: {case.provider.calls}")
        session, call_id, name, arguments, context = case.provider.args_of("Invoke")[0]
        check(session == case.path and call_id, f"Invoke({session}, {call_id})")
        check(name == "get_answer", f"Invoke tool name {name!r}")
        check(json.loads(arguments) == {"question": "life"}, f"arguments {arguments!r}")
        tool = case.last_tool_message()
        check("forty-two" in tool, f"the model did not get the tool's text: {tool!r}")
        check("forty-two" in content, f"answer: {content!r}")
        return case.agent.args_of("RequestPermission")
    finally:
        case.close()


def test_custom_tool_with_permission(fx):
    asked = run_custom_tool(fx, skip_permission=False)
    check(len(asked) == 1, f"RequestPermission calls: {asked}")
    request = asked[0][2]
    check(request.get("kind") == "custom-tool" and request.get("tool-name") == "get_answer",
          f"request: {request}")


def test_custom_tool_skip_permission(fx):
    asked = run_custom_tool(fx, skip_permission=True)
    check(not asked, f"skip-permission still asked: {asked}")


def test_custom_tool_rejected_not_invoked(fx):
    case = Case(fx, tools=tool_spec(False))
    try:
        case.agent.policies["RequestPermission"] = (0, {})
        case.provider.policies["Invoke"] = (0, "forty-two", {})
        case.turn('TOOL: get_answer {"question": "life"}')
        check(case.agent.count("RequestPermission") == 1, f"calls: {case.agent.calls}")
        check(case.provider.count("Invoke") == 0, "a rejected tool was invoked")
    finally:
        case.close()


def test_ask_user(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestUserInput"] = (
            0, {"answer": V("s", "blue"), "was-freeform": V("b", False)})
        content, _ = case.client.send_and_wait(case.path, "ASK: favourite colour? | red | blue")
        check(case.agent.count("RequestUserInput") == 1, f"calls: {case.agent.calls}")
        session, request_id, request = case.agent.args_of("RequestUserInput")[0]
        check(session == case.path and request_id, f"RequestUserInput({session}, {request_id})")
        check(request.get("question") == "favourite colour?", f"request: {request}")
        check(request.get("choices") == ["red", "blue"], f"request: {request}")
        tool = case.last_tool_message()
        check("blue" in tool, f"the model did not get the answer: {tool!r}")
    finally:
        case.close()


def test_waiting_state_and_cancel_on_abort(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestPermission"] = h.HOLD
        target = case.file("held.txt")
        after = fx.next_order()
        case.client.send(case.path, f"RUN: echo held > {target}")
        h.wait_until(lambda: case.agent.held, what="RequestPermission", alive=case.client.alive)
        request_id = case.agent.held[0][1][1]
        state = case.client.get_property(case.path, "Session", "State")
        check(state == "waiting", f"State while an agent holds the prompt: {state!r}")
        case.client.call(case.path, "Session", "Abort", ({},), "(a{sv})")
        h.wait_until(lambda: case.agent.count("Cancel"), what="Cancel", alive=case.client.alive)
        check(case.agent.args_of("Cancel") == [(request_id,)],
              f"Cancel calls: {case.agent.args_of('Cancel')}")
        _, idle = case.signals.wait_event("session.idle", after=after)
        check(data(idle).get("aborted") is True, f"session.idle: {idle[3]}")
        # A late answer is ignored.
        case.agent.answer_held("RequestPermission", (1, {}))
        case.client.call(h.ROOT, "Manager", "Ping", ("sync",), "(s)")
        check(not os.path.exists(target), "an aborted, unanswered prompt ran its command")
        state = case.client.get_property(case.path, "Session", "State")
        check(state == "idle", f"State after abort: {state!r}")
    finally:
        case.close()


def test_agent_exits_mid_prompt(fx):
    case = Case(fx, agent=False)
    try:
        leaving = fx.new_client()
        agent = h.Agent(leaving)
        agent.policies["RequestPermission"] = h.HOLD
        agent.register_with_daemon()
        case.extra.append((leaving, agent))
        backup = fx.new_client()
        fallback = h.Agent(backup)
        fallback.policies["RequestPermission"] = (1, {})
        fallback.register_with_daemon({"fallback": V("b", True)})
        case.extra.append((backup, fallback))

        target = case.file("c.txt")
        after = fx.next_order()
        case.client.send(case.path, f"RUN: echo fallback > {target}")
        h.wait_until(lambda: agent.held, what="the first agent's RequestPermission",
                     alive=case.client.alive)
        check(fallback.count("RequestPermission") == 0,
              "the fallback agent was asked before the first one")
        state = case.client.get_property(case.path, "Session", "State")
        check(state == "waiting", f"State while an agent holds the prompt: {state!r}")
        leaving.close()
        _, idle = case.signals.wait_event("session.idle", after=after)
        check(fallback.count("RequestPermission") == 1,
              f"fallback calls: {fallback.calls}")
        check(os.path.exists(target), "the fallback's approval did not run the command")
        check(read(target) == "fallback\n", f"file content {read(target)!r}")
    finally:
        case.close()


def test_agent_error_moves_to_next(fx):
    case = Case(fx)
    try:
        case.agent.policies["RequestPermission"] = h.Reply.error(
            "org.example.Agent.Error.Busy", "busy elsewhere")
        backup = fx.new_client()
        fallback = h.Agent(backup)
        fallback.policies["RequestPermission"] = (1, {})
        fallback.register_with_daemon({"fallback": V("b", True)})
        case.extra.append((backup, fallback))
        target = case.file("d.txt")
        case.turn(f"RUN: echo second > {target}")
        check(case.agent.count("RequestPermission") == 1, f"owner's agent: {case.agent.calls}")
        check(fallback.count("RequestPermission") == 1, f"fallback: {fallback.calls}")
        check(read(target) == "second\n", "the fallback's approval did not run the command")
    finally:
        case.close()


if __name__ == "__main__":
    h.run(globals())
