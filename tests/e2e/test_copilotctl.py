#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# End-to-end tests of copilotctl: a private dbus-daemon, the built copilotd
# running the real Copilot CLI ($COPILOTD_TEST_CLI) against the offline model,
# and copilotctl driven as a person would drive it: --json runs parsed as
# JSON, and `ask` under a pseudo-terminal answering the permission prompt by
# typing. Output is TAP.
#
# usage: test_copilotctl.py COPILOTCTL (with $COPILOTD_DAEMON, $COPILOTD_MODEL, as
# tests/meson.build sets them)

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Gio, GLib  # noqa: E402

NAME = h.BUS_NAME

copilotctl = os.path.abspath(sys.argv[1])

# One TAP line per check() in run_tests.
PLAN = 28
tap = h.Tap(PLAN)
check = tap.ok


class Stack:
    """A harness World with copilotd running the real CLI, and the
    environment copilotctl runs in."""

    def __init__(self):
        self.world = h.World('copilotctl')
        self.daemon = self.world.daemon()
        self.address = self.world.bus.address
        self.env = dict(self.world.child_env, DBUS_SESSION_BUS_ADDRESS=self.address)
        self.work = self.world.workdir

    def daemon_output(self):
        return self.daemon.output()

    def close(self):
        self.world.close()


def ctl(stack, *args, stdin=subprocess.DEVNULL, timeout=120, env=None):
    """copilotctl without a terminal; returns (status, stdout, stderr)."""
    p = subprocess.run([copilotctl, '--address', stack.address] + list(args),
                       env=dict(stack.env, **(env or {})), stdin=stdin, capture_output=True, text=True,
                       timeout=timeout, cwd=stack.work, start_new_session=True)
    return p.returncode, p.stdout, p.stderr


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def ctl_pty(stack, args, script, timeout=120):
    """copilotctl on a pseudo-terminal: script is [(regex, text to type)]."""
    return h.pty_run([copilotctl, '--address', stack.address] + args, script,
                     env=stack.env, cwd=stack.work, timeout=timeout)


def main():
    try:
        h.real_cli()
    except h.SetupError as e:
        print(f'Bail out! {e}')
        return 1

    stack = Stack()
    try:
        run_tests(stack)
    finally:
        if tap.failed:
            tap.comment('copilotd log:\n' + stack.daemon_output(), last=60)
        stack.close()
    return tap.finish()


