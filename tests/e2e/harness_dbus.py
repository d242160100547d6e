# SPDX-License-Identifier: MIT
"""harness_dbus.py: the D-Bus client half of harness.py (import harness,
not this): calls that keep the main context turning, signal recorders and
client-side objects answering by policy."""

import json
import os

from gi.repository import Gio, GLib

from harness import (
    BUS_NAME, IFACE, MANAGER, PROPERTIES, ROOT, SESSION, SOURCE_DIR, TURN_TIMEOUT, AGENT_PATH,
    TOOLS_PATH, TestFailure, check, wait_until,
)


# --- D-Bus calls ----------------------------------------------------------------

class DBusError(Exception):
    """A failed call: .name (the D-Bus error name), .text, .gerror."""

    def __init__(self, error):
        self.gerror = error
        self.name = Gio.DBusError.get_remote_error(error) or ""
        self.text = error.message
        super().__init__(f"{self.name}: {self.text}")


class Pending:
    """An asynchronous method call: .done, then .result (unpacked) or
    .error (DBusError); .order is when the reply came (Client.next_order)."""

    def __init__(self, client):
        self.client = client
        self.done = False
        self.result = None
        self.error = None
        self.order = None

    def _finish(self, conn, res):
        try:
            value = conn.call_finish(res)
            self.result = value.unpack() if value is not None else ()
        except GLib.Error as e:
            self.error = DBusError(e)
        self.order = self.client.next_order()
        self.done = True

    def settle(self, timeout=TURN_TIMEOUT, what=None):
        """Waits for the reply; returns self (error or not)."""
        wait_until(lambda: self.done, timeout, what or "a method reply", alive=self.client.alive)
        return self

    def wait(self, timeout=TURN_TIMEOUT, what=None):
        """Waits for the reply; returns the result or raises the error."""
        self.settle(timeout, what)
        if self.error is not None:
            raise self.error
        return self.result


def _full_iface(iface):
    return iface if "." in iface else f"{IFACE}.{iface}"


