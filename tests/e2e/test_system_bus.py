#!/usr/bin/python3
# SPDX-License-Identifier: MIT
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
import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib  # noqa: E402

NAME = "io.github.copilotd.Copilot1"
ROOT = "/io/github/copilotd/Copilot1"
PREFIX = "io.github.copilotd.Copilot1."
SESSIONS = ROOT + "/session"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
ACTION = "io.github.copilotd.Copilot1.use"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.environ.get("COPILOTD_BUS_POLICY",
                        os.path.join(HERE, "..", "..", "data", "io.github.copilotd.Copilot1.conf"))

# Names of this run's own: two runs on one machine must not share users.
GROUP = f"cpd{os.getpid() % 100000}"
ALICE, BOB, CAROL, DAVE, ERIN = (f"{GROUP}-{n}" for n in ("alice", "bob", "carol", "dave", "erin"))
USERS = {
    # name: (refused by polkit, has a home, locked)
    ALICE: (False, True, False),
    BOB: (False, True, False),
    CAROL: (True, True, False),
    DAVE: (False, False, False),
    ERIN: (False, True, True),
}

# The stand-in polkit may own its name and be called, as the real one.
POLKIT_POLICY = """<policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>"""

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
    bus.call("io.github.copilotd.Copilot1", path, full, method, params, None, 0, 180000, None, done)
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
        self.tmp = h.Tmp("copilotd-system-")
        self.procs = []
        self.daemon = None
        os.chmod(self.tmp.path, 0o755)
        os.mkdir(self.tmp("home"), 0o755)
        setup_users(self.tmp.path)
        self.uid = {name: pwd.getpwnam(name).pw_uid for name in USERS}

        self.bus = h.Bus(self.tmp, config=h.system_bus_config(POLICY, POLKIT_POLICY))
        self.address = self.bus.address

        self.polkit_log = self.tmp("polkit.log")
        refused = [str(self.uid[n]) for n, (r, _, _) in USERS.items() if r]
        polkit = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "mock_polkit.py"),
                                   self.address, self.polkit_log] + refused,
                                  stdout=subprocess.PIPE, text=True)
        self.procs.append(polkit)
        if polkit.stdout.readline().strip() != "ready":
            raise h.SetupError("the mock polkit did not start")

        self.cli = self.tmp("fake-cli")
        shutil.copy(h.binary("COPILOTD_FAKE_CLI"), self.cli)
        data = self.tmp("data")
        shutil.copytree(os.environ["COPILOTD_FAKE_CLI_DATA"], data)
        self.script = self.tmp("client.py")
        with open(self.script, "w") as f:
            f.write(CLIENT)
        subprocess.run(["chmod", "-R", "a+rX", self.tmp.path], check=True)

        env = dict(os.environ, FAKE_CLI_DATA_DIR=data)
        # LeakSanitizer reads its suppressions at start-up and dies if it
        # cannot: the CLIs that run as the users need a copy they can read.
        lsan = env.get("LSAN_OPTIONS", "")
        if "suppressions=" in lsan:
            opts = dict(o.split("=", 1) for o in lsan.split(":") if "=" in o)
            supp = self.tmp("lsan.supp")
            shutil.copy(opts["suppressions"], supp)
            os.chmod(supp, 0o644)
            opts["suppressions"] = supp
            env["LSAN_OPTIONS"] = ":".join(f"{k}={v}" for k, v in opts.items())
        self.env = env
        self.start_daemon(self.cli, self.tmp("state"), env)

    def start_daemon(self, cli, home, env):
        self.daemon = h.Daemon(self.tmp, self.bus, cli, home, args=["--system"], env=env,
                               log=f"copilotd-{os.path.basename(cli)}.log")

    def stop_daemon(self):
        """SIGTERM; the exit status (None: it hung)."""
        daemon, self.daemon = self.daemon, None
        return h.stop_process(daemon.proc, h.STOP_TIMEOUT) if daemon else 0

    def start_real_cli(self):
        """The daemon again, now with the real Copilot CLI (a copy the users
        can run: the installed one is under /root) and the offline model."""
        cli = self.tmp("copilot")
        shutil.copy(h.real_cli(), cli)
        os.chmod(cli, 0o755)
        self.model = h.Model(self.tmp)
        self.procs.append(self.model.proc)
        env = h.cli_env(self.model, base=self.env)
        for name in ("XDG_CONFIG_HOME", "COPILOT_HOME"):
            env.pop(name, None)
        self.start_daemon(cli, None, env)

    def as_user(self, name, script):
        """Runs the steps of @script as user @name; returns what it saw."""
        cmd = ["setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups",
               "/usr/bin/python3", self.script, self.address, json.dumps(script)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=self.tmp.path)
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
        for proc in reversed(self.procs):
            h.stop_process(proc)
        self.bus.stop()
        log = "".join(h.tail(self.tmp(f), 60) for f in sorted(os.listdir(self.tmp.path))
                      if f.startswith("copilotd-") and f.endswith(".log"))
        teardown_users()
        self.tmp.cleanup()
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


