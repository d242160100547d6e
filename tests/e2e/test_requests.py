#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: the CLI's requests of DESIGN.md §9 reach clients, with the
real Copilot CLI and the offline model. Forms from an MCP server (a tiny
stdio server written for this test) and URL forms, plan approval, the
switch to the auto model after a rate limit, hooks (a provider that
vanishes or times out), app-defined slash commands, tool results with
images, tool errors that must not reach the model, and every prompt naming
the app that asks."""

import base64
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check, data  # noqa: E402

V = GLib.Variant
HERE = os.path.dirname(os.path.abspath(__file__))
MCP_SERVER = os.path.join(HERE, "mcp_form_server.py")
HOOKS_PATH = "/org/example/Hooks"
COMMANDS_PATH = "/org/example/Commands"
# A 1×1 red PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
                    "0000000c4944415408d763f8cfc000000301010018dd8db40000000049454e44ae426082")
SECRET = "Melbourne-7f3a9c"
# Retry-After of an hour: CLI 1.0.102 fails the turn at once (session.error
# rate_limit) and then asks its client whether to switch to the auto model.
RATE_LIMIT = "FAIL: 429 3600"

AGENT_SIGS = {
    "RequestElicitation": "(ssa{sv})",
    "RequestPlanApproval": "(ba{sv})",
    "RequestModeSwitch": "(sa{sv})",
}


def agent_for(client, capabilities, policies=None):
    agent = h.Agent(client)
    agent.out_sigs.update(AGENT_SIGS)
    agent.policies.update(policies or {})
    agent.register_with_daemon({"capabilities": V("as", capabilities)})
    return agent


class Case:
    """A client owning one session in a fresh working directory."""

    def __init__(self, fx, options=None, client=None):
        self.fx = fx
        self.client = client or fx.new_client()
        self.dir = tempfile.mkdtemp(dir=fx.workdir)
        self.others = []
        opts = {"working-directory": V("s", self.dir)}
        opts.update(options or {})
        self.path = self.client.create_session(opts)
        self.signals = h.Signals(self.client, self.path)
        self.n_requests = len(fx.model_requests())

    def file(self, name):
        return os.path.join(self.dir, name)

    def turn(self, prompt, client=None, signals=None):
        signals = signals or self.signals
        after = self.fx.next_order()
        (client or self.client).send(self.path, prompt)
        _, idle = signals.wait_event("session.idle", after=after)
        return data(idle)

    def requests(self):
        return self.fx.model_requests()[self.n_requests:]

    def close(self):
        for client in [self.client] + self.others:
            if not client.conn.is_closed():
                try:
                    client.call(h.ROOT, "AgentManager", "UnregisterAgent", (h.AGENT_PATH,), "(o)")
                except h.DBusError:
                    pass
        if not self.client.conn.is_closed():
            try:
                self.client.call(self.path, "Session", "Destroy", ({},), "(a{sv})")
            except h.DBusError:
                pass
        for client in [self.client] + self.others:
            client.close()


def mcp_options(log):
    servers = {"paint": {"type": "local", "command": "/usr/bin/python3",
                         "args": [MCP_SERVER, log], "tools": ["*"]}}
    return {"mcp-servers": V("s", json.dumps(servers))}


def wait_mcp_connected(case):
    def connected():
        (result,) = case.client.call(case.path, "Session", "Call", ("session.mcp.list", "{}", {}),
                                     "(ssa{sv})")
        servers = json.loads(result).get("servers", [])
        return any(s.get("name") == "paint" and s.get("status") == "connected" for s in servers)
    h.wait_until(connected, 60, "the MCP server connected")


def read_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test_elicitation_form_reaches_agent(fx):
    log = os.path.join(fx.workdir, "form-accept.jsonl")
    options = mcp_options(log)
    options["client-name"] = V("s", "org.example.Paint")
    client = fx.new_client()
    agent = agent_for(client, ["permission", "elicitation"], {
        "RequestPermission": (1, {}),
        "RequestElicitation": ("accept", json.dumps({"color": "green"}), {}),
    })
    case = Case(fx, options, client)
    try:
        wait_mcp_connected(case)
        case.turn("TOOL: paint-ask_color {}")
        check(agent.count("RequestElicitation") == 1, f"agent calls: {agent.calls}")
        session, request_id, request, schema_json = agent.args_of("RequestElicitation")[0]
        check(session == case.path and request_id, f"RequestElicitation({session}, {request_id})")
        check(json.loads(schema_json)["properties"]["color"]["type"] == "string",
              f"schema: {schema_json}")
        check(request.get("message") == "Pick a color", f"request: {request}")
        check(request.get("mode") == "form", f"request: {request}")
        check(request.get("source") == "paint", f"request: {request}")
        check(request.get("client-name") == "org.example.Paint", f"request: {request}")
        check(request.get("client-pid") == os.getpid(), f"request: {request}")
        check(request.get("working-directory") == case.dir, f"request: {request}")
        answers = read_lines(log)
        check(answers == [{"action": "accept", "content": {"color": "green"}}],
              f"the MCP server received {answers}")
        # The permission prompt for the MCP tool named the app too.
        check(agent.args_of("RequestPermission")[0][2].get("client-name") == "org.example.Paint",
              f"permission request: {agent.args_of('RequestPermission')}")
    finally:
        case.close()


def test_elicitation_without_agent_cancels(fx):
    log = os.path.join(fx.workdir, "form-nobody.jsonl")
    client = fx.new_client()
    agent = agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    case = Case(fx, mcp_options(log), client)
    try:
        wait_mcp_connected(case)
        idle = case.turn("TOOL: paint-ask_color {}")
        check(not idle.get("aborted"), f"session.idle: {idle}")
        answers = read_lines(log)
        check([a.get("action") for a in answers] == ["cancel"], f"the MCP server received {answers}")
        check(agent.count("RequestElicitation") == 0, f"agent calls: {agent.calls}")
    finally:
        case.close()


def test_form_moves_on_when_agent_vanishes(fx):
    # §5 routing for forms: other agents newest first; the newest holds the
    # form and leaves the bus, so the older one is asked and fills it in.
    log = os.path.join(fx.workdir, "form-vanish.jsonl")
    client = fx.new_client()
    agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    case = Case(fx, mcp_options(log), client)
    older, newer = fx.new_client(), fx.new_client()
    case.others += [older, newer]
    filler = agent_for(older, ["elicitation"], {
        "RequestElicitation": ("accept", json.dumps({"color": "blue"}), {})})
    holder = agent_for(newer, ["elicitation"], {"RequestElicitation": h.HOLD})
    try:
        wait_mcp_connected(case)
        after = fx.next_order()
        client.send(case.path, "TOOL: paint-ask_color {}")
        h.wait_until(lambda: holder.held, h.TURN_TIMEOUT, "the newest agent to hold the form")
        newer.close()
        case.signals.wait_event("session.idle", after=after)
        check(filler.count("RequestElicitation") == 1, f"older agent calls: {filler.calls}")
        check(filler.args_of("RequestElicitation")[0][1] == holder.args_of("RequestElicitation")[0][1],
              "the two agents were asked about different requests")
        answers = read_lines(log)
        check(answers == [{"action": "accept", "content": {"color": "blue"}}],
              f"the MCP server received {answers}")
    finally:
        case.close()


def test_form_withdrawn_on_abort(fx):
    log = os.path.join(fx.workdir, "form-abort.jsonl")
    client = fx.new_client()
    agent = agent_for(client, ["permission", "elicitation"], {
        "RequestPermission": (1, {}), "RequestElicitation": h.HOLD})
    case = Case(fx, mcp_options(log), client)
    try:
        wait_mcp_connected(case)
        after = fx.next_order()
        client.send(case.path, "TOOL: paint-ask_color {}")
        h.wait_until(lambda: agent.held, h.TURN_TIMEOUT, "the agent to hold the form")
        request_id = agent.held[0][1][1]
        client.call(case.path, "Session", "Abort", ({},), "(a{sv})")
        h.wait_until(lambda: agent.count("Cancel") == 1, h.TURN_TIMEOUT, "Agent.Cancel")
        check(agent.args_of("Cancel")[0] == (request_id,), f"Cancel {agent.args_of('Cancel')}")
        _, idle = case.signals.wait_event("session.idle", after=after)
        check(data(idle).get("aborted") is True, f"session.idle: {data(idle)}")
        answers = read_lines(log)
        check(all(a.get("action") != "accept" for a in answers), f"the MCP server received {answers}")
        check_next_turn(case, "After the abort")
    finally:
        case.close()


def test_url_elicitation_reaches_agent(fx):
    # CLI 1.0.102 offers MCP servers URL-mode elicitation ("elicitation":
    # {"form": {}, "url": {}}): the agent gets the URL, its accept (no
    # content: nothing is filled in) reaches the server.
    log = os.path.join(fx.workdir, "form-url.jsonl")
    client = fx.new_client()
    agent = agent_for(client, ["permission", "elicitation"], {
        "RequestPermission": (1, {}),
        "RequestElicitation": ("accept", "", {}),
    })
    case = Case(fx, mcp_options(log), client)
    try:
        wait_mcp_connected(case)
        with open(log + ".init") as f:
            offered = json.load(f)["capabilities"].get("elicitation", {})
        check("url" in offered, f"the CLI offered elicitation {offered}")
        case.turn("TOOL: paint-open_page {}")
        check(agent.count("RequestElicitation") == 1, f"agent calls: {agent.calls}")
        _, _, request, schema_json = agent.args_of("RequestElicitation")[0]
        check(request.get("mode") == "url", f"request: {request}")
        check(request.get("url") == "https://paint.example/login", f"request: {request}")
        check(request.get("message") == "Sign in to Paint", f"request: {request}")
        check(request.get("source") == "paint", f"request: {request}")
        answers = read_lines(log)
        # (The CLI passes an accept on with an empty "content".)
        check(len(answers) == 1 and answers[0].get("action") == "accept" and
              not answers[0].get("content"), f"the MCP server received {answers}")
    finally:
        case.close()


def mode_switch_turn(case):
    """A rate-limited turn: the turn fails, then the CLI asks about the
    auto model; the turn ends with session.idle after the answer."""
    after = case.fx.next_order()
    case.turn(RATE_LIMIT)
    _, error = case.signals.wait_event("session.error", after=after)
    check(data(error).get("errorType") == "rate_limit", f"session.error: {data(error)}")
    _, requested = case.signals.wait_event("auto_mode_switch.requested", after=after)
    _, completed = case.signals.wait_event("auto_mode_switch.completed", after=after)
    check(data(completed).get("requestId") == data(requested).get("requestId"),
          f"requested {data(requested)}, completed {data(completed)}")
    return data(requested), data(completed)


def check_next_turn(case, prompt):
    idle_before = case.fx.next_order()
    case.client.send(case.path, prompt)
    _, message = case.signals.wait_event("assistant.message", after=idle_before)
    check(f"You said: {prompt}" in data(message).get("content", ""),
          f"the session did not take the next turn: {data(message)}")
    case.signals.wait_event("session.idle", after=idle_before)


def test_mode_switch_yes_moves_to_auto(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission", "mode-switch"], {"RequestModeSwitch": ("yes", {})})
    case = Case(fx, {"client-name": V("s", "org.example.Editor")}, client)
    try:
        requested, completed = mode_switch_turn(case)
        check(agent.count("RequestModeSwitch") == 1, f"agent calls: {agent.calls}")
        session, request_id, request = agent.args_of("RequestModeSwitch")[0]
        check(session == case.path and request_id == requested.get("requestId"),
              f"RequestModeSwitch({session}, {request_id}), event {requested}")
        check(request.get("error-code") == "rate_limited", f"request: {request}")
        check(request.get("retry-after") == 3600, f"request: {request}")
        check(request.get("client-name") == "org.example.Editor", f"request: {request}")
        check(request.get("client-pid") == os.getpid(), f"request: {request}")
        check(request.get("working-directory") == case.dir, f"request: {request}")
        # The CLI took the yes: it switches the session to the auto model
        # (from the next turn; the failed turn is not retried).
        check(completed.get("response") == "yes", f"completed: {completed}")
        _, change = case.signals.wait_event("session.model_change",
                                            pred=lambda p: data(p).get("newModel") == "auto")
        check(data(change).get("cause") == "rate_limit_auto_switch", f"model_change: {data(change)}")
        h.wait_until(lambda: client.get_property(case.path, "Session", "Model") == "auto", 30,
                     "Model auto")
        # On auto, a rate limit is not eligible for a switch: nobody is asked.
        after = fx.next_order()
        case.turn(RATE_LIMIT)
        _, error = case.signals.wait_event("session.error", after=after)
        check(data(error).get("eligibleForAutoSwitch") is False, f"session.error: {data(error)}")
        check(agent.count("RequestModeSwitch") == 1, f"agent calls: {agent.calls}")
        check_next_turn(case, "After the switch")
    finally:
        case.close()


def test_mode_switch_yes_always(fx):
    # yes-always is the wire's yes_always. CLI 1.0.102 headless keeps
    # nothing of it: a rate limit in another session asks again.
    client = fx.new_client()
    agent = agent_for(client, ["permission", "mode-switch"], {"RequestModeSwitch": ("yes-always", {})})
    case = Case(fx, client=client)
    other = None
    try:
        _, completed = mode_switch_turn(case)
        check(completed.get("response") == "yes_always", f"completed: {completed}")
        h.wait_until(lambda: client.get_property(case.path, "Session", "Model") == "auto", 30,
                     "Model auto")
        other = Case(fx, client=client)
        mode_switch_turn(other)
        check(agent.count("RequestModeSwitch") == 2, f"agent calls: {agent.calls}")
    finally:
        if other is not None:
            other.signals.close()
            client.destroy(other.path)
        case.close()


def test_mode_switch_no_keeps_model(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission", "mode-switch"], {"RequestModeSwitch": ("no", {})})
    case = Case(fx, client=client)
    try:
        _, completed = mode_switch_turn(case)
        check(agent.count("RequestModeSwitch") == 1, f"agent calls: {agent.calls}")
        check(completed.get("response") == "no", f"completed: {completed}")
        check_next_turn(case, "Still on my model")
        model = client.get_property(case.path, "Session", "Model")
        check(model and model != "auto", f"Model {model!r}")
        check(not any(data(p).get("newModel") == "auto"
                      for _, p in case.signals.events("session.model_change")),
              "the session switched to the auto model")
    finally:
        case.close()


def test_mode_switch_without_agent_is_no(fx):
    # An agent without the mode-switch capability is never asked: the
    # answer is no, the turn ends and the session takes the next one.
    client = fx.new_client()
    agent = agent_for(client, ["permission", "user-input", "elicitation", "plan-approval"],
                      {"RequestModeSwitch": ("yes", {})})
    case = Case(fx, client=client)
    try:
        _, completed = mode_switch_turn(case)
        check(agent.count("RequestModeSwitch") == 0, f"agent calls: {agent.calls}")
        check(completed.get("response") == "no", f"completed: {completed}")
        check_next_turn(case, "Nobody switched")
        check(client.get_property(case.path, "Session", "Model") != "auto", "the model switched")
    finally:
        case.close()


def test_client_name_is_derived(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission"], {"RequestPermission": (0, {})})
    case = Case(fx, client=client)
    try:
        case.turn(f"RUN: echo hi > {case.file('x.txt')}")
        check(agent.count("RequestPermission") == 1, f"agent calls: {agent.calls}")
        request = agent.args_of("RequestPermission")[0][2]
        expected = os.path.basename(os.readlink("/proc/self/exe"))
        check(request.get("client-name") == expected,
              f"client-name {request.get('client-name')!r}, expected {expected!r}")
        check(request.get("client-pid") == os.getpid(), f"request: {request}")
        listed = [e for e in case.client.call(h.ROOT, "Manager", "ListSessions", ({},), "(a{sv})")[0]
                  if e.get("object") == case.path]
        check(listed and listed[0].get("client-name") == expected, f"ListSessions: {listed}")
    finally:
        case.close()


def test_tool_error_message_never_reaches_model(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    provider = h.ToolProvider(client)
    provider.policies["Invoke"] = h.Reply.error("org.example.Error.Secret", SECRET)
    tools = [{"name": V("s", "get_location"), "description": V("s", "Where the user is"),
              "provider": V("o", h.TOOLS_PATH), "skip-permission": V("b", True)}]
    case = Case(fx, {"tools": V("aa{sv}", tools)}, client)
    try:
        case.turn("TOOL: get_location {}")
        check(provider.count("Invoke") == 1, f"provider calls: {provider.calls}")
        requests = case.requests()
        check(len(requests) >= 2, f"the model got {len(requests)} requests")
        check(all(SECRET not in json.dumps(r) for r in requests),
              "the provider's error message reached the model")
        completes = case.signals.events("tool.execution_complete")
        check(completes, "no tool.execution_complete")
        del agent
    finally:
        case.close()


def test_tool_image_reaches_model(fx):
    client = fx.new_client()
    provider = h.ToolProvider(client)
    image = {"data": V("ay", PNG), "mime-type": V("s", "image/png"),
             "description": V("s", "one red dot")}
    provider.policies["Invoke"] = (0, "Here is the picture", {"images": V("aa{sv}", [image])})
    tools = [{"name": V("s", "take_picture"), "provider": V("o", h.TOOLS_PATH),
              "skip-permission": V("b", True)}]
    # A model with vision: the CLI sends images only to those.
    case = Case(fx, {"tools": V("aa{sv}", tools), "model": V("s", "claude-sonnet-4.5")}, client)
    try:
        case.turn("TOOL: take_picture {}")
        check(provider.count("Invoke") == 1, f"provider calls: {provider.calls}")
        url = "data:image/png;base64," + base64.b64encode(PNG).decode()
        check(any(url in json.dumps(r) for r in case.requests()),
              "no model request carries the PNG")
    finally:
        case.close()


class Hooks(h.Handler):
    def __init__(self, client, answer):
        super().__init__(client, HOOKS_PATH, "HookProvider", {"Invoke": "(s)"})
        self.policies["Invoke"] = answer


def hooks_option(types):
    return {"hooks": V("aa{sv}", [{"types": V("as", types), "provider": V("o", HOOKS_PATH)}])}


def test_hook_denies_shell_command(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    deny = json.dumps({"permissionDecision": "deny", "permissionDecisionReason": "not in tests"})
    hooks = Hooks(client, lambda args: (deny if args[1] == "preToolUse" else "",))
    case = Case(fx, hooks_option(["preToolUse"]), client)
    try:
        target = case.file("denied.txt")
        case.turn(f"RUN: echo no > {target}")
        pre = [a for a in hooks.args_of("Invoke") if a[1] == "preToolUse"]
        check(pre, f"hook calls: {hooks.calls}")
        check(json.loads(pre[0][2]).get("toolName") == "bash", f"hook input: {pre[0][2]}")
        check(not os.path.exists(target), "the denied command ran")
        check(agent.count("RequestPermission") == 0, f"agent calls: {agent.calls}")
        check(any("not in tests" in json.dumps(r) for r in case.requests()),
              "the model was not told why the tool was denied")
    finally:
        case.close()


def test_vanished_hook_lets_nothing_through(fx):
    # The hook provider's connection owns a persistent session; a second
    # connection of the user drives the turn and refuses the prompt.
    hook_client = fx.new_client()
    hooks = Hooks(hook_client, h.HOLD)
    case = Case(fx, dict(hooks_option(["preToolUse"]), persist=V("b", True)), hook_client)
    driver = fx.new_client()
    case.others.append(driver)
    agent = agent_for(driver, ["permission"], {"RequestPermission": (0, {})})
    driver.call(case.path, "Session", "Subscribe", ({},), "(a{sv})")
    signals = h.Signals(driver, case.path)
    try:
        target = case.file("vanished.txt")
        after = fx.next_order()
        driver.send(case.path, f"RUN: echo yes > {target}")
        h.wait_until(lambda: hooks.held, 60, "the preToolUse hook call")
        hook_client.close()
        signals.wait_event("session.idle", after=after)
        check(not os.path.exists(target), "the command ran although the agent refused")
        check(agent.count("RequestPermission") == 1, f"agent calls: {agent.calls}")
    finally:
        signals.close()
        if not driver.conn.is_closed():
            driver.call(case.path, "Session", "Destroy", ({},), "(a{sv})")
        case.close()


def test_slash_command_reaches_provider(fx):
    client = fx.new_client()
    commands = h.Handler(client, COMMANDS_PATH, "CommandProvider", {"Execute": "(a{sv})"})
    commands.policies["Execute"] = ({},)
    option = {"commands": V("aa{sv}", [{"name": V("s", "deploy"), "description": V("s", "Ship it"),
                                         "provider": V("o", COMMANDS_PATH)}])}
    case = Case(fx, option, client)
    try:
        # The app's command, run as the user would (session.commands.execute).
        client.call(case.path, "Session", "ExecuteCommand", ("/deploy", "production now", {}),
                    "(ssa{sv})")
        h.wait_until(lambda: commands.count("Execute") == 1, 60, "CommandProvider.Execute")
        session, request_id, name, args, context = commands.args_of("Execute")[0]
        check(session == case.path and request_id, f"Execute({session}, {request_id})")
        check(name == "deploy", f"name {name!r}")
        check(args == "production now", f"args {args!r}")
    finally:
        case.close()


def plan_turn(case):
    case.client.call(case.path, "Session", "SetMode", ("plan", {}), "(sa{sv})")
    h.wait_until(lambda: case.client.get_property(case.path, "Session", "Mode") == "plan", 30,
                 "Mode plan")
    return case.turn('TOOL: exit_plan_mode {"summary": "Add a README"}')


def test_plan_approved_leaves_plan_mode(fx):
    client = fx.new_client()
    agent = agent_for(client, ["permission", "plan-approval"], {
        "RequestPermission": (1, {}),
        "RequestPlanApproval": (True, {"action": V("s", "interactive")}),
    })
    case = Case(fx, client=client)
    try:
        plan_turn(case)
        check(agent.count("RequestPlanApproval") == 1, f"agent calls: {agent.calls}")
        request = agent.args_of("RequestPlanApproval")[0][2]
        check(request.get("summary") == "Add a README", f"request: {request}")
        check("interactive" in request.get("actions", []), f"request: {request}")
        h.wait_until(lambda: client.get_property(case.path, "Session", "Mode") == "interactive", 30,
                     "Mode interactive")
    finally:
        case.close()


def test_plan_without_agent_is_not_approved(fx):
    client = fx.new_client()
    agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    case = Case(fx, client=client)
    try:
        plan_turn(case)
        _, completed = case.signals.wait_event("exit_plan_mode.completed")
        check(data(completed).get("approved") is False, f"completed: {data(completed)}")
        check(client.get_property(case.path, "Session", "Mode") == "plan", "the mode changed")
    finally:
        case.close()


def test_timed_out_hook_lets_nothing_through(fx):
    # Last: copilotd restarts with a short hook-timeout. The hook provider
    # never answers; another app of the user drives the turn and its agent
    # refuses. The agent sees the client-name of the app that created the
    # session, not its own.
    check(fx.stop_daemon() == 0, "copilotd did not exit 0 on SIGTERM")
    config = fx.path("hook-timeout.conf")
    with open(config, "w") as f:
        f.write("[copilotd]\nhook-timeout=2\n")
    fx.start_daemon(["--config", config])
    hook_client = fx.new_client()
    hooks = Hooks(hook_client, h.HOLD)
    options = dict(hooks_option(["preToolUse"]), **{"client-name": V("s", "org.example.Hooks")})
    case = Case(fx, options, hook_client)
    driver = fx.new_client()
    case.others.append(driver)
    agent = agent_for(driver, ["permission"], {"RequestPermission": (0, {})})
    driver.call(case.path, "Session", "Subscribe", ({},), "(a{sv})")
    signals = h.Signals(driver, case.path)
    try:
        target = case.file("timed-out.txt")
        case.turn(f"RUN: echo yes > {target}", client=driver, signals=signals)
        check(len(hooks.held) == 1 and not hook_client.conn.is_closed(),
              f"the hook call was not left unanswered: {hooks.calls}")
        check(not os.path.exists(target), "the command ran although the agent refused")
        check(agent.count("RequestPermission") == 1, f"agent calls: {agent.calls}")
        request = agent.args_of("RequestPermission")[0][2]
        check(request.get("client-name") == "org.example.Hooks", f"request: {request}")
    finally:
        signals.close()
        case.close()


if __name__ == "__main__":
    h.run(globals())
