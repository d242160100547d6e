#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""copilotd's command line (DESIGN.md §7): --replace, --config, --version,
and bad options or configuration, on a private bus with the fake CLI."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    BUS_NAME as NAME, Daemon, GLib, binary, children_of, cmdline, environ_of, pid_alive,
    run_cases, stop_process,
)

DAEMON = binary("COPILOTD_DAEMON")
FAKE_CLI = binary("COPILOTD_FAKE_CLI")


def daemon(world, *args):
    """copilotd with the fake CLI, not waiting for its name."""
    return world.daemon(fake=True, args=args, verbose=False, wait=False)


def owner(world):
    return world.bus.pid_of(NAME)


def get_status(world):
    return world.bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager",
                                    "GetStatus", None, None, 0, 20000, None).unpack()[0]


def stop(d):
    return stop_process(d.proc, 15)


def test_version(world_factory):
    run = subprocess.run([DAEMON, "--version"], capture_output=True, text=True, timeout=10)
    assert run.returncode == 0 and run.stdout.startswith("copilotd "), (run.returncode, run.stdout)


def test_bad_option_fails(world_factory):
    world = world_factory(model=False)
    run = subprocess.run([DAEMON, "--no-such-option"], capture_output=True, text=True,
                         timeout=10, env=world.child_env)
    assert run.returncode == 1 and "no-such-option" in run.stderr, (run.returncode, run.stderr)


def test_name_taken_without_replace(world_factory):
    world = world_factory(model=False)
    first = daemon(world)
    try:
        world.bus.wait_owner(first.pid)
        second = daemon(world, "--verbose")
        try:
            status = second.proc.wait(15)
        except subprocess.TimeoutExpired:
            status = stop(second)
        assert status == 1 and "--replace" in second.output(), (status, second.output())
        assert owner(world) == first.pid, "the first daemon lost the name"
    finally:
        assert stop(first) == 0


def test_replace_takes_over(world_factory):
    world = world_factory(model=False)
    first = daemon(world)
    second = None
    try:
        world.bus.wait_owner(first.pid)
        second = daemon(world, "--replace")
        world.bus.wait_owner(second.pid)
        assert first.proc.wait(15) == 0, "the replaced daemon did not exit 0"
    finally:
        stop(first)
        if second is not None:
            assert stop(second) == 0


def test_config_file(world_factory):
    # The CLI path comes from the file: without it the daemon has none.
    world = world_factory(model=False)
    env = dict(world.child_env, PATH="/usr/bin:/bin")
    good = Daemon(world.tmp, world.bus, env=env, verbose=False, log="good.log",
                  config=f"[copilotd]\ncli-path={FAKE_CLI}\nidle-exit=1\n")
    world.daemons.append(good)
    try:
        world.bus.wait_owner(good.pid)
        # GetStatus never starts the CLI: Ping does.
        world.bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager", "Ping",
                                 GLib.Variant("(s)", ("start",)), None, 0, 20000, None)
        status = get_status(world)
        assert status.get("backend-state") == "running" and \
            status.get("version", "").endswith("fake"), status
        # idle-exit=1 from the file: no session, no agent, so it leaves.
        assert good.proc.wait(15) == 0, "idle-exit from the config file did not end the daemon"
    finally:
        stop(good)

    bad = world.tmp("bad.conf")
    with open(bad, "w") as f:
        f.write("[copilotd]\npermission-timeout=soon\n")
    run = subprocess.run([DAEMON, "--config", bad], capture_output=True, text=True, timeout=10,
                         env=world.child_env)
    assert run.returncode == 1 and "permission-timeout" in run.stderr and "bad.conf" in run.stderr, \
        (run.returncode, run.stderr)


def fake_clis(pid):
    """The fake CLIs the daemon @pid runs (from /proc)."""
    return [kid for kid in children_of(pid) if os.path.basename(cmdline(kid)[0]) == b"fake-cli"]


def test_verbose_logs_cli_stderr(world_factory):
    # The fake CLI says "fake-cli: started pid N" on stderr; --verbose shows
    # it in the daemon's debug log, which goes to stderr, never stdout, and
    # does not reach the CLI's environment as G_MESSAGES_DEBUG.
    world = world_factory(model=False)
    world.child_env.pop("G_MESSAGES_DEBUG", None)
    d = daemon(world, "--verbose")
    try:
        world.bus.wait_owner(d.pid)
        world.bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager",
                                 "CreateSession", GLib.Variant("(a{sv})", ({},)), None, 0, 20000,
                                 None)
        clis = fake_clis(d.pid)
        assert len(clis) == 1, clis
        environ = environ_of(clis[0])
        assert b"G_MESSAGES_DEBUG" not in environ, environ
    finally:
        assert stop(d) == 0
    assert "CLI stderr: fake-cli: started pid" in d.output(), d.output()[-2000:]
    assert d.stdout() == "", d.stdout()[-2000:]


def test_daemon_env_does_not_reach_cli(world_factory):
    # What only the daemon reads (GLib's debug switches, however they were
    # set) is not passed on to the CLI; what the CLI needs is.
    world = world_factory(model=False)
    world.child_env["G_MESSAGES_DEBUG"] = "all"
    world.child_env["G_DEBUG"] = "fatal-criticals"
    d = daemon(world)
    try:
        world.bus.wait_owner(d.pid)
        world.bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager", "Ping",
                                 GLib.Variant("(s)", ("hi",)), None, 0, 20000, None)
        (cli,) = fake_clis(d.pid)
        environ = environ_of(cli)
        for leaked in (b"G_MESSAGES_DEBUG", b"G_DEBUG"):
            assert leaked not in environ, environ
        assert b"COPILOT_HOME" in environ and b"PATH" in environ, environ
    finally:
        assert stop(d) == 0


def test_cli_dies_with_killed_daemon(world_factory):
    # A CLI deaf to SIGTERM and to stdin EOF: only the kernel's parent-death
    # signal (PR_SET_PDEATHSIG) ends it when the daemon is SIGKILLed.
    world = world_factory(model=False)
    world.child_env["FAKE_CLI_IGNORE_SIGTERM"] = "1"
    d = daemon(world)
    clis = []
    try:
        world.bus.wait_owner(d.pid)
        world.bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager", "Ping",
                                 GLib.Variant("(s)", ("hi",)), None, 0, 20000, None)
        clis = fake_clis(d.pid)
        assert len(clis) == 1, clis
        d.proc.kill()
        d.proc.wait(10)
        deadline = time.monotonic() + 10
        while pid_alive(clis[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(clis[0]), "the CLI outlived the SIGKILLed daemon"
    finally:
        stop(d)
        for pid in clis:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


CASES = [(fn.__name__, fn) for fn in (
    test_version, test_bad_option_fails, test_name_taken_without_replace,
    test_replace_takes_over, test_config_file, test_verbose_logs_cli_stderr,
    test_daemon_env_does_not_reach_cli, test_cli_dies_with_killed_daemon)]

if __name__ == "__main__":
    run_cases(CASES, needs_cli=False)