def node(path):
    return path.rsplit("/", 1)[1]


def names_any(signal, paths):
    """Whether a recorded signal's path or body names one of the session
    @paths, by path, node name or session id."""
    text = " ".join(str(part) for part in signal)
    return any(p in text or session_id(p) in text for p in paths)


def test_users_are_isolated(fx):
    # persist: the session outlives alice's client process.
    alice = fx.as_user(ALICE, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", "({'persist': <true>},)"],
        ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["hello from alice", {}]],
    ])
    path = alice["calls"]["create"]["ok"][0]
    sid = session_id(path)
    assert alice["calls"]["send"]["ok"][0] == "Echo: hello from alice", alice["calls"]["send"]

    bob = fx.as_user(BOB, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["hello from bob", {}]],
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
        ["metadata_other", ROOT, "Manager", "GetSessionMetadata", "(s)", [sid]],
        ["subscribe_other", path, "Session", "Subscribe", "(a{sv})", [{}]],
        ["send_other", path, "Session", "Send", "(sa{sv})", ["let me in", {}]],
        ["messages_other", path, "Session", "GetMessages", "(a{sv})", [{}]],
        ["resume_other", ROOT, "Manager", "ResumeSession", "(sa{sv})", [sid, {}]],
        ["delete_other", ROOT, "Manager", "DeleteSession", "(s)", [sid]],
        ["objects", ROOT, OBJECT_MANAGER, "GetManagedObjects", "", []],
        ["getall_other", path, PROPERTIES, "GetAll", "(s)", [PREFIX + "Session"]],
        ["get_other", path, PROPERTIES, "Get", "(ss)", [PREFIX + "Session", "State"]],
        ["introspect", SESSIONS, INTROSPECTABLE, "Introspect", "", []],
    ])
    calls = bob["calls"]
    assert "ok" in calls["create"], calls["create"]
    assert calls["send"]["ok"][0] == "Echo: hello from bob", calls["send"]
    listed = [s["session-id"] for s in calls["list"]["ok"][0]]
    assert sid not in listed, f"bob sees alice's session: {listed}"
    assert len(listed) == 1, listed
    assert calls["metadata_other"]["error"] == PREFIX + "Error.NotFound", calls["metadata_other"]
    for key in ("subscribe_other", "send_other", "messages_other", "resume_other", "delete_other",
                "getall_other", "get_other"):
        assert calls[key].get("error") == PREFIX + "Error.AccessDenied", (key, calls[key])
    # Bob's view of the objects: his own session, nothing of alice's.
    bob_path = calls["create"]["ok"][0]
    objects = calls["objects"]["ok"][0]
    assert list(objects) == [bob_path], f"bob's GetManagedObjects: {objects}"
    nodes = calls["introspect"]["ok"][0]
    assert node(bob_path) in nodes and node(path) not in nodes, nodes
    assert not [s for s in bob["signals"] if names_any(s, [path])], bob["signals"]

    again = fx.as_user(ALICE, [
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
        ["resume", ROOT, "Manager", "ResumeSession", "(sa{sv})", [sid, {}]],
    ])
    mine = [s["session-id"] for s in again["calls"]["list"]["ok"][0]]
    assert mine == [sid], mine
    assert again["calls"]["resume"]["ok"][0] == path, again["calls"]["resume"]
    seen = fx.as_user(ALICE, [
        ["objects", ROOT, OBJECT_MANAGER, "GetManagedObjects", "", []],
        ["getall", path, PROPERTIES, "GetAll", "(s)", [PREFIX + "Session"]],
    ])
    assert list(seen["calls"]["objects"]["ok"][0]) == [path], seen["calls"]["objects"]
    assert seen["calls"]["getall"]["ok"][0]["Id"] == sid, seen["calls"]["getall"]


