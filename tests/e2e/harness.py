# SPDX-License-Identifier: MIT
"""harness.py: the one Python harness of the end-to-end tests.

Every end-to-end test (tests/e2e/*.py, tests/test-copilotctl.py,
tests/test-bus-policy.py) builds on this module:

  Tmp, Bus, Model, Daemon    a temporary directory, a private dbus-daemon,
                             copilotd-offline-model (its recorded requests
                             readable with Model.requests()), copilotd with
                             options, a config file and an environment
  World                      the four together for one case, torn down in
                             reverse; Fixture: one World shared by the cases
                             of a file while copilotd lives
  Client, Pending, Signals   D-Bus calls that keep the main context turning,
                             signal and BackendState recorders
  Handler, Agent, ToolProvider  client-side objects answering by policy
                             (these live in harness_dbus.py and are
                             imported here: use them as harness.Client…)
  wait_until, Client.wait_*  waits on an event or a state, with a timeout:
                             never a fixed sleep
  Tap, run, run_cases        the TAP output

Environment (set by tests/meson.build and tests/run-tests.sh):
  COPILOTD_TEST_CLI   the real Copilot CLI (without it every case that
                      needs it fails; nothing is skipped)
  COPILOTD_DAEMON     the built copilotd
  COPILOTD_MODEL      the built copilotd-offline-model
  COPILOTD_FAKE_CLI   the built fake CLI (tests/fake-cli/)
  COPILOTD_SOURCE_DIR the source tree (README.md, introspection/)
  COPILOTD_TEST_KEEP_TMP  keep each case's temporary directory
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
IFACE = "io.github.copilotd.Copilot1"
MANAGER = IFACE + ".Manager"
SESSION = IFACE + ".Session"
ERROR = IFACE + ".Error."
DBUS = "org.freedesktop.DBus"
PROPERTIES = "org.freedesktop.DBus.Properties"
AGENT_PATH = "/test/Agent"
TOOLS_PATH = "/test/Tools"

TURN_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

SOURCE_DIR = os.environ.get(
    "COPILOTD_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class TestFailure(AssertionError):
    pass


class SetupError(Exception):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def log(text):
    """A diagnostic line: stderr, never the TAP stream."""
    print(text, file=sys.stderr, flush=True)


# --- waiting ------------------------------------------------------------------

def wait_until(pred, timeout=TURN_TIMEOUT, what="condition", alive=None, interval=0.1):
    """Iterates the default main context until pred() is true; returns its
    value. @alive (optional) is called on every wake-up and may raise.
    @interval: how often pred() is checked when no event arrives (for
    conditions no event announces: files, /proc)."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if alive is not None:
            alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TestFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        # Wake up at least every @interval: the deadline, the liveness
        # check and conditions no event announces are checked.
        source = GLib.timeout_source_new(max(1, int(min(remaining, interval) * 1000)))
        source.set_callback(lambda *a: False)
        source.attach(ctx)
        ctx.iteration(True)
        source.destroy()


def spin(seconds):
    """Keeps the main context running for a while. Only to show that
    something does NOT happen within a window; never to wait for an event."""
    deadline = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= deadline, seconds + 5, "time to pass")


# --- files and processes --------------------------------------------------------

def binary(env_name, build_rel=None):
    """The program $@env_name names (or @build_rel in $COPILOTD_BUILD_DIR)."""
    path = os.environ.get(env_name)
    if not path and build_rel and os.environ.get("COPILOTD_BUILD_DIR"):
        path = os.path.join(os.environ["COPILOTD_BUILD_DIR"], build_rel)
    if not path or not os.access(path, os.X_OK):
        raise SetupError(f"${env_name} is not set to an executable (got {path!r})")
    return path


def real_cli():
    """The real Copilot CLI, or SetupError saying why not."""
    cli = os.environ.get("COPILOTD_TEST_CLI")
    if not cli:
        raise SetupError("COPILOTD_TEST_CLI is not set: these tests need the real "
                         "Copilot CLI 1.0.102 (tests/run-tests.sh sets it)")
    if not os.access(cli, os.X_OK):
        raise SetupError(f"COPILOTD_TEST_CLI={cli} is not an executable file")
    return cli


def children_of(pid):
    """PIDs whose parent is @pid (from /proc), zombies left out."""
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


