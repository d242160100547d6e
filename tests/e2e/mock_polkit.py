#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A stand-in for polkitd on a test bus.

CheckAuthorization answers by the subject's UID: every UID is authorized
except those named on the command line. Each check is appended to LOG as
one JSON line (uid, action, flags), so that a test can tell which calls
were checked. Prints "ready" on stdout once it owns the name.

usage: mock_polkit.py ADDRESS LOG [REFUSED_UID...]
"""
import json
import sys

from gi.repository import Gio, GLib

XML = """<node>
  <interface name="org.freedesktop.PolicyKit1.Authority">
    <method name="CheckAuthorization">
      <arg type="(sa{sv})" name="subject" direction="in"/>
      <arg type="s" name="action_id" direction="in"/>
      <arg type="a{ss}" name="details" direction="in"/>
      <arg type="u" name="flags" direction="in"/>
      <arg type="s" name="cancellation_id" direction="in"/>
      <arg type="(bba{ss})" name="result" direction="out"/>
    </method>
  </interface>
</node>"""


def main():
    address, log = sys.argv[1], sys.argv[2]
    refused = {int(u) for u in sys.argv[3:]}
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    loop = GLib.MainLoop()
    conn.connect("closed", lambda *a: loop.quit())

    def on_call(conn, sender, path, iface, method, params, invocation):
        (kind, details), action, _, flags, _ = params.unpack()
        uid = -1
        if kind == "system-bus-name":
            (uid,) = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "GetConnectionUnixUser",
                                    GLib.Variant("(s)", (details["name"],)), None, 0, -1, None).unpack()
        with open(log, "a") as f:
            f.write(json.dumps({"uid": uid, "action": action, "flags": flags, "kind": kind}) + "\n")
        allowed = uid >= 0 and uid not in refused
        invocation.return_value(GLib.Variant("((bba{ss}))", ((allowed, False, {}),)))

    node = Gio.DBusNodeInfo.new_for_xml(XML)
    conn.register_object("/org/freedesktop/PolicyKit1/Authority", node.interfaces[0], on_call, None, None)
    (reply,) = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "RequestName", GLib.Variant("(su)", ("org.freedesktop.PolicyKit1", 4)),
                              None, 0, -1, None).unpack()
    if reply != 1:
        print(f"mock_polkit: cannot own the name (reply {reply})", file=sys.stderr)
        return 1
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
