#!/usr/bin/python3
"""copilotd as a system service: two real users on a private system bus.

The bus is configured like Debian's system bus (method calls denied by
default) and includes the project's own policy, data/…Copilot1.conf. A
stand-in for polkitd (mock_polkit.py) answers CheckAuthorization by UID.
The test creates unprivileged users and runs each client as its user
(setpriv), against the built daemon with the fake CLI:

- each user's sessions and prompts stay invisible to the other;
- each CLI runs with its user's UID, groups and home;
- a user that polkit refuses cannot create or resume sessions, or register
  an agent, and is told which action was refused;
- a user without a home directory, or with a locked account, gets a clear
  error.

Needs root to create users and act as them: without it every case fails.
"""
import json
import os
import pwd
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
ACTION = "io.github.copilotd.Copilot1.use"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.environ.get("COPILOTD_BUS_POLICY",
                        os.path.join(HERE, "..", "..", "data", "io.github.copilotd.Copilot1.conf"))

GROUP = "cpdtest"
USERS = {
    # name: (refused by polkit, has a home, locked)
    "cpdtest-alice": (False, True, False),
    "cpdtest-bob": (False, True, False),
    "cpdtest-carol": (True, True, False),
    "cpdtest-dave": (False, False, False),
    "cpdtest-erin": (False, True, True),
}

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
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
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""

# Runs as one user: executes the calls of a JSON script and prints one JSON
# object with what that user saw. Signals whose body or path names one of
# the watched session ids are recorded too.
CLIENT = r'''
import json, sys
from gi.repository import Gio, GLib
address, script = sys.argv[1], json.loads(sys.argv[2])
bus = Gio.DBusConnection.new_for_address_sync(address,
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
prompts = []
AGENT = """<node><interface name="io.github.copilotd.Copilot1.Agent">
<method name="RequestPermission"><arg type="o" direction="in"/><arg type="s" direction="in"/>
<arg type="a{sv}" direction="in"/><arg type="s" direction="in"/>
<arg type="u" direction="out"/><arg type="a{sv}" direction="out"/></method>
<method name="RequestUserInput"><arg type="o" direction="in"/><arg type="s" direction="in"/>
<arg type="a{sv}" direction="in"/><arg type="u" direction="out"/><arg type="a{sv}" direction="out"/></method>
<method name="Cancel"><arg type="s" direction="in"/></method>
<method name="Release"/></interface></node>"""
def on_agent(conn, sender, path, iface, method, params, inv):
    prompts.append([method, params.unpack()[0] if method.startswith("Request") else None])
    if method == "RequestPermission":
        inv.return_value(GLib.Variant("(ua{sv})", (1, {})))
    elif method == "RequestUserInput":
        inv.return_value(GLib.Variant("(ua{sv})", (1, {})))
    else:
        inv.return_value(None)
bus.register_object("/agent", Gio.DBusNodeInfo.new_for_xml(AGENT).interfaces[0], on_agent, None, None)
signals = []
def on_signal(conn, sender, path, iface, name, params):
    signals.append([path, iface, name, str(params)])
bus.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, on_signal)
def call(path, iface, method, params):
    result = {}
    def done(conn, res):
        try:
            v = conn.call_finish(res)
            result["ok"] = v.unpack() if v is not None else []
        except GLib.Error as e:
            result["error"] = Gio.DBusError.get_remote_error(e)
            result["message"] = e.message
    full = iface if iface.startswith("org.") else "io.github.copilotd.Copilot1." + iface
    bus.call("io.github.copilotd.Copilot1", path, full, method, params, None, 0, 30000, None, done)
    ctx = GLib.MainContext.default()
    while not result:
        ctx.iteration(True)
    return result
out = {"calls": {}}
vars = {}
for step in script:
    key, path, iface, method, sig, args = step
    path = vars.get(path, path)
    if isinstance(args, str):
        # GVariant text, for what JSON cannot say (variants)
        params = GLib.Variant.parse(GLib.VariantType(sig), args, None, None)
    else:
        args = [vars.get(a, a) if isinstance(a, str) else a for a in args]
        params = GLib.Variant(sig, tuple(args)) if sig else None
    r = call(path, iface, method, params)
    out["calls"][key] = r
    if "ok" in r and r["ok"] and isinstance(r["ok"][0], str):
        vars["$" + key] = r["ok"][0]
# Let signals that are on their way arrive: one round trip to the bus
# orders them before its reply.
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
              "GetId", None, None, 0, -1, None)
ctx = GLib.MainContext.default()
while ctx.pending():
    ctx.iteration(False)
out["prompts"] = prompts
out["signals"] = signals
print(json.dumps(out))
'''


