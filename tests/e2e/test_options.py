#!/usr/bin/python3
"""copilotd's command line (DESIGN.md §7): --replace, --config, --version,
and bad options or configuration, on a private bus with the fake CLI."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from gi.repository import Gio, GLib

NAME = "io.github.copilotd.Copilot1"
DAEMON = os.environ["COPILOTD_DAEMON"]
FAKE_CLI = os.environ["COPILOTD_FAKE_CLI"]


class Bus:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="copilotd-options-")
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = self.proc.stdout.readline().strip()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address,
                        COPILOT_HOME=os.path.join(self.tmp, "home"),
                        XDG_CONFIG_HOME=os.path.join(self.tmp, "config"))

    def daemon(self, *args):
        return subprocess.Popen([DAEMON, "--cli-path", FAKE_CLI] + list(args), env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def owner(self):
        try:
            return self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       GLib.Variant("(s)", (NAME,)), None, 0, -1, None).unpack()[0]
        except GLib.Error:
            return None

    def wait_owner(self, pid, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.owner() == pid:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.conn.close_sync(None)
        self.proc.terminate()
        self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def test_version(bus):
    run = subprocess.run([DAEMON, "--version"], capture_output=True, text=True, timeout=10)
    assert run.returncode == 0 and run.stdout.startswith("copilotd "), (run.returncode, run.stdout)


def test_bad_option_fails(bus):
    run = subprocess.run([DAEMON, "--no-such-option"], capture_output=True, text=True,
                         timeout=10, env=bus.env)
    assert run.returncode == 1 and "no-such-option" in run.stderr, (run.returncode, run.stderr)


def test_name_taken_without_replace(bus):
    first = bus.daemon()
    try:
        assert bus.wait_owner(first.pid), "the first daemon did not take the name"
        second = bus.daemon()
        status = stop(second) if second.wait(15) is None else second.returncode
        err = second.stderr.read()
        assert status == 1 and "--replace" in err, (status, err)
        assert bus.owner() == first.pid, "the first daemon lost the name"
    finally:
        assert stop(first) == 0


def test_replace_takes_over(bus):
    first = bus.daemon()
    second = None
    try:
        assert bus.wait_owner(first.pid), "the first daemon did not take the name"
        second = bus.daemon("--replace")
        assert bus.wait_owner(second.pid), "--replace did not take the name"
        assert first.wait(15) == 0, "the replaced daemon did not exit 0"
    finally:
        stop(first)
        if second is not None:
            assert stop(second) == 0


def test_config_file(bus):
    # The CLI path comes from the file: without it the daemon has none.
    good = os.path.join(bus.tmp, "good.conf")
    with open(good, "w") as f:
        f.write(f"[copilotd]\ncli-path={FAKE_CLI}\nidle-exit=1\n")
    proc = subprocess.Popen([DAEMON, "--config", good], env=dict(bus.env, PATH="/usr/bin:/bin"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert bus.wait_owner(proc.pid), "the daemon did not start from the config file"
        status = bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager", "GetStatus",
                                    None, None, 0, 20000, None).unpack()[0]
        assert status.get("backend-state") == "running" and status.get("version", "").endswith("fake"), status
        # idle-exit=1 from the file: no session, no agent, so it leaves.
        assert proc.wait(15) == 0, "idle-exit from the config file did not end the daemon"
    finally:
        stop(proc)

    bad = os.path.join(bus.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("[copilotd]\npermission-timeout=soon\n")
    run = subprocess.run([DAEMON, "--config", bad], capture_output=True, text=True, timeout=10, env=bus.env)
    assert run.returncode == 1 and "permission-timeout" in run.stderr and "bad.conf" in run.stderr, \
        (run.returncode, run.stderr)


def cli_children(pid):
    """The fake CLIs the daemon @pid runs (from /proc)."""
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(x) for x in f.read().split()]
    found = []
    for kid in kids:
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if os.path.basename(f.read().split(b"\0")[0]) == b"fake-cli":
                    found.append(kid)
        except FileNotFoundError:
            pass
    return found


def test_verbose_logs_cli_stderr(bus):
    # The fake CLI says "fake-cli: started pid N" on stderr; --verbose shows
    # it in the daemon's debug log, which goes to stderr, never stdout, and
    # does not reach the CLI's environment as G_MESSAGES_DEBUG.
    env = dict(bus.env)
    env.pop("G_MESSAGES_DEBUG", None)
    proc = subprocess.Popen([DAEMON, "--cli-path", FAKE_CLI, "--verbose"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert bus.wait_owner(proc.pid), "the daemon did not start"
        bus.conn.call_sync(NAME, "/io/github/copilotd/Copilot1", NAME + ".Manager", "CreateSession",
                           GLib.Variant("(a{sv})", ({},)), None, 0, 20000, None)
        clis = cli_children(proc.pid)
        assert len(clis) == 1, clis
        with open(f"/proc/{clis[0]}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        assert not [v for v in environ if v.startswith(b"G_MESSAGES_DEBUG=")], environ
    finally:
        assert stop(proc) == 0
    out, err = proc.stdout.read(), proc.stderr.read()
    assert "CLI stderr: fake-cli: started pid" in err, err[-2000:]
    assert out == "", out[-2000:]


def main():
    tests = [test_version, test_bad_option_fails, test_name_taken_without_replace,
             test_replace_takes_over, test_config_file, test_verbose_logs_cli_stderr]
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, test in enumerate(tests, 1):
        bus = Bus()
        try:
            test(bus)
            print(f"ok {i} - {test.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"not ok {i} - {test.__name__}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"# {line}")
        finally:
            bus.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
