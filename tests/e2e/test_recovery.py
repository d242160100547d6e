#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of copilotd's recovery with the real Copilot CLI.

The CLI dying while idle or in a turn, a CLI that never starts, a daemon
restart, D-Bus activation and --idle-exit. Each case gets its own private
bus, offline model and COPILOT_HOME (harness.World). TAP output.
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    BUS_NAME, DBUS, ERROR, MANAGER, SESSION, GLib, Gio, Bus, TestFailure, binary, check,
    expect_error, log_problems, pid_alive, real_cli, run_cases, spin, user_texts, wait_until,
)

BACKEND_FAILED = ERROR + "BackendFailed"


def model_saw(world, text, since=0):
    """True when a model request after the first @since ones holds @text in a
    user message."""
    return any(text in t for request in world.model.requests()[since:] for t in user_texts(request))


def wait_restarted(client, path, cli_before, daemon, timeout=40):
    """The backend went restarting → running, the session got
    copilotd.backend_restarted, and a new CLI process runs."""
    wait_until(lambda: client.events_of(path, "copilotd.backend_restarted"), timeout,
             "the copilotd.backend_restarted event")
    wait_until(lambda: client.states and client.states[-1] == "running", 10,
             "BackendState 'running' after the restart")
    check("restarting" in client.states,
          f"BackendState never said 'restarting': {client.states}")
    check(client.states.index("restarting") < len(client.states) - 1,
          f"'running' did not follow 'restarting': {client.states}")
    check(client.backend_state() == "running", "BackendState is not 'running'")
    cli_after = daemon.cli_pid()
    check(cli_after != cli_before, "the CLI was not restarted (same pid)")


# ---- 1 -------------------------------------------------------------------------

def test_kill_idle(world_factory):
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    path = client.create_session()
    # A session without a message yet: the CLI has not written it to disk.
    fresh = client.create_session()
    content, _ = client.send_and_wait(path, "Remember the word PELICAN-IDLE-1.")
    check(content, "the first turn gave no answer")
    check(model_saw(world, "PELICAN-IDLE-1"), "the model never saw the first prompt")
    check(client.backend_state() == "running", "BackendState is not 'running'")

    cli = daemon.cli_pid()
    client.states.clear()
    os.kill(cli, signal.SIGKILL)
    wait_restarted(client, path, cli, daemon)

    # The same object answers, and the restarted CLI resumed the history.
    seen = len(world.model.requests())
    content, _ = client.send_and_wait(path, "What word did I ask you to remember? SECOND-TURN-1")
    check(content, "the turn after the restart gave no answer")
    later = world.model.requests()[seen:]
    check(later, "the model got no request after the restart")
    texts = [t for request in later for t in user_texts(request)]
    check(any("SECOND-TURN-1" in t for t in texts), "the new prompt did not reach the model")
    check(any("PELICAN-IDLE-1" in t for t in texts),
          "the history was lost: the earlier prompt is not in the model request")
    check(client.call(path, SESSION, "GetMessages", ({},), "(a{sv})"), "no messages")

    wait_until(lambda: client.events_of(fresh, "copilotd.backend_restarted"), 10,
             "copilotd.backend_restarted on the session without messages")
    content, _ = client.send_and_wait(fresh, "First words FRESH-1")
    check(content, "the session without messages does not answer after the restart")



# ---- 2 -------------------------------------------------------------------------

