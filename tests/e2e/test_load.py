#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Load: 20 D-Bus connections x 5 sessions each streaming at once through
the fake CLI (issue 8, item 6c).

Each connection owns 5 sessions and also subscribes to one session of the
next connection, so a session has one or two subscribers. A raw socket
connection subscribes to one session of every connection and then never
reads again. All 100 turns (BURST: deltas) start at once. Checked:

- every turn completes (event-driven waits with generous deadlines, no
  timed assertion): the stalled reader slows nobody;
- every subscriber receives every Event of its sessions exactly once, in
  increasing serial order, and Delta text that concatenates to the whole
  answer (the replay ring, GetEvents, is the reference; a merged Delta —
  coalescing under pressure — may skip serials, never text);
- the daemon's open fds and RSS (/proc/<pid>) after a second identical
  round are back near what they were after the first (the first round
  warms up the allocator, the CLI and the caches).
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Gio, GLib, check, log, wait_until  # noqa: E402

CONNECTIONS = 20
SESSIONS = 5
DELTAS = 20
DEADLINE = 240.0
# RSS may grow this much from one round to the next (allocator slack).
RSS_SLACK = 16 * 1024 * 1024


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise h.TestFailure(f"/proc/{pid}/status has no {key}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Subscriber:
    """A connection that records every Event and Delta per session path."""

    def __init__(self, bus):
        self.conn = bus.connect()
        self.got = {}            # path → [(serial, "E"/"D", type or text)]
        self.subs = [
            self.conn.signal_subscribe(h.BUS_NAME, h.SESSION, member, None, None,
                                       Gio.DBusSignalFlags.NONE, self._on_signal)
            for member in ("Event", "Delta")]

    def _on_signal(self, conn, sender, path, iface, member, params):
        if member == "Event":
            serial, type_ = params.get_child_value(0).get_uint64(), params.get_child_value(1).get_string()
            self.got.setdefault(path, []).append((serial, "E", type_))
        else:
            serial, text = params.get_child_value(0).get_uint64(), params.get_child_value(3).get_string()
            self.got.setdefault(path, []).append((serial, "D", text))

    def call(self, path, iface, method, params, done):
        self.conn.call(h.BUS_NAME, path, iface, method, params, None, Gio.DBusCallFlags.NONE,
                       int(DEADLINE * 1000), None, lambda c, res: done(c, res))

    def idle_seen(self, path):
        return any(kind == "E" and what == "session.idle" for _, kind, what in self.got.get(path, ()))

    def close(self):
        for sub in self.subs:
            self.conn.signal_unsubscribe(sub)
        self.conn.close_sync(None)


class StalledReader:
    """A raw connection to the bus: it authenticates, says Hello, subscribes
    to @paths, reads the replies, and then never reads its socket again."""

    def __init__(self, address, paths):
        params = dict(p.split("=", 1) for p in address.split(":", 1)[1].split(","))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if "path" in params:
            self.sock.connect(params["path"])
        else:
            self.sock.connect("\0" + params["abstract"])
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        check(self._read_line().startswith(b"OK "), "the bus refused the raw connection")
        self.sock.sendall(b"BEGIN\r\n")
        self.buf = b""
        calls = [Gio.DBusMessage.new_method_call(h.DBUS, "/org/freedesktop/DBus", h.DBUS, "Hello")]
        for path in paths:
            msg = Gio.DBusMessage.new_method_call(h.BUS_NAME, path, h.SESSION, "Subscribe")
            msg.set_body(GLib.Variant("(a{sv})", ({},)))
            calls.append(msg)
        for serial, msg in enumerate(calls, 1):
            msg.set_serial(serial)
            self.sock.sendall(msg.to_blob(Gio.DBusCapabilityFlags.NONE))
        answered = set()
        while len(answered) < len(calls):
            reply = self._read_message()
            if reply.get_message_type() == Gio.DBusMessageType.ERROR:
                raise h.TestFailure(f"the raw connection's call failed: {reply.get_error_name()}")
            if reply.get_message_type() == Gio.DBusMessageType.METHOD_RETURN:
                answered.add(reply.get_reply_serial())
        # From here on nothing is read: what the bus queues for it piles up.

    def _read_line(self):
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            check(chunk, "the bus closed the raw connection")
            line += chunk
        return line

    def _read_message(self):
        while True:
            if len(self.buf) >= 16:
                need = Gio.DBusMessage.bytes_needed(self.buf[:16])
                if len(self.buf) >= need:
                    blob, self.buf = self.buf[:need], self.buf[need:]
                    return Gio.DBusMessage.new_from_blob(blob, Gio.DBusCapabilityFlags.NONE)
            chunk = self.sock.recv(65536)
            check(chunk, "the bus closed the raw connection")
            self.buf += chunk

    def close(self):
        self.sock.close()


def all_done(pending):
    return all(p["done"] for p in pending)


def start_call(pending, sub, path, iface, method, params):
    entry = {"done": False, "result": None, "error": None, "path": path}

    def done(conn, res):
        try:
            entry["result"] = conn.call_finish(res).unpack()
        except GLib.Error as e:
            entry["error"] = e.message
        entry["done"] = True

    sub.call(path, iface, method, params, done)
    pending.append(entry)
    return entry


def wait_calls(pending, what, alive):
    wait_until(lambda: all_done(pending), DEADLINE, what, alive=alive)
    errors = [(p["path"], p["error"]) for p in pending if p["error"] is not None]
    check(not errors, f"{what}: {len(errors)} failed, first {errors[:3]}")


def ring_of(sub, path):
    """Everything relayed on @path, from the replay ring (GetEvents, which
    the owner and subscribers may call)."""
    (events, _next, truncated) = sub.conn.call_sync(
        h.BUS_NAME, path, h.SESSION, "GetEvents", GLib.Variant("(tu)", (0, 100000)),
        None, Gio.DBusCallFlags.NONE, int(DEADLINE * 1000), None).unpack()
    check(not truncated, f"the replay ring of {path} dropped events")
    return events


def check_subscriber(sub, path, ring, who, since):
    """What @sub got of @path against the ring, from serial @since on (what
    Subscribe returned; 0 for the owner)."""
    ring = [entry for entry in ring if entry[0] >= since]
    got = sub.got.get(path, [])
    serials = [s for s, _, _ in got]
    check(serials == sorted(set(serials)),
          f"{who} on {path}: serials not strictly increasing: {serials[:40]}")
    ring_events = {serial: type_ for serial, type_, _, _ in ring if not type_.endswith("_delta")}
    got_events = {s: what for s, kind, what in got if kind == "E"}
    check(got_events == ring_events,
          f"{who} on {path}: Events {sorted(got_events.items())[:10]}… "
          f"differ from the ring's {sorted(ring_events.items())[:10]}…")
    ring_deltas = [(serial, data_json) for serial, type_, _, data_json in ring
                   if type_ == "assistant.message_delta"]
    ring_text = "".join(json.loads(d)["deltaContent"] for _, d in ring_deltas)
    got_deltas = [(s, text) for s, kind, text in got if kind == "D"]
    got_text = "".join(t for _, t in got_deltas)
    check(got_text == ring_text, f"{who} on {path}: Delta text {got_text[:80]!r}… "
          f"is not the ring's {ring_text[:80]!r}…")
    delta_serials = {s for s, _ in ring_deltas}
    check(all(s in delta_serials for s, _ in got_deltas),
          f"{who} on {path}: a Delta serial is not a delta's in the ring")
    # A merged Delta carries its last delta's serial: the last ones agree.
    if ring_deltas:
        check(got_deltas and got_deltas[-1][0] == ring_deltas[-1][0],
              f"{who} on {path}: the last Delta is not the ring's last delta")
    return len(got_deltas), len(ring_deltas)


def run_round(world, daemon, number):
    alive = daemon.check_alive
    started = time.monotonic()
    subs = [Subscriber(world.bus) for _ in range(CONNECTIONS)]
    created = [[] for _ in range(CONNECTIONS)]
    pending = []
    for i, sub in enumerate(subs):
        for _ in range(SESSIONS):
            created[i].append(start_call(pending, sub, h.ROOT, h.MANAGER, "CreateSession",
                                         GLib.Variant("(a{sv})", ({},))))
    wait_calls(pending, f"round {number}: {CONNECTIONS * SESSIONS} CreateSession", alive)
    paths = [[entry["result"][0] for entry in row] for row in created]

    # Each connection also follows the first session of the next one.
    pending = []
    for i, sub in enumerate(subs):
        start_call(pending, sub, paths[(i + 1) % CONNECTIONS][0], h.SESSION, "Subscribe",
                   GLib.Variant("(a{sv})", ({},)))
    wait_calls(pending, f"round {number}: cross Subscribe", alive)
    since = [entry["result"][0] for entry in pending]
    stalled = StalledReader(world.bus.address, [row[1] for row in paths])

    turns = []
    for i, sub in enumerate(subs):
        for path in paths[i]:
            start_call(turns, sub, path, h.SESSION, "SendAndWait",
                       GLib.Variant("(sa{sv})", (f"BURST: {DELTAS}", {})))
    wait_calls(turns, f"round {number}: {len(turns)} turns with a stalled reader on the bus", alive)
    streamed = time.monotonic() - started

    # Every subscriber of every session saw its turn end.
    followers = [(subs[i], path, f"connection {i}", 0) for i in range(CONNECTIONS) for path in paths[i]]
    followers += [(subs[i], paths[(i + 1) % CONNECTIONS][0], f"connection {i} (subscriber)", since[i])
                  for i in range(CONNECTIONS)]
    wait_until(lambda: all(sub.idle_seen(path) for sub, path, _, _ in followers), DEADLINE,
               "session.idle at every subscriber", alive=alive)

    merged = 0
    total = 0
    rings = {}
    for sub, path, who, first in followers:
        if path not in rings:
            rings[path] = ring_of(sub, path)
        got, want = check_subscriber(sub, path, rings[path], who, first)
        merged += want - got
        total += want
    answers = {p["result"][0] for p in turns}
    check(len(answers) == 1 and next(iter(answers)).startswith("é€😀 1 "),
          f"the answers differ: {list(answers)[:3]}")

    pending = []
    for i, sub in enumerate(subs):
        for path in paths[i]:
            start_call(pending, sub, path, h.SESSION, "Destroy", GLib.Variant("(a{sv})", ({},)))
    wait_calls(pending, f"round {number}: Destroy", alive)
    stalled.close()
    for sub in subs:
        sub.close()
    h.Tap.comment(f"round {number}: {len(turns)} turns of {DELTAS} deltas streamed in {streamed:.1f} s; "
                  f"{total} deltas to subscribers, {merged} merged under pressure")


def quiet(world, daemon):
    """No session left in the daemon: ListSessions names no live object."""
    client = world.client()

    def no_live():
        (sessions,) = client.manager("ListSessions", ({},), "(a{sv})")
        return not any("object" in s for s in sessions)
    wait_until(no_live, DEADLINE, "every session to be closed", alive=daemon.check_alive, interval=0.2)
    # Every reply and signal of the daemon is out: a round trip through it.
    client.manager("Ping", ("settled",), "(s)")


def test_load(world_factory):
    world = world_factory(model=False)
    # AddressSanitizer holds freed memory in a quarantine of up to 256 MiB
    # (its default) before reusing it: RSS would climb by what a round
    # frees. A small quarantine keeps RSS about the daemon's own memory.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=8"}
    daemon = world.daemon(fake=True, verbose=False, env=env, config=(
        "[copilotd]\n"
        f"max-sessions-per-uid={CONNECTIONS * SESSIONS + 8}\n"))
    warm = world.client()
    path = warm.create_session()
    warm.send_and_wait(path, "warm up")
    warm.destroy(path)
    quiet(world, daemon)
    fds_before = open_fds(daemon.pid)

    run_round(world, daemon, 1)
    quiet(world, daemon)
    fds_1, rss_1 = open_fds(daemon.pid), proc_status(daemon.pid, "VmRSS")

    run_round(world, daemon, 2)
    quiet(world, daemon)
    fds_2, rss_2 = open_fds(daemon.pid), proc_status(daemon.pid, "VmRSS")
    hwm = proc_status(daemon.pid, "VmHWM")
    h.Tap.comment(f"daemon fds: {fds_before} before, {fds_1} after round 1, {fds_2} after round 2")
    h.Tap.comment(f"daemon RSS: {rss_1 / 2**20:.1f} MiB after round 1, {rss_2 / 2**20:.1f} MiB "
                  f"after round 2 (peak {hwm / 2**20:.1f} MiB)")
    check(fds_1 == fds_before and fds_2 == fds_before,
          f"the daemon's open fds went {fds_before} → {fds_1} → {fds_2}")
    check(rss_2 <= rss_1 + RSS_SLACK,
          f"the daemon's RSS grew from {rss_1} to {rss_2} bytes over an identical round")


if __name__ == "__main__":
    h.run_cases([("load: 20 connections x 5 sessions streaming, a stalled reader", test_load)],
                needs_cli=False)