class Client:
    """A connection to the private bus. It records the Event and Delta
    signals of every session and the Manager's BackendState changes."""

    def __init__(self, bus_or_fixture, alive=None, order=None):
        bus = getattr(bus_or_fixture, "bus", bus_or_fixture)
        self.fixture = bus_or_fixture
        self.conn = bus.connect()
        self.name = self.conn.get_unique_name()
        self.registrations = []
        self._alive = alive
        self._order = order
        self._counter = 0
        self.events = []           # (path, serial, type, meta, data_json)
        self.deltas = []           # (path, serial, message_id, stream, text)
        self.states = []           # BackendState values announced, in order
        self._subs = [
            self.conn.signal_subscribe(None, SESSION, "Event", None, None,
                                       Gio.DBusSignalFlags.NONE, self._on_event),
            self.conn.signal_subscribe(None, SESSION, "Delta", None, None,
                                       Gio.DBusSignalFlags.NONE, self._on_delta),
            self.conn.signal_subscribe(None, PROPERTIES, "PropertiesChanged", ROOT, MANAGER,
                                       Gio.DBusSignalFlags.NONE, self._on_properties),
        ]

    def next_order(self):
        if self._order is not None:
            return self._order()
        self._counter += 1
        return self._counter

    def alive(self):
        if self._alive is not None:
            self._alive()

    def _on_event(self, conn, sender, path, iface, member, params):
        self.events.append((path, *params.unpack()))

    def _on_delta(self, conn, sender, path, iface, member, params):
        self.deltas.append((path, *params.unpack()))

    def _on_properties(self, conn, sender, path, iface, member, params):
        _, changed, _ = params.unpack()
        if "BackendState" in changed:
            self.states.append(changed["BackendState"])

    # -- calls
    def call_async(self, path, iface, method, args=None, sig=None,
                   timeout_ms=-1, dest=BUS_NAME):
        params = GLib.Variant(sig, args) if sig is not None else None
        pending = Pending(self)
        self.conn.call(dest, path, _full_iface(iface), method, params, None,
                       Gio.DBusCallFlags.NONE, timeout_ms, None, pending._finish)
        return pending

    def call(self, path, iface, method, args=None, sig=None, timeout=TURN_TIMEOUT,
             dest=BUS_NAME):
        return self.call_async(path, iface, method, args, sig, int(timeout * 1000) + 5000,
                               dest).wait(timeout + 5, f"the reply to {method}")

    def call_error(self, path, iface, method, args=None, sig=None, timeout=TURN_TIMEOUT):
        try:
            result = self.call(path, iface, method, args, sig, timeout)
        except DBusError as e:
            return e
        raise TestFailure(f"{method} succeeded ({result!r}) but an error was expected")

    # -- shortcuts for the contract
    def manager(self, method, args=None, sig=None, **kw):
        return self.call(ROOT, "Manager", method, args, sig, **kw)

    def create_session(self, options=None):
        (path,) = self.manager("CreateSession", (options or {},), "(a{sv})")
        return path

    def send(self, path, prompt, options=None):
        (message_id,) = self.call(path, "Session", "Send", (prompt, options or {}), "(sa{sv})")
        return message_id

    def send_and_wait(self, path, prompt, options=None, timeout=TURN_TIMEOUT):
        return self.call(path, "Session", "SendAndWait", (prompt, options or {}), "(sa{sv})",
                         timeout=timeout)

    def messages(self, path):
        (events,) = self.call(path, "Session", "GetMessages", ({},), "(a{sv})")
        return events

    def destroy(self, path):
        self.call(path, "Session", "Destroy", ({},), "(a{sv})")

    def get_property(self, path, iface, name):
        (value,) = self.call(path, PROPERTIES, "Get", (_full_iface(iface), name), "(ss)")
        return value

    def backend_state(self):
        return self.get_property(ROOT, "Manager", "BackendState")

    # -- what was received
    def events_of(self, path, type_=None):
        return [e for e in self.events if e[0] == path and (type_ is None or e[2] == type_)]

    def wait_event(self, path, type_, timeout=TURN_TIMEOUT):
        """Waits for an Event @type_ of @path; returns the first one."""
        return wait_until(lambda: self.events_of(path, type_), timeout,
                          f"an Event {type_} of {path}", alive=self.alive)[0]

    def wait_state(self, state, timeout=TURN_TIMEOUT):
        """Waits until the last BackendState announced is @state."""
        wait_until(lambda: self.states and self.states[-1] == state, timeout,
                   f"BackendState '{state}' (seen {self.states})", alive=self.alive)

    # -- objects
    def register(self, path, iface_name, handler):
        reg = self.conn.register_object(path, interface_info(iface_name), handler, None, None)
        check(reg > 0, f"register_object {path} failed")
        self.registrations.append(reg)
        return reg

    def close(self):
        for reg in self.registrations:
            self.conn.unregister_object(reg)
        self.registrations = []
        for sub in self._subs:
            self.conn.signal_unsubscribe(sub)
        self._subs = []
        if not self.conn.is_closed():
            try:
                self.conn.close_sync(None)
            except GLib.Error:
                pass


def expect_error(name, function, *args, **kwargs):
    """Calls @function, which must fail with the D-Bus error @name."""
    try:
        function(*args, **kwargs)
    except DBusError as e:
        check(e.name == name, f"expected {name}, got {e.name}: {e.text}")
        return e
    raise TestFailure(f"expected {name}, the call succeeded")


class Signals:
    """Collects the Event/Delta/Closed signals of one session, each with
    its place in the client's order of replies and signals."""

    def __init__(self, client, path, sender=BUS_NAME):
        self.client = client
        self.items = []         # (order, member, unpacked params)
        self._id = client.conn.signal_subscribe(
            sender, SESSION, None, path, None, Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, member, params):
        self.items.append((self.client.next_order(), member, params.unpack()))

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
        return wait_until(find, timeout, f"an Event {type_}", alive=self.client.alive)


def data(event_params):
    """data_json of an Event's parameters (serial, type, meta, data_json)."""
    return json.loads(event_params[3])


def interface_xml(name):
    with open(os.path.join(SOURCE_DIR, "introspection", f"{IFACE}.{name}.xml")) as f:
        return f.read()


def interface_info(name):
    node = Gio.DBusNodeInfo.new_for_xml(interface_xml(name))
    return node.lookup_interface(f"{IFACE}.{name}")


# --- client-side objects ----------------------------------------------------------

HOLD = object()          # keep the invocation; answer later (or never)


class Reply:
    """What a handler answers: a value, or a D-Bus error."""

    @staticmethod
    def error(name, message="refused by the test"):
        return ("error", name, message)


class Handler:
    """Records calls of one exported object; answers through a policy.

    A policy is a callable(args) returning a tuple of out-values, HOLD, or
    Reply.error(...); or a plain tuple (always that answer)."""

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
        super().__init__(client, path, "ToolProvider", {"Invoke": "(usa{sv})"})
