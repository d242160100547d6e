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


def kill_cli_and_wait(c, daemon):
    """SIGKILL the CLI; back once the daemon announced the loss, then
    "running" again, with a new CLI. A "running" read before the loss was
    announced is the dead CLI's, and one snapshot of the children is taken
    per check (a zombie's empty cmdline would hide the old pid from a second
    look)."""
    pid = daemon.cli_pid()
    seen = len(c.states)
    os.kill(pid, signal.SIGKILL)

    def back():
        if not any(state != "running" for state in c.states[seen:]) or c.states[-1] != "running":
            return False
        pids = daemon.cli_pids()
        return len(pids) == 1 and pids[0] != pid
    h.wait_until(back, what="the CLI to come back", alive=daemon.check_alive)


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
    kill_cli_and_wait(c, daemon)
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


def files_holding(root, needle):
    """Files under @root whose bytes hold @needle."""
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as f:
                    if needle.encode() in f.read():
                        found.append(path)
            except OSError:
                pass
    return found


def signed_in_users(home):
    """The users the CLI wrote down in COPILOT_HOME/config.json (a JSON
    file with // comments)."""
    try:
        with open(os.path.join(home, "config.json")) as f:
            text = "".join(line for line in f if not line.lstrip().startswith("//"))
    except FileNotFoundError:
        return []
    return json.loads(text).get("loggedInUsers", []) if text.strip() else []


def check_signed_out(c, what):
    (status,) = c.manager("GetAuthStatus")
    check(status["authenticated"] is False, f"{what}: GetAuthStatus says {status}")
    (account,) = c.manager("GetAccount", ({},), "(a{sv})")
    check("login" not in account, f"{what}: GetAccount says {account}")


def case_sign_out(world):
    w, daemon, c = signed_out_world(world)
    c.manager("SignOut", ({},), "(a{sv})")   # nobody signed in: nothing to do
    c.manager("SignIn", ("https://github.com", TOKEN, {}), "(ssa{sv})")
    path = c.create_session({"working-directory": V("s", w.workdir)})
    ask_ok(c, path, "Signed in")
    check(signed_in_users(w.home), "the CLI wrote down no sign-in: the test proves nothing")
    old_pid = daemon.cli_pid()

    # Without a keychain CLI 1.0.102 refuses account.logout; SignOut works.
    c.manager("SignOut", ({},), "(a{sv})")
    check_signed_out(c, "after SignOut")
    check(signed_in_users(w.home) == [], f"the CLI still lists the user: {signed_in_users(w.home)}")
    # The CLI that held the token in memory is gone.
    check(not h.pid_alive(old_pid), "the CLI that held the token still runs")
    # The live session goes on, signed out; so does a new one.
    err = c.call_error(path, "Session", "SendAndWait", ("After SignOut", {}), "(sa{sv})")
    check_error(err, "NotAuthenticated")
    other = c.create_session({"working-directory": V("s", w.workdir)})
    err = c.call_error(other, "Session", "SendAndWait", ("A new session", {}), "(sa{sv})")
    check_error(err, "NotAuthenticated")

    # Whatever happens to the CLI, the daemon no longer signs the token in.
    kill_cli_and_wait(c, daemon)
    check_signed_out(c, "after SignOut and a CLI restart")

    # Signing in again works, and the live session takes it.
    c.manager("SignIn", ("https://github.com", TOKEN, {}), "(ssa{sv})")
    ask_ok(c, path, "Signed in again")
    c.manager("SignOut", ({},), "(a{sv})")
    check_signed_out(c, "after the second SignOut")

    # The token is nowhere: no file of the CLI's home, config or logs, no
    # log line of copilotd, no CLI's environment.
    check(files_holding(w.tmp.path, TOKEN) == [], f"files hold the token: {files_holding(w.tmp.path, TOKEN)}")
    check(TOKEN not in daemon.output(), "the token appears in copilotd's log")
    for pid in daemon.cli_pids():
        check(not any(TOKEN.encode() in v for v in h.environ_of(pid).values()),
              "the token is in the CLI's environment")
    c.destroy(path)
    c.destroy(other)


if __name__ == "__main__":
    h.run_cases([
        ("SignIn without a keychain: live and new sessions, CLI restart, no token in logs", case_sign_in),
        ("SignOut without a keychain: signed out everywhere, the token nowhere", case_sign_out),
    ])