def test_gone_sessions_answer_not_found(fx):
    """A destroyed session's path, and one that never was, answer the
    project's NotFound to every member, never GDBus's UnknownMethod."""
    never = ROOT + "/session/6f1c2a4e_8d3b_4e5f_9a0b_1c2d3e4f5a6b"
    alice = fx.as_user(ALICE, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["destroy", "$create", "Session", "Destroy", "(a{sv})", [{}]],
        ["send", "$create", "Session", "Send", "(sa{sv})", ["anyone there?", {}]],
        ["getall", "$create", PROPERTIES, "GetAll", "(s)", [PREFIX + "Session"]],
        ["get", "$create", PROPERTIES, "Get", "(ss)", [PREFIX + "Session", "State"]],
        ["never", never, "Session", "Abort", "(a{sv})", [{}]],
    ])
    calls = alice["calls"]
    assert "ok" in calls["destroy"], calls["destroy"]
    for key in ("send", "getall", "get", "never"):
        assert calls[key].get("error") in (PREFIX + "Error.NotFound", PREFIX + "Error.Closed"), (key, calls[key])
    # The owner heard of its session coming and going.
    path = calls["create"]["ok"][0]
    members = [s[2] for s in alice["signals"] if names_any(s, [path])]
    assert "InterfacesAdded" in members and "InterfacesRemoved" in members, members


def test_prompts_reach_only_their_user(fx):
    """Alice's permission prompt goes to an agent of hers, never to Bob's,
    even when Bob's is the only agent there is."""
    bob_agent = subprocess.Popen(
        ["setpriv", f"--reuid={BOB}", f"--regid={BOB}", "--init-groups",
         "/usr/bin/python3", "-c", AGENT_WAITER, fx.address],
        stdout=subprocess.PIPE, text=True, cwd=fx.tmp.path)
    try:
        assert bob_agent.stdout.readline().strip() == "registered"
        alice = fx.as_user(ALICE, [
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["PERMISSION: rm -rf /", {}]],
        ])
        alice_paths = [alice["calls"]["create"]["ok"][0]]
        # No agent of alice's: the prompt fails closed and bob saw nothing.
        answer = alice["calls"]["send"]["ok"][0]
        assert "denied" in answer.lower() or "user-not-available" in answer.lower() or "reject" in answer.lower(), answer

        alice = fx.as_user(ALICE, [
            ["agent", ROOT, "AgentManager", "RegisterAgent", "(oa{sv})", ["/agent", {}]],
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["PERMISSION: ls", {}]],
        ])
        assert "ok" in alice["calls"]["agent"], alice["calls"]["agent"]
        assert [p[0] for p in alice["prompts"]] == ["RequestPermission"], alice["prompts"]
        assert "approved" in alice["calls"]["send"]["ok"][0].lower(), alice["calls"]["send"]
        alice_paths.append(alice["calls"]["create"]["ok"][0])
        # Alice's own client heard of her session.
        added = [s for s in alice["signals"] if s[2] == "InterfacesAdded" and names_any(s, alice_paths[1:])]
        assert added, alice["signals"]
    finally:
        bob_agent.send_signal(signal.SIGTERM)
        out, _ = bob_agent.communicate(timeout=30)
    count, signals = out.strip().split("\n", 1)
    assert count == "prompts: 0", f"bob's agent saw alice's prompts: {count}"
    # Alice's sessions, their properties and lifecycle never reach Bob.
    leaked = [line for line in json.loads(signals) if names_any([line], alice_paths)]
    assert not leaked, "bob received signals about alice's session:\n" + "\n".join(leaked[:10])


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
# Every signal this connection receives, by path and body: another user's
# session must show in none of them (no InterfacesAdded of its object, no
# PropertiesChanged of it, no SessionLifecycle naming it, no Event).
seen = []
def on_signal(conn, sender, path, iface, name, params):
    seen.append(f"{path} {iface}.{name} {params}")