def run(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def setup_users(tmp):
    """Creates the test users (again, if an earlier run left them)."""
    teardown_users()
    run("groupadd", GROUP)
    for name, (refused, has_home, locked) in USERS.items():
        if has_home:
            home = os.path.join(tmp, "home", name)
            run("useradd", "--create-home", "--home-dir", home, "--shell", "/bin/sh",
                "--groups", GROUP, "--user-group", name)
        else:
            run("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
                "--groups", GROUP, "--user-group", name)
        # useradd leaves "!" (locked) for an account without a password:
        # "*" is "no password login", which is what a key-only user has.
        run("usermod", "--password", "*", name)
        if locked:
            run("usermod", "--lock", name)


def teardown_users():
    for name in USERS:
        run("userdel", "--force", name, check=False)
    run("groupdel", GROUP, check=False)


class Fixture:
    def __init__(self):
        # World-readable: the daemon runs the fake CLI as the users from here.
        self.tmp = tempfile.mkdtemp(prefix="copilotd-system-")
        os.chmod(self.tmp, 0o755)
        os.mkdir(os.path.join(self.tmp, "home"), 0o755)
        setup_users(self.tmp)
        self.uid = {name: pwd.getpwnam(name).pw_uid for name in USERS}

        self.socket = os.path.join(self.tmp, "bus")
        config = os.path.join(self.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket, policy=os.path.abspath(POLICY)))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", config, "--nofork",
                                     "--print-address"], stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()

        self.polkit_log = os.path.join(self.tmp, "polkit.log")
        refused = [str(self.uid[n]) for n, (r, _, _) in USERS.items() if r]
        self.polkit = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "mock_polkit.py"),
                                        self.address, self.polkit_log] + refused,
                                       stdout=subprocess.PIPE, text=True)
        if self.polkit.stdout.readline().strip() != "ready":
            raise AssertionError("the mock polkit did not start")

        self.cli = os.path.join(self.tmp, "fake-cli")
        shutil.copy(os.environ["COPILOTD_FAKE_CLI"], self.cli)
        data = os.path.join(self.tmp, "data")
        shutil.copytree(os.environ["COPILOTD_FAKE_CLI_DATA"], data)
        self.script = os.path.join(self.tmp, "client.py")
        with open(self.script, "w") as f:
            f.write(CLIENT)
        subprocess.run(["chmod", "-R", "a+rX", self.tmp], check=True)

        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, FAKE_CLI_DATA_DIR=data,
                   G_MESSAGES_DEBUG="all")
        # LeakSanitizer reads its suppressions at start-up and dies if it
        # cannot: the CLIs that run as the users need a copy they can read.
        lsan = env.get("LSAN_OPTIONS", "")
        if "suppressions=" in lsan:
            opts = dict(o.split("=", 1) for o in lsan.split(":") if "=" in o)
            supp = os.path.join(self.tmp, "lsan.supp")
            shutil.copy(opts["suppressions"], supp)
            os.chmod(supp, 0o644)
            opts["suppressions"] = supp
            env["LSAN_OPTIONS"] = ":".join(f"{k}={v}" for k, v in opts.items())
        self.env = env
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.model = None
        self.start_daemon(["--cli-path", self.cli, "--copilot-home", os.path.join(self.tmp, "state")], env)

    def start_daemon(self, args, env):
        self.log = open(os.path.join(self.tmp, "daemon.log"), "a")
        self.daemon = subprocess.Popen([os.environ["COPILOTD_DAEMON"], "--system"] + args,
                                       env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for_name()

    def stop_daemon(self):
        """SIGTERM; the exit status (None: it hung)."""
        if self.daemon is None:
            return 0
        self.daemon.send_signal(signal.SIGTERM)
        try:
            return self.daemon.wait(15)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            return None
        finally:
            self.daemon = None
            self.log.close()

    def start_real_cli(self):
        """The daemon again, now with the real Copilot CLI (a copy the users
        can run: the installed one is under /root) and the offline model."""
        cli = os.path.join(self.tmp, "copilot")
        shutil.copy(os.environ["COPILOTD_TEST_CLI"], cli)
        os.chmod(cli, 0o755)
        self.model = subprocess.Popen([os.environ["COPILOTD_MODEL"], "--log",
                                       os.path.join(self.tmp, "requests.jsonl")],
                                      stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.model.stdout.readline().strip()
        assert line.startswith("listening on port "), line
        url = "http://127.0.0.1:" + line.rsplit(" ", 1)[1]
        env = dict(self.env, COPILOT_API_URL=url, COPILOT_DEBUG_GITHUB_API_URL=url,
                   COPILOT_SDK_AUTH_TOKEN="fake")
        for name in ("GH_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN", "XDG_CONFIG_HOME", "COPILOT_HOME"):
            env.pop(name, None)
        self.start_daemon(["--cli-path", cli], env)

    def wait_for_name(self):
        """Waits for NameOwnerChanged of the daemon's name (or its exit)."""
        owned = []
        sub = self.conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                                         "/org/freedesktop/DBus", NAME, Gio.DBusSignalFlags.NONE,
                                         lambda *a: owned.append(True), )
        try:
            (has,) = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                         "NameHasOwner", GLib.Variant("(s)", (NAME,)), None, 0, -1, None).unpack()
            deadline = time.monotonic() + 30
            ctx = GLib.MainContext.default()
            while not has and not owned:
                if self.daemon.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("copilotd did not take its name")
                source = GLib.timeout_source_new(100)
                source.set_callback(lambda *a: False)
                source.attach(ctx)
                ctx.iteration(True)
                source.destroy()
        finally:
            self.conn.signal_unsubscribe(sub)

    def as_user(self, name, script):
        """Runs the steps of @script as user @name; returns what it saw."""
        cmd = ["setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups",
               "/usr/bin/python3", self.script, self.address, json.dumps(script)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.tmp)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def polkit_checks(self):
        try:
            with open(self.polkit_log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def close(self):
        status = self.stop_daemon()
        if self.model is not None:
            self.model.terminate()
            self.model.wait(5)
        self.polkit.terminate()
        self.polkit.wait(5)
        self.bus.terminate()
        self.bus.wait(5)
        log = open(os.path.join(self.tmp, "daemon.log")).read()
        teardown_users()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return status, log


def cli_processes(parent):
    """pid → /proc status of every fake CLI the daemon @parent runs."""
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
                status = {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
            if int(status["PPid"]) == parent:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    status["environ"] = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
                status["cwd"] = os.readlink(f"/proc/{pid}/cwd")
                found[int(pid)] = status
        except OSError:
            pass
    return found


def session_id(path):
    return path.rsplit("/", 1)[1].replace("_", "-")


def test_users_are_isolated(fx):
    # persist: the session outlives alice's client process.
    alice = fx.as_user("cpdtest-alice", [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", "({'persist': <true>},)"],
        ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["hello from alice", {}]],
    ])
    path = alice["calls"]["create"]["ok"][0]
    sid = session_id(path)
    assert alice["calls"]["send"]["ok"][0] == "Echo: hello from alice", alice["calls"]["send"]

    bob = fx.as_user("cpdtest-bob", [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["hello from bob", {}]],
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
        ["metadata_other", ROOT, "Manager", "GetSessionMetadata", "(s)", [sid]],
        ["subscribe_other", path, "Session", "Subscribe", "(a{sv})", [{}]],
        ["send_other", path, "Session", "Send", "(sa{sv})", ["let me in", {}]],
        ["messages_other", path, "Session", "GetMessages", "(a{sv})", [{}]],
        ["resume_other", ROOT, "Manager", "ResumeSession", "(sa{sv})", [sid, {}]],
        ["delete_other", ROOT, "Manager", "DeleteSession", "(s)", [sid]],
    ])
    calls = bob["calls"]
    assert "ok" in calls["create"], calls["create"]
    assert calls["send"]["ok"][0] == "Echo: hello from bob", calls["send"]
    listed = [s["session-id"] for s in calls["list"]["ok"][0]]
    assert sid not in listed, f"bob sees alice's session: {listed}"
    assert len(listed) == 1, listed
    assert calls["metadata_other"]["error"] == PREFIX + "Error.NotFound", calls["metadata_other"]
    for key in ("subscribe_other", "send_other", "messages_other", "resume_other", "delete_other"):
        assert calls[key].get("error") == PREFIX + "Error.AccessDenied", (key, calls[key])

    again = fx.as_user("cpdtest-alice", [
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
        ["resume", ROOT, "Manager", "ResumeSession", "(sa{sv})", [sid, {}]],
    ])
    mine = [s["session-id"] for s in again["calls"]["list"]["ok"][0]]
    assert mine == [sid], mine
    assert again["calls"]["resume"]["ok"][0] == path, again["calls"]["resume"]


