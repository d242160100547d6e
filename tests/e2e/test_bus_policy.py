#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Checks data/io.github.copilotd.Copilot1.conf on a private dbus-daemon
# configured like Debian's system bus (deny own and method calls by default,
# then include the policy): root owns the name and may call agents back;
# another user may call the daemon's interfaces and nothing else, and may not
# own the name. Output is TAP. Needs root to act as a second user (nobody);
# without root only the checks the current user can make run.
#
# usage: test_bus_policy.py POLICY [peer ADDRESS]

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Gio, GLib  # noqa: E402

NAME = 'io.github.copilotd.Copilot1'
ROOT = '/io/github/copilotd/Copilot1'
SESSION = ROOT + '/session/6f1c2a4e_8d3b_4e5f_9a0b_1c2d3e4f5a6b'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'



def connect(address):
    conn = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)

    # Answer every method call, so that a call that the bus lets through
    # gets a reply and one it refuses gets AccessDenied from the bus.
    def answer(conn, message, incoming):
        if incoming and message.get_message_type() == Gio.DBusMessageType.METHOD_CALL:
            reply = message.new_method_reply()
            conn.send_message(reply, Gio.DBusSendMessageFlags.NONE)
            return None
        return message
    conn.add_filter(answer)
    return conn


def call(conn, dest, path, iface, method):
    """Returns 'ok' or the D-Bus error name."""
    try:
        conn.call_sync(dest, path, iface, method, None, None,
                       Gio.DBusCallFlags.NONE, 5000, None)
        return 'ok'
    except GLib.Error as e:
        return Gio.DBusError.get_remote_error(e) or e.message


def own(conn):
    try:
        reply = conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                               'org.freedesktop.DBus', 'RequestName',
                               GLib.Variant('(su)', (NAME, 4)),
                               GLib.VariantType('(u)'),
                               Gio.DBusCallFlags.NONE, 5000, None)
        return 'ok' if reply.unpack()[0] == 1 else 'not primary owner'
    except GLib.Error as e:
        return Gio.DBusError.get_remote_error(e) or e.message


def peer(address):
    """Second user: prints its unique name, then runs commands from stdin."""
    conn = connect(address)
    print(conn.get_unique_name(), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == 'own':
            print(own(conn), flush=True)
        elif words[0] == 'call':
            print(call(conn, *words[1:]), flush=True)
    return 0


def main(policy):
    tap = h.Tap()
    tap.check = lambda what, got, want: tap.ok(what, got == want, f'got {got!r}, want {want!r}')
    tmp = h.Tmp('copilotd-policy-')
    os.chmod(tmp.path, 0o755)
    bus = None
    other = None
    try:
        # A policy the bus cannot parse makes dbus-daemon exit at once.
        try:
            bus = h.Bus(tmp, config=h.system_bus_config(policy))
        except h.SetupError as e:
            tap.ok('dbus-daemon accepts the policy', False, str(e))
            return tap.finish()
        tap.ok('dbus-daemon accepts the policy', True)
        address = bus.address

        me = connect(address)
        if os.getuid() != 0:
            tap.check('a user other than root cannot own the name',
                      own(me), ACCESS_DENIED)
            for what in ('root owns the name', 'others call the daemon',
                         'root calls agents back'):
                tap.ok(f'{what} # SKIP needs root to act as a second user', True)
            return tap.finish()

        other = subprocess.Popen(['setpriv', '--reuid=65534', '--regid=65534',
                                  '--clear-groups', sys.executable,
                                  os.path.abspath(__file__), policy, 'peer', address],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
        other_name = other.stdout.readline().strip()
        tap.check('a second user connects', other_name.startswith(':'), True)

        def ask(*words):
            other.stdin.write(' '.join(words) + '\n')
            other.stdin.flush()
            return other.stdout.readline().strip()

        tap.check('another user cannot own the name', ask('own'), ACCESS_DENIED)
        tap.check('root owns the name', own(me), 'ok')

        allowed = [
            (ROOT, 'io.github.copilotd.Copilot1.Manager', 'GetStatus'),
            (ROOT, 'io.github.copilotd.Copilot1.AgentManager', 'RegisterAgent'),
            (SESSION, 'io.github.copilotd.Copilot1.Session', 'Send'),
            (ROOT, 'org.freedesktop.DBus.Introspectable', 'Introspect'),
            (ROOT, 'org.freedesktop.DBus.Properties', 'GetAll'),
            (ROOT, 'org.freedesktop.DBus.Peer', 'Ping'),
            (ROOT, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects'),
        ]
        for path, iface, method in allowed:
            tap.check(f'another user may call {iface}.{method}',
                      ask('call', NAME, path, iface, method), 'ok')
        tap.check('another user may not call other interfaces of the daemon',
                  ask('call', NAME, ROOT, 'org.example.Other', 'Method'),
                  ACCESS_DENIED)
        tap.check('another user may not call the Agent interface on the daemon',
                  ask('call', NAME, ROOT, 'io.github.copilotd.Copilot1.Agent',
                      'RequestPermission'), ACCESS_DENIED)

        for iface, method in (('io.github.copilotd.Copilot1.Agent', 'RequestPermission'),
                              ('io.github.copilotd.Copilot1.ToolProvider', 'Invoke')):
            tap.check(f'root may call {iface}.{method} on a client',
                      call(me, other_name, '/agent', iface, method), 'ok')
        tap.check('root may not call other interfaces on a client',
                  call(me, other_name, '/agent', 'org.example.Other', 'Method'),
                  ACCESS_DENIED)
        return tap.finish()
    finally:
        if other is not None:
            other.kill()
            other.wait()
        if bus is not None:
            bus.stop()
        tmp.cleanup()


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[2] == 'peer':
        sys.exit(peer(sys.argv[3]))
    if len(sys.argv) != 2:
        sys.exit('usage: test_bus_policy.py POLICY [peer ADDRESS]')
    sys.exit(main(sys.argv[1]))
