#!/usr/bin/python3
"""copilotd on a system bus: one CLI per user, running as that user, and
sessions visible and callable only by their owner's UID (DESIGN.md §7).

Runs the built daemon with the fake CLI on a private bus configured like a
system bus, with clients as root and as the unprivileged user "nobody"
(setpriv). Needs root; without it every case fails: it cannot show what it
is for.
"""
import json
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
ROOT = "/io/github/copilotd/Copilot1"
PREFIX = "io.github.copilotd.Copilot1."
NOBODY = 65534

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# Run as nobody: prints one JSON object with what that user saw.
NOBODY_CLIENT = r'''
import json, sys
from gi.repository import Gio, GLib
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
def call(path, iface, method, args=None, sig=None):
    try:
        v = bus.call_sync("io.github.copilotd.Copilot1", path, "io.github.copilotd.Copilot1." + iface, method,
                          GLib.Variant(sig, args) if sig else None, None, 0, 20000, None)
        return {"ok": v.unpack()}
    except GLib.Error as e:
        return {"error": Gio.DBusError.get_remote_error(e)}
root_id, root_path = sys.argv[2], sys.argv[3]
out = {}
out["create"] = call("/io/github/copilotd/Copilot1", "Manager", "CreateSession", ({},), "(a{sv})")
own = out["create"]["ok"][0]
out["send"] = call(own, "Session", "SendAndWait", ("hello from nobody", {}), "(sa{sv})")
out["list"] = call("/io/github/copilotd/Copilot1", "Manager", "ListSessions", ({},), "(a{sv})")
out["metadata_other"] = call("/io/github/copilotd/Copilot1", "Manager", "GetSessionMetadata", (root_id,), "(s)")
out["subscribe_other"] = call(root_path, "Session", "Subscribe", ({},), "(a{sv})")
out["send_other"] = call(root_path, "Session", "Send", ("let me in", {}), "(sa{sv})")
out["resume_other"] = call("/io/github/copilotd/Copilot1", "Manager", "ResumeSession", (root_id, {}), "(sa{sv})")
out["delete_other"] = call("/io/github/copilotd/Copilot1", "Manager", "DeleteSession", (root_id,), "(s)")
print(json.dumps(out))
'''


class Fixture:
    def __init__(self):
        # World-readable: the daemon runs the fake CLI as nobody from here.
        self.tmp = tempfile.mkdtemp(prefix="copilotd-system-")
        os.chmod(self.tmp, 0o755)
        self.socket = os.path.join(self.tmp, "bus")
        config = os.path.join(self.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", config, "--nofork",
                                     "--print-address"], stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()

        self.cli = os.path.join(self.tmp, "fake-cli")
        shutil.copy(os.environ["COPILOTD_FAKE_CLI"], self.cli)
        data = os.path.join(self.tmp, "data")
        shutil.copytree(os.environ["COPILOTD_FAKE_CLI_DATA"], data)
        subprocess.run(["chmod", "-R", "a+rX", self.tmp], check=True)

        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, FAKE_CLI_DATA_DIR=data,
                   G_MESSAGES_DEBUG="all")
        # LeakSanitizer reads its suppressions at start-up and dies if it
        # cannot: the CLI that runs as nobody needs a copy it can read.
        lsan = env.get("LSAN_OPTIONS", "")
        if "suppressions=" in lsan:
            opts = dict(o.split("=", 1) for o in lsan.split(":") if "=" in o)
            supp = os.path.join(self.tmp, "lsan.supp")
            shutil.copy(opts["suppressions"], supp)
            os.chmod(supp, 0o644)
            opts["suppressions"] = supp
            env["LSAN_OPTIONS"] = ":".join(f"{k}={v}" for k, v in opts.items())
        self.log = open(os.path.join(self.tmp, "daemon.log"), "w")
        self.daemon = subprocess.Popen([os.environ["COPILOTD_DAEMON"], "--system", "--cli-path", self.cli,
                                        "--copilot-home", os.path.join(self.tmp, "state")],
                                       env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        deadline = time.time() + 15
        while time.time() < deadline:
            owned = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "NameHasOwner", GLib.Variant("(s)", (NAME,)), None, 0, -1, None)
            if owned.unpack()[0]:
                return
            time.sleep(0.05)
        raise AssertionError("copilotd did not take its name")

    def call(self, path, iface, method, args=None, sig=None):
        return self.conn.call_sync(NAME, path, PREFIX + iface, method,
                                   GLib.Variant(sig, args) if sig else None, None, 0, 20000, None).unpack()

    def close(self):
        self.daemon.send_signal(signal.SIGTERM)
        status = self.daemon.wait(15)
        self.bus.terminate()
        self.bus.wait(5)
        log = open(os.path.join(self.tmp, "daemon.log")).read()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return status, log