def test_prompts_reach_only_their_user(fx):
    """Alice's permission prompt goes to an agent of hers, never to Bob's,
    even when Bob's is the only agent there is."""
    bob_agent = subprocess.Popen(
        ["setpriv", "--reuid=cpdtest-bob", "--regid=cpdtest-bob", "--init-groups",
         "/usr/bin/python3", "-c", AGENT_WAITER, fx.address],
        stdout=subprocess.PIPE, text=True, cwd=fx.tmp)
    try:
        assert bob_agent.stdout.readline().strip() == "registered"
        alice = fx.as_user("cpdtest-alice", [
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["PERMISSION: rm -rf /", {}]],
        ])
        # No agent of alice's: the prompt fails closed and bob saw nothing.
        answer = alice["calls"]["send"]["ok"][0]
        assert "denied" in answer.lower() or "user-not-available" in answer.lower() or "reject" in answer.lower(), answer

        alice = fx.as_user("cpdtest-alice", [
            ["agent", ROOT, "AgentManager", "RegisterAgent", "(oa{sv})", ["/agent", {}]],
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["PERMISSION: ls", {}]],
        ])
        assert "ok" in alice["calls"]["agent"], alice["calls"]["agent"]
        assert [p[0] for p in alice["prompts"]] == ["RequestPermission"], alice["prompts"]
        assert "approved" in alice["calls"]["send"]["ok"][0].lower(), alice["calls"]["send"]
    finally:
        bob_agent.send_signal(signal.SIGTERM)
        seen, _ = bob_agent.communicate(timeout=30)
    assert seen.strip() == "prompts: 0", f"bob's agent saw alice's prompts: {seen}"


