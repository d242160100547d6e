#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets into OUTDIR/{jsonrpc,relay,options}.

jsonrpc and relay seeds come from the recorded CLI transcripts in
tests/data/ (copies of the shared protocol recordings, so the repository is
self-contained): every frame the CLI sent, framed as on the wire, and every
session event's envelope. options seeds are serialised a{sv} dictionaries
of CreateSession and Send options. A few hostile texts are added by hand.
"""
import json
import os
import sys

from gi.repository import GLib

datadir, outdir = sys.argv[1], sys.argv[2]
dirs = {name: os.path.join(outdir, name) for name in ("jsonrpc", "relay", "options")}
for d in dirs.values():
    os.makedirs(d, exist_ok=True)


def write(kind, index, data):
    with open(os.path.join(dirs[kind], "seed-%04d" % index), "wb") as f:
        f.write(data)


def frame(body):
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


frames = []
events = []
for name in sorted(os.listdir(datadir)):
    if not name.endswith(".jsonl"):
        continue
    with open(os.path.join(datadir, name)) as f:
        for line in f:
            record = json.loads(line)
            if record.get("dir") != "s2c":
                continue
            msg = record["msg"]
            frames.append(json.dumps(msg, separators=(",", ":")).encode())
            if msg.get("method") == "session.event":
                events.append(json.dumps(msg["params"]["event"], separators=(",", ":")).encode())

# Keep the corpora small: distinct shapes matter, not every delta.
def distinct(items, key):
    seen, out = set(), []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out

frames = distinct(frames, lambda b: (json.loads(b).get("method"), json.loads(b).get("params", {}).get("event", {}).get("type") if isinstance(json.loads(b).get("params"), dict) else None, "result" in json.loads(b)))
events = distinct(events, lambda b: json.loads(b)["type"])

hostile = [
    b'{"type":"assistant.message_delta","data":{"messageId":"m","deltaContent":"A\\udc00B"}}',
    b'{"type":"assistant.message","data":{"content":"x\\ud800"}}',
    b'{"type":"tool.execution_complete","data":{"result":{"content":"\xff\xfe bytes \xed\xa0\x80"}}}',
    b'{"type":"session.info","id":"\\ud83d\\ude00","data":[[[[[[[]]]]]]]}',
    # Members of the wrong kind: json-glib's getters raised a critical.
    b'{"type":[[[[[[[]]]]]]]}',
    b'{"type":"assistant.message_delta","id":{},"parentId":[],"timestamp":7,"ephemeral":"yes","data":{"messageId":[1],"deltaContent":{"a":1}}}',
]
for i, body in enumerate(frames):
    write("jsonrpc", i, frame(body))
write("jsonrpc", len(frames), b"".join(frame(b) for b in frames[:4]))
for j, body in enumerate(hostile):
    write("jsonrpc", len(frames) + 1 + j, frame(b'{"jsonrpc":"2.0","method":"session.event","params":{"sessionId":"s","event":' + body + b"}}"))
write("jsonrpc", len(frames) + 10, b"Content-Length: 99999999999\r\n\r\n{")
write("jsonrpc", len(frames) + 11, frame(b'{"jsonrpc":"2.0","id":1,"result":{"ok":true}}') + frame(b'{"jsonrpc":"2.0","id":7,"method":"permission.request","params":{}}'))

for i, body in enumerate(events + hostile):
    write("relay", i, body)


def vardict(d):
    return GLib.Variant("a{sv}", d).get_data_as_bytes().get_data()


options = [
    {},
    {"model": GLib.Variant("s", "gpt-5-mini"), "streaming": GLib.Variant("b", True),
     "reasoning-effort": GLib.Variant("s", "high"), "persist": GLib.Variant("b", False)},
    {"tools": GLib.Variant("aa{sv}", [{
        "name": GLib.Variant("s", "get_answer"),
        "description": GLib.Variant("s", "Answers"),
        "parameters": GLib.Variant("s", '{"type":"object"}')}])},
    {"extra-params": GLib.Variant("s", '{"x":"\\udc00"}'),
     "mcp-servers": GLib.Variant("s", '{"a":{"command":"x"}}'),
     "available-tools": GLib.Variant("as", ["bash", "view"])},
    {"system-message": GLib.Variant("s", "be brief"), "system-message-mode": GLib.Variant("s", "replace"),
     "session-id": GLib.Variant("s", "598a77f8-d232-4bb6-9837-313d0f95f7fa")},
    {"attachments": GLib.Variant("aa{sv}", [{
        "type": GLib.Variant("s", "file"), "path": GLib.Variant("s", "/tmp/x"),
        "display-name": GLib.Variant("s", "x")}]),
     "mode": GLib.Variant("s", "enqueue")},
    {"model": GLib.Variant("i", 3), "tools": GLib.Variant("s", "nope")},
]
for i, d in enumerate(options):
    write("options", i, vardict(d))
