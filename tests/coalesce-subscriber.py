#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A subscriber for test-coalesce: Subscribe to a session, print "ready",
then receive; at session.idle print every Delta and Event serial it got,
in order, as one JSON line, and exit.

Usage: coalesce-subscriber.py BUS_ADDRESS SESSION_PATH
"""
import json
import sys

from gi.repository import Gio, GLib

IFACE = "io.github.copilotd.Copilot1.Session"
address, path = sys.argv[1:3]
conn = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
    | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
loop = GLib.MainLoop()
got = {"deltas": [], "serials": []}


def on_signal(conn, sender, path, iface, member, params):
    if member == "Delta":
        serial, message_id, stream, text = params.unpack()
        got["deltas"].append([serial, message_id, stream, text])
        got["serials"].append(serial)
    elif member == "Event":
        serial, type_, meta, data = params.unpack()
        got["serials"].append(serial)
        if type_ == "session.idle":
            loop.quit()


conn.signal_subscribe(None, IFACE, None, path, None, Gio.DBusSignalFlags.NONE, on_signal)
conn.call_sync("io.github.copilotd.Copilot1", path, IFACE, "Subscribe",
               GLib.Variant("(a{sv})", ({},)), None, Gio.DBusCallFlags.NONE, -1, None)
print("ready", flush=True)
loop.run()
print(json.dumps(got), flush=True)
