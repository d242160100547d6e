#!/usr/bin/python3
"""End-to-end: the session control surface of DESIGN.md §8 (modes, plans,
names, info, compaction, rewind, slash commands, Call) with the real
Copilot CLI and the offline model."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check, data  # noqa: E402

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
