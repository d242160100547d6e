"""End-to-end test harness: the built copilotd with the real Copilot CLI.

Each test file is one meson test that prints TAP.  A file's cases share one
fixture (a private dbus-daemon, copilotd-offline-model and copilotd running
the real CLI) unless a case leaves the daemon dead, in which case the next
case gets a fresh one.  The last TAP line checks that copilotd exits 0 on
SIGTERM within 15 s (under the sanitizers that also means: no leak report).

Environment:
  COPILOTD_TEST_CLI   the real Copilot CLI (required: without it every case
                      fails, it never skips)
  COPILOTD_DAEMON     the built copilotd
  COPILOTD_MODEL      the built copilotd-offline-model
  COPILOTD_SOURCE_DIR the source tree (README.md, introspection/)
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

BUS_NAME = "io.github.copilotd.Copilot1"
ROOT = "/io/github/copilotd/Copilot1"
IFACE = "io.github.copilotd.Copilot1"
ERROR = "io.github.copilotd.Copilot1.Error."
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


def check(cond, message):
    if not cond:
        raise TestFailure(message)


# --- main-context waiting ---------------------------------------------------

def wait_until(pred, timeout=TURN_TIMEOUT, what="condition", alive=None):
    """Iterates the default main context until pred() is true."""
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
        # Wake up at least every 100 ms so that the deadline and the
        # liveness check run even when nothing arrives.
        source = GLib.timeout_source_new(int(min(remaining, 0.1) * 1000) + 1)
        source.set_callback(lambda *a: False)
        source.attach(ctx)
        ctx.iteration(True)
        source.destroy()


def spin(seconds):
    """Keeps the main context running for a while (to prove an absence)."""
    deadline = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= deadline, seconds + 5, "time to pass")


def interface_xml(name):
    path = os.path.join(SOURCE_DIR, "introspection", f"{IFACE}.{name}.xml")
    with open(path) as f:
        return f.read()


def interface_info(name):
    node = Gio.DBusNodeInfo.new_for_xml(interface_xml(name))
    return node.lookup_interface(f"{IFACE}.{name}")


# --- calls ------------------------------------------------------------------

class DBusError(Exception):
    def __init__(self, error):
        self.gerror = error
        self.name = Gio.DBusError.get_remote_error(error) or ""
        self.text = error.message
        super().__init__(f"{self.name}: {self.text}")


class Pending:
    """An asynchronous method call: .done, .result (unpacked) or .error."""

    def __init__(self, client, order):
        self.client = client
        self.done = False
        self.result = None
        self.error = None
        self.order = None
        self._order = order

    def _finish(self, conn, res):
        try:
            value = conn.call_finish(res)
            self.result = value.unpack() if value is not None else ()
        except GLib.Error as e:
            self.error = DBusError(e)
        self.order = self._order()
        self.done = True

    def wait(self, timeout=TURN_TIMEOUT, what=None):
        wait_until(lambda: self.done, timeout, what or "a method reply",
                   alive=self.client.alive)
        if self.error is not None:
            raise self.error
        return self.result


class Client:
    """A private connection to the test bus."""

    def __init__(self, fixture):
        self.fixture = fixture
        self.conn = Gio.DBusConnection.new_for_address_sync(
            fixture.bus_address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.conn.set_exit_on_close(False)
        self.name = self.conn.get_unique_name()
        self.registrations = []

    def alive(self):
        self.fixture.check_alive()

    def call_async(self, path, iface, method, args=None, sig=None,
                   timeout_ms=-1, dest=BUS_NAME):
        params = GLib.Variant(sig, args) if sig is not None else None
        pending = Pending(self, self.fixture.next_order)
        full_iface = iface if "." in iface else f"{IFACE}.{iface}"
        self.conn.call(dest, path, full_iface, method, params, None,
                       Gio.DBusCallFlags.NONE, timeout_ms, None,
                       pending._finish)
        return pending

    def call(self, path, iface, method, args=None, sig=None,
             timeout=TURN_TIMEOUT):
        return self.call_async(path, iface, method, args, sig,
                               int(timeout * 1000) + 5000).wait(
                                   timeout, f"the reply to {method}")

    def call_error(self, path, iface, method, args=None, sig=None,
                   timeout=TURN_TIMEOUT):
        try:
            result = self.call(path, iface, method, args, sig, timeout)
        except DBusError as e:
            return e
        raise TestFailure(f"{method} succeeded ({result!r}) but an error was expected")

    # Shortcuts for the contract.
    def manager(self, method, args=None, sig=None, **kw):
        return self.call(ROOT, "Manager", method, args, sig, **kw)

    def create_session(self, options=None):
        (path,) = self.manager("CreateSession", (options or {},), "(a{sv})")
        return path

    def send(self, path, prompt, options=None):
        (message_id,) = self.call(path, "Session", "Send",
                                  (prompt, options or {}), "(sa{sv})")
        return message_id

    def send_and_wait(self, path, prompt, options=None, timeout=TURN_TIMEOUT):
        return self.call(path, "Session", "SendAndWait",
                         (prompt, options or {}), "(sa{sv})", timeout=timeout)

    def messages(self, path):
        (events,) = self.call(path, "Session", "GetMessages", ({},), "(a{sv})")
        return events

    def destroy(self, path):
        self.call(path, "Session", "Destroy", ({},), "(a{sv})")

    def get_property(self, path, iface, name):
        (value,) = self.call(path, "org.freedesktop.DBus.Properties", "Get",
                             (f"{IFACE}.{iface}", name), "(ss)")
        return value

    def register(self, path, iface_name, handler):
        reg = self.conn.register_object(path, interface_info(iface_name),
                                        handler, None, None)
        check(reg > 0, f"register_object {path} failed")
        self.registrations.append(reg)
        return reg

    def close(self):
        for reg in self.registrations:
            self.conn.unregister_object(reg)
        self.registrations = []
        if not self.conn.is_closed():
            self.conn.close_sync(None)


class Signals:
    """Collects Event/Delta/Closed signals of one session on a connection."""

    def __init__(self, client, path, sender=BUS_NAME):
        self.client = client
        self.items = []         # (order, member, unpacked params)
        self._id = client.conn.signal_subscribe(
            sender, f"{IFACE}.Session", None, path, None,
            Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, member, params):
        self.items.append((self.client.fixture.next_order(), member, params.unpack()))

    def close(self):
        if self._id:
            self.client.conn.signal_unsubscribe(self._id)
            self._id = 0

    def events(self, type_=None):
        return [(o, p) for o, m, p in self.items
                if m == "Event" and (type_ is None or p[1] == type_)]

    def deltas(self):
        return [(o, p) for o, m, p in self.items if m == "Delta"]

    def closed(self):
        return [(o, p) for o, m, p in self.items if m == "Closed"]

    def wait_event(self, type_, after=0, timeout=TURN_TIMEOUT, pred=None):
        def find():
            for o, p in self.events(type_):
                if o > after and (pred is None or pred(p)):
                    return (o, p)
            return None
        return wait_until(find, timeout, f"an Event {type_}",
                          alive=self.client.alive)


def data(event_params):
    """data_json of an Event's parameters (serial, type, meta, data_json)."""
    return json.loads(event_params[3])


