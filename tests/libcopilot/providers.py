#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hooks and slash commands through libcopilot (the typelib) with the real
CLI, answered after the handler returned: a userPromptSubmitted hook whose
later output rewrites the prompt the model sees, and an app command that
succeeds or fails later. Prints one JSON line of what it saw.
argv: working directory."""
import json
import sys

import gi
gi.require_version("Copilot", "1")
from gi.repository import Copilot, Gio, GLib  # noqa: E402

from run_async import run  # noqa: E402

workdir = sys.argv[1]
seen = {"hooks": [], "commands": []}


def later(answer):
    """Runs @answer from the main loop, after the handler returned."""
    def idle():
        answer()
        return GLib.SOURCE_REMOVE
    GLib.idle_add(idle)


def on_hook(_client, call):
    prompt = json.loads(call.get_input_json()).get("prompt")
    seen["hooks"].append([call.get_hook_type(), prompt])
    output = json.dumps({"modifiedPrompt": "Say hooked"}) if prompt == "Say hello" else None
    later(lambda: call.return_output(output))
    return True


def on_command(_client, call):
    seen["commands"].append([call.get_name(), call.get_args(), call.is_answered()])
    if call.get_args() == "frozen":
        later(lambda: call.return_error("production is frozen"))
    else:
        later(call.return_success)
    return True


client = Copilot.Client.new_sync(Gio.BusType.SESSION, None)
client.add_hooks(["userPromptSubmitted"])
client.connect("handle-hook::userPromptSubmitted", on_hook)
client.add_command("deploy", "Ships the app")
client.connect("handle-command::deploy", on_command)
options = GLib.Variant("a{sv}", {"working-directory": GLib.Variant("s", workdir)})
session = run(client.create_session, client.create_session_finish, options)

seen["answer"] = run(session.send_and_wait, session.send_and_wait_finish, "Say hello", None)
seen["ok"] = run(session.execute_command, session.execute_command_finish, "deploy", "staging", None).unpack()
try:
    run(session.execute_command, session.execute_command_finish, "deploy", "frozen", None)
    seen["failed"] = None
except GLib.Error as e:
    seen["failed"] = [e.domain == "copilot-error-quark" and e.code == Copilot.Error.FAILED, e.message]
print(json.dumps(seen))