def test_kill_streaming(world_factory):
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    path = client.create_session()
    content, _ = client.send_and_wait(path, "Remember the word HERON-STREAM-2.")
    check(content, "the first turn gave no answer")

    # 60 words, 250 ms apart: the turn streams for 15 s.
    before = len(client.deltas)
    pending = client.call_async(path, SESSION, "SendAndWait", ("SLOW: 60", {}), "(sa{sv})",
                                timeout_ms=120000)
    wait_until(lambda: len([d for d in client.deltas[before:] if d[0] == path]) >= 2, 30,
             "the slow turn to stream")
    cli = daemon.cli_pid()
    client.states.clear()
    os.kill(cli, signal.SIGKILL)

    pending.settle(20)
    check(pending.error is not None, f"SendAndWait of the lost turn returned {pending.result}")
    check(pending.error.name == BACKEND_FAILED,
          f"SendAndWait failed with {pending.error.name}, not BackendFailed")

    wait_restarted(client, path, cli, daemon)
    errors = client.events_of(path, "session.error")
    check(errors, "no session.error event for the lost turn")
    lost = [e for e in errors if json.loads(e[4]).get("errorType") == "backend_lost"]
    check(lost, f"no session.error with errorType backend_lost: {[e[4] for e in errors]}")
    idles = [e for e in client.events_of(path, "session.idle") if e[1] > lost[0][1]]
    check(idles, "no session.idle after the backend_lost error")
    restarted = client.events_of(path, "copilotd.backend_restarted")
    check(restarted[0][1] > idles[0][1],
          "copilotd.backend_restarted came before the lost turn's session.idle")
    state = client.get_property(path, SESSION, "State")
    check(state == "idle", f"the session is '{state}' after the restart, not idle")

    seen = len(world.model.requests())
    content, _ = client.send_and_wait(path, "Which word? THIRD-TURN-2")
    check(content, "the turn after the restart gave no answer")
    texts = [t for request in world.model.requests()[seen:] for t in user_texts(request)]
    check(any("THIRD-TURN-2" in t for t in texts), "the new prompt did not reach the model")
    check(any("HERON-STREAM-2" in t for t in texts),
          "the history was lost: the completed turn's prompt is not in the model request")


# ---- 3 -------------------------------------------------------------------------

MAX_FAILURES = 5        # restart-max-failures, the default


def test_cli_dies_at_start(world_factory):
    world = world_factory()
    starts = world.tmp("starts")
    script = world.tmp("dying-cli")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\necho \"$$\" >> '{starts}'\nexec false\n")
    os.chmod(script, 0o755)

    def count():
        try:
            with open(starts) as f:
                return len(f.readlines())
        except FileNotFoundError:
            return 0

    daemon = world.daemon(cli=script)
    client = world.client()
    began = time.monotonic()
    expect_error(BACKEND_FAILED, client.create_session)
    # By the announcement: a Get may answer 'failed' before the
    # PropertiesChanged that says so has reached the client.
    client.wait_state("failed", 15)
    check(client.backend_state() == "failed", "BackendState announced 'failed' but reads otherwise")
    elapsed = time.monotonic() - began
    n = count()
    check(1 <= n <= MAX_FAILURES + 1,
          f"the CLI was started {n} times before 'failed' (at most {MAX_FAILURES + 1})")
    check("restarting" in client.states, f"no backoff ('restarting') seen: {client.states}")
    check(client.states[-1] == "failed", f"BackendState went on after 'failed': {client.states}")
    # Backoff, not a busy loop: the starts were spread over seconds.
    check(elapsed >= 2, f"'failed' after {n} starts in {elapsed:.1f} s: no backoff")

    spin(3)
    check(count() == n, f"the CLI was started again after 'failed' ({count()} > {n})")
    check(client.backend_state() == "failed", "BackendState left 'failed' on its own")

    # The next call tries once more, then the backend is failed again.
    expect_error(BACKEND_FAILED, client.manager, "ListSessions", ({},), "(a{sv})")
    wait_until(lambda: client.backend_state() == "failed", 15, "BackendState 'failed' again")
    spin(3)
    check(count() == n + 1, f"the next call started the CLI {count() - n} times, not once")
    check(daemon.proc.poll() is None, "copilotd exited")


# ---- 4 -------------------------------------------------------------------------

def session_id_of(client, path):
    return client.get_property(path, SESSION, "Id")


