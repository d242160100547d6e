#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""copilotctl as a person uses it on a terminal, like bluetoothctl: chat
lines can be edited and come back with the Up key, Ctrl-C ends with status
130, a session is named by the start of its id, and `agent --default` is
asked before the user's other agents. The built copilotd runs the real
CLI against the offline model. Output is TAP.

usage: test_copilotctl_terminal.py COPILOTCTL
"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check  # noqa: E402

COPILOTCTL = os.path.abspath(sys.argv[1])
UP = "\x1b[A"
BACKSPACE = "\x7f"
CTRL_C = "\x03"


def stack(world):
    w = world()
    w.daemon()
    env = dict(w.child_env, DBUS_SESSION_BUS_ADDRESS=w.bus.address, TERM="xterm",
               XDG_STATE_HOME=w.tmp("state"))
    return w, env


def ctl(w, env, *args):
    p = subprocess.run([COPILOTCTL, "--address", w.bus.address] + list(args), env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                       cwd=w.workdir, start_new_session=True)
    return p.returncode, p.stdout, p.stderr


def case_chat_edits_and_recalls(world):
    """A typo fixed with Backspace is sent fixed; Up brings the line back
    (and it is kept in the history file); Ctrl-C at the prompt exits 130."""
    w, env = stack(world)
    prompts = r"(you> .*){%d}"
    status, out = h.pty_run(
        [COPILOTCTL, "--address", w.bus.address, "chat"],
        [(prompts % 1, "tell me about edditing" + BACKSPACE * 8 + "editing\r"),
         (prompts % 2, UP + "\r"),
         (prompts % 3, CTRL_C)],
        env=env, cwd=w.workdir, timeout=180)
    sent = [t for r in w.model.requests() for t in h.user_texts(r) if "editing" in t]
    check(any("tell me about editing" in t for t in sent) and not any("edditing" in t for t in sent),
          f"the model did not get the edited line: {sent}\n{out[-2000:]}")
    turns = {t for t in sent if "tell me about editing" in t}
    requests = [r for r in w.model.requests()
                if any("tell me about editing" in t for t in h.user_texts(r))]
    # The recalled line is a second turn: a later request carries it twice.
    check(any(sum("tell me about editing" in t for t in h.user_texts(r)) >= 2 for r in requests),
          f"Up + Enter did not send the line again: {turns}\n{out[-2000:]}")
    check(status == 130, f"Ctrl-C at the prompt: exit status {status}, not 130\n{out[-1500:]}")
    history = os.path.join(env["XDG_STATE_HOME"], "copilotctl", "history")
    # libedit keeps its history vis(3)-encoded: a space is \040.
    text = open(history, errors="replace").read().replace("\\040", " ") if os.path.exists(history) else ""
    check("tell me about editing" in text, f"the line is not in the history file: {text!r}")


def case_session_id_prefixes(world):
    """show and delete take the start of an id; a start shared by two ids
    and an unknown one are refused with the same wording as the daemon."""
    w, env = stack(world)
    client = w.client()
    ids = ["abcd1234-1111-4000-8000-000000000001", "abcd5678-2222-4000-8000-000000000002"]
    for sid in ids:
        path = client.create_session({"session-id": GLib.Variant("s", sid)})
        client.send_and_wait(path, f"hello from {sid[:8]}")
        # Stored, not live: any connection of the user may show or delete it.
        client.destroy(path)

    status, out, err = ctl(w, env, "show", "abcd12")
    check(status == 0 and "hello from abcd1234" in out, f"show by prefix: {status}\n{out}{err}")
    status, out, err = ctl(w, env, "show", "abcd")
    check(status == 1 and "abcd is the start of 2 session ids" in err, f"ambiguous prefix: {status}\n{err}")
    status, out, err = ctl(w, env, "show", "ffff0000")
    check(status == 1 and "No session ffff0000" in err, f"unknown prefix: {status}\n{err}")
    # The daemon's own wording for a whole id it does not know is the same.
    status, out, err = ctl(w, env, "show", "ffff0000-0000-4000-8000-000000000000")
    check(status == 1 and "No session ffff0000-0000-4000-8000-000000000000" in err,
          f"unknown id: {status}\n{err}")
    status, out, err = ctl(w, env, "delete", "abcd56")
    check(status == 0, f"delete by prefix: {status}\n{err}")
    status, out, err = ctl(w, env, "sessions", "--json")
    listed = [json.loads(line).get("session-id") for line in out.splitlines() if line.strip()]
    check(ids[1] not in listed and ids[0] in listed, f"after delete: {listed}")


def case_agent_default(world):
    """agent --default is asked before another agent of the user: it
    approves what that agent would have rejected."""
    w, env = stack(world)
    other = w.client()
    rejecting = h.Agent(other)
    rejecting.policies["RequestPermission"] = (0, {})
    rejecting.register_with_daemon({})

    agent = subprocess.Popen([COPILOTCTL, "--address", w.bus.address, "agent", "--json", "--yes", "--default"],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    w.procs.append(agent)
    ready = agent.stdout.readline()
    check(json.loads(ready or "{}").get("type") == "ready", f"agent did not start: {ready}")

    asker = w.client()
    path = asker.create_session({"working-directory": GLib.Variant("s", w.workdir)})
    target = w.path("by-default-agent.txt")
    asker.send_and_wait(path, f"RUN: echo approved > {target}")
    check(os.path.exists(target), "the default agent did not approve the command")
    check(rejecting.count("RequestPermission") == 0,
          f"the other agent was asked first: {rejecting.calls}")

    agent.send_signal(signal.SIGINT)
    status = agent.wait(30)
    check(status == 130, f"agent after Ctrl-C: exit status {status}, not 130")


h.run_cases([
    ("chat: line editing, history, Ctrl-C exits 130", case_chat_edits_and_recalls),
    ("session ids: unique prefixes, one wording for none", case_session_id_prefixes),
    ("agent --default is asked before the user's other agents", case_agent_default),
])