def run_tests(stack):
    # Usage errors exit 2, before any bus traffic.
    status, out, err = ctl(stack, 'frobnicate')
    check('an unknown command is a usage error', status == 2 and 'unknown command' in err, err)
    status, out, err = ctl(stack, 'ask')
    check('ask without a prompt is a usage error', status == 2, err)

    status, out, err = ctl(stack, 'status', '--json')
    st = json.loads(out) if status == 0 else {}
    check('status reports a running CLI speaking protocol 3',
          status == 0 and st.get('backend-state') == 'running' and st.get('protocol-version') == 3
          and st.get('version'), out + err)

    status, out, err = ctl(stack, 'models', '--json')
    models = json_lines(out) if status == 0 else []
    check('models lists at least one model with an id',
          status == 0 and len(models) > 0 and all(m.get('id') for m in models), out + err)

    # --json --yes: the permission is granted and the command really runs.
    target = os.path.join(stack.work, 'approved.txt')
    status, out, err = ctl(stack, 'ask', '--json', '--yes', 'RUN: echo approved-by-yes > approved.txt')
    lines = json_lines(out) if status == 0 else []
    perms = [x for x in lines if x.get('type') == 'permission']
    result = [x for x in lines if x.get('type') == 'result']
    check('ask --json --yes approves a shell command and reports it',
          status == 0 and perms and perms[0].get('kind') == 'shell' and
          perms[0].get('decision') == 'approved' and 'approved.txt' in perms[0].get('command', ''),
          out + err)
    check('the approved command ran in the working directory',
          os.path.exists(target) and open(target).read().strip() == 'approved-by-yes', out + err)
    check('the result line carries the session id and the final answer',
          len(result) == 1 and re.fullmatch(r'[0-9a-f-]{36}', result[0].get('session_id', '')) and
          result[0].get('aborted') is False and result[0].get('content'), out)
    approved_session = result[0]['session_id'] if result else ''

    # Without --yes and without a terminal nothing is approved.
    target = os.path.join(stack.work, 'rejected.txt')
    status, out, err = ctl(stack, 'ask', '--json', 'RUN: echo nope > rejected.txt')
    perms = [x for x in json_lines(out) if x.get('type') == 'permission'] if status == 0 else []
    check('ask --json without --yes rejects the command, which does not run',
          status == 0 and perms and perms[0].get('decision') == 'rejected' and not os.path.exists(target),
          out + err)

    # Streaming: deltas add up to the final content.
    status, out, err = ctl(stack, 'ask', '--json', 'SLOW: 5')
    lines = json_lines(out) if status == 0 else []
    deltas = ''.join(x['text'] for x in lines if x.get('type') == 'delta')
    result = [x for x in lines if x.get('type') == 'result']
    check('deltas stream the answer that the result line repeats',
          status == 0 and deltas and result and deltas.strip() == result[0]['content'].strip(),
          out + err)

    # A person on a terminal approves by typing y.
    target = os.path.join(stack.work, 'typed-yes.txt')
    status, out = ctl_pty(stack, ['ask', 'RUN: echo typed > typed-yes.txt'],
                          [(r'\[n\]o: ', 'y\n')])
    check('on a terminal the prompt shows the command and asks Allow?',
          'Allow?' in out and 'echo typed > typed-yes.txt' in out, out)
    check('typing y approves: the command ran and ask exits 0',
          status == 0 and os.path.exists(target), out)
    check('ask prints the session id for chat --resume',
          re.search(r'chat --resume [0-9a-f-]{36}', out) is not None, out)

    # ... and rejects by typing n (and no reason).
    target = os.path.join(stack.work, 'typed-no.txt')
    status, out = ctl_pty(stack, ['ask', 'RUN: echo typed > typed-no.txt'],
                          [(r'\[n\]o: ', 'n\n'), (r'optional\): ', '\n')])
    check('typing n rejects: the command did not run',
          status == 0 and not os.path.exists(target), out)

    # A question: --yes picks the first choice.
    status, out, err = ctl(stack, 'ask', '--json', '--yes', 'ASK: Which colour? | red | blue')
    inputs = [x for x in json_lines(out) if x.get('type') == 'user_input'] if status == 0 else []
    check('ask --yes answers a question with its first choice',
          inputs and inputs[0].get('response') == 'answered' and inputs[0].get('answer') == 'red',
          out + err)

    # Chat from a pipe: one turn per line.
    p = subprocess.run([copilotctl, '--address', stack.address, 'chat', '--json'],
                       input='SLOW: 2\nSLOW: 3\n', env=stack.env, capture_output=True, text=True,
                       timeout=120, cwd=stack.work, start_new_session=True)
    results_lines = [x for x in json_lines(p.stdout) if x.get('type') == 'result']
    check('chat reads one prompt per line until end of input',
          p.returncode == 0 and len(results_lines) == 2 and
          results_lines[0]['session_id'] == results_lines[1]['session_id'], p.stdout + p.stderr)

    # The session list knows what was said.
    status, out, err = ctl(stack, 'sessions', '--json')
    ids = [x.get('session-id') for x in json_lines(out)] if status == 0 else []
    check('sessions lists the session of the first ask', approved_session in ids, out + err)
    # Log lines go to stderr: with every debug message on, stdout is
    # still nothing but JSON.
    debug = {'G_MESSAGES_DEBUG': 'all'}
    status, out, err = ctl(stack, 'sessions', '--json', env=debug)
    try:
        ids = [x.get('session-id') for x in json_lines(out)] if status == 0 else []
    except ValueError:
        ids = []
    check('sessions --json with G_MESSAGES_DEBUG=all still prints only JSON',
          approved_session in ids, out + err)
    status, out, err = ctl(stack, 'ask', '--json', 'Say hi', env=debug)
    try:
        types = [x.get('type') for x in json_lines(out)] if status == 0 else []
    except ValueError:
        types = []
    check('ask --json with G_MESSAGES_DEBUG=all still prints only JSON',
          'result' in types, out + err)
    status, out, err = ctl(stack, 'sessions')
    check('sessions prints aligned columns with a header',
          status == 0 and re.match(r'ID\s+MODIFIED\s+LIVE\s+SUMMARY', out), out + err)

    status, out, err = ctl(stack, 'show', approved_session)
    check('show prints the transcript of a stored session',
          status == 0 and 'approved-by-yes' in out and 'You:' in out, out + err)

    # agent: a fallback for sessions whose own client has no agent.
    agent = subprocess.Popen([copilotctl, '--address', stack.address, 'agent', '--json', '--yes'],
                             env=stack.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    ready = agent.stdout.readline()
    check('agent --json says when it is ready', json.loads(ready or '{}').get('type') == 'ready',
          ready + (agent.stderr.read() if agent.poll() is not None else ''))
    conn = Gio.DBusConnection.new_for_address_sync(
        stack.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def turn(prompt):
        (path,) = conn.call_sync(NAME, '/io/github/copilotd/Copilot1', NAME + '.Manager', 'CreateSession',
                                 GLib.Variant('(a{sv})', ({'working-directory': GLib.Variant('s', stack.work)},)),
                                 None, 0, 120000, None).unpack()
        conn.call_sync(NAME, path, NAME + '.Session', 'SendAndWait', GLib.Variant('(sa{sv})', (prompt, {})),
                       None, 0, 120000, None)

    turn('RUN: echo from-agent > agent.txt')
    target = os.path.join(stack.work, 'agent.txt')
    check('agent approves a request of another program\'s session',
          os.path.exists(target) and open(target).read().strip() == 'from-agent',
          stack.daemon_output()[-3000:])
    agent.send_signal(signal.SIGINT)
    try:
        agent_status = agent.wait(20)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent_status = None
    lines = json_lines(agent.stdout.read())
    check('agent reports the decision and exits 130 on Ctrl-C',
          agent_status == 130 and any(x.get('type') == 'permission' and x.get('decision') == 'approved'
                                    for x in lines), repr(lines))
    turn('RUN: echo without-agent > no-agent.txt')
    check('with the agent gone nothing approves: the command did not run',
          not os.path.exists(os.path.join(stack.work, 'no-agent.txt')), stack.daemon_output()[-2000:])
    conn.close_sync(None)

    status, out, err = ctl(stack, 'delete', approved_session)
    status2, out2, err2 = ctl(stack, 'show', approved_session)
    check('delete removes the session; show then fails readably',
          status == 0 and status2 == 1 and err2.startswith('copilotctl: ') and
          'GDBus.Error' not in err2, err + err2)

    agent_answers_plan_on_terminal(stack)


def agent_answers_plan_on_terminal(stack):
    """`copilotctl agent` on a terminal: a plan of another app's session is
    shown with its actions and the app asking; Enter approves the
    recommended action and the session leaves plan mode."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(stack.work)
        os.execve(copilotctl, [copilotctl, '--address', stack.address, 'agent'], stack.env)
    out = b''

    def read_until(pattern, timeout=60):
        nonlocal out
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, out.decode(errors='replace'), re.S):
                return True
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                out += chunk
        return False

    result = {}

    def plan_turn():
        conn = Gio.DBusConnection.new_for_address_sync(
            stack.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        options = {'working-directory': GLib.Variant('s', stack.work),
                   'client-name': GLib.Variant('s', 'org.example.Planner')}
        (path,) = conn.call_sync(NAME, '/io/github/copilotd/Copilot1', NAME + '.Manager', 'CreateSession',
                                 GLib.Variant('(a{sv})', (options,)), None, 0, 120000, None).unpack()
        conn.call_sync(NAME, path, NAME + '.Session', 'SetMode', GLib.Variant('(sa{sv})', ('plan', {})),
                       None, 0, 120000, None)
        conn.call_sync(NAME, path, NAME + '.Session', 'SendAndWait',
                       GLib.Variant('(sa{sv})', ('TOOL: exit_plan_mode {"summary": "Add a README"}', {})),
                       None, 0, 120000, None)
        (mode,) = conn.call_sync(NAME, path, 'org.freedesktop.DBus.Properties', 'Get',
                                 GLib.Variant('(ss)', (NAME + '.Session', 'Mode')),
                                 None, 0, 120000, None).unpack()
        result['mode'] = mode
        conn.close_sync(None)

    thread = None
    try:
        if read_until(r'Waiting for requests'):
            thread = threading.Thread(target=plan_turn, daemon=True)
            thread.start()
        asked = read_until(r'Approve\?[^\n]*: ')
        text = out.decode(errors='replace')
        check('agent shows the plan, its actions and the app that asks',
              asked and 'Add a README' in text and 'interactive' in text and
              'org.example.Planner' in text and '(recommended)' in text, text)
        os.write(fd, b'\n')
        if thread is not None:
            thread.join(120)
        check('Enter approves the recommended action: the session left plan mode',
              result.get('mode') not in (None, 'plan'), repr(result) + out.decode(errors='replace'))
    finally:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            read_until(r'$^', 0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    check('agent exits 130 on Ctrl-C after the plan',
          status is not None and os.waitstatus_to_exitcode(status) == 130, out.decode(errors='replace'))


if __name__ == '__main__':
    sys.exit(main())
