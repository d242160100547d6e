#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`copilotctl agent` across copilotd restarts, with the fake CLI.

A person who runs `copilotctl agent` as their approval agent must not lose
it silently when copilotd stops and comes back (a restart, an upgrade, a
replacement): the agent says so on stderr, registers with the new daemon,
and the next prompt reaches it. TAP output.

usage: test_copilotctl_agent.py (with $COPILOTCTL, $COPILOTD_DAEMON,
$COPILOTD_FAKE_CLI as tests/meson.build sets them)
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import binary, check, run_cases, stop_process  # noqa: E402

LINE_TIMEOUT = 60


class Agent:
    """`copilotctl agent --json` on @world's bus; its stdout and stderr
    lines arrive on queues as it writes them."""

    def __init__(self, world, *args):
        env = dict(world.child_env, DBUS_SESSION_BUS_ADDRESS=world.bus.address)
        self.proc = subprocess.Popen([binary("COPILOTCTL"), "agent", "--json"] + list(args), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        world.procs.append(self.proc)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.err_text = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line)
        q.put(None)

    def _next(self, q, what):
        try:
            line = q.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            line = None
        check(line is not None, f"copilotctl agent wrote no {what} (exit status {self.proc.poll()})")
        return line

    def json_line(self):
        return json.loads(self._next(self.out, "JSON line"))

    def wait_stderr(self, text):
        """Reads stderr up to the line holding @text."""
        while True:
            line = self._next(self.err, f"stderr line with {text!r}: {''.join(self.err_text)!r}")
            self.err_text.append(line)
            if text in line:
                return line

    def wait_type(self, type_):
        """Reads stdout up to the JSON line of @type_; returns it."""
        while True:
            line = self.json_line()
            if line.get("type") == type_:
                return line


def turn(world, prompt):
    client = world.client()
    path = client.create_session({})
    content, _ = client.send_and_wait(path, prompt)
    return content


def test_restart(world_factory):
    world = world_factory(model=False)
    first = world.daemon(fake=True)
    agent = Agent(world, "--yes")
    check(agent.json_line().get("type") == "ready", "copilotctl agent did not say it is ready")
    answer = turn(world, "PERMISSION: echo before")
    check(answer == "Permission: approved", f"the agent did not approve before the restart: {answer!r}")
    check(agent.wait_type("permission").get("decision") == "approved", "no permission line before the restart")

    # Stopped: the agent waits instead of exiting, and says so.
    check(first.terminate() == 0, "copilotd did not exit 0 on SIGTERM")
    agent.wait_stderr("left the bus")
    check(agent.proc.poll() is None, "copilotctl agent exited when copilotd left")

    # Back: registered with the new daemon before it says ready again.
    world.daemon(fake=True)
    agent.wait_stderr("registered again")
    check(agent.wait_type("ready") is not None, "no second ready line")
    answer = turn(world, "PERMISSION: echo after")
    check(answer == "Permission: approved", f"the prompt after the restart did not reach the agent: {answer!r}")
    line = agent.wait_type("permission")
    check(line.get("decision") == "approved" and "after" in line.get("command", ""),
          f"the agent reported {line}")

    agent.proc.send_signal(signal.SIGINT)
    try:
        status = agent.proc.wait(20)
    except subprocess.TimeoutExpired:
        status = stop_process(agent.proc)
    check(status == 130, f"copilotctl agent exited with {status} on Ctrl-C, not 130")


def test_restart_default(world_factory):
    """--default is asked for again: it is still the user's default agent."""
    world = world_factory(model=False)
    first = world.daemon(fake=True)
    agent = Agent(world, "--default", "--no")
    check(agent.json_line().get("type") == "ready", "copilotctl agent --default did not say it is ready")
    check(first.terminate() == 0, "copilotd did not exit 0 on SIGTERM")
    agent.wait_stderr("left the bus")
    world.daemon(fake=True)
    agent.wait_stderr("registered again")
    agent.wait_type("ready")
    answer = turn(world, "PERMISSION: echo refused")
    check(answer.startswith("Permission: ") and answer != "Permission: approved",
          f"the --no agent did not answer after the restart: {answer!r}")
    line = agent.wait_type("permission")
    check(line.get("decision") == "rejected", f"the agent reported {line}")


CASES = [
    ("copilotctl agent registers again when copilotd restarts; the next prompt reaches it", test_restart),
    ("copilotctl agent --default registers again as the default agent", test_restart_default),
]

if __name__ == "__main__":
    run_cases(CASES, needs_cli=False)
