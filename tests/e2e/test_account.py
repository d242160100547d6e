#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: Manager.SignIn, GetAccount and SignOut with the real Copilot
CLI and the offline model's GitHub API, where no keychain serves the CLI
(as on a headless machine): the daemon keeps the token, gives it to live
and later sessions, signs it in again after a CLI restart, and never logs
it."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check  # noqa: E402

V = GLib.Variant
TOKEN = "gho_SignInSecret0123456789abcdefXYZ"


def check_error(err, name, *words):
    check(err.name == h.ERROR + name, f"expected {name}, got {err.name}: {err.text}")
    for word in words:
        check(word in err.text, f"the error does not name {word!r}: {err.text}")


def signed_out_world(world):
    w = world()
    # No token from the environment: the CLI starts signed out.
    w.child_env.pop("COPILOT_SDK_AUTH_TOKEN", None)
    daemon = w.daemon(env={"G_MESSAGES_DEBUG": "all"})
    return w, daemon, w.client()


def ask_ok(client, path, prompt):
    content, _ = client.send_and_wait(path, prompt)
    check(f"You said: {prompt}" in content, f"the turn answered {content!r}")


def case_sign_in(world):
    w, daemon, c = signed_out_world(world)
    (status,) = c.manager("GetAuthStatus")
    check(status["authenticated"] is False, f"a CLI without a token is signed in: {status}")
    (account,) = c.manager("GetAccount", ({},), "(a{sv})")
    check("login" not in account, f"GetAccount while signed out: {account}")

    path = c.create_session({"working-directory": V("s", w.workdir)})
    err = c.call_error(path, "Session", "SendAndWait", ("Hello?", {}), "(sa{sv})")
    check_error(err, "NotAuthenticated")

    check_error(c.call_error(h.ROOT, "Manager", "SignIn", ("", "", {}), "(ssa{sv})"), "InvalidArgs", "token")
    check_error(c.call_error(h.ROOT, "Manager", "SignIn", ("github.com", TOKEN, {}), "(ssa{sv})"),
                "InvalidArgs", "host")

    (account,) = c.manager("SignIn", ("", TOKEN, {}), "(ssa{sv})")
    check(account == {"login": "offline", "host": "https://github.com", "stored-in-vault": False},
          f"SignIn returned {account}")
    (status,) = c.manager("GetAuthStatus")
    check(status["authenticated"] is True and status.get("login") == "offline",
          f"GetAuthStatus after SignIn: {status}")
    (account,) = c.manager("GetAccount", ({"quota": V("b", True)},), "(a{sv})")
    check(account.get("login") == "offline" and account.get("host") == "https://github.com"
          and account.get("auth-type"), f"GetAccount: {account}")
    check(isinstance(json.loads(account["quota-json"]), dict), f"quota-json: {account}")

    # The live session signs in too, and so does a new one.
    ask_ok(c, path, "After signing in")
    other = c.create_session({"working-directory": V("s", w.workdir)})
    ask_ok(c, other, "A new session")

    # A CLI that comes back has the token again: signed in, sessions work.
    pid = daemon.cli_pid()
    seen = len(c.states)
    os.kill(pid, signal.SIGKILL)
    # Back only once the daemon announced the loss and then "running" again:
    # a "running" read before the loss was announced is the old CLI's.
    h.wait_until(lambda: any(state != "running" for state in c.states[seen:])
                 and c.states[-1] == "running" and daemon.cli_pids() and daemon.cli_pids() != [pid],
                 what="the CLI to come back", alive=daemon.check_alive)
    h.wait_until(lambda: c.manager("GetAuthStatus")[0].get("authenticated"),
                 what="the CLI to be signed in again", alive=daemon.check_alive)
    ask_ok(c, path, "After the CLI came back")

    # The token never reaches a log line.
    log = daemon.output()
    check("account.login" in log and "JSON-RPC call" in log, "the debug log is not verbose")
    check(TOKEN not in log, "the token appears in copilotd's log")
    check(TOKEN[4:20] not in log, "part of the token appears in copilotd's log")

    c.destroy(path)
    c.destroy(other)


def case_sign_out(world):
    w, daemon, c = signed_out_world(world)
    c.manager("SignOut", ({},), "(a{sv})")   # nobody signed in: nothing to do
    c.manager("SignIn", ("https://github.com", TOKEN, {}), "(ssa{sv})")
    try:
        c.manager("SignOut", ({},), "(a{sv})")
    except h.DBusError as e:
        # CLI 1.0.102 cannot remove a token from a keychain it does not
        # have; the error must not carry the token.
        check(TOKEN not in e.text, f"SignOut's error echoes the token: {e.text}")
    # Whatever the CLI did, the daemon no longer signs the token in.
    pid = daemon.cli_pid()
    os.kill(pid, signal.SIGKILL)
    h.wait_until(lambda: daemon.cli_pids() and daemon.cli_pids() != [pid]
                 and c.backend_state() == "running", what="the CLI to come back", alive=daemon.check_alive)
    (status,) = c.manager("GetAuthStatus")
    check(status["authenticated"] is False, f"signed in after SignOut and a restart: {status}")
    check(TOKEN not in daemon.output(), "the token appears in copilotd's log")


if __name__ == "__main__":
    h.run_cases([
        ("SignIn without a keychain: live and new sessions, CLI restart, no token in logs", case_sign_in),
        ("SignOut: the daemon stops signing the token in", case_sign_out),
    ])