def test_daemon_restart(world_factory):
    world = world_factory()
    first = world.daemon()
    client = world.client()

    paths = [client.create_session(), client.create_session()]
    ids = [session_id_of(client, p) for p in paths]
    for n, path in enumerate(paths):
        content, _ = client.send_and_wait(path, f"Remember the word OSPREY-{n}-RESTART-4.")
        check(content, "a turn gave no answer")
    check(first.terminate() == 0, "copilotd did not exit 0 on SIGTERM")
    client.close()

    second = world.daemon()
    client = world.client()
    listed = client.manager("ListSessions", ({},), "(a{sv})")[0]
    listed_ids = [entry.get("session-id") for entry in listed]
    for session_id in ids:
        check(session_id in listed_ids, f"ListSessions lacks {session_id}: {listed_ids}")
    for entry in listed:
        check("object" not in entry, f"a session is live in the new daemon: {entry}")

    for n, session_id in enumerate(ids):
        path = client.manager("ResumeSession", (session_id, {}), "(sa{sv})")[0]
        check(path == paths[n], f"resumed at {path}, not at {paths[n]}")
        messages = client.call(path, SESSION, "GetMessages", ({},), "(a{sv})")[0]
        users = [data for type_, meta, data in messages if type_ == "user.message"]
        check(any(f"OSPREY-{n}-RESTART-4" in data for data in users),
              f"GetMessages after ResumeSession lacks the old turn: {[m[0] for m in messages]}")
        assistants = [m for m in messages if m[0] == "assistant.message"]
        check(assistants, "GetMessages after ResumeSession has no assistant.message")

    seen = len(world.model.requests())
    content, _ = client.send_and_wait(paths[0], "Which word? AFTER-RESTART-4")
    check(content, "no answer after the resume")
    texts = [t for request in world.model.requests()[seen:] for t in user_texts(request)]
    check(any("OSPREY-0-RESTART-4" in t for t in texts),
          "the resumed session's model request lacks its history")
    check(second.proc.poll() is None, "the second copilotd exited")


# ---- 5 -------------------------------------------------------------------------

def test_activation(world_factory):
    world = world_factory(bus=False)
    built = os.environ.get("COPILOTD_ACTIVATION_FILE", "")
    with open(built) as f:
        lines = f.read().splitlines()
    check("[D-BUS Service]" in lines, f"{built} has no [D-BUS Service] group")
    names = [line.split("=", 1)[1] for line in lines if line.startswith("Name=")]
    check(names == [BUS_NAME], f"{built} names {names}, not {BUS_NAME}")
    execs = [line for line in lines if line.startswith("Exec=")]
    check(len(execs) == 1 and execs[0].split("=", 1)[1].split()[0].endswith("/copilotd"),
          f"{built} has no Exec= running copilotd: {execs}")

    # The built file with Exec= pointing at a wrapper that runs the built
    # daemon with the test's CLI, model and COPILOT_HOME.
    services = world.tmp("services")
    os.makedirs(services)
    starts = world.tmp("starts")
    wrapper = world.tmp("copilotd-activated")
    env = world.child_env
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                f"echo \"$$\" >> '{starts}'\n"
                f"export COPILOT_SDK_AUTH_TOKEN='{env['COPILOT_SDK_AUTH_TOKEN']}'\n"
                f"export COPILOT_API_URL='{env['COPILOT_API_URL']}'\n"
                f"export COPILOT_DEBUG_GITHUB_API_URL='{env['COPILOT_DEBUG_GITHUB_API_URL']}'\n"
                f"exec '{binary('COPILOTD_DAEMON')}' --verbose --cli-path '{real_cli()}' "
                f"--copilot-home '{world.home}' --idle-exit 2 >> '{world.tmp('activated.log')}' 2>&1\n")
    os.chmod(wrapper, 0o755)
    with open(os.path.join(services, os.path.basename(built)), "w") as f:
        f.write("\n".join(f"Exec={wrapper}" if line.startswith("Exec=") else line
                          for line in lines) + "\n")

    world.bus = bus = Bus(world.tmp, servicedir=services)
    client = world.client()
    owners = []
    bus.conn.signal_subscribe(DBUS, DBUS, "NameOwnerChanged", "/org/freedesktop/DBus", BUS_NAME,
                              Gio.DBusSignalFlags.NONE,
                              lambda *a: owners.append(a[5].unpack()[2]), None)
    check(bus.name_owner() is None, "the name is owned before any call")

    pids = []
    for round_ in range(2):
        status = client.manager("GetStatus", timeout=60)[0]
        # Activated by the call; GetStatus itself never starts the CLI.
        check(status.get("backend-state") == "stopped",
              f"GetStatus after activation: {status}")
        owner = bus.name_owner()
        check(owner, "nobody owns the name after an activating call")
        pid = bus.pid_of(owner)
        pids.append(pid)
        check(pid_alive(pid), "the activated daemon is not running")
        with open(starts) as f:
            check(len(f.readlines()) == round_ + 1, "the daemon was not started by activation")
        # --idle-exit 2: no session, no agent → the name loses its owner.
        begin = time.monotonic()
        wait_until(lambda: owners and owners[-1] == "", 20, "the idle daemon to give up its name")
        check(time.monotonic() - begin >= 1, "the daemon gave up its name before --idle-exit")
        wait_until(lambda: not pid_alive(pid), 15, "the idle daemon to exit")
        check(bus.name_owner() is None, "the name still has an owner")
    check(pids[0] != pids[1], "the second call did not start a new daemon")
    problems = log_problems(world.tmp("activated.log"))
    check(not problems, "the activated daemons logged:\n" + "\n".join(problems[:10]))