def environ_of(pid):
    """The environment of process @pid as a dict of bytes."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item]
    return dict(pairs)


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


def tail(path, lines=60):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except (OSError, TypeError):
        return f"(no {path})"


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL after @timeout; returns the exit status (None
    when it had to be killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def pty_run(argv, script=(), env=None, cwd=None, timeout=120):
    """Runs @argv on a pseudo-terminal as a person would: @script is a list
    of (regex, text); each text is typed once the output so far matches its
    regex. Returns (exit status, output)."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)
        os.execve(argv[0], argv, env if env is not None else os.environ)
    out = b""
    steps = list(script)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if steps and re.search(steps[0][0], out.decode(errors="replace"), re.S):
            os.write(fd, steps.pop(0)[1].encode())
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
        out += b"<timeout>"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


class Tmp:
    """A temporary directory; tmp("a", "b") is a path inside it."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __call__(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        if os.environ.get("COPILOTD_TEST_KEEP_TMP"):
            log(f"kept {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# --- the private bus ------------------------------------------------------------

SESSION_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir={dir}</listen>
  {servicedir}
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


# A bus configured like Debian's system bus: method calls are denied unless a
# policy allows them; {policy} is included (the project's own, data/…conf)
# and {extra} is more policy for the test's own services.
SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={dir}/socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  {extra}
  <include>{policy}</include>
</busconfig>
"""


def system_bus_config(policy, extra=""):
    """SYSTEM_BUS_CONFIG with @policy included and @extra policy."""
    return SYSTEM_BUS_CONFIG.replace("{policy}", os.path.abspath(policy)).replace("{extra}", extra)


def connect(address):
    """A new message-bus connection to @address."""
    conn = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    conn.set_exit_on_close(False)
    return conn