# --- client-side objects ----------------------------------------------------

HOLD = object()          # keep the invocation; answer later (or never)


class Reply:
    """What a handler answers: a value, or a D-Bus error."""

    @staticmethod
    def error(name, message="refused by the test"):
        return ("error", name, message)


class Handler:
    """Records calls of one exported object; answers through a policy.

    A policy is a callable(args) returning a tuple of out-values, HOLD, or
    Reply.error(...); or a plain tuple (always that answer).
    """

    def __init__(self, client, path, iface_name, out_sigs):
        self.client = client
        self.path = path
        self.calls = []          # (method, args)
        self.held = []           # (method, args, invocation)
        self.out_sigs = out_sigs
        self.policies = {}
        client.register(path, iface_name, self._on_call)

    def _on_call(self, conn, sender, path, iface, method, params, invocation):
        args = params.unpack()
        self.calls.append((method, args))
        policy = self.policies.get(method)
        out_sig = self.out_sigs.get(method, "()")
        if policy is None:
            answer = () if out_sig == "()" else HOLD
        elif callable(policy):
            answer = policy(args)
        else:
            answer = policy
        if answer is HOLD:
            self.held.append((method, args, invocation))
        else:
            self.answer(invocation, out_sig, answer)

    @staticmethod
    def answer(invocation, out_sig, answer):
        if isinstance(answer, tuple) and answer[:1] == ("error",):
            invocation.return_dbus_error(answer[1], answer[2])
        else:
            invocation.return_value(GLib.Variant(out_sig, answer))

    def answer_held(self, method, answer):
        for i, (m, args, invocation) in enumerate(self.held):
            if m == method:
                del self.held[i]
                self.answer(invocation, self.out_sigs[method], answer)
                return args
        raise TestFailure(f"no held {method} call to answer")

    def count(self, method):
        return sum(1 for m, _ in self.calls if m == method)

    def args_of(self, method):
        return [a for m, a in self.calls if m == method]