# ---- 6 -------------------------------------------------------------------------

def test_idle_exit_waits(world_factory):
    world = world_factory()
    daemon = world.daemon(args=["--idle-exit", "2"])
    client = world.client()

    path = client.create_session()
    spin(5)
    check(daemon.proc.poll() is None, "copilotd exited with a live session")
    client.call(path, SESSION, "Destroy", ({},), "(a{sv})")

    agent = client.call("/io/github/copilotd/Copilot1", BUS_NAME + ".AgentManager",
                        "RegisterAgent", ("/test/agent", {}), "(oa{sv})")
    spin(5)
    check(daemon.proc.poll() is None, "copilotd exited with an agent registered")
    client.call("/io/github/copilotd/Copilot1", BUS_NAME + ".AgentManager",
                "UnregisterAgent", ("/test/agent",), "(o)")
    del agent

    try:
        status = daemon.proc.wait(15)
    except Exception:
        raise TestFailure("copilotd did not exit after --idle-exit with no session and no agent")
    check(status == 0, f"copilotd exited with {status} after --idle-exit")


# ---- 7 -------------------------------------------------------------------------

def test_sigterm(world_factory):
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    path = client.create_session()
    session_id = session_id_of(client, path)
    content, _ = client.send_and_wait(path, "Remember the word EGRET-TERM-7.")
    check(content, "the turn gave no answer")
    cli = daemon.cli_pid()
    closed = []
    client.conn.signal_subscribe(None, SESSION, "Closed", path, None, Gio.DBusSignalFlags.NONE,
                                 lambda *a: closed.append(a[5].unpack()[0]), None)

    began = time.monotonic()
    status = daemon.terminate()
    check(status == 0, f"copilotd exited with {status} on SIGTERM")
    check(time.monotonic() - began < 10, "copilotd took more than 10 s to stop")
    check(not pid_alive(cli), f"the CLI (pid {cli}) outlived copilotd")
    wait_until(lambda: closed, 10, "the session's Closed signal")

    world.daemon()
    client2 = world.client()
    path2 = client2.manager("ResumeSession", (session_id, {}), "(sa{sv})")[0]
    messages = client2.call(path2, SESSION, "GetMessages", ({},), "(a{sv})")[0]
    check(any("EGRET-TERM-7" in data for type_, meta, data in messages if type_ == "user.message"),
          "the session lost its turn across SIGTERM")



# ---- 8 -------------------------------------------------------------------------

