#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A turn through libcopilot's typelib from Python: an agent that approves
a shell command, streamed deltas, the final answer. Prints one JSON line."""
import json
import sys

import gi
gi.require_version("Copilot", "1")
from gi.repository import Copilot, Gio, GLib  # noqa: E402

loop = GLib.MainLoop()
result = {}
kept = []
failure = []


def finish(error=None):
    if error is not None:
        failure.append(str(error))
    loop.quit()


def on_permission(agent, prompt):
    result["command"] = prompt.props.request.unpack()["command"]
    kept.append(prompt)

    def later():
        prompt.reply(Copilot.PermissionDecision.APPROVE_ONCE, None)
        return GLib.SOURCE_REMOVE
    GLib.idle_add(later)


def main():
    client = Copilot.Client.new_sync(Gio.BusType.SESSION, None)
    agent = Copilot.Agent.new(client, None)
    agent.connect("permission-requested", on_permission)
    deltas = []

    def on_delta(session, stream, text):
        if stream == 0:
            deltas.append(text)

    def on_answer(session, res):
        try:
            result["answer"] = session.send_and_wait_finish(res)
            result["deltas"] = "".join(deltas)
            result["state"] = session.props.state
            finish()
        except GLib.Error as e:
            finish(e)

    def on_permission_turn(session, res):
        try:
            result["permission"] = session.send_and_wait_finish(res)
        except GLib.Error as e:
            finish(e)
            return
        deltas.clear()
        session.send_and_wait("hello from python", None, None, on_answer)

    def on_session(client, res):
        try:
            session = client.create_session_finish(res)
        except GLib.Error as e:
            finish(e)
            return
        session.connect("delta", on_delta)
        session.send_and_wait("PERMISSION: ls -l", None, None, on_permission_turn)

    def on_registered(agent, res):
        try:
            agent.register_finish(res)
        except GLib.Error as e:
            finish(e)
            return
        options = GLib.Variant("a{sv}", {"client-name": GLib.Variant("s", "python-test")})
        client.create_session(options, None, on_session)

    agent.register(None, on_registered)
    loop.run()
    if failure:
        print("turn.py:", failure[0], file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


main()