class Bus:
    """A private dbus-daemon. By default a session bus (with @servicedir for
    D-Bus activation); @config is a whole configuration of its own, where
    {dir} is a directory for its socket."""

    def __init__(self, tmp, servicedir=None, env=None, config=None):
        self.tmp = tmp
        os.makedirs(tmp("bus"), exist_ok=True)
        os.chmod(tmp("bus"), 0o755)
        self.config = tmp("bus", "bus.conf")
        text = config if config is not None else SESSION_BUS_CONFIG
        with open(self.config, "w") as f:
            f.write(text.replace("{dir}", tmp("bus")).replace(
                "{servicedir}", f"<servicedir>{servicedir}</servicedir>" if servicedir else ""))
        with open(tmp("bus", "stderr"), "w") as err:
            self.proc = subprocess.Popen(
                ["dbus-daemon", "--config-file", self.config, "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                env=env if env is not None else os.environ.copy())
        self.address = self.proc.stdout.readline().decode().strip()
        if not self.address:
            self.proc.wait(5)
            raise SetupError("dbus-daemon printed no address: " + tail(tmp("bus", "stderr")))
        self.conn = connect(self.address)

    def connect(self):
        return connect(self.address)

    def _bus_call(self, method, args, reply):
        return self.conn.call_sync(DBUS, "/org/freedesktop/DBus", DBUS, method,
                                   GLib.Variant(*args), GLib.VariantType(reply),
                                   Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def name_owner(self, name=BUS_NAME):
        """The unique name owning @name, or None."""
        try:
            return self._bus_call("GetNameOwner", ("(s)", (name,)), "(s)")
        except GLib.Error:
            return None

    def pid_of(self, name):
        try:
            return self._bus_call("GetConnectionUnixProcessID", ("(s)", (name,)), "(u)")
        except GLib.Error:
            return None

    def wait_owner(self, pid=None, name=BUS_NAME, timeout=START_TIMEOUT, alive=None):
        """Waits until @name has an owner (process @pid, when given)."""
        def owned():
            return self.name_owner(name) is not None and (pid is None or self.pid_of(name) == pid)
        wait_until(owned, timeout, f"{name} to be owned" + (f" by pid {pid}" if pid else ""),
                   alive=alive)

    def stop(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass
        stop_process(self.proc)


# --- the offline model ----------------------------------------------------------

class Model:
    """copilotd-offline-model on a free port, recording every request."""

    def __init__(self, tmp, delay_ms=None):
        self.log_path = tmp("model-requests.jsonl")
        argv = [binary("COPILOTD_MODEL", "src/copilotd-offline-model"),
                "--port", "0", "--log", self.log_path]
        if delay_ms is not None:
            argv += ["--delay-ms", str(delay_ms)]
        with open(tmp("model.stderr"), "w") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on port "):
            raise SetupError(f"the offline model said {line!r}")
        self.port = int(line.split()[-1])
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self):
        """Every request the model received so far (parsed JSON bodies)."""
        try:
            with open(self.log_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def saw(self, text, since=0):
        """Whether a user message of a request after the first @since holds
        @text."""
        return any(text in t for request in self.requests()[since:] for t in user_texts(request))

    def stop(self):
        stop_process(self.proc)


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
    """An environment in which the real CLI talks to @model, not GitHub."""
    env = dict(base if base is not None else os.environ)
    for name in ("GH_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN"):
        env.pop(name, None)
    env.update({
        "COPILOT_SDK_AUTH_TOKEN": "fake",
        "COPILOT_API_URL": model.url,
        "COPILOT_DEBUG_GITHUB_API_URL": model.url,
        "NO_COLOR": "1",
    })
    if home:
        env["COPILOT_HOME"] = home
    return env


# --- copilotd -------------------------------------------------------------------

class Daemon:
    """copilotd on @bus; its stdout and stderr (with --verbose) go to a file.

    @cli: the CLI it runs (--cli-path; None: none given); @args: more
    options; @config: text of a configuration file given with --config;
    @env: its environment (DBUS_SESSION_BUS_ADDRESS and, for --system,
    DBUS_SYSTEM_BUS_ADDRESS are set here)."""

    def __init__(self, tmp, bus, cli=None, home=None, args=(), env=None, config=None,
                 log="copilotd.log", verbose=True, wait=True):
        self.bus = bus
        self.log_path = tmp(log)
        argv = [binary("COPILOTD_DAEMON", "src/copilotd")]
        if verbose:
            argv.append("--verbose")
        if cli:
            argv += ["--cli-path", cli]
        if home:
            argv += ["--copilot-home", home]
        if config is not None:
            self.config_path = tmp(log + ".conf")
            with open(self.config_path, "w") as f:
                f.write(config)
            argv += ["--config", self.config_path]
        argv += list(args)
        penv = dict(env if env is not None else os.environ)
        penv["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        penv["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        # Logs go to stderr; stdout must stay empty (Daemon.stdout()).
        self.stdout_path = self.log_path + ".stdout"
        with open(self.log_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(argv, env=penv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        self.pid = self.proc.pid
        if wait:
            bus.wait_owner(self.pid, alive=self.check_alive)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise TestFailure(f"copilotd exited with status {self.proc.returncode}:\n"
                              + tail(self.log_path, 30))

    def cli_pids(self):
        """The CLIs (real or fake) copilotd runs as children."""
        return [pid for pid in children_of(self.pid)
                if b"--headless" in cmdline(pid) or b"--stdio" in cmdline(pid)]

    def cli_pid(self, timeout=30):
        pids = wait_until(self.cli_pids, timeout, "the CLI to run as a child of copilotd")
        check(len(pids) == 1, f"copilotd has {len(pids)} CLI children: {pids}")
        return pids[0]

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns the exit status, fails when it hangs."""
        status = stop_process(self.proc, timeout)
        if status is None:
            raise TestFailure(f"copilotd did not exit within {timeout:.0f} s of SIGTERM")
        return status

    def output(self):
        """Everything it wrote on stderr."""
        return tail(self.log_path, 100000)

    def stdout(self):
        return tail(self.stdout_path, 100000)

    def problems(self):
        return log_problems(self.log_path)

    def tail(self, n=40):
        return tail(self.log_path, n)


from harness_dbus import (  # noqa: E402,F401: part of this module's API
    HOLD, Agent, Client, DBusError, Handler, Pending, Reply, Signals, ToolProvider, data,
    expect_error, interface_info, interface_xml,
)


# --- worlds -----------------------------------------------------------------------

class World:
    """One case's world: a temporary directory, a private bus, the offline
    model (model=False: none), COPILOT_HOME, and the daemons and clients the
    case starts; close() tears them down in reverse."""

    def __init__(self, name, bus=True, model=True, delay_ms=None, servicedir=None):
        self.tmp = Tmp(f"copilotd-{re.sub(r'[^A-Za-z0-9]+', '-', name)[:24]}-")
        self.daemons = []
        self.clients = []
        self.procs = []          # more processes of the case, stopped at close
        self.stray_pids = []
        self.bus = None
        self.model = None
        try:
            self.home = self.tmp("copilot-home")
            os.makedirs(self.home)
            self.workdir = self.tmp("work")
            os.makedirs(self.workdir)
            if model:
                self.model = Model(self.tmp, delay_ms)
            self.child_env = cli_env(self.model, base=dict(
                os.environ, XDG_CONFIG_HOME=self.tmp("config"))) if model else \
                dict(os.environ, XDG_CONFIG_HOME=self.tmp("config"))
            if bus:
                self.bus = Bus(self.tmp, servicedir=servicedir)
        except BaseException:
            self.close()
            raise

    def daemon(self, cli=None, args=(), log=None, fake=False, env=None, **kw):
        """Starts copilotd running @cli (default: the real CLI; fake=True:
        the fake CLI) with COPILOT_HOME in this world."""
        if cli is None:
            cli = binary("COPILOTD_FAKE_CLI") if fake else real_cli()
        log = log or f"copilotd-{len(self.daemons)}.log"
        env = dict(self.child_env, **(env or {}))
        daemon = Daemon(self.tmp, self.bus, cli, self.home, args, env=env, log=log, **kw)
        self.daemons.append(daemon)
        return daemon

    def client(self):
        client = Client(self.bus)
        self.clients.append(client)
        return client

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def diagnostics(self):
        lines = []
        for daemon in self.daemons:
            lines.append(f"--- {daemon.log_path} (last lines)")
            lines += daemon.tail().splitlines()
        return lines

    def close(self):
        for client in self.clients:
            client.close()
        for daemon in self.daemons:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
        for proc in reversed(self.procs):
            stop_process(proc)
        # A CLI left behind by a killed daemon must not outlive the test.
        for pid in self.stray_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.bus is not None:
            self.bus.stop()
        if self.model is not None:
            self.model.stop()
        self.tmp.cleanup()


class Fixture:
    """What the cases of one file share (run()): a World with copilotd
    running the real CLI, and a client. A case that leaves copilotd dead
    makes the next case start afresh."""

    def __init__(self, name="e2e"):
        self._order = 0
        self.world = None
        self.daemon = None
        self.name = name

    def next_order(self):
        self._order += 1
        return self._order

    def start(self):
        self.world = World(self.name)
        self.bus = self.world.bus
        self.model = self.world.model
        self.tmp = self.world.tmp
        self.home = self.world.home
        self.workdir = self.world.workdir
        self.bus_address = self.bus.address
        self.model_url = self.model.url
        self.cli = real_cli()
        self.client = self.new_client()
        self.start_daemon()

    def daemon_env(self):
        return dict(self.world.child_env, COPILOT_HOME=self.home)

    def start_daemon(self, args=()):
        self.daemon = Daemon(self.tmp, self.bus, self.cli, args=args, env=self.daemon_env(),
                             log="copilotd.log")
        self.daemon_log = self.daemon.log_path

    def check_alive(self):
        if self.daemon is not None:
            self.daemon.check_alive()

    def new_client(self):
        client = Client(self.bus, alive=self.check_alive, order=self.next_order)
        self.world.clients.append(client)
        return client

    def model_requests(self):
        return self.model.requests()

    def log_tail(self, lines=60):
        return self.daemon.tail(lines) if self.daemon is not None else "(no copilotd)"

    def path(self, *parts):
        return self.world.path(*parts)

    def stop_daemon(self):
        """SIGTERM copilotd; returns its exit status (None: it hung)."""
        if self.daemon is None:
            return 0
        daemon, self.daemon = self.daemon, None
        return stop_process(daemon.proc, STOP_TIMEOUT)

    def stop(self):
        status = self.stop_daemon()
        if self.world is not None:
            self.world.close()
            self.world = None
        return status


# --- TAP ----------------------------------------------------------------------------

class Tap:
    """TAP on stdout: one line per check or case, diagnostics as comments.
    With @plan the plan comes first, else finish() prints it last."""

    def __init__(self, plan=None):
        self.n = 0
        self.failed = 0
        self.plan = plan
        if plan is not None:
            print(f"1..{plan}", flush=True)

    def ok(self, name, ok, detail=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}", flush=True)
        if not ok and detail:
            self.comment(str(detail), last=40)
        return ok

    def case(self, name, function, *args, diagnostics=None):
        """Runs @function(*args) as one case: ok, or not ok with the
        traceback and @diagnostics() as comments."""
        start = time.monotonic()
        try:
            function(*args)
        except Exception:  # noqa: BLE001: every failure is reported
            detail = traceback.format_exc()
            if diagnostics is not None:
                try:
                    detail += "\n".join(diagnostics())
                except Exception as e:  # noqa: BLE001
                    detail += f"\n(diagnostics failed: {e})"
            self.ok(name, False)
            self.comment(detail)
            return False
        return self.ok(f"{name} ({time.monotonic() - start:.1f} s)", True)

    @staticmethod
    def comment(text, last=None):
        lines = str(text).rstrip("\n").splitlines()
        for line in lines[-last:] if last else lines:
            print(f"# {line}")
        sys.stdout.flush()

    def finish(self):
        """Prints the plan if it was not given; returns the exit status."""
        if self.plan is None:
            print(f"1..{self.n}", flush=True)
        elif self.n != self.plan:
            print(f"# planned {self.plan} checks, ran {self.n}", flush=True)
            return 1
        return 1 if self.failed else 0


def run(namespace):
    """Runs every test_* function of a module, in order, as TAP cases on a
    shared Fixture; the last case checks that copilotd exits 0 on SIGTERM
    within 15 s (under the sanitizers that also means: no leak report)."""
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    tap = Tap(len(tests) + 1)
    fixture = None
    setup_error = None
    statuses = []
    started = time.monotonic()

    for name, fn in tests:
        if fixture is None:
            fixture = Fixture()
            try:
                fixture.start()
                setup_error = None
            except Exception:  # noqa: BLE001
                setup_error = traceback.format_exc()

        def case(fixture=fixture, fn=fn):
            if setup_error is not None:
                raise SetupError("the fixture did not start:\n" + setup_error)
            fn(fixture)

        tap.case(name, case, diagnostics=lambda: [
            "--- copilotd log (tail) ---", fixture.log_tail()] if setup_error is None else [])
        if setup_error is not None or fixture.daemon is None or fixture.daemon.proc.poll() is not None:
            statuses.append(fixture.stop())
            fixture = None

    if fixture is not None:
        statuses.append(fixture.stop())
    bad = [s for s in statuses if s != 0]
    if setup_error is not None or not statuses:
        tap.ok("copilotd exits 0 on SIGTERM: no daemon ran", False)
    else:
        tap.ok(f"copilotd exits 0 on SIGTERM within {STOP_TIMEOUT:.0f} s", not bad,
               f"exit statuses: {statuses} (None: still running after SIGTERM)")
    tap.comment(f"total {time.monotonic() - started:.1f} s")
    sys.exit(tap.finish())


def run_cases(cases, needs_cli=True):
    """@cases: list of (name, function(world_factory)); each case gets
    worlds from world_factory(**World options), closed after it. Also
    fails a case whose daemons logged criticals or sanitizer reports.
    Case numbers on the command line run only those (for debugging)."""
    wanted = [int(a) for a in sys.argv[1:] if a.isdigit()]
    if wanted:
        cases = [case for n, case in enumerate(cases, 1) if n in wanted]
    tap = Tap(len(cases))
    cli_missing = None
    if needs_cli:
        try:
            real_cli()
        except SetupError as e:
            cli_missing = str(e)
    for name, function in cases:
        worlds = []

        def world(label=name, **kwargs):
            w = World(label, **kwargs)
            worlds.append(w)
            return w

        diag = []

        def case():
            if cli_missing:
                raise SetupError(cli_missing)
            try:
                function(world)
                for w in worlds:
                    for daemon in w.daemons:
                        problems = daemon.problems()
                        check(not problems, f"{daemon.log_path}: " + "\n".join(problems[:10]))
            except BaseException:
                for w in worlds:
                    diag.extend(w.diagnostics())
                raise
            finally:
                for w in worlds:
                    try:
                        w.close()
                    except Exception as e:  # noqa: BLE001
                        diag.append(f"teardown: {e}")

        tap.case(name, case, diagnostics=lambda: diag)
    sys.exit(tap.finish())
