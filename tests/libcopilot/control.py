#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Contract 2 through libcopilot (the typelib): modes, names, info, a turn,
rewind points, Call and Manager.Ask. Prints one
JSON line of what it saw. argv: working directory."""
import json
import sys

import gi
gi.require_version("Copilot", "1")
from gi.repository import Copilot, Gio, GLib  # noqa: E402

from run_async import run  # noqa: E402

workdir = sys.argv[1]
seen = {}


client = Copilot.Client.new_sync(Gio.BusType.SESSION, None)
agent = Copilot.Agent.new(client, None)
agent.connect("permission-requested", lambda a, p: p.reply(Copilot.PermissionDecision.APPROVE_ONCE, None))
run(agent.register, agent.register_finish)
options = GLib.Variant("a{sv}", {"working-directory": GLib.Variant("s", workdir)})
session = run(client.create_session, client.create_session_finish, options)
modes = []
session.connect("notify::mode", lambda s, p: modes.append(s.props.mode))
seen["mode0"] = session.props.mode

run(session.set_mode, session.set_mode_finish, "plan", None)
# The Mode property follows (PropertiesChanged or session.mode_changed).
while session.props.mode != "plan":
    GLib.MainContext.default().iteration(True)
seen["modes"] = modes
try:
    run(session.set_mode, session.set_mode_finish, "no-such-mode", None)
    seen["bad_mode"] = None
except GLib.Error as e:
    seen["bad_mode"] = [e.domain, e.code == Copilot.Error.INVALID_ARGS]
run(session.set_mode, session.set_mode_finish, "interactive", None)

run(session.set_name, session.set_name_finish, "Renamed by libcopilot", None)
info = run(session.get_info, session.get_info_finish, None).unpack()
seen["info_name"] = info.get("name")
seen["info_mode"] = info.get("mode")

deltas = []
session.connect("delta", lambda s, stream, text: stream == 0 and deltas.append(text))
seen["answer"] = run(session.send_and_wait, session.send_and_wait_finish, "Say hello", None)
seen["deltas"] = "".join(deltas)
points = run(session.list_rewind_points, session.list_rewind_points_finish, None).unpack()
seen["rewind_points"] = len(points)
seen["call"] = json.loads(run(session.call, session.call_finish, "session.plan.read", "{}", None))
# Manager.Ask: one question, one answer, in a session that ends with it.
ask_options = GLib.Variant("a{sv}", {"working-directory": GLib.Variant("s", workdir)})
content, details = run(client.ask, client.ask_finish, "Say hello", ask_options)
seen["ask"] = content
seen["ask_details"] = sorted(details.unpack().keys())
seen["account"] = run(client.get_account, client.get_account_finish, None).unpack()
print(json.dumps(seen))
