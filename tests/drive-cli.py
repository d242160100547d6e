#!/usr/bin/python3
"""Drive the real Copilot CLI against copilotd-offline-model.

A manual check (not run by meson): it starts the offline model and the CLI
(`copilot --headless --stdio`), speaks JSON-RPC to the CLI and runs scripted
flows that exercise streaming, permissions, ask_user, custom tools, abort and
the newcomer demo.  Exits non-zero when a flow does not behave.

usage: tests/drive-cli.py [BUILDDIR] [--cli PATH] [--verbose]
"""

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

DEFAULT_CLI = "/opt/copilot-cli/node_modules/@github/copilot-linux-x64/copilot"
NOISE = ("model.", "session.lifecycle", "host.event", "session.background_tasks_changed",
         "assistant.streaming_delta", "session.usage_info", "pending_messages.modified",
         "session.mcp_", "session.skills_loaded", "session.tools_updated")


class Cli:
    def __init__(self, argv, env, verbose):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.inbox = queue.Queue()
        self.next_id = 1
        self.verbose = verbose
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.inbox.put(json.loads(out.read(length)))

    def send(self, msg):
        msg["jsonrpc"] = "2.0"
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method, params):
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": method, "params": params})
        return rid

    def recv(self, timeout=60):
        msg = self.inbox.get(timeout=timeout)
        if msg is None:
            raise RuntimeError("CLI exited")
        return msg

    def call(self, method, params, on_other=None, timeout=120):
        rid = self.request(method, params)
        deadline = time.time() + timeout
        while True:
            msg = self.recv(max(0.1, deadline - time.time()))
            if msg.get("id") == rid and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError("%s failed: %s" % (method, msg["error"]))
                return msg["result"]
            if on_other:
                on_other(msg)


class Driver:
    def __init__(self, cli, session_id, workdir, verbose):
        self.cli = cli
        self.sid = session_id
        self.workdir = workdir
        self.verbose = verbose

    def turn(self, prompt, permission=None, user_input=None, tool=None, abort_after=None,
             timeout=120):
        """Sends @prompt and follows events until session.idle.  Returns the
        list of (type, data) events seen (noise filtered)."""
        events = []
        self.cli.request("session.send", {"sessionId": self.sid, "prompt": prompt})
        start = time.time()
        aborted = False
        deadline = start + timeout
        while True:
            if abort_after is not None and not aborted and time.time() - start > abort_after:
                self.cli.request("session.abort", {"sessionId": self.sid})
                aborted = True
            try:
                msg = self.cli.recv(0.1 if abort_after and not aborted else
                                    max(0.1, deadline - time.time()))
            except queue.Empty:
                if time.time() > deadline:
                    raise RuntimeError("turn timed out; events: %s" % [e[0] for e in events])
                continue
            method = msg.get("method")
            if method == "userInput.request":
                answer = user_input(msg["params"]) if user_input else None
                self.cli.send({"id": msg["id"], "result": answer} if answer else
                              {"id": msg["id"], "error": {"code": -32601, "message": "no"}})
                events.append(("<userInput.request>", msg["params"]))
                continue
            if method is not None and "id" in msg:
                self.cli.send({"id": msg["id"], "error": {"code": -32601,
                                                          "message": "Unhandled method " + method}})
                continue
            if method != "session.event":
                continue
            ev = msg["params"]["event"]
            etype, data = ev["type"], ev.get("data", {})
            if self.verbose and not etype.startswith(NOISE):
                print("   ", etype, json.dumps(data)[:160])
            if not etype.startswith(NOISE):
                events.append((etype, data))
            if etype == "permission.requested" and permission:
                result = permission(data)
                self.cli.request("session.permissions.handlePendingPermissionRequest",
                                 {"sessionId": self.sid, "requestId": data["requestId"],
                                  "result": result})
            elif etype == "external_tool.requested" and tool:
                self.cli.request("session.tools.handlePendingToolCall",
                                 {"sessionId": self.sid, "requestId": data["requestId"],
                                  "result": tool(data)})
            elif etype == "session.idle":
                events.append(("<elapsed>", time.time() - start))
                return events