def cli_processes(parent):
    """uid of every CLI process the daemon @parent runs, by pid."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            if not argv0.endswith(b"/fake-cli"):
                continue
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            if int(status["PPid"]) == parent:
                found[int(pid)] = int(status["Uid"].split()[0])
        except OSError:
            pass
    return found


def test_users_are_isolated(fx):
    (root_path,) = fx.call(ROOT, "Manager", "CreateSession", ({},), "(a{sv})")
    root_id = root_path.rsplit("/", 1)[1].replace("_", "-")
    content, _ = fx.call(root_path, "Session", "SendAndWait", ("hello from root", {}), "(sa{sv})")
    assert content == "Echo: hello from root", content

    script = os.path.join(fx.tmp, "nobody.py")
    with open(script, "w") as f:
        f.write(NOBODY_CLIENT)
    os.chmod(script, 0o644)
    run = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                          "/usr/bin/python3", script, fx.address, root_id, root_path],
                         capture_output=True, text=True, timeout=60, cwd=fx.tmp)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert "ok" in seen["create"], seen["create"]
    assert seen["send"]["ok"][0] == "Echo: hello from nobody", seen["send"]
    listed = [s["session-id"] for s in seen["list"]["ok"][0]]
    assert root_id not in listed, f"nobody sees root's session: {listed}"
    assert len(listed) == 1, listed
    assert seen["metadata_other"] == {"error": PREFIX + "Error.NotFound"}, seen["metadata_other"]
    for key in ("subscribe_other", "send_other", "resume_other", "delete_other"):
        assert seen[key] == {"error": PREFIX + "Error.AccessDenied"}, (key, seen[key])

    # Root still sees only its own, and its session still works.
    mine = [s["session-id"] for s in fx.call(ROOT, "Manager", "ListSessions", ({},), "(a{sv})")[0]]
    assert mine == [root_id], mine
    content, _ = fx.call(root_path, "Session", "SendAndWait", ("still mine", {}), "(sa{sv})")
    assert content == "Echo: still mine", content


def test_each_cli_runs_as_its_user(fx):
    uids = sorted(cli_processes(fx.daemon.pid).values())
    assert uids == [0, NOBODY], f"fake CLI processes run as {uids}"
    state = os.path.join(fx.tmp, "state", str(NOBODY))
    st = os.stat(state)
    assert st.st_uid == NOBODY and (st.st_mode & 0o777) == 0o700, (st.st_uid, oct(st.st_mode))


def main():
    tests = [test_users_are_isolated, test_each_cli_runs_as_its_user]
    print(f"1..{len(tests) + 1}")
    if os.geteuid() != 0:
        for i, t in enumerate(tests, 1):
            print(f"not ok {i} - {t.__name__} # needs root to act as a second user")
        print(f"not ok {len(tests) + 1} - daemon exits cleanly")
        return 1
    failed = 0
    fx = Fixture()
    try:
        for i, t in enumerate(tests, 1):
            try:
                t(fx)
                print(f"ok {i} - {t.__name__}")
            except Exception:
                failed += 1
                print(f"not ok {i} - {t.__name__}")
                for line in traceback.format_exc().splitlines():
                    print(f"# {line}")
    finally:
        status, log = fx.close()
    if status == 0:
        print(f"ok {len(tests) + 1} - daemon exits cleanly")
    else:
        failed += 1
        print(f"not ok {len(tests) + 1} - daemon exits cleanly (status {status})")
    if failed:
        for line in log.splitlines()[-40:]:
            print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
