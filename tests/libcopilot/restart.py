#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A libcopilot app across a daemon restart: its session is closed
("daemon-vanished"), its agent is registered with the new daemon and
answers the next turn's permission prompt. Prints "ready" when the harness
may stop the daemon, then one JSON line of what it saw."""
import json
import sys

import gi
gi.require_version("Copilot", "1")
from gi.repository import Copilot, Gio, GLib  # noqa: E402

ctx = GLib.MainContext.default()
seen = {"registered": [], "prompts": 0}


def run(start, finish, *args):
    box = {}
    start(*args, None, lambda source, res: box.setdefault("res", res))
    while "res" not in box:
        ctx.iteration(True)
    return finish(box["res"])


def on_permission(agent, prompt):
    seen["prompts"] += 1
    prompt.reply(Copilot.PermissionDecision.APPROVE_ONCE, None)


client = Copilot.Client.new_sync(Gio.BusType.SESSION, None)
agent = Copilot.Agent.new(client, None)
agent.connect("permission-requested", on_permission)
agent.connect("notify::registered", lambda a, p: seen["registered"].append(a.props.registered))
run(agent.register, agent.register_finish)
session = run(client.create_session, client.create_session_finish, None)
closed = []
session.connect("closed", lambda s, reason: closed.append(reason))
print("ready", flush=True)

# The harness stops the daemon and starts another.
while not closed or not agent.props.registered:
    ctx.iteration(True)
seen["closed"] = closed
seen["state"] = session.props.state
session = run(client.create_session, client.create_session_finish, None)
seen["answer"] = run(session.send_and_wait, session.send_and_wait_finish, "PERMISSION: ls -l", None)
print(json.dumps(seen))
