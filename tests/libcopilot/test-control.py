#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libcopilot's Contract 2 wrappers against the built daemon with the real
Copilot CLI and the offline model (tests/e2e/harness.py), through the
typelib: the session control surface (control.py), sign-in on a CLI
that starts signed out (account.py), and hooks and slash commands
answered after their handlers returned (providers.py). argv: libdir."""
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from harness import check  # noqa: E402

LIBDIR = sys.argv.pop(1)


def preload():
    out = subprocess.run(["ldd", os.path.join(LIBDIR, "libcopilot-1.so")],
                         capture_output=True, text=True).stdout
    return " ".join(line.split()[2] for line in out.splitlines()
                    if "libasan" in line or "libubsan" in line)


def script_env(world):
    """The environment of a libcopilot client script against @world's daemon."""
    env = dict(world.child_env, DBUS_SESSION_BUS_ADDRESS=world.bus.address,
               GI_TYPELIB_PATH=LIBDIR, LD_LIBRARY_PATH=LIBDIR)
    if preload():
        env.update(LD_PRELOAD=preload(), ASAN_OPTIONS="detect_leaks=0")
    return env


def run_script(world, script, *args):
    """Runs a libcopilot client script of this folder against @world's
    daemon; returns the JSON line it printed."""
    run = subprocess.run(["/usr/bin/python3", os.path.join(HERE, script), *args],
                         env=script_env(world), capture_output=True, text=True, timeout=240)
    check(run.returncode == 0, f"{script} failed: {run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_control(world_factory):
    world = world_factory()
    world.daemon()
    seen = run_script(world, "control.py", world.workdir)
    check(seen["mode0"] == "interactive", seen)
    check(seen["modes"] == ["plan", "interactive"], seen)
    check(seen["bad_mode"] == ["copilot-error-quark", True], seen)
    check(seen["info_name"] == "Renamed by libcopilot", seen)
    check(seen["info_mode"] == "interactive", seen)
    check(seen["answer"] and seen["deltas"] == seen["answer"], seen)
    check(seen["rewind_points"] >= 1, seen)
    check(isinstance(seen["call"], dict), seen)
    check(seen["ask"] == "Hello from the copilotd offline model. You said: Say hello", seen)
    check({"session-id", "message-id"} <= set(seen["ask_details"]), seen)
    check(seen["account"].get("auth-type") == "token", f"GetAccount through libcopilot: {seen['account']}")


TOKEN = "gho_LibcopilotSecret0123456789abcXYZ"


def test_account(world_factory):
    world = world_factory()
    # No token from the environment: the CLI starts signed out.
    world.child_env.pop("COPILOT_SDK_AUTH_TOKEN", None)
    daemon = world.daemon()
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "account.py"), world.workdir, TOKEN],
                            env=script_env(world), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        check(line, f"account.py printed nothing: {proc.stderr.read()[-3000:] if proc.poll() is not None else ''}")
        seen = json.loads(line)
        os.kill(daemon.cli_pid(), signal.SIGKILL)
        proc.stdin.write("killed\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode == 0, f"account.py failed: {err[-3000:]}")
    after = json.loads(out.strip().splitlines()[-1])
    check("login" not in seen["before"], f"signed in before sign_in: {seen['before']}")
    check(seen["turn_signed_out"] == ["not-authenticated", False], seen)
    check(seen["bad_host"] == ["invalid-args", False], seen)
    check(seen["empty_token"] == ["invalid-args", False], seen)
    check(seen["signed_in"] == {"login": "offline", "host": "https://github.com", "stored-in-vault": False},
          f"sign_in returned {seen['signed_in']}")
    check(seen["account"] == {"login": "offline", "host": "https://github.com",
                              "auth-type": seen["account"]["auth-type"]} and seen["account"]["auth-type"],
          f"get_account after sign_in: {seen['account']}")
    check(seen["quota_is_json"] and seen["authenticated"] is True, seen)
    check("You said: After signing in" in seen["answer"], seen)
    # No keychain here: the daemon forgets the token and restarts the CLI
    # signed out; the CLI that comes back after a kill is signed out too.
    check(seen["sign_out"] is None, f"sign_out failed: {seen['sign_out']}")
    check(seen["after_sign_out"] is False, f"still authenticated right after sign_out: {seen}")
    check(after["authenticated"] is False and after["login"] is None, f"after sign_out and a restart: {after}")
    check(after["states"][-1] == "running", after)
    check(TOKEN not in daemon.output(), "the token appears in copilotd's log")


def test_providers(world_factory):
    world = world_factory()
    world.daemon()
    seen = run_script(world, "providers.py", world.workdir)
    check(seen["hooks"] == [["userPromptSubmitted", "Say hello"]], seen)
    # The hook's output, given after its handler returned, rewrote the
    # prompt the model saw.
    check(seen["answer"] == "Hello from the copilotd offline model. You said: Say hooked", seen)
    # Each command was unanswered when its handler returned, and its later
    # answer is what ExecuteCommand gave back; the message is the app's,
    # without GDBus's prefix.
    check(seen["commands"] == [["deploy", "staging", False], ["deploy", "frozen", False]], seen)
    check(seen["ok"].get("kind") == "completed", seen)
    check(seen["failed"] == [True, "Command /deploy failed: production is frozen"], seen)


h.run_cases([("the control surface through libcopilot", test_control),
             ("sign_in, get_account and sign_out through libcopilot", test_account),
             ("hooks and commands answered later through libcopilot", test_providers)])