# Bob's agent: registers, says so, and counts the prompts it gets until
# SIGTERM, then prints the count.
AGENT_WAITER = r'''
import signal, sys
from gi.repository import Gio, GLib
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
XML = """<node><interface name="io.github.copilotd.Copilot1.Agent">
<method name="RequestPermission"><arg type="o" direction="in"/><arg type="s" direction="in"/>
<arg type="a{sv}" direction="in"/><arg type="s" direction="in"/>
<arg type="u" direction="out"/><arg type="a{sv}" direction="out"/></method>
<method name="Cancel"><arg type="s" direction="in"/></method><method name="Release"/></interface></node>"""
count = [0]
def on_call(conn, sender, path, iface, method, params, inv):
    if method == "RequestPermission":
        count[0] += 1
        inv.return_value(GLib.Variant("(ua{sv})", (1, {})))
    else:
        inv.return_value(None)
bus.register_object("/agent", Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0], on_call, None, None)
bus.call_sync("io.github.copilotd.Copilot1", "/io/github/copilotd/Copilot1",
              "io.github.copilotd.Copilot1.AgentManager", "RegisterAgent",
              GLib.Variant("(oa{sv})", ("/agent", {"fallback": GLib.Variant("b", True)})), None, 0, -1, None)
print("registered", flush=True)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
print(f"prompts: {count[0]}", flush=True)
'''


def test_each_cli_runs_as_its_user(fx):
    procs = cli_processes(fx.daemon.pid)
    by_uid = {int(s["Uid"].split()[0]): s for s in procs.values()}
    gid = {n: pwd.getpwnam(n).pw_gid for n in USERS}
    import grp
    extra = grp.getgrnam(GROUP).gr_gid
    for name in ("cpdtest-alice", "cpdtest-bob"):
        uid = fx.uid[name]
        assert uid in by_uid, f"no CLI runs as {name} ({uid}): {sorted(by_uid)}"
        status = by_uid[uid]
        assert all(int(u) == uid for u in status["Uid"].split()), status["Uid"]
        assert all(int(g) == gid[name] for g in status["Gid"].split()), status["Gid"]
        groups = {int(g) for g in status["Groups"].split()}
        assert extra in groups, f"{name}'s CLI lacks its supplementary group: {groups}"
        assert 0 not in groups, f"{name}'s CLI kept root's group: {groups}"
        home = pwd.getpwnam(name).pw_dir
        assert status["environ"].get(b"HOME") == home.encode(), status["environ"].get(b"HOME")
        assert status["cwd"] == home, status["cwd"]
        state = os.path.join(fx.tmp, "state", str(uid))
        st = os.stat(state)
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o700, (st.st_uid, oct(st.st_mode))
    assert 0 not in by_uid, "a CLI runs as root though root never called"
    for name in ("cpdtest-carol", "cpdtest-dave", "cpdtest-erin"):
        assert fx.uid[name] not in by_uid, f"a CLI was started for {name}"