bus.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, on_signal)
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch",
              GLib.Variant("(s)", ("eavesdrop=false",)), None, 0, -1, None)
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
import json
print(json.dumps(seen), flush=True)
'''


def start_watcher(fx, user):
    """A connection of @user that has called copilotd (GetManagedObjects)
    and records every signal it receives; stop_watcher() returns them."""
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
         "/usr/bin/python3", "-c", WATCHER, fx.address],
        stdout=subprocess.PIPE, text=True, cwd=fx.tmp.path)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def stop_watcher(proc):
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out)


def test_owner_connections_hear_their_sessions(fx):
    """Another connection of the owner's UID, one that has called copilotd,
    hears the session come and go, its properties and its lifecycle; a
    connection of another user that has called too hears none of it."""
    alice_watch = start_watcher(fx, ALICE)
    bob_watch = start_watcher(fx, BOB)
    try:
        alice = fx.as_user(ALICE, [
            ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
            ["send", "$create", "Session", "SendAndWait", "(sa{sv})", ["hello", {}]],
            ["destroy", "$create", "Session", "Destroy", "(a{sv})", [{}]],
        ])
    finally:
        heard = stop_watcher(alice_watch)
        overheard = stop_watcher(bob_watch)
    path = alice["calls"]["create"]["ok"][0]
    members = {s[2] for s in heard if names_any(s, [path])}
    for member in ("InterfacesAdded", "PropertiesChanged", "SessionLifecycle", "InterfacesRemoved"):
        assert member in members, (member, heard)
    leaked = [s for s in overheard if names_any(s, [path])]
    assert not leaked, leaked


# A connection that calls copilotd once (GetManagedObjects), says so, and
# records every signal it receives until SIGTERM; then one more call to
# copilotd orders everything it sent before, and the signals are printed.
WATCHER = r'''
import json, signal, sys
from gi.repository import Gio, GLib
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
seen = []
def on_signal(conn, sender, path, iface, name, params):
    seen.append([path, iface, name, str(params)])
bus.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, on_signal)
def objects():
    bus.call_sync("io.github.copilotd.Copilot1", "/io/github/copilotd/Copilot1",
                  "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", None, None, 0, -1, None)
objects()
print("ready", flush=True)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
objects()
ctx = GLib.MainContext.default()
while ctx.pending():
    ctx.iteration(False)
