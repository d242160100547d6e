#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: copilotctl answers the requests of DESIGN.md §9 on a
terminal, with the real CLI 1.0.102 and the offline model. `copilotctl
agent` and `ask` (one agent implementation) fill in an MCP server's form
field by field (and show a URL form), approve or reject a plan with
feedback, answer the switch to the auto model after a rate limit, name the
app that asks, and without a terminal refuse unless --yes or
--no decides. What was typed is checked where it lands: in the MCP
server's answer log and in the session's model.

usage: test_copilotctl_requests.py COPILOTCTL (with $COPILOTD_DAEMON,
$COPILOTD_MODEL, as tests/meson.build sets them)"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_requests as req  # noqa: E402
from harness import GLib, check, data  # noqa: E402

V = GLib.Variant
COPILOTCTL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def ctl_env(fx):
    return dict(fx.world.child_env, DBUS_SESSION_BUS_ADDRESS=fx.bus_address)


class Terminal:
    """copilotctl on a pseudo-terminal, read while the test's main loop
    runs (so the test's own D-Bus objects keep answering)."""

    def __init__(self, fx, args, env=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(fx.workdir)
            os.execve(COPILOTCTL, [COPILOTCTL, "--address", fx.bus_address] + args,
                      dict(ctl_env(fx), **(env or {})))
        self.out = b""
        self.pos = 0
        self.status = None

    def _read(self):
        while self.fd is not None and select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.out += chunk

    def text(self):
        self._read()
        return ANSI.sub("", self.out.decode(errors="replace"))

    def wait_for(self, pattern, what):
        """Waits until the output after the last match matches @pattern."""
        def found():
            match = re.compile(pattern, re.S).search(self.text(), self.pos)
            if match:
                self.pos = match.end()
            return match is not None or self.exited()
        try:
            h.wait_until(found, h.TURN_TIMEOUT, what)
        except h.TestFailure as e:
            raise h.TestFailure(f"{e}; copilotctl wrote:\n{self.text()}") from None
        check(self.status is None, f"copilotctl exited waiting for {what}:\n{self.text()}")

    def type(self, text):
        os.write(self.fd, text.encode())

    def exited(self):
        if self.status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def wait_exit(self):
        h.wait_until(lambda: self.text() is not None and self.exited(), h.TURN_TIMEOUT,
                     "copilotctl to exit")
        return self.status

    def close(self):
        """Ctrl-C, as a person ends `agent`; returns the exit status."""
        if self.fd is None:
            return self.status
        if not self.exited():
            os.kill(self.pid, signal.SIGINT)
            try:
                self.wait_exit()
            except h.TestFailure:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        self.text()
        os.close(self.fd)
        self.fd = None
        return self.status


class Background:
    """copilotctl without a terminal, running while the test goes on;
    its stdout and stderr go to files."""

    def __init__(self, fx, name, *args):
        self.out_path = os.path.join(fx.workdir, name + ".out")
        self.err_path = os.path.join(fx.workdir, name + ".err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([COPILOTCTL, "--address", fx.bus_address] + list(args),
                                         env=ctl_env(fx), cwd=fx.workdir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def json(self):
        return [json.loads(line) for line in self.stdout().splitlines() if line.strip()]

    def wait_stderr(self, text):
        h.wait_until(lambda: text in self.stderr() or self.proc.poll() is not None, h.TURN_TIMEOUT,
                     f"copilotctl to say {text!r}")
        check(text in self.stderr(), f"copilotctl exited {self.proc.returncode}: {self.stderr()}")

    def wait_exit(self):
        h.wait_until(lambda: self.proc.poll() is not None, h.TURN_TIMEOUT, "copilotctl to exit")
        return self.proc.returncode

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()


def form_case(fx, name, client_name="org.example.Paint"):
    """A session of another app with the test's MCP server; its owner's
    agent approves the MCP tool but fills in no form."""
    log = os.path.join(fx.workdir, name + ".jsonl")
    client = fx.new_client()
    req.agent_for(client, ["permission"], {"RequestPermission": (1, {})})
    options = dict(req.mcp_options(log), **{"client-name": V("s", client_name)})
    case = req.Case(fx, options, client)
    req.wait_mcp_connected(case)
    return case, log


def session_id(case):
    return case.client.get_property(case.path, "Session", "Id")


def check_switched_to_auto(case, after):
    """The CLI got a yes: the session moved to the auto model."""
    _, completed = case.signals.wait_event("auto_mode_switch.completed", after=after)
    check(data(completed).get("response") == "yes", f"completed: {data(completed)}")
    case.signals.wait_event("session.idle", after=after)
    h.wait_until(lambda: case.client.get_property(case.path, "Session", "Model") == "auto", 30,
                 "Model auto")


def test_agent_fills_form_field_by_field(fx):
    term = Terminal(fx, ["agent"])
    case, log = form_case(fx, "agent-form")
    try:
        term.wait_for(r"Waiting for requests", "the agent to register")
        after = fx.next_order()
        case.client.send(case.path, "TOOL: paint-ask_profile {}")
        term.wait_for(r"An MCP server asks for input.*App:\s+org\.example\.Paint \(pid \d+\)"
                      r".*Server:\s+paint.*Tell us about you.*- name \(Your name\).*- count"
                      r".*Fill in\?[^\n]*: ", "the form")
        term.type("y\n")
        term.wait_for(r"name: ", "the name field")
        term.type("Ada Lovelace\n")
        term.wait_for(r"1\) small\s+2\) large\s+size \(number\): ", "the size field")
        term.type("2\n")
        term.wait_for(r"urgent \[y/n\]: ", "the urgent field")
        term.type("maybe\n")            # not a yes or no: asked again
        term.wait_for(r"urgent \[y/n\]: ", "the urgent field again")
        term.type("y\n")
        term.wait_for(r"count: ", "the count field")
        term.type("3\n")
        case.signals.wait_event("session.idle", after=after)
        answers = req.read_lines(log)
        check(answers == [{"action": "accept", "content": {
            "name": "Ada Lovelace", "size": "large", "urgent": True, "count": 3}}],
            f"the MCP server received {answers}\n{term.text()}")
    finally:
        status = term.close()
        case.close()
    check(status == 130, f"agent exited {status} on Ctrl-C")


def test_agent_shows_url_form(fx):
    term = Terminal(fx, ["agent"])
    case, log = form_case(fx, "agent-url")
    try:
        term.wait_for(r"Waiting for requests", "the agent to register")
        after = fx.next_order()
        case.client.send(case.path, "TOOL: paint-open_page {}")
        term.wait_for(r"An MCP server asks for input.*App:\s+org\.example\.Paint.*Sign in to Paint"
                      r".*URL:\s+https://paint\.example/login.*Fill in\?[^\n]*: ", "the URL form")
        term.type("y\n")
        case.signals.wait_event("session.idle", after=after)
        answers = req.read_lines(log)
        check(len(answers) == 1 and answers[0].get("action") == "accept" and
              not answers[0].get("content"), f"the MCP server received {answers}")
    finally:
        term.close()
        case.close()


def test_agent_answers_mode_switch(fx):
    term = Terminal(fx, ["agent"])
    client = fx.new_client()
    case = req.Case(fx, {"client-name": V("s", "org.example.Editor")}, client)
    try:
        term.wait_for(r"Waiting for requests", "the agent to register")
        after = fx.next_order()
        client.send(case.path, req.RATE_LIMIT)
        term.wait_for(r"Copilot hit a rate limit.*App:\s+org\.example\.Editor.*rate_limited"
                      r".*3600 s.*Switch\?[^\n]*: ", "the mode switch question")
        term.type("y\n")
        check_switched_to_auto(case, after)
    finally:
        term.close()
        case.close()


def test_agent_interrupted_mid_question(fx):
    # Ctrl-C while the mode switch is on the screen: the question is
    # answered no, with the reply its method expects (a wrong one is a
    # GLib warning, fatal here).
    term = Terminal(fx, ["agent"], env={"G_DEBUG": "fatal-warnings"})
    client = fx.new_client()
    case = req.Case(fx, client=client)
    try:
        term.wait_for(r"Waiting for requests", "the agent to register")
        after = fx.next_order()
        client.send(case.path, req.RATE_LIMIT)
        term.wait_for(r"Switch\?[^\n]*: ", "the mode switch question")
        status = term.close()
        check(status == 130, f"agent exited {status} on Ctrl-C:\n{term.text()}")
        _, completed = case.signals.wait_event("auto_mode_switch.completed", after=after)
        check(data(completed).get("response") == "no", f"completed: {data(completed)}")
        case.signals.wait_event("session.idle", after=after)
    finally:
        term.close()
        case.close()


def test_ask_fills_form(fx):
    # `ask` on another app's session: the owner's agent takes the MCP
    # tool's permission, the form goes to ask (the turn's sender).
    case, log = form_case(fx, "ask-form")
    term = Terminal(fx, ["ask", "--session", session_id(case), "TOOL: paint-ask_color {}"])
    try:
        term.wait_for(r"App:\s+org\.example\.Paint.*Pick a color.*Fill in\?[^\n]*: ", "the form")
        term.type("y\n")
        term.wait_for(r"color: ", "the color field")
        term.type("green\n")
        check(term.wait_exit() == 0, f"ask exited {term.status}:\n{term.text()}")
        answers = req.read_lines(log)
        check(answers == [{"action": "accept", "content": {"color": "green"}}],
              f"the MCP server received {answers}")
        # ask joined the app's live session: it leaves it live.
        check(not case.signals.closed() and
              case.client.get_property(case.path, "Session", "State") == "idle",
              f"the app's session was closed: {case.signals.closed()}")
    finally:
        term.close()
        case.close()


def test_ask_rejects_plan_with_feedback(fx):
    client = fx.new_client()
    case = req.Case(fx, {"client-name": V("s", "org.example.Planner")}, client)
    try:
        client.call(case.path, "Session", "SetMode", ("plan", {}), "(sa{sv})")
        h.wait_until(lambda: client.get_property(case.path, "Session", "Mode") == "plan", 30,
                     "Mode plan")
        after = fx.next_order()
        term = Terminal(fx, ["ask", "--session", session_id(case),
                             'TOOL: exit_plan_mode {"summary": "Add a README"}'])
        try:
            term.wait_for(r"Copilot has a plan.*App:\s+org\.example\.Planner.*Add a README"
                          r".*\(recommended\).*interactive.*Approve\?[^\n]*: ", "the plan")
            term.type("n\n")
            term.wait_for(r"What should change[^\n]*: ", "the feedback question")
            term.type("Write it in Markdown\n")
            status = term.wait_exit()
        finally:
            term.close()
        check(status == 0, f"ask exited {status}:\n{term.text()}")
        _, completed = case.signals.wait_event("exit_plan_mode.completed", after=after)
        check(data(completed).get("approved") is False, f"completed: {data(completed)}")
        check(any("Write it in Markdown" in json.dumps(r) for r in case.requests()),
              "the feedback did not reach the model")
    finally:
        case.close()


def test_ask_declines_mode_switch(fx):
    client = fx.new_client()
    case = req.Case(fx, {"client-name": V("s", "org.example.Editor")}, client)
    try:
        after = fx.next_order()
        term = Terminal(fx, ["ask", "--session", session_id(case), req.RATE_LIMIT])
        try:
            term.wait_for(r"Copilot hit a rate limit.*org\.example\.Editor.*Switch\?[^\n]*: ",
                          "the mode switch question")
            term.type("n\n")
            status = term.wait_exit()
        finally:
            term.close()
        check(status == 1 and "rate limit" in term.text(), f"ask exited {status}:\n{term.text()}")
        _, completed = case.signals.wait_event("auto_mode_switch.completed", after=after)
        check(data(completed).get("response") == "no", f"completed: {data(completed)}")
        check(client.get_property(case.path, "Session", "Model") != "auto", "the model switched")
    finally:
        case.close()


def agent_turns(fx, case, log):
    """A form and a rate limit on @case, answered by a running agent;
    returns what the MCP server and the CLI received."""
    before = len(req.read_lines(log))
    after = fx.next_order()
    case.client.send(case.path, "TOOL: paint-ask_profile {}")
    case.signals.wait_event("session.idle", after=after)
    answers = req.read_lines(log)[before:]
    after = fx.next_order()
    case.client.send(case.path, req.RATE_LIMIT)
    _, completed = case.signals.wait_event("auto_mode_switch.completed", after=after)
    case.signals.wait_event("session.idle", after=after)
    return answers, data(completed).get("response")


def test_agent_without_terminal_refuses(fx):
    case, log = form_case(fx, "agent-no-terminal")
    agent = Background(fx, "agent-no-terminal", "agent")
    try:
        agent.wait_stderr("no terminal: every request will be rejected")
        answers, switch = agent_turns(fx, case, log)
        check(answers == [{"action": "cancel"}], f"the MCP server received {answers}")
        check(switch == "no", f"the mode switch was answered {switch!r}")
        err = agent.stderr()
        check("form refused (no terminal; use --yes or --no)" in err and
              "mode switch refused (no terminal; use --yes or --no)" in err, err)
    finally:
        check(agent.stop() == 0, f"agent exited {agent.proc.returncode}: {agent.stderr()}")
        case.close()


def test_agent_no_and_yes_decide(fx):
    case, log = form_case(fx, "agent-decides", client_name="org.example.Paint")
    try:
        for flag, form, switch in [
                ("--no", {"action": "decline"}, "no"),
                # --yes fills in the defaults; count has none and is optional.
                ("--yes", {"action": "accept", "content": {"name": "Anonymous", "size": "small",
                                                           "urgent": False}}, "yes")]:
            agent = Background(fx, "agent" + flag, "agent", "--json", flag)
            try:
                h.wait_until(lambda: {"type": "ready"} in agent.json() or agent.proc.poll() is not None,
                             h.TURN_TIMEOUT, "the agent to be ready")
                answers, answered = agent_turns(fx, case, log)
                check(answers == [form], f"{flag}: the MCP server received {answers}")
                check(answered == switch, f"{flag}: the mode switch was answered {answered!r}")
                reports = [(r.get("type"), r.get("answer"), r.get("client_name")) for r in agent.json()
                           if r.get("type") != "ready"]
                check(reports == [("elicitation", form["action"], "org.example.Paint"),
                                  ("mode_switch", switch, "org.example.Paint")],
                      f"{flag}: agent --json reported {agent.stdout()}")
            finally:
                check(agent.stop() == 0, f"agent {flag} exited {agent.proc.returncode}: {agent.stderr()}")
        h.wait_until(lambda: case.client.get_property(case.path, "Session", "Model") == "auto", 30,
                     "Model auto after --yes")
    finally:
        case.close()


def test_ask_without_terminal_refuses(fx):
    ask = Background(fx, "ask-no-terminal", "ask", req.RATE_LIMIT)
    status = ask.wait_exit()
    check(status == 1 and "mode switch refused (no terminal; use --yes or --no)" in ask.stderr(),
          f"ask exited {status}: {ask.stderr()}")


if __name__ == "__main__":
    h.run(globals())
