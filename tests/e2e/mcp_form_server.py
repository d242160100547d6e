#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A tiny stdio MCP server for the end-to-end tests of requests: its tools
ask the client for input through elicitation/create (ask_color and
ask_profile: forms; open_page: a URL) and report what came back. Every
answer it receives is appended as a JSON line to the file named by its
first argument (LOG), so a test can see what reached the server; the
client's initialize parameters are written to LOG.init.

MCP over stdio is newline-delimited JSON-RPC 2.0."""

import json
import sys

LOG = sys.argv[1]
SCHEMA = {"type": "object",
          "properties": {"color": {"type": "string", "description": "A color"}},
          "required": ["color"]}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def read():
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def log(entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


# Several fields of each kind, with defaults for all but one that is optional.
PROFILE = {"type": "object",
           "properties": {
               "name": {"type": "string", "description": "Your name", "default": "Anonymous"},
               "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
               "urgent": {"type": "boolean", "default": False},
               "count": {"type": "integer"}},
           "required": ["name"]}
URL_FORM = {"mode": "url", "message": "Sign in to Paint", "url": "https://paint.example/login",
            "elicitationId": "paint-login-1"}


def call_tool(request):
    if request["params"].get("name") == "open_page":
        params = URL_FORM
    elif request["params"].get("name") == "ask_profile":
        params = {"message": "Tell us about you", "requestedSchema": PROFILE}
    else:
        params = {"message": "Pick a color", "requestedSchema": SCHEMA}
    send({"jsonrpc": "2.0", "id": "form-1", "method": "elicitation/create", "params": params})
    while True:
        message = read()
        if message.get("id") == "form-1" and "method" not in message:
            break
        handle(message)        # anything else the client sends meanwhile
    result = message.get("result") or {"error": message.get("error")}
    log(result)
    action = result.get("action", "none")
    text = f"Form {action}: {json.dumps(result.get('content', {}), sort_keys=True)}"
    send({"jsonrpc": "2.0", "id": request["id"],
          "result": {"content": [{"type": "text", "text": text}]}})


def handle(message):
    method = message.get("method")
    if method is None or "id" not in message:
        return                 # notifications and stray replies
    if method == "initialize":
        with open(LOG + ".init", "w") as f:
            json.dump(message["params"], f)
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "paint", "version": "1.0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [{
            "name": "ask_color", "description": "Asks the user for a color",
            "inputSchema": {"type": "object", "properties": {}}}, {
            "name": "ask_profile", "description": "Asks the user for a profile",
            "inputSchema": {"type": "object", "properties": {}}}, {
            "name": "open_page", "description": "Asks the user to open a sign-in page",
            "inputSchema": {"type": "object", "properties": {}}}]}})
    elif method == "tools/call":
        call_tool(message)
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": message["id"],
              "error": {"code": -32601, "message": f"Method not found: {method}"}})


while True:
    handle(read())