print(json.dumps(seen), flush=True)
'''


def test_each_cli_runs_as_its_user(fx):
    procs = cli_processes(fx.daemon.pid)
    by_uid = {int(s["Uid"].split()[0]): s for s in procs.values()}
    gid = {n: pwd.getpwnam(n).pw_gid for n in USERS}
    extra = grp.getgrnam(GROUP).gr_gid
    for name in (ALICE, BOB):
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
        state = fx.tmp("state", str(uid))
        st = os.stat(state)
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o700, (st.st_uid, oct(st.st_mode))
    assert 0 not in by_uid, "a CLI runs as root though root never called"
    for name in (CAROL, DAVE, ERIN):
        assert fx.uid[name] not in by_uid, f"a CLI was started for {name}"


def test_polkit_refusal(fx):
    carol = fx.as_user(CAROL, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["resume", ROOT, "Manager", "ResumeSession", "(sa{sv})", ["6f1c2a4e-8d3b-4e5f-9a0b-1c2d3e4f5a6b", {}]],
        ["agent", ROOT, "AgentManager", "RegisterAgent", "(oa{sv})", ["/agent", {}]],
        ["ask", ROOT, "Manager", "Ask", "(sa{sv})", ["hello", {}]],
        ["status", ROOT, "Manager", "GetStatus", "", []],
    ])
    for key in ("create", "resume", "agent", "ask"):
        r = carol["calls"][key]
        assert r.get("error") == PREFIX + "Error.AccessDenied", (key, r)
        assert ACTION in r["message"], (key, r["message"])
    # What is not using the assistant stays open.
    assert "ok" in carol["calls"]["status"], carol["calls"]["status"]

    checks = fx.polkit_checks()
    carol_checks = [c for c in checks if c["uid"] == fx.uid[CAROL]]
    assert len(carol_checks) == 4, carol_checks
    assert all(c["action"] == ACTION and c["kind"] == "system-bus-name" for c in checks), checks
    alice_checks = [c for c in checks if c["uid"] == fx.uid[ALICE]]
    assert alice_checks, "alice's CreateSession was never checked with polkit"


def test_user_without_home(fx):
    dave = fx.as_user(DAVE, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["list", ROOT, "Manager", "ListSessions", "(a{sv})", [{}]],
    ])
    for key in ("create", "list"):
        r = dave["calls"][key]
        assert r.get("error") == PREFIX + "Error.Failed", (key, r)
        assert "no home directory" in r["message"] and "/nonexistent" in r["message"], r["message"]


def test_locked_account(fx):
    erin = fx.as_user(ERIN, [
        ["create", ROOT, "Manager", "CreateSession", "(a{sv})", [{}]],
        ["models", ROOT, "Manager", "ListModels", "(a{sv})", [{}]],
    ])
    for key in ("create", "models"):
        r = erin["calls"][key]
        assert r.get("error") == PREFIX + "Error.AccessDenied", (key, r)
        assert ERIN in r["message"] and "locked" in r["message"], r["message"]


def test_fake_daemon_exits_cleanly(fx):
    status = fx.stop_daemon()
    assert status == 0, f"copilotd (fake CLI) exited with status {status}"


def test_approved_command_runs_as_user(fx):
    """The real CLI of each user runs an approved shell command as that
    user: the file it writes belongs to the user, in the user's home."""
    fx.start_real_cli()
    for name in (ALICE, BOB):
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
    tests = [test_users_are_isolated, test_prompts_reach_only_their_user, test_gone_sessions_answer_not_found,
             test_owner_connections_hear_their_sessions, test_each_cli_runs_as_its_user,
             test_polkit_refusal, test_user_without_home, test_locked_account,
             test_fake_daemon_exits_cleanly, test_approved_command_runs_as_user]
    tap = h.Tap(len(tests) + 1)
    if os.geteuid() != 0:
        for t in tests:
            tap.ok(f"{t.__name__}: needs root to create users and act as them", False)
        tap.ok("daemon exits cleanly", False)
        return tap.finish()
    fx = Fixture()
    try:
        for t in tests:
            tap.case(t.__name__, t, fx,
                     diagnostics=lambda: ["--- copilotd log (tail) ---", fx.daemon.tail(60) if fx.daemon else ""])
    finally:
        status, log = fx.close()
    tap.ok("daemon exits cleanly", status == 0, f"exit status {status}\n{log}")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