class Agent(Handler):
    def __init__(self, client, path=AGENT_PATH):
        super().__init__(client, path, "Agent", {
            "RequestPermission": "(ua{sv})",
            "RequestUserInput": "(ua{sv})",
        })

    def register_with_daemon(self, options=None):
        self.client.call(ROOT, "AgentManager", "RegisterAgent",
                         (self.path, options or {}), "(oa{sv})")


class ToolProvider(Handler):
    def __init__(self, client, path=TOOLS_PATH):
        super().__init__(client, path, "ToolProvider",
                         {"Invoke": "(usa{sv})"})


# --- the fixture ------------------------------------------------------------

class SetupError(Exception):
    pass


def _binary(env_name, build_rel):
    path = os.environ.get(env_name)
    if not path:
        build = os.environ.get("COPILOTD_BUILD_DIR")
        if build:
            path = os.path.join(build, build_rel)
    if not path or not os.access(path, os.X_OK):
        raise SetupError(f"{env_name} is not set to an executable (got {path!r})")
    return path


class Fixture:
    def __init__(self):
        self._order = 0
        self.procs = []
        self.tmp = None
        self.daemon = None
        self.clients = []

    def next_order(self):
        self._order += 1
        return self._order

    # -- start
    def start(self):
        cli = os.environ.get("COPILOTD_TEST_CLI")
        if not cli:
            raise SetupError("COPILOTD_TEST_CLI is not set: these tests need the real "
                             "Copilot CLI 1.0.102 (tests/run-tests.sh sets it)")
        if not os.access(cli, os.X_OK):
            raise SetupError(f"COPILOTD_TEST_CLI={cli} is not an executable file")
        self.cli = cli
        self.daemon_path = _binary("COPILOTD_DAEMON", "src/copilotd")
        self.model_path = _binary("COPILOTD_MODEL", "src/copilotd-offline-model")

        self.tmp = tempfile.mkdtemp(prefix="copilotd-e2e-")
        self.home = os.path.join(self.tmp, "home")
        self.workdir = os.path.join(self.tmp, "work")
        os.makedirs(self.home)
        os.makedirs(self.workdir)
        self.model_log = os.path.join(self.tmp, "requests.jsonl")
        self.daemon_log = os.path.join(self.tmp, "copilotd.log")

        with open(os.path.join(self.tmp, "dbus-daemon.log"), "ab") as bus_log:
            bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                    "--print-address"],
                                   stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   stderr=bus_log)
        self.procs.append(bus)
        self.bus_address = bus.stdout.readline().decode().strip()
        if not self.bus_address:
            raise SetupError("dbus-daemon printed no address")

        model = subprocess.Popen([self.model_path, "--log", self.model_log],
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(model)
        line = model.stdout.readline().decode().strip()
        if not line.startswith("listening on port "):
            raise SetupError(f"copilotd-offline-model said {line!r}")
        self.model_port = int(line.rsplit(" ", 1)[1])
        self.model_url = f"http://127.0.0.1:{self.model_port}"

        self.client = self.new_client()
        self.start_daemon()

    def daemon_env(self):
        env = dict(os.environ)
        env.update({
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "COPILOT_HOME": self.home,
            "COPILOT_API_URL": self.model_url,
            "COPILOT_DEBUG_GITHUB_API_URL": self.model_url,
            "COPILOT_SDK_AUTH_TOKEN": "fake",
            "XDG_CONFIG_HOME": os.path.join(self.tmp, "config"),
        })
        for name in ("GH_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN"):
            env.pop(name, None)
        return env

    def start_daemon(self):
        log = open(self.daemon_log, "ab")
        self.daemon = subprocess.Popen(
            [self.daemon_path, "--cli-path", self.cli, "--verbose"],
            env=self.daemon_env(), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

        wait_until(self._name_has_owner, START_TIMEOUT, f"copilotd to own {BUS_NAME}",
                   alive=self.check_alive)

    def _name_has_owner(self):
        value = self.client.conn.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", (BUS_NAME,)), None,
            Gio.DBusCallFlags.NONE, 5000, None)
        return value.unpack()[0]

    def check_alive(self):
        if self.daemon is not None and self.daemon.poll() is not None:
            raise TestFailure(f"copilotd exited with status {self.daemon.returncode}")

    def new_client(self):
        client = Client(self)
        self.clients.append(client)
        return client

    # -- helpers
    def model_requests(self):
        try:
            with open(self.model_log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def log_tail(self, lines=60):
        try:
            with open(self.daemon_log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (FileNotFoundError, TypeError):
            return "(no copilotd log)"

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    # -- stop
    def stop_daemon(self):
        """SIGTERM copilotd; returns its exit status (None: it hung)."""
        if self.daemon is None:
            return 0
        proc, self.daemon = self.daemon, None
        if proc.poll() is not None:
            return proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None

    def stop(self):
        status = self.stop_daemon()
        for client in self.clients:
            try:
                client.close()
            except GLib.Error:
                pass
        self.clients = []
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []
        return status

    def cleanup(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- TAP runner -------------------------------------------------------------

def _comment(text):
    for line in text.rstrip("\n").splitlines():
        print(f"# {line}")


def run(namespace):
    """Runs every test_* function of a module, in order, as TAP cases.

    Each case gets the shared Fixture; a case that leaves copilotd dead
    (or a fixture that failed to start) makes the next case start afresh.
    """
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    print(f"1..{len(tests) + 1}", flush=True)
    failed = 0
    fixture = None
    setup_error = None
    statuses = []
    started = time.monotonic()

    for i, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        if fixture is None:
            fixture = Fixture()
            try:
                fixture.start()
                setup_error = None
            except Exception:
                setup_error = traceback.format_exc()
        try:
            if setup_error is not None:
                raise SetupError("the fixture did not start:\n" + setup_error)
            fn(fixture)
            print(f"ok {i} - {name} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            _comment(traceback.format_exc())
            if fixture is not None and fixture.tmp and setup_error is None:
                _comment("--- copilotd log (tail) ---\n" + fixture.log_tail())
        if fixture is not None and (setup_error is not None or fixture.daemon is None
                                    or fixture.daemon.poll() is not None):
            statuses.append(fixture.stop())
            fixture.cleanup()
            fixture = None
        sys.stdout.flush()

    i = len(tests) + 1
    if fixture is not None:
        statuses.append(fixture.stop())
    bad = [s for s in statuses if s != 0]
    if setup_error is not None or fixture is None and not statuses:
        failed += 1
        print(f"not ok {i} - copilotd exits 0 on SIGTERM: no daemon ran", flush=True)
    elif bad:
        failed += 1
        print(f"not ok {i} - copilotd exits 0 on SIGTERM within {STOP_TIMEOUT:.0f} s",
              flush=True)
        _comment(f"exit statuses: {statuses} (None: still running after SIGTERM)")
        if fixture is not None:
            _comment("--- copilotd log (tail) ---\n" + fixture.log_tail(120))
    else:
        print(f"ok {i} - copilotd exits 0 on SIGTERM within {STOP_TIMEOUT:.0f} s",
              flush=True)
    if fixture is not None:
        fixture.cleanup()
    _comment(f"total {time.monotonic() - started:.1f} s")
    sys.exit(1 if failed else 0)
