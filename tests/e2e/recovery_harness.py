"""recovery_harness.py: what the recovery end-to-end tests share.

A private dbus-daemon, the offline model, copilotd running the real Copilot
CLI, D-Bus call helpers that keep the GLib main context turning (signals
are dispatched while a test waits), and a tiny TAP runner.

Environment (set by tests/meson.build and tests/run-tests.sh):
  COPILOTD_TEST_CLI       the real Copilot CLI (native binary); when it is
                          missing every case fails
  COPILOTD_DAEMON         build/src/copilotd
  COPILOTD_OFFLINE_MODEL  build/src/copilotd-offline-model
  COPILOTD_ACTIVATION_FILE  build/data/io.github.copilotd.Copilot1.service
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "io.github.copilotd.Copilot1"
ROOT = "/io/github/copilotd/Copilot1"
MANAGER = BUS_NAME + ".Manager"
SESSION = BUS_NAME + ".Session"
ERROR = BUS_NAME + ".Error."
DBUS = "org.freedesktop.DBus"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def env_path(name):
    value = os.environ.get(name)
    if not value:
        raise Failure(f"${name} is not set (run through meson test / tests/run-tests.sh)")
    if not os.access(value, os.X_OK) and not os.path.isfile(value):
        raise Failure(f"${name}={value} does not exist")
    return value


def test_cli():
    return env_path("COPILOTD_TEST_CLI")


# ---- processes -------------------------------------------------------------

def children_of(pid):
    """PIDs whose parent is @pid (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after it.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def wait_for(predicate, timeout, what, step=0.05):
    """Iterates the main context until @predicate() is true."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while True:
        while context.pending():
            context.iteration(False)
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        context.iteration(False) or time.sleep(step)


def pump(seconds):
    """Lets signals arrive for @seconds."""
    end = time.monotonic() + seconds
    context = GLib.MainContext.default()
    while time.monotonic() < end:
        if not context.iteration(False):
            time.sleep(0.02)


def log_problems(path):
    """Lines of a daemon's log that no run may have: GLib criticals and
    warnings, sanitizer reports."""
    bad = ("-CRITICAL **", "GLib-WARNING", "GLib-GObject-WARNING", "GLib-GIO-WARNING",
           "runtime error:", "AddressSanitizer", "LeakSanitizer")
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip("\n") for line in f if any(b in line for b in bad)]
    except OSError:
        return []


class Tmp:
    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __call__(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Bus:
    """A private dbus-daemon from a config file we write, so that a test can
    give it a service directory for activation."""

    def __init__(self, tmp, servicedir=None, env=None):
        self.tmp = tmp
        os.makedirs(tmp("bus"), exist_ok=True)
        config = tmp("bus", "session.conf")
        with open(config, "w") as f:
            f.write("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus "
                    "Configuration 1.0//EN\" "
                    "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                    "<busconfig>\n  <type>session</type>\n"
                    f"  <listen>unix:tmpdir={tmp('bus')}</listen>\n")
            if servicedir:
                f.write(f"  <servicedir>{servicedir}</servicedir>\n")
            f.write("  <auth>EXTERNAL</auth>\n"
                    "  <policy context=\"default\">\n"
                    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                    "    <allow eavesdrop=\"true\"/>\n"
                    "    <allow own=\"*\"/>\n"
                    "  </policy>\n</busconfig>\n")
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", config, "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=open(tmp("bus", "stderr"), "w"),
            env=env if env is not None else os.environ.copy())
        self.address = self.proc.stdout.readline().decode().strip()
        check(self.address, "dbus-daemon printed no address")
        self.conn = self.connect()

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def name_owner(self, name=BUS_NAME):
        try:
            return self.conn.call_sync(DBUS, "/org/freedesktop/DBus", DBUS, "GetNameOwner",
                                       GLib.Variant("(s)", (name,)), GLib.VariantType("(s)"),
                                       Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
        except GLib.Error:
            return None

    def pid_of(self, unique_name):
        return self.conn.call_sync(DBUS, "/org/freedesktop/DBus", DBUS,
                                   "GetConnectionUnixProcessID",
                                   GLib.Variant("(s)", (unique_name,)), GLib.VariantType("(u)"),
                                   Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def stop(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Model:
    """copilotd-offline-model on a free port, logging every request."""

    def __init__(self, tmp, delay_ms=None):
        self.log_path = tmp("model-requests.jsonl")
        argv = [env_path("COPILOTD_OFFLINE_MODEL"), "--port", "0", "--log", self.log_path]
        if delay_ms is not None:
            argv += ["--delay-ms", str(delay_ms)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=open(tmp("model.stderr"), "w"))
        line = self.proc.stdout.readline().decode()
        check(line.startswith("listening on port "), f"the offline model said {line!r}")
        self.url = "http://127.0.0.1:" + line.split()[-1]

    def requests(self):
        try:
            with open(self.log_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def user_texts(request):
    """The text of every user message of one chat/completions request."""
    texts = []
    for message in request.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        texts.append(content or "")
    return texts


def cli_env(model, home=None, base=None):
    env = dict(base if base is not None else os.environ)
    env.update({
        "COPILOT_SDK_AUTH_TOKEN": "fake",
        "COPILOT_API_URL": model.url,
        "COPILOT_DEBUG_GITHUB_API_URL": model.url,
    })
    if home:
        env["COPILOT_HOME"] = home
    return env


class Daemon:
    """copilotd on the private bus; stderr (with --verbose) goes to a file."""

    def __init__(self, env, bus, cli, home, extra=(), log="copilotd.log"):
        self.env = env
        self.bus = bus
        self.log_path = env.tmp(log)
        argv = [env_path("COPILOTD_DAEMON"), "--verbose", "--cli-path", cli,
                "--copilot-home", home, *extra]
        penv = dict(env.child_env)
        penv["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, env=penv, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        wait_for(lambda: self.proc.poll() is not None or bus.name_owner() is not None,
                 30, "copilotd to own its name")
        check(self.proc.poll() is None, f"copilotd exited with {self.proc.returncode}")

    def cli_pids(self):
        return [pid for pid in children_of(self.pid)
                if b"--headless" in cmdline(pid) or b"--stdio" in cmdline(pid)]

    def cli_pid(self, timeout=30):
        pids = wait_for(self.cli_pids, timeout, "the CLI to run as a child of copilotd")
        check(len(pids) == 1, f"copilotd has {len(pids)} CLI children: {pids}")
        return pids[0]

    def terminate(self, timeout=20):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"copilotd did not exit within {timeout} s of SIGTERM")

    def problems(self):
        return log_problems(self.log_path)

    def tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()[-n:]
        except OSError:
            return []


# ---- D-Bus calls -------------------------------------------------------------

class Pending:
    """An asynchronous call; .done, then .value (unpacked) or .error."""

    def __init__(self, conn, dest, path, iface, method, args, timeout_ms):
        self.done = False
        self.value = None
        self.error = None
        conn.call(dest, path, iface, method, args, None, Gio.DBusCallFlags.NONE,
                  timeout_ms, None, self._finish, None)

    def _finish(self, conn, result, user_data):
        try:
            self.value = conn.call_finish(result).unpack()
        except GLib.Error as e:
            self.error = e
        self.done = True

    def wait(self, timeout):
        wait_for(lambda: self.done, timeout, "a D-Bus reply")
        return self


def error_name(error):
    return Gio.DBusError.get_remote_error(error) if Gio.DBusError.is_remote_error(error) else str(error)


class Client:
    """One connection to the private bus; records the Event signals it gets
    and every BackendState the Manager announced."""

    def __init__(self, bus, dest=BUS_NAME):
        self.bus = bus
        self.conn = bus.connect()
        self.dest = dest
        self.events = []           # (path, serial, type, meta, data)
        self.states = []           # BackendState values, in order
        self.deltas = []           # (path, serial, message_id, stream, text)
        self.conn.signal_subscribe(None, SESSION, "Event", None, None,
                                   Gio.DBusSignalFlags.NONE, self._on_event, None)
        self.conn.signal_subscribe(None, SESSION, "Delta", None, None,
                                   Gio.DBusSignalFlags.NONE, self._on_delta, None)
        self.conn.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                   ROOT, MANAGER, Gio.DBusSignalFlags.NONE,
                                   self._on_properties, None)

    def _on_event(self, conn, sender, path, iface, member, params, user_data):
        serial, type_, meta, data = params.unpack()
        self.events.append((path, serial, type_, meta, data))

    def _on_delta(self, conn, sender, path, iface, member, params, user_data):
        self.deltas.append((path, *params.unpack()))

    def _on_properties(self, conn, sender, path, iface, member, params, user_data):
        _, changed, _ = params.unpack()
        if "BackendState" in changed:
            self.states.append(changed["BackendState"])

    def call(self, path, iface, method, signature="()", args=(), timeout=60):
        variant = GLib.Variant(signature, args) if signature != "()" else None
        pending = Pending(self.conn, self.dest, path, iface, method, variant, int(timeout * 1000))
        pending.wait(timeout + 5)
        if pending.error is not None:
            raise pending.error
        return pending.value

    def call_async(self, path, iface, method, signature="()", args=(), timeout=120):
        variant = GLib.Variant(signature, args) if signature != "()" else None
        return Pending(self.conn, self.dest, path, iface, method, variant, int(timeout * 1000))

    def manager(self, method, signature="()", args=(), timeout=60):
        return self.call(ROOT, MANAGER, method, signature, args, timeout)

    def backend_state(self):
        value = self.conn.call_sync(self.dest, ROOT, "org.freedesktop.DBus.Properties", "Get",
                                    GLib.Variant("(ss)", (MANAGER, "BackendState")),
                                    GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None)
        return value.unpack()[0]

    def create_session(self, options=None):
        opts = {"working-directory": GLib.Variant("s", os.getcwd())}
        opts.update(options or {})
        return self.manager("CreateSession", "(a{sv})", (opts,))[0]

    def send_and_wait(self, path, prompt, timeout=60):
        return self.call(path, SESSION, "SendAndWait", "(sa{sv})",
                         (prompt, {"timeout-ms": GLib.Variant("u", int(timeout * 1000))}),
                         timeout + 5)

    def events_of(self, path, type_=None):
        return [e for e in self.events if e[0] == path and (type_ is None or e[2] == type_)]

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass


def expect_error(name, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except GLib.Error as e:
        check(error_name(e) == name, f"expected {name}, got {error_name(e)}: {e.message}")
        return e
    raise Failure(f"expected {name}, the call succeeded")


# ---- one case's world --------------------------------------------------------

class World:
    """A temporary directory, a bus, the offline model, and the daemons and
    clients a case starts; torn down in reverse."""

    def __init__(self, name, bus=True, delay_ms=None):
        self.tmp = Tmp(f"copilotd-recovery-{name}-")
        self.daemons = []
        self.clients = []
        self.bus = None
        self.model = Model(self.tmp, delay_ms)
        self.home = self.tmp("copilot-home")
        os.makedirs(self.home)
        self.child_env = cli_env(self.model)
        if bus:
            self.bus = Bus(self.tmp)

    def daemon(self, cli=None, extra=(), log=None):
        log = log or f"copilotd-{len(self.daemons)}.log"
        daemon = Daemon(self, self.bus, cli or test_cli(), self.home, extra, log)
        self.daemons.append(daemon)
        return daemon

    def client(self):
        client = Client(self.bus)
        self.clients.append(client)
        return client

    def diagnostics(self):
        lines = []
        for daemon in self.daemons:
            lines.append(f"--- {daemon.log_path} (last lines)")
            lines += [line.rstrip("\n") for line in daemon.tail()]
        return lines

    def close(self):
        for client in self.clients:
            client.close()
        for daemon in self.daemons:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
            # A CLI left behind by a killed daemon must not outlive the test.
        for pid in getattr(self, "stray_pids", []):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.bus is not None:
            self.bus.stop()
        self.model.stop()
        if os.environ.get("COPILOTD_TEST_KEEP_TMP"):
            print(f"# kept {self.tmp.path}")
        else:
            self.tmp.cleanup()


# ---- TAP ---------------------------------------------------------------------

def run(cases):
    """@cases: list of (name, function(world_factory)). Prints TAP; exits 1
    when a case failed."""
    # Case numbers on the command line run only those (for debugging).
    wanted = [int(a) for a in sys.argv[1:] if a.isdigit()]
    if wanted:
        cases = [case for n, case in enumerate(cases, 1) if n in wanted]
    print(f"1..{len(cases)}", flush=True)
    failed = 0
    cli_missing = None
    try:
        test_cli()
    except Failure as e:
        cli_missing = str(e)
    for number, (name, function) in enumerate(cases, 1):
        start = time.monotonic()
        worlds = []

        def world(label=name, **kwargs):
            w = World(re.sub(r"[^A-Za-z0-9]+", "-", label)[:24], **kwargs)
            worlds.append(w)
            return w

        ok = True
        lines = []
        if cli_missing:
            ok = False
            lines.append(cli_missing)
        else:
            try:
                function(world)
                for w in worlds:
                    for daemon in w.daemons:
                        problems = daemon.problems()
                        check(not problems, f"{daemon.log_path}: " + "\n".join(problems[:10]))
            except Exception as e:  # noqa: BLE001: every failure is reported
                ok = False
                lines += traceback.format_exception(type(e), e, e.__traceback__)
                for w in worlds:
                    lines += w.diagnostics()
            finally:
                for w in worlds:
                    try:
                        w.close()
                    except Exception as e:  # noqa: BLE001
                        lines.append(f"teardown: {e}")
        elapsed = time.monotonic() - start
        if not ok:
            failed += 1
            for block in lines:
                for line in str(block).rstrip("\n").split("\n"):
                    print(f"# {line}")
        print(f"{'ok' if ok else 'not ok'} {number} - {name} ({elapsed:.1f} s)", flush=True)
    sys.exit(1 if failed else 0)
