#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""copilotctl's session control and account commands, end to end: mode,
plan, rename, info, compact, rewind, commands, run, ask --session, chat's
slash commands, login/whoami/logout — against copilotd running the real
CLI and the offline model. TAP.

usage: test_copilotctl_control.py COPILOTCTL"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

copilotctl = os.path.abspath(sys.argv[1])
TOKEN = "gho_CtlLoginSecret0123456789"


class Stack:
    def __init__(self, world, signed_out=False):
        self.model = world.model
        if signed_out:
            world.child_env.pop("COPILOT_SDK_AUTH_TOKEN", None)
        self.daemon = world.daemon()
        self.address = world.bus.address
        self.env = dict(world.child_env, DBUS_SESSION_BUS_ADDRESS=self.address)
        self.work = world.workdir

    def ctl(self, *args, stdin=None, ok=True):
        p = subprocess.run([copilotctl, "--address", self.address] + list(args), env=self.env,
                           input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120, cwd=self.work,
                           start_new_session=True)
        if ok:
            h.check(p.returncode == 0, f"copilotctl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p


def ask_new_session(stack, prompt):
    """A session with one turn, via ask --json; returns its id."""
    p = stack.ctl("ask", "--json", "--yes", prompt)
    ids = {line.get("session_id") for line in map(json.loads, p.stdout.splitlines())}
    ids.discard(None)
    h.check(len(ids) == 1, f"cannot tell the session of ask: {p.stdout!r}")
    return ids.pop()


def case_session_commands(world):
    stack = Stack(world())
    sid = ask_new_session(stack, "WRITE: first.txt one")
    h.check(os.path.exists(os.path.join(stack.work, "first.txt")), "ask --yes did not write first.txt")

    # ask --session continues the conversation (the model gets the first turn).
    n = len(stack.model.requests())
    p = stack.ctl("ask", "--yes", "--session", sid, "WRITE: second.txt two")
    requests = stack.model.requests()[n:]
    h.check(any("first.txt" in t for r in requests for t in h.user_texts(r)),
            "ask --session did not continue the conversation")

    # mode: set and shown as the daemon reports it.
    h.check(stack.ctl("mode", sid, "plan").stdout.strip() == "plan", "mode ID plan")
    h.check(stack.ctl("mode", sid, "bogus", ok=False).returncode == 1, "mode bogus must fail")

    # plan: edit from stdin, show, delete.
    stack.ctl("plan", sid, "edit", stdin="# Plan\n1. step\n")
    h.check(stack.ctl("plan", sid).stdout == "# Plan\n1. step\n", "plan show after edit")
    stack.ctl("plan", sid, "delete")
    shown = json.loads(stack.ctl("plan", "--json", sid).stdout)
    h.check(shown == {"content": "", "exists": False}, f"plan after delete: {shown}")

    # rename and info.
    stack.ctl("rename", sid, "My", "chat")
    info = json.loads(stack.ctl("info", "--json", sid).stdout)
    h.check(info["name"] == "My chat", f"info after rename: {info}")
    h.check(info["context-tokens"] > 0 and "premium-requests" in info, f"info context/usage: {info}")

    # commands and run.
    h.check("/rename" in stack.ctl("commands", sid).stdout, "commands lists /rename")
    out = stack.ctl("run", sid, "/rename", "Renamed", "by", "run").stdout
    h.check("Renamed by run" in out, f"run /rename printed {out!r}")
    h.check(json.loads(stack.ctl("info", "--json", sid).stdout)["name"] == "Renamed by run", "run /rename")

    # rewind: list, preview, do with files.
    listing = stack.ctl("rewind", sid).stdout.splitlines()
    h.check(len(listing) == 2 and "WRITE: second.txt" in listing[1], f"rewind list: {listing}")
    preview = json.loads(stack.ctl("rewind", "--json", "--preview", sid, "2").stdout)
    h.check(preview["outcome"] == "preview" and preview["file-count"] == 1, f"preview: {preview}")
    result = json.loads(stack.ctl("rewind", "--json", "--files", sid, "2").stdout)
    h.check(result["events-removed"] > 0, f"rewind: {result}")
    h.check(not os.path.exists(os.path.join(stack.work, "second.txt")), "rewind --files left second.txt")
    h.check(len(stack.ctl("rewind", sid).stdout.splitlines()) == 1, "rewind did not drop the turn")

    # compact.
    compacted = json.loads(stack.ctl("compact", "--json", sid).stdout)
    h.check(compacted["success"] is True, f"compact: {compacted}")


def case_chat_slash_commands(world):
    stack = Stack(world())
    script = "/mode plan\n/rename Chat name\nHello there\n/quit\n"
    p = stack.ctl("chat", "--yes", stdin=script)
    h.check("plan" in p.stdout and "Chat name" in p.stdout, f"chat slash commands: {p.stdout!r}")
    # The turn after "/mode plan" runs in plan mode: the CLI marks the prompt.
    h.check("You said: [[PLAN]] Hello there" in p.stdout, f"chat turn after commands: {p.stdout!r}")


def case_login(world):
    stack = Stack(world(), signed_out=True)
    p = stack.ctl("whoami", ok=False)
    h.check(p.returncode == 1 and "nobody" in p.stderr, f"whoami signed out: {p.stderr!r}")
    p = stack.ctl("login", stdin=TOKEN + "\n")
    h.check("offline" in p.stdout, f"login printed {p.stdout!r}")
    h.check(stack.ctl("whoami").stdout.startswith("offline"), "whoami after login")
    # Without a keychain too (CLI 1.0.102 alone refuses it there).
    stack.ctl("logout")
    p = stack.ctl("whoami", ok=False)
    h.check(p.returncode == 1 and "nobody" in p.stderr, f"whoami after logout: {p.stderr!r}")
    h.check(TOKEN not in stack.daemon.output(), "the token reached copilotd's log")


if __name__ == "__main__":
    h.run_cases([
        ("mode, plan, rename, info, commands, run, rewind, compact, ask --session", case_session_commands),
        ("chat runs /-commands and switches modes", case_chat_slash_commands),
        ("login from stdin, whoami, logout", case_login),
    ])