def test_polkit_refusal(fx):
    carol = fx.as_user("cpdtest-carol", [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["resume", ROOT, "Manager", "ResumeSession", "(sa{sv})", ["6f1c2a4e-8d3b-4e5f-9a0b-1c2d3e4f5a6b", {}]],
        ["agent", ROOT, "AgentManager", "RegisterAgent", "(oa{sv})", ["/agent", {}]],
        ["status", ROOT, "Manager", "GetStatus", "", []],
    ])
    for key in ("create", "resume", "agent"):
        r = carol["calls"][key]
        assert r.get("error") == PREFIX + "Error.AccessDenied", (key, r)
        assert ACTION in r["message"], (key, r["message"])
    # What is not using the assistant stays open.
    assert "ok" in carol["calls"]["status"], carol["calls"]["status"]

    checks = fx.polkit_checks()
    carol_checks = [c for c in checks if c["uid"] == fx.uid["cpdtest-carol"]]
    assert len(carol_checks) == 3, carol_checks
    assert all(c["action"] == ACTION and c["kind"] == "system-bus-name" for c in checks), checks
    alice_checks = [c for c in checks if c["uid"] == fx.uid["cpdtest-alice"]]
    assert alice_checks, "alice's CreateSession was never checked with polkit"


def test_user_without_home(fx):
    dave = fx.as_user("cpdtest-dave", [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
    ])
    for key in ("create", "list"):
        r = dave["calls"][key]
        assert r.get("error") == PREFIX + "Error.Failed", (key, r)
        assert "no home directory" in r["message"] and "/nonexistent" in r["message"], r["message"]


def test_locked_account(fx):
    erin = fx.as_user("cpdtest-erin", [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["models", ROOT, "Manager", "ListModels", "(a{sv})", [{}]],
    ])
    for key in ("create", "models"):
        r = erin["calls"][key]
        assert r.get("error") == PREFIX + "Error.AccessDenied", (key, r)
        assert "cpdtest-erin" in r["message"] and "locked" in r["message"], r["message"]


def test_fake_daemon_exits_cleanly(fx):
    status = fx.stop_daemon()
    assert status == 0, f"copilotd (fake CLI) exited with status {status}"


def test_approved_command_runs_as_user(fx):
    """The real CLI of each user runs an approved shell command as that
    user: the file it writes belongs to the user, in the user's home."""
    fx.start_real_cli()
    for name in ("cpdtest-alice", "cpdtest-bob"):
        home = pwd.getpwnam(name).pw_dir
        target = os.path.join(home, "written-by-command.txt")
        seen = fx.as_user(name, [
            ["agent", ROOT, "AgentManager", "RegisterAgent", "(oa{sv})", ["/agent", {}]],
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})",
             f"({{'working-directory': <'{home}'>}},)"],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})",
             [f"RUN: id -un > {target}", {}]],
        ])
        assert "ok" in seen["calls"]["send"], seen["calls"]
        assert [p[0] for p in seen["prompts"]] == ["RequestPermission"], seen["prompts"]
        st = os.stat(target)
        assert st.st_uid == fx.uid[name], f"{target} belongs to UID {st.st_uid}, not {name}"
        with open(target) as f:
            assert f.read().strip() == name, "the command did not run as its user"


def main():
    tests = [test_users_are_isolated, test_prompts_reach_only_their_user, test_each_cli_runs_as_its_user,
             test_polkit_refusal, test_user_without_home, test_locked_account,
             test_fake_daemon_exits_cleanly, test_approved_command_runs_as_user]
    print(f"1..{len(tests) + 1}")
    if os.geteuid() != 0:
        for i, t in enumerate(tests, 1):
            print(f"not ok {i} - {t.__name__} # needs root to create users and act as them")
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
        for line in log.splitlines()[-60:]:
            print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