def types(events):
    return [e[0] for e in events]


def first(events, etype):
    for t, d in events:
        if t == etype:
            return d
    return None


def log_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir", nargs="?", default="build")
    ap.add_argument("--cli", default=DEFAULT_CLI)
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="drive-cli-")
    home = os.path.join(tmp, "home")
    workdir = os.path.join(tmp, "work")
    os.makedirs(home)
    os.makedirs(workdir)
    log = os.path.join(tmp, "requests.jsonl")

    model = subprocess.Popen([os.path.join(args.builddir, "src", "copilotd-offline-model"),
                              "--log", log], stdout=subprocess.PIPE)
    line = model.stdout.readline().decode()
    assert line.startswith("listening on port "), line
    port = int(line.split()[-1])
    url = "http://127.0.0.1:%d" % port

    env = dict(os.environ, COPILOT_HOME=home, COPILOT_SDK_AUTH_TOKEN="fake",
               COPILOT_API_URL=url, COPILOT_DEBUG_GITHUB_API_URL=url)
    cli = Cli([args.cli, "--headless", "--no-auto-update", "--log-level", "info",
               "--auth-token-env", "COPILOT_SDK_AUTH_TOKEN", "--stdio"], env, args.verbose)
    failures = []

    def check(name, cond, detail=""):
        print("%s %s %s" % ("PASS" if cond else "FAIL", name, detail))
        if not cond:
            failures.append(name)

    try:
        t0 = time.time()
        cli.call("connect", {})
        print("CLI start to connect result: %.2fs" % (time.time() - t0))
        models = cli.call("models.list", {})
        ids = [m["id"] for m in models["models"]]
        check("(g) models.list", "claude-sonnet-4.5" in ids and "gpt-5-mini" in ids, str(ids))

        sid = str(uuid.uuid4())
        created = cli.call("session.create", {
            "sessionId": sid, "requestPermission": True, "requestUserInput": True,
            "streaming": True, "workingDirectory": workdir,
            "tools": [{"name": "get_answer", "description": "Looks up the answer",
                       "parameters": {"type": "object",
                                      "properties": {"q": {"type": "string"}}}}]})
        print("default model:", created.get("modelState"))
        d = Driver(cli, sid, workdir, args.verbose)

        # (a) plain text streams as several deltas
        ev = d.turn("Hello offline model")
        deltas = [e[1]["deltaContent"] for e in ev if e[0] == "assistant.message_delta"]
        final = first(ev, "assistant.message")
        elapsed = first(ev, "<elapsed>")
        check("(a) plain text", len(deltas) > 3 and final and final["content"] == "".join(deltas)
              and final["content"].endswith("You said: Hello offline model"),
              "%d deltas, %r, %.2fs" % (len(deltas), final and final["content"], elapsed))

        # (b) RUN approved, then rejected with feedback
        ev = d.turn("RUN: echo hi > x.txt", permission=lambda p: {"kind": "approve-once"})
        perm = first(ev, "permission.requested")
        check("(b) RUN approved", perm is not None
              and os.path.exists(os.path.join(workdir, "x.txt"))
              and first(ev, "assistant.message") is not None,
              "files=%s" % os.listdir(workdir))
        print("    (b) event sequence:", " ".join(t for t in types(ev)
                                                  if t not in ("assistant.message_delta",)))
        os.unlink(os.path.join(workdir, "x.txt"))
        ev = d.turn("RUN: echo hi > x.txt",
                    permission=lambda p: {"kind": "reject", "feedback": "no thanks"})
        last = log_lines(log)[-1]
        final = [e for e in ev if e[0] == "assistant.message"][-1][1]
        check("(b) RUN rejected", not os.path.exists(os.path.join(workdir, "x.txt"))
              and "no thanks" in json.dumps(last["messages"][-1])
              and "no thanks" in final["content"], final["content"][:120])
        print("    (b') event sequence:", " ".join(t for t in types(ev)
                                                   if t not in ("assistant.message_delta",)))

        # (c) ask_user
        ev = d.turn("ASK: favourite colour? | red | blue",
                    user_input=lambda p: {"answer": "blue", "wasFreeform": False})
        req = first(ev, "<userInput.request>")
        last = log_lines(log)[-1]
        check("(c) ask_user", req and req.get("choices") == ["red", "blue"]
              and "blue" in json.dumps(last["messages"][-1]),
              json.dumps(last["messages"][-1])[:160])

        # (d) custom tool
        ev = d.turn('TOOL: get_answer {"q":"life"}',
                    permission=lambda p: {"kind": "approve-once"},
                    tool=lambda t: "forty-two")
        req = first(ev, "external_tool.requested")
        last = log_lines(log)[-1]
        check("(d) custom tool", req and req["arguments"] == {"q": "life"}
              and "forty-two" in json.dumps(last["messages"][-1]),
              json.dumps(last["messages"][-1])[:160])

        # (e) abort mid-stream
        ev = d.turn("SLOW: 40", abort_after=2.0)
        idle = first(ev, "session.idle")
        n = len([e for e in ev if e[0] == "assistant.message_delta"])
        check("(e) abort", idle.get("aborted") is True and first(ev, "assistant.message") is None,
              "%d deltas before abort, idle=%s" % (n, idle))

        # (f) newcomer demo
        ev = d.turn("Create a file named hello.txt",
                    permission=lambda p: {"kind": "approve-once"})
        perm = first(ev, "permission.requested")
        path = os.path.join(workdir, "hello.txt")
        content = open(path).read() if os.path.exists(path) else None
        check("(f) demo create", perm and perm["permissionRequest"]["kind"] == "write"
              and perm["permissionRequest"].get("diff") and content == "Hello from copilotd!\n",
              "content=%r diff=%r" % (content, perm and perm["permissionRequest"].get("diff")))

        # Tool schemas as the model sees them.
        tools = {t["function"]["name"]: t["function"]["parameters"] for t in last.get("tools", [])}
        for name in ("bash", "create", "ask_user"):
            p = tools.get(name, {})
            print("    schema %s: properties=%s required=%s"
                  % (name, list(p.get("properties", {})), p.get("required")))

        # WRITE directive and an HTTP failure the CLI does not retry
        ev = d.turn("WRITE: w.txt some words here",
                    permission=lambda p: {"kind": "approve-once"})
        path = os.path.join(workdir, "w.txt")
        content = open(path).read() if os.path.exists(path) else None
        check("WRITE", content == "some words here\n", repr(content))
        ev = d.turn("FAIL: 400")
        err = first(ev, "session.error")
        check("FAIL", err is not None and err.get("statusCode") == 400,
              err and err.get("message", "")[:100])
        cli.call("session.destroy", {"sessionId": sid})

        # A non-streaming session gets one plain JSON completion.
        sid2 = str(uuid.uuid4())
        t0 = time.time()
        cli.call("session.create", {"sessionId": sid2, "model": "claude-sonnet-4.5",
                                    "workingDirectory": workdir})
        d2 = Driver(cli, sid2, workdir, args.verbose)
        ev = d2.turn("Hello again")
        final = first(ev, "assistant.message")
        check("non-streaming", final and final["content"].endswith("You said: Hello again")
              and first(ev, "assistant.message_delta") is None
              and log_lines(log)[-1].get("model") == "claude-sonnet-4.5",
              "create+turn %.2fs" % (time.time() - t0))
        cli.call("session.destroy", {"sessionId": sid2})
    finally:
        cli.proc.stdin.close()
        cli.proc.wait(10)
        model.terminate()
        rc = model.wait(10)
        check("offline model exits 0 on SIGTERM", rc == 0, str(rc))
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)

    print("%d passed, %d failed" % (12 - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