def test_kill_twice(world_factory):
    """The restarted CLI dies again at once, while the session is being
    resumed into it: the session must wait for the next restart, not close."""
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    paths = [client.create_session(), client.create_session()]
    content, _ = client.send_and_wait(paths[0], "Remember the word CORMORANT-TWICE-8.")
    check(content, "the first turn gave no answer")
    closed = []
    client.conn.signal_subscribe(None, SESSION, "Closed", None, None, Gio.DBusSignalFlags.NONE,
                                 lambda *a: closed.append((a[2], a[5].unpack()[0])), None)

    cli = daemon.cli_pid()
    client.states.clear()
    os.kill(cli, signal.SIGKILL)
    # Kill the next CLI the moment the backend says it runs again: the
    # resumes of both sessions are in flight then.
    wait_until(lambda: "running" in client.states, 30, "the first restart")
    second = daemon.cli_pid()
    check(second != cli, "no new CLI after the first kill")
    os.kill(second, signal.SIGKILL)
    client.states.clear()

    for path in paths:
        wait_until(lambda: client.events_of(path, "copilotd.backend_restarted"), 40,
                 "copilotd.backend_restarted")
    wait_until(lambda: client.backend_state() == "running" and daemon.cli_pids()
             and second not in daemon.cli_pids(), 40, "a third CLI")
    check(not closed, f"sessions were closed by the second crash: {closed}")

    seen = len(world.model.requests())
    content, _ = client.send_and_wait(paths[0], "Which word? AFTER-TWICE-8")
    check(content, "no answer after two crashes")
    texts = [t for request in world.model.requests()[seen:] for t in user_texts(request)]
    check(any("CORMORANT-TWICE-8" in t for t in texts), "the history was lost after two crashes")
    content, _ = client.send_and_wait(paths[1], "Hello again SECOND-SESSION-8")
    check(content, "the second session does not answer after two crashes")


# ---- 9 -------------------------------------------------------------------------

def test_sigterm_hung_cli(world_factory):
    """A CLI that no longer answers (SIGSTOP) must not keep copilotd from
    exiting on SIGTERM."""
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    client.create_session()
    cli = daemon.cli_pid()
    os.kill(cli, signal.SIGSTOP)
    try:
        began = time.monotonic()
        status = daemon.terminate(timeout=30)
        elapsed = time.monotonic() - began
    finally:
        try:
            os.kill(cli, signal.SIGCONT)
        except OSError:
            pass
    check(status == 0, f"copilotd exited with {status}")
    check(elapsed < 10, f"copilotd took {elapsed:.1f} s to exit with a hung CLI")
    wait_until(lambda: not pid_alive(cli), 5, "the hung CLI to be killed")



# ---- 10 ------------------------------------------------------------------------

def test_sigterm_mid_turn(world_factory):
    world = world_factory()
    daemon = world.daemon()
    client = world.client()

    path = client.create_session()
    before = len(client.deltas)
    pending = client.call_async(path, SESSION, "SendAndWait", ("SLOW: 60", {}), "(sa{sv})",
                                timeout_ms=120000)
    wait_until(lambda: len([d for d in client.deltas[before:] if d[0] == path]) >= 2, 30,
             "the slow turn to stream")
    cli = daemon.cli_pid()
    began = time.monotonic()
    status = daemon.terminate()
    check(status == 0, f"copilotd exited with {status} on SIGTERM in a turn")
    check(time.monotonic() - began < 10, "copilotd took more than 10 s to stop in a turn")
    wait_until(lambda: not pid_alive(cli), 5, "the CLI to be gone")
    pending.settle(10)
    check(pending.error is not None, "SendAndWait of a turn cut by SIGTERM succeeded")


CASES = [
    ("SIGKILL of the idle CLI: restart, same path, history intact", test_kill_idle),
    ("SIGKILL of the CLI in a streaming turn: BackendFailed, session.error, recovery",
     test_kill_streaming),
    ("a CLI that dies at every start: backoff, 'failed', one retry per call",
     test_cli_dies_at_start),
    ("daemon restart: ListSessions and ResumeSession bring sessions back", test_daemon_restart),
    ("D-Bus activation starts copilotd; --idle-exit ends it; the next call restarts it",
     test_activation),
    ("--idle-exit waits while a session or an agent exists", test_idle_exit_waits),
    ("SIGTERM with a live session: exit 0, no orphan CLI, resumable", test_sigterm),
    ("two CLI crashes in a row: sessions survive the crash during their resume", test_kill_twice),
    ("SIGTERM with a hung (SIGSTOPped) CLI: copilotd still exits, the CLI is killed",
     test_sigterm_hung_cli),
    ("SIGTERM in a streaming turn: exit 0, no orphan CLI, the waiting call fails",
     test_sigterm_mid_turn),
]

if __name__ == "__main__":
    run_cases(CASES)
