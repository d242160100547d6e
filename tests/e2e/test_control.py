#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: the session control surface of DESIGN.md §8 (modes, plans,
names, info, compaction, rewind, slash commands, Call) with the real
Copilot CLI and the offline model."""

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Gio, GLib, check, data  # noqa: E402

V = GLib.Variant


class Case:
    """A client owning one session in its own working directory, with an
    agent that approves every permission prompt."""

    def __init__(self, fx, **options):
        self.fx = fx
        self.client = fx.new_client()
        self.dir = tempfile.mkdtemp(dir=fx.workdir)
        self.agent = h.Agent(self.client)
        self.agent.policies["RequestPermission"] = (1, {})
        self.agent.register_with_daemon()
        opts = {"working-directory": V("s", self.dir)}
        opts.update(options)
        self.path = self.client.create_session(opts)
        self.signals = h.Signals(self.client, self.path)

    def call(self, method, args=None, sig=None, **kw):
        return self.client.call(self.path, "Session", method, args, sig, **kw)

    def error(self, method, args=None, sig=None):
        return self.client.call_error(self.path, "Session", method, args, sig)

    def turn(self, prompt, options=None):
        after = self.fx.next_order()
        self.client.send(self.path, prompt, options)
        _, idle = self.signals.wait_event("session.idle", after=after)
        return data(idle)

    def info(self, **options):
        (info,) = self.call("GetInfo", ({k: V("b", v) for k, v in options.items()},), "(a{sv})")
        return info

    def prompts(self):
        return [json.loads(d).get("content") for t, m, d in self.client.messages(self.path)
                if t == "user.message"]

    def close(self):
        c = self.client
        if not c.conn.is_closed():
            c.call(h.ROOT, "AgentManager", "UnregisterAgent", (self.agent.path,), "(o)")
            c.call(self.path, "Session", "Destroy", ({},), "(a{sv})")
        self.signals.close()
        c.close()


def run_case(fx, body, **options):
    case = Case(fx, **options)
    try:
        body(case)
    finally:
        case.close()


def check_error(err, name, *words):
    check(err.name == h.ERROR + name, f"expected {name}, got {err.name}: {err.text}")
    for word in words:
        check(word in err.text, f"the error does not name {word!r}: {err.text}")


def test_set_mode(fx):
    def body(case):
        check(case.client.get_property(case.path, "Session", "Mode") == "interactive",
              "a new session is not in interactive mode")
        case.call("SetMode", ("plan", {}), "(sa{sv})")
        h.wait_until(lambda: case.client.get_property(case.path, "Session", "Mode") == "plan",
                     what="the Mode property to become plan")
        # What the CLI itself reports, not what the daemon remembers.
        (mode,) = case.call("Call", ("session.mode.get", "", {}), "(ssa{sv})")
        check(json.loads(mode) == "plan", f"the CLI reports mode {mode}")
        check(case.info()["mode"] == "plan", f"GetInfo: {case.info()}")
        changed = case.signals.events("session.mode_changed")
        check(changed and data(changed[-1][1])["newMode"] == "plan",
              f"no session.mode_changed event: {changed}")
        case.call("SetMode", ("autopilot", {}), "(sa{sv})")
        h.wait_until(lambda: case.client.get_property(case.path, "Session", "Mode") == "autopilot",
                     what="the Mode property to become autopilot")
        check_error(case.error("SetMode", ("bogus", {}), "(sa{sv})"), "InvalidArgs", "bogus")
        check(case.client.get_property(case.path, "Session", "Mode") == "autopilot",
              "a refused SetMode changed the mode")
    run_case(fx, body)


def test_plan_round_trip(fx):
    def body(case):
        content, info = case.call("GetPlan", ({},), "(a{sv})")
        check(content == "" and info["exists"] is False, f"a new session has a plan: {content!r} {info}")
        plan = "# Plan\n\n1. Read the code\n2. Änderungen schreiben\n"
        case.call("SetPlan", (plan, {}), "(sa{sv})")
        content, info = case.call("GetPlan", ({},), "(a{sv})")
        check(content == plan, f"GetPlan returned {content!r}")
        check(info["exists"] is True and info["path"].endswith("plan.md"), f"info: {info}")
        with open(info["path"]) as f:
            check(f.read() == plan, "the plan file does not hold the plan")
        case.call("DeletePlan", ({},), "(a{sv})")
        content, info = case.call("GetPlan", ({},), "(a{sv})")
        check(content == "" and info["exists"] is False, f"after DeletePlan: {content!r} {info}")
    run_case(fx, body)


def test_name_and_info(fx):
    def body(case):
        info = case.info()
        check(info["name"] == "", f"a new session has a name: {info}")
        check(info["working-directory"] == case.dir, f"working-directory: {info}")
        check(info["workspace-path"], f"no workspace-path: {info}")
        check("model" in info and info["mode"] == "interactive", f"info: {info}")
        case.call("SetName", ("  Release notes  ", {}), "(sa{sv})")
        check(case.info()["name"] == "Release notes", f"GetInfo after SetName: {case.info()}")
        check_error(case.error("SetName", ("   ", {}), "(sa{sv})"), "InvalidArgs", "name")
        check_error(case.error("SetName", ("x" * 101, {}), "(sa{sv})"), "InvalidArgs", "100")

        before = case.info(context=True)
        check(before["context-tokens"] == 0, f"context before any turn: {before}")
        case.turn("Count my tokens")
        (meta,) = case.client.manager("GetSessionMetadata",
                                      (case.client.get_property(case.path, "Session", "Id"),), "(s)")
        check(meta.get("name") == "Release notes", f"GetSessionMetadata: {meta}")
        info = case.info(context=True, usage=True)
        check(info["context-tokens"] > 0, f"no context tokens after a turn: {info}")
        check(info["context-limit"] >= info["context-tokens"], f"context limit: {info}")
        check(json.loads(info["context-json"])["contextInfo"]["totalTokens"] == info["context-tokens"],
              f"context-json: {info['context-json']}")
        usage = json.loads(info["usage-json"])
        check(usage["totalUserRequests"] >= 1, f"usage-json: {usage}")
        for key in ("premium-requests", "lines-added", "lines-removed", "files-modified"):
            check(key in info, f"GetInfo usage lacks {key}: {info}")
        check_error(case.error("GetInfo", ({"usage": V("s", "yes")},), "(a{sv})"), "InvalidArgs", "usage")
    run_case(fx, body)


def test_rewind_restores_files(fx):
    def body(case):
        first, second = os.path.join(case.dir, "first.txt"), os.path.join(case.dir, "second.txt")
        case.turn(f"WRITE: {first} one")
        case.turn(f"WRITE: {second} two")
        check(os.path.exists(first) and os.path.exists(second), "the turns did not write their files")
        (points,) = case.call("ListRewindPoints", ({},), "(a{sv})")
        check(len(points) == 2, f"expected two rewind points, got {points}")
        check(points[1]["prompt"].startswith("WRITE: " + second), f"points: {points}")
        check(points[1]["can-restore-files"] and points[1]["file-count"] == 1, f"points: {points}")

        (preview,) = case.call("Rewind", (points[1]["event-id"], {"preview": V("b", True)}), "(sa{sv})")
        check(preview["outcome"] == "preview" and preview["files"] == [second], f"preview: {preview}")
        check(os.path.exists(second), "a preview changed the files")
        check(len(case.prompts()) == 2, "a preview changed the history")

        (result,) = case.call("Rewind", (points[1]["event-id"], {"restore-files": V("b", True)}), "(sa{sv})")
        check(result["events-removed"] > 0, f"Rewind: {result}")
        prompts = case.prompts()
        check(len(prompts) == 1 and prompts[0].startswith("WRITE: " + first),
              f"after Rewind the history still holds {prompts}")
        check(not os.path.exists(second), f"restore-files left {second}: {result}")
        check(os.path.exists(first), "Rewind removed the first turn's file")
        check_error(case.error("Rewind", ("no-such-event", {}), "(sa{sv})"), "Failed", "no-such-event")
    run_case(fx, body)


def test_rewind_keeps_files_by_default(fx):
    def body(case):
        case.turn("First question")
        target = os.path.join(case.dir, "kept.txt")
        case.turn(f"WRITE: {target} kept")
        (points,) = case.call("ListRewindPoints", ({},), "(a{sv})")
        (result,) = case.call("Rewind", (points[1]["event-id"], {}), "(sa{sv})")
        check(result["outcome"] == "success", f"Rewind: {result}")
        check(case.prompts() == ["First question"], f"history: {case.prompts()}")
        check(os.path.exists(target), "a conversation-only rewind removed a file")
    run_case(fx, body)


def test_rewind_without_tracking(fx):
    def body(case):
        case.turn("First question")
        target = os.path.join(case.dir, "untracked.txt")
        case.turn(f"WRITE: {target} x")
        (points,) = case.call("ListRewindPoints", ({},), "(a{sv})")
        check(not points[1]["can-restore-files"], f"points without tracking: {points}")
    run_case(fx, body, **{"track-file-changes": V("b", False)})


def test_commands(fx):
    def body(case):
        (commands,) = case.call("ListCommands", ({},), "(a{sv})")
        names = {c["name"]: c for c in commands}
        check("rename" in names and "compact" in names, f"commands: {sorted(names)}")
        check(names["rename"]["kind"] == "builtin" and names["rename"]["description"],
              f"rename: {names['rename']}")
        (result,) = case.call("ExecuteCommand", ("/rename", "Renamed by command", {}), "(ssa{sv})")
        check(result["kind"] == "text" and "Renamed by command" in result["text"], f"result: {result}")
        check(case.info()["name"] == "Renamed by command", f"GetInfo: {case.info()}")
        check_error(case.error("ExecuteCommand", ("no-such-command", "", {}), "(ssa{sv})"),
                    "Failed", "no-such-command")
        check_error(case.error("ExecuteCommand", ("", "", {}), "(ssa{sv})"), "InvalidArgs")
    run_case(fx, body)


def test_command_agent_prompt_runs_a_turn(fx):
    def body(case):
        after = fx.next_order()
        (result,) = case.call("ExecuteCommand", ("/plan", "draft the release", {}), "(ssa{sv})")
        check(result["kind"] == "agent-prompt" and result.get("message-id"), f"/plan: {result}")
        _, idle = case.signals.wait_event("session.idle", after=after)
        users = [data(p) for _, p in case.signals.events("user.message")]
        check(users and "draft the release" in users[-1]["content"] and users[-1].get("agentMode") == "plan",
              f"the command's prompt was not sent as a plan-mode turn: {users}")
        check(case.signals.events("assistant.message"), "the command's turn got no answer")
    run_case(fx, body)


def test_compact(fx):
    def body(case):
        case.turn("Remember the word pineapple")
        case.turn("And the word walnut")
        (result,) = case.call("Compact", ({},), "(a{sv})")
        check(result["success"] is True and result["messages-removed"] > 0, f"Compact: {result}")
        check("pineapple" in result.get("summary", ""), f"the summary: {result}")
        complete = case.signals.wait_event("session.compaction_complete")
        check(complete, "no session.compaction_complete event")
    run_case(fx, body)


def send_with_fds(client, path, prompt, options, fds):
    """SendAndWait with file descriptors passed alongside (fd h)."""
    fd_list = Gio.UnixFDList.new()
    for fd in fds:
        fd_list.append(fd)
    result = []

    def done(conn, res):
        try:
            value, _ = conn.call_with_unix_fd_list_finish(res)
            result.append(value.unpack())
        except GLib.Error as e:
            result.append(h.DBusError(e))
    client.conn.call_with_unix_fd_list(
        h.BUS_NAME, path, h.IFACE + ".Session", "SendAndWait",
        V("(sa{sv})", (prompt, options)), None, Gio.DBusCallFlags.NONE,
        int(h.TURN_TIMEOUT * 1000), fd_list, None, done)
    h.wait_until(lambda: result, what="the reply to SendAndWait", alive=client.alive)
    if isinstance(result[0], h.DBusError):
        raise result[0]
    return result[0]


def last_request_text(fx, n_before):
    requests = fx.model_requests()[n_before:]
    check(requests, "the model got no request")
    return json.dumps(requests)


def test_response_format(fx):
    def body(case):
        schema = {"title": "Weather report", "type": "object",
                  "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"},
                                 "sunny": {"type": "boolean"}},
                  "required": ["city", "degrees", "sunny"]}
        n = len(fx.model_requests())
        content, details = case.call("SendAndWait", ("Weather in Oslo?", {
            "response-format": V("s", json.dumps(schema))}), "(sa{sv})")
        answer = json.loads(content)
        check(set(answer) == {"city", "degrees", "sunny"}, f"the answer does not match the schema: {answer}")
        check(isinstance(answer["degrees"], int) and isinstance(answer["sunny"], bool)
              and isinstance(answer["city"], str), f"types: {answer}")
        request = fx.model_requests()[n:][-1]
        fmt = request.get("response_format", {})
        check(fmt.get("type") == "json_schema" and fmt["json_schema"]["schema"] == schema
              and fmt["json_schema"]["name"] == "Weather_report", f"response_format sent: {fmt}")
        check_error(case.error("Send", ("x", {"response-format": V("s", "[not an object")}), "(sa{sv})"),
                    "InvalidArgs", "response-format")
    run_case(fx, body)


def test_agent_mode(fx):
    def body(case):
        case.turn("Plan this one", {"agent-mode": V("s", "plan")})
        users = [data(p) for _, p in case.signals.events("user.message")]
        check(users[-1].get("agentMode") == "plan", f"user.message: {users[-1]}")
        check_error(case.error("Send", ("x", {"agent-mode": V("s", "sideways")}), "(sa{sv})"),
                    "InvalidArgs", "agent-mode")
    run_case(fx, body)


def test_attachments(fx):
    def body(case):
        # An fd attachment: the daemon reads the bytes and sends a blob.
        secret = b"fd-bytes-7d1f3e: the quick brown fox"
        with tempfile.TemporaryFile() as f:
            f.write(secret)
            f.flush()
            n = len(fx.model_requests())
            content, _ = send_with_fds(case.client, case.path, "Read the attachment", {
                "attachments": V("aa{sv}", [{"type": V("s", "fd"), "fd": V("h", 0),
                                             "mime-type": V("s", "text/plain"),
                                             "display-name": V("s", "note.txt")}])}, [f.fileno()])
        sent = last_request_text(fx, n)
        encoded = base64.b64encode(secret).decode()
        check("fd-bytes-7d1f3e" in sent or encoded in sent,
              f"the fd's bytes did not reach the model: {sent[:2000]}")
        users = [data(p) for _, p in case.signals.events("user.message")]
        att = users[-1].get("attachments", [])
        check(att and att[0].get("type") == "blob" and att[0].get("displayName") == "note.txt",
              f"user.message attachments: {att}")

        # A blob's bytes as ay.
        n = len(fx.model_requests())
        case.call("SendAndWait", ("Read the blob", {
            "attachments": V("aa{sv}", [{"type": V("s", "blob"), "data": V("ay", b"blob-bytes-51c2"),
                                         "mime-type": V("s", "text/plain"),
                                         "display-name": V("s", "b.txt")}])}), "(sa{sv})")
        sent = last_request_text(fx, n)
        check("blob-bytes-51c2" in sent or base64.b64encode(b"blob-bytes-51c2").decode() in sent,
              "the blob's bytes did not reach the model")

        # A relative path is taken from the session's working directory.
        with open(os.path.join(case.dir, "notes.txt"), "w") as f:
            f.write("relative-file-9a8b\n")
        n = len(fx.model_requests())
        case.call("SendAndWait", ("Read notes", {
            "attachments": V("aa{sv}", [{"type": V("s", "file"), "path": V("s", "notes.txt")}])}),
            "(sa{sv})")
        users = [data(p) for _, p in case.signals.events("user.message")]
        att = users[-1].get("attachments", [])
        check(att and att[0]["path"] == os.path.join(case.dir, "notes.txt"), f"attachments: {att}")

        # Missing files and directories are refused, named.
        missing = os.path.join(case.dir, "missing.txt")
        check_error(case.error("Send", ("x", {"attachments": V("aa{sv}", [
            {"type": V("s", "file"), "path": V("s", missing)}])}), "(sa{sv})"), "InvalidArgs", missing)
        check_error(case.error("Send", ("x", {"attachments": V("aa{sv}", [
            {"type": V("s", "directory"), "path": V("s", "no-such-dir")}])}), "(sa{sv})"),
            "InvalidArgs", os.path.join(case.dir, "no-such-dir"))
        check_error(case.error("Send", ("x", {"attachments": V("aa{sv}", [
            {"type": V("s", "fd"), "fd": V("h", 3)}])}), "(sa{sv})"), "InvalidArgs", "fd")
        (pipe_r, pipe_w) = os.pipe()
        try:
            err = None
            try:
                send_with_fds(case.client, case.path, "x", {"attachments": V("aa{sv}", [
                    {"type": V("s", "fd"), "fd": V("h", 0)}])}, [pipe_r])
            except h.DBusError as e:
                err = e
            check(err is not None, "a pipe was accepted as an fd attachment")
            check_error(err, "InvalidArgs", "regular file")
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
    run_case(fx, body)


def test_set_model_options(fx):
    def body(case):
        case.call("SetModel", ("gpt-5-mini", {"reasoning-summary": V("s", "concise"),
                                              "context-tier": V("s", "default")}), "(sa{sv})")
        check(case.client.get_property(case.path, "Session", "Model") == "gpt-5-mini", "model not set")
        check_error(case.error("SetModel", ("gpt-5-mini", {"context-tier": V("s", "huge")}), "(sa{sv})"),
                    "InvalidArgs", "context-tier")
        check_error(case.error("SetModel", ("gpt-5-mini", {"reasoning-summary": V("s", "long")}),
                               "(sa{sv})"), "InvalidArgs", "reasoning-summary")
    run_case(fx, body)


def tool(name):
    return {"name": V("s", name), "description": V("s", f"The {name} tool"),
            "parameters": V("s", json.dumps({"type": "object", "properties": {}})),
            "provider": V("o", h.TOOLS_PATH), "skip-permission": V("b", True)}


def request_tools(request):
    return {t.get("function", t).get("name") for t in request.get("tools", [])}


def test_live_resume_joins_tools(fx):
    case = Case(fx, tools=V("aa{sv}", [tool("tool_a")]))
    second = fx.new_client()
    try:
        provider_a = h.ToolProvider(case.client)
        provider_a.policies["Invoke"] = (0, "answer from A", {})
        provider_b = h.ToolProvider(second)
        provider_b.policies["Invoke"] = (0, "answer from B", {})
        sid = case.client.get_property(case.path, "Session", "Id")

        # Before resuming, the second connection is a stranger.
        err = second.call_error(case.path, "Session", "GetInfo", ({},), "(a{sv})")
        check_error(err, "AccessDenied")
        (path,) = second.manager("ResumeSession", (sid, {
            "tools": V("aa{sv}", [tool("tool_b")]),
            "system-message": V("s", "EXTRA-SYSTEM-LINE-4711")}), "(sa{sv})")
        check(path == case.path, f"ResumeSession of a live session returned {path}, not {case.path}")
        check(not case.signals.closed(), "the live session was closed by the resume")
        signals_b = h.Signals(second, path)

        n = len(fx.model_requests())
        content, _ = second.send_and_wait(path, "TOOL: tool_b {}")
        check("answer from B" in content, f"tool_b's answer: {content!r}")
        check(provider_b.count("Invoke") == 1 and provider_a.count("Invoke") == 0,
              f"tool_b was served by A {provider_a.calls} / B {provider_b.calls}")
        content, _ = case.client.send_and_wait(path, "TOOL: tool_a {}")
        check("answer from A" in content, f"tool_a's answer: {content!r}")
        check(provider_a.count("Invoke") == 1, f"tool_a calls: {provider_a.calls}")
        requests = fx.model_requests()[n:]
        check({"tool_a", "tool_b"} <= request_tools(requests[-1]),
              f"the model was not offered both tools: {sorted(request_tools(requests[-1]))}")
        check("EXTRA-SYSTEM-LINE-4711" in json.dumps(requests[-1]["messages"][0]),
              "the resumed system message did not reach the model")
        check(signals_b.events("session.idle"), "the resuming connection was not subscribed")

        # available-tools on a resume narrows what the next request offers.
        second.manager("ResumeSession", (sid, {
            "available-tools": V("as", ["tool_a", "tool_b"])}), "(sa{sv})")
        n = len(fx.model_requests())
        second.send_and_wait(path, "Which tools now?")
        offered = request_tools(fx.model_requests()[n:][-1])
        check(offered == {"tool_a", "tool_b"}, f"after available-tools the model was offered {sorted(offered)}")
        signals_b.close()
    finally:
        second.close()
        case.close()


def readme_ask_commands():
    with open(os.path.join(h.SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    block = re.search(r"One question, one answer.*?```sh\n(.*?)```", readme, re.S)
    check(block, "README.md has no Ask example")
    commands = [c.replace("\\\n", " ") for c in re.split(r"\n(?=gdbus )", block.group(1).strip())]
    check(len(commands) == 2, f"the README Ask example has {len(commands)} commands")
    return commands


def test_readme_ask_continues(fx):
    first, second = readme_ask_commands()
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=fx.bus_address)
    out = subprocess.run(shlex.split(first), env=env, capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, f"the first README command failed: {out.stderr}")
    check("You said: Remember the word walnut" in out.stdout, f"first answer: {out.stdout!r}")
    match = re.search(r"'session-id': <'([0-9a-f-]{36})'>", out.stdout)
    check(match, f"no session-id in {out.stdout!r}")
    sid = match.group(1)
    path = "/io/github/copilotd/Copilot1/session/" + sid.replace("-", "_")
    # persist: the session outlives the gdbus process.
    (sessions,) = fx.client.manager("ListSessions", ({},), "(a{sv})")
    live = [e for e in sessions if e.get("session-id") == sid]
    check(live and live[0].get("object") == path, f"the persistent session is not live: {live}")

    n = len(fx.model_requests())
    out = subprocess.run(shlex.split(second.replace("ID", sid)), env=env, capture_output=True,
                         text=True, timeout=120)
    check(out.returncode == 0, f"the second README command failed: {out.stderr}")
    check("Which word did I ask you to remember?" in out.stdout, f"second answer: {out.stdout!r}")
    check(f"'session-id': <'{sid}'>" in out.stdout, f"the second call used another session: {out.stdout!r}")
    request = fx.model_requests()[n:][-1]
    texts = h.user_texts(request)
    check(any("Remember the word walnut" in t for t in texts),
          f"the model did not receive the first turn: {texts}")
    fx.client.call(path, "Session", "Subscribe", ({},), "(a{sv})")
    fx.client.destroy(path)


def test_ask_ends_its_session(fx):
    c = fx.client
    content, details = c.manager("Ask", ("One-off question", {
        "working-directory": V("s", fx.workdir)}), "(sa{sv})")
    check("One-off question" in content, f"Ask answered {content!r}")
    check(details["message-id"] and details["aborted"] is False, f"details: {details}")
    sid = details["session-id"]
    (sessions,) = c.manager("ListSessions", ({},), "(a{sv})")
    entry = [e for e in sessions if e.get("session-id") == sid]
    check(entry and "object" not in entry[0], f"the session of a non-persist Ask is still live: {entry}")
    # session-id of a session that is not live resumes it for the question.
    n = len(fx.model_requests())
    content, details = c.manager("Ask", ("Second question", {"session-id": V("s", sid)}), "(sa{sv})")
    check(details["session-id"] == sid and "Second question" in content, f"{content!r} {details}")
    texts = h.user_texts(fx.model_requests()[n:][-1])
    check(any("One-off question" in t for t in texts), f"the resumed session lost its history: {texts}")
    # Structured output through Ask.
    content, _ = c.manager("Ask", ("Numbers please", {
        "response-format": V("s", json.dumps({"type": "object", "properties": {"n": {"type": "integer"}},
                                              "required": ["n"]}))}), "(sa{sv})")
    check(json.loads(content) == {"n": 42}, f"Ask with response-format: {content!r}")
    for options, name in (({}, "prompt"), ({"session-id": V("s", "nope")}, "nope"),
                          ({"timeout-ms": V("s", "1")}, "timeout-ms")):
        prompt = "" if name == "prompt" else "x"
        err = c.call_error(h.ROOT, "Manager", "Ask", (prompt, options), "(sa{sv})")
        check_error(err, "InvalidArgs", name)


def test_plan_mode_exit_plan_call(fx):
    def body(case):
        case.call("SetMode", ("plan", {}), "(sa{sv})")
        h.wait_until(lambda: case.client.get_property(case.path, "Session", "Mode") == "plan",
                     what="plan mode")
        n = len(fx.model_requests())
        idle = case.turn("EXIT PLAN: Ship the release notes")
        check(not idle.get("aborted"), f"the plan-mode turn was aborted: {idle}")
        requests = fx.model_requests()[n:]
        check(any("exit_plan_mode" in request_tools(r) for r in requests),
              "plan mode offered no exit_plan_mode tool")
        starts = [data(p) for _, p in case.signals.events("tool.execution_start")]
        check(any(s.get("toolName") == "exit_plan_mode" and s["arguments"]["summary"] ==
                  "Ship the release notes" for s in starts),
              f"the model did not call exit_plan_mode: {starts}")
    # The CLI offers exit_plan_mode only to clients that answer its request.
    run_case(fx, body, **{"extra-params": V("s", json.dumps({"requestExitPlanMode": True}))})


def test_api_version(fx):
    check(fx.client.get_property(h.ROOT, "Manager", "ApiVersion") == 2, "ApiVersion is not 2")


NEVER = [
    "session.destroy", "session.shutdown", "session.suspend",
    "session.permissions.setApproveAll", "session.permissions.configure",
    "session.permissions.folderTrust.addTrusted", "session.permissions.urls.setUnrestrictedMode",
    "session.permissions.handlePendingPermissionRequest", "session.ui.handlePendingUserInput",
    "session.ui.handlePendingExitPlanMode", "session.commands.handlePendingCommand",
    "session.tools.handlePendingToolCall", "session.tools.set",
    "session.sandbox.disableForSession", "session.gitHubAuth.getStatus",
    "session.gitHubAuth.setCredentials", "session.provider.add", "session.mcp.oauth.respond",
    "session.eventLog.registerInterest", "session.eventLog.releaseInterest",
    "session.options.update", "session.shell.exec",
]


def test_call(fx):
    def body(case):
        (status,) = case.client.manager("GetStatus")
        check(status.get("call-schema-version") == status["version"], f"GetStatus: {status}")
        (result,) = case.call("Call", ("session.name.set", json.dumps({"name": "Via Call"}), {}),
                              "(ssa{sv})")
        check(json.loads(result) is None, f"session.name.set returned {result}")
        (result,) = case.call("Call", ("session.name.get", "{}", {}), "(ssa{sv})")
        check(json.loads(result) == {"name": "Via Call"}, f"session.name.get returned {result}")
        (result,) = case.call("Call", ("session.skills.list", "", {}), "(ssa{sv})")
        check(isinstance(json.loads(result), dict), f"session.skills.list returned {result}")
        for method in NEVER:
            check_error(case.error("Call", (method, "{}", {}), "(ssa{sv})"), "InvalidArgs", method)
        for method in ("session.noSuchMethod", "session.queue.snapshot", "models.list", ""):
            err = case.error("Call", (method, "{}", {}), "(ssa{sv})")
            check_error(err, "InvalidArgs")
        sid = case.client.get_property(case.path, "Session", "Id")
        check_error(case.error("Call", ("session.name.get", json.dumps({"sessionId": sid}), {}),
                               "(ssa{sv})"), "InvalidArgs", "sessionId")
        check_error(case.error("Call", ("session.name.get", "[1]", {}), "(ssa{sv})"), "InvalidArgs")
        check_error(case.error("Call", ("session.name.get", "{not json", {}), "(ssa{sv})"), "InvalidArgs")
        big = json.dumps({"name": "x" * (1024 * 1024 + 1)})
        check_error(case.error("Call", ("session.name.set", big, {}), "(ssa{sv})"), "InvalidArgs", "limit")
        # The CLI's own errors arrive mapped, not as UnmappedGError.
        err = case.error("Call", ("session.mode.set", json.dumps({"mode": "bogus"}), {}), "(ssa{sv})")
        check(err.name.startswith(h.ERROR), f"a CLI error reached the caller as {err.name}")
        check(case.info()["name"] == "Via Call", "Call did not reach the CLI")
    run_case(fx, body)


def test_control_needs_the_owner(fx):
    owner = Case(fx)
    try:
        other = fx.new_client()
        for method, args, sig in (("SetMode", ("plan", {}), "(sa{sv})"),
                                  ("GetPlan", ({},), "(a{sv})"),
                                  ("SetName", ("x", {}), "(sa{sv})"),
                                  ("GetInfo", ({},), "(a{sv})"),
                                  ("Rewind", ("x", {}), "(sa{sv})"),
                                  ("ExecuteCommand", ("rename", "x", {}), "(ssa{sv})"),
                                  ("Call", ("session.name.get", "", {}), "(ssa{sv})")):
            err = other.call_error(owner.path, "Session", method, args, sig)
            check_error(err, "AccessDenied")
        other.call(owner.path, "Session", "Subscribe", ({},), "(a{sv})")
        other.call(owner.path, "Session", "SetName", ("From a subscriber", {}), "(sa{sv})")
        check(owner.info()["name"] == "From a subscriber", "a subscriber could not rename")
        other.close()
    finally:
        owner.close()


if __name__ == "__main__":
    h.run(globals())
