#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sign-in through libcopilot (the typelib) against a CLI that starts
signed out: copilot_client_get_account, sign_in, a turn that works only
once signed in, sign_out. Prints one JSON line of what it saw; then, once
told on stdin that the CLI was killed, follows the client's backend-state
until the CLI is back and prints a second line: whether it is signed in.
argv: working directory, token."""
import json
import sys

import gi
gi.require_version("Copilot", "1")
from gi.repository import Copilot, Gio, GLib  # noqa: E402

from run_async import run  # noqa: E402

workdir, token = sys.argv[1:3]
seen = {}


def error_of(start, finish, *args):
    """The Copilot.Error code the call failed with (None if it worked)
    and whether its message carries the token."""
    try:
        run(start, finish, *args)
        return None
    except GLib.Error as e:
        return [Copilot.Error(e.code).value_nick if e.domain == "copilot-error-quark" else e.domain,
                token in e.message]


client = Copilot.Client.new_sync(Gio.BusType.SESSION, None)
seen["before"] = run(client.get_account, client.get_account_finish, None).unpack()
options = GLib.Variant("a{sv}", {"working-directory": GLib.Variant("s", workdir)})
session = run(client.create_session, client.create_session_finish, options)
seen["turn_signed_out"] = error_of(session.send_and_wait, session.send_and_wait_finish, "Hello?", None)
seen["bad_host"] = error_of(client.sign_in, client.sign_in_finish, "github.com", token, None)
seen["empty_token"] = error_of(client.sign_in, client.sign_in_finish, "", "", None)

seen["signed_in"] = run(client.sign_in, client.sign_in_finish, "", token, None).unpack()
quota = GLib.Variant("a{sv}", {"quota": GLib.Variant("b", True)})
account = run(client.get_account, client.get_account_finish, quota).unpack()
seen["account"] = {k: account.get(k) for k in ("login", "host", "auth-type")}
seen["quota_is_json"] = isinstance(json.loads(account.get("quota-json", "null")), dict)
auth = run(client.get_auth_status, client.get_auth_status_finish).unpack()
seen["authenticated"] = auth.get("authenticated")
# The session created before signing in works now.
seen["answer"] = run(session.send_and_wait, session.send_and_wait_finish, "After signing in", None)

# Without a keychain the daemon forgets the token and restarts the CLI
# signed out: sign_out succeeds and says so at once.
seen["sign_out"] = error_of(client.sign_out, client.sign_out_finish)
seen["after_sign_out"] = run(client.get_auth_status, client.get_auth_status_finish).unpack().get("authenticated")
states = []
client.connect("notify::backend-state", lambda c, _p: states.append(c.props.backend_state))
print(json.dumps(seen), flush=True)

# The test kills the CLI; the daemon starts it again for the live session,
# and must not sign the token in any more.
sys.stdin.readline()
context = GLib.MainContext.default()
while not (states and states[-1] == "running" and any(s != "running" for s in states)):
    context.iteration(True)
auth = run(client.get_auth_status, client.get_auth_status_finish).unpack()
account = run(client.get_account, client.get_account_finish, None).unpack()
print(json.dumps({"states": states, "authenticated": auth.get("authenticated"),
                  "login": account.get("login")}), flush=True)
