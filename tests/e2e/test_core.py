#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: conversations, history, sessions, models, access control and
the published contract, with the real Copilot CLI and the offline model."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check, data  # noqa: E402

V = GLib.Variant

# Events the CLI emits for session.create, possibly after its reply.
CREATION_EVENTS = ("session.start", "session.managed_settings_resolved")
# Session-level status the CLI emits on its own schedule, not in answer to
# a send: with a slow client, session.skills_loaded (ephemeral) came after
# CreateSession's reply and before Send was made. Not the turn's events.
BACKGROUND_EVENTS = ("session.skills_loaded", "session.custom_agents_updated",
                     "session.mcp_servers_loaded", "session.mcp_server_status_changed")


def new_session(fx, client=None, **options):
    client = client or fx.client
    opts = {"working-directory": V("s", fx.workdir)}
    for key, value in options.items():
        opts[key.replace("_", "-")] = value
    return client.create_session(opts)


def session_id(client, path):
    return client.get_property(path, "Session", "Id")


def user_prompts(events):
    return [json.loads(d).get("content") for t, m, d in events if t == "user.message"]


def test_send_streams_deltas(fx):
    c = fx.client
    path = new_session(fx)
    sig = h.Signals(c, path)
    pending = c.call_async(path, "Session", "Send", ("Stream this answer", {}), "(sa{sv})")
    message_id = pending.wait(what="the reply to Send")[0]
    check(message_id, "Send returned an empty message id")
    _, idle = sig.wait_event("session.idle")

    messages = sig.events("assistant.message")
    check(len(messages) == 1, f"expected one assistant.message, got {len(messages)}")
    final = data(messages[0][1])
    check("Stream this answer" in final["content"],
          f"the offline model's answer does not echo the prompt: {final['content']!r}")
    deltas = [p for _, p in sig.deltas() if p[1] == final["messageId"]]
    check(deltas, "no Delta signal for the assistant message")
    check(all(p[2] == 0 for p in deltas), "answer deltas must be on stream 0")
    text = "".join(p[3] for p in deltas)
    check(text == final["content"],
          f"the deltas {text!r} do not add up to the message {final['content']!r}")

    # session.create's own events and the CLI's background status may come
    # before Send is made; every event of the turn must come after Send's
    # reply.
    turn = [(o, m, p[1] if m == "Event" else "") for o, m, p in sig.items
            if m == "Delta" or p[1] not in CREATION_EVENTS + BACKGROUND_EVENTS]
    check(pending.order < turn[0][0],
          f"Send's reply (#{pending.order}) came after a signal of the turn: {turn[:6]}")

    serials = [p[0] for _, m, p in sig.items if m in ("Event", "Delta")]
    check(serials == sorted(serials) and len(set(serials)) == len(serials),
          f"serials are not increasing: {serials}")
    noise = [p[1] for _, p in sig.events()
             if p[1].startswith("model.") or p[1] in ("assistant.message_delta",
                                                      "system.message")]
    check(not noise, f"noise reached the bus as Events: {noise}")
    users = [data(p) for _, p in sig.events("user.message")]
    check([u["content"] for u in users] == ["Stream this answer"],
          f"user.message events: {users}")
    c.destroy(path)


def test_send_and_wait_returns_content(fx):
    c = fx.client
    path = new_session(fx)
    sig = h.Signals(c, path)
    content, details = c.send_and_wait(path, "What is the answer?")
    messages = sig.events("assistant.message")
    check(messages, "no assistant.message Event arrived")
    check(content == data(messages[-1][1])["content"],
          f"SendAndWait returned {content!r}, the Event said {data(messages[-1][1])['content']!r}")
    check("What is the answer?" in content, f"unexpected answer {content!r}")
    check(details.get("aborted") is False, f"details: {details}")
    check(details.get("message-id"), f"details lack message-id: {details}")
    check(c.get_property(path, "Session", "State") == "idle", "State is not idle after the turn")
    c.destroy(path)


def test_get_messages_history(fx):
    c = fx.client
    path = new_session(fx)
    content, _ = c.send_and_wait(path, "Remember the history")
    events = c.messages(path)
    types = [t for t, _, _ in events]
    check("session.start" in types, f"no session.start in history: {types}")
    check(user_prompts(events) == ["Remember the history"],
          f"user messages in history: {user_prompts(events)}")
    answers = [json.loads(d)["content"] for t, _, d in events if t == "assistant.message"]
    check(answers == [content], f"assistant messages in history: {answers}")
    check(types.index("user.message") < types.index("assistant.message"),
          "history is out of order")
    for t, meta, _ in events:
        check(isinstance(meta.get("id"), str), f"{t} lacks meta id: {meta}")
    c.destroy(path)


def test_abort_mid_stream(fx):
    c = fx.client
    path = new_session(fx)
    sig = h.Signals(c, path)
    c.send(path, "SLOW: 40")
    h.wait_until(lambda: sig.deltas(), what="the first Delta", alive=c.alive)
    c.call(path, "Session", "Abort", ({},), "(a{sv})")
    _, idle = sig.wait_event("session.idle")
    check(data(idle).get("aborted") is True, f"session.idle data: {idle[3]}")
    check(not sig.events("assistant.message"),
          "an assistant.message arrived for the aborted turn")
    n_deltas = len(sig.deltas())
    check(n_deltas < 40, f"all {n_deltas} words streamed despite Abort")
    check(c.get_property(path, "Session", "State") == "idle", "State is not idle after Abort")
    # The session is usable after an abort.
    content, details = c.send_and_wait(path, "After the abort")
    check("After the abort" in content and details["aborted"] is False,
          f"turn after abort: {content!r} {details}")
    c.destroy(path)


def test_destroy_then_resume(fx):
    c = fx.client
    path = new_session(fx)
    sid = session_id(c, path)
    c.send_and_wait(path, "The secret word is pineapple")
    sig = h.Signals(c, path)
    c.destroy(path)
    h.wait_until(lambda: sig.closed(), what="the Closed signal", alive=c.alive)
    check(sig.closed()[0][1][0].get("reason") == "destroyed", f"Closed: {sig.closed()}")
    err = c.call_error(path, "Session", "GetMessages", ({},), "(a{sv})")
    check(err.name == "io.github.copilotd.Copilot1.Error.NotFound",
          f"the destroyed object still answers: {err}")

    (again,) = c.manager("ResumeSession",
                         (sid, {"working-directory": V("s", fx.workdir)}), "(sa{sv})")
    check(again == path, f"ResumeSession gave {again}, expected {path}")
    check("The secret word is pineapple" in user_prompts(c.messages(again)),
          "the resumed history lacks the earlier prompt")
    n_before = len(fx.model_requests())
    content, _ = c.send_and_wait(again, "What was the secret word?")
    check("What was the secret word?" in content, f"answer after resume: {content!r}")
    requests = fx.model_requests()[n_before:]
    check(requests, "the model got no request after the resume")
    sent = json.dumps(requests[-1]["messages"])
    check("The secret word is pineapple" in sent,
          "the model's request after the resume lacks the earlier user message")
    # Resuming a live session returns the same object.
    (same,) = c.manager("ResumeSession", (sid, {}), "(sa{sv})")
    check(same == path, f"ResumeSession of a live session gave {same}")
    c.destroy(path)


def test_list_and_delete_sessions(fx):
    c = fx.client
    path = new_session(fx)
    sid = session_id(c, path)
    c.send_and_wait(path, "A session to list")
    (sessions,) = c.manager("ListSessions", ({},), "(a{sv})")
    mine = [s for s in sessions if s.get("session-id") == sid]
    check(len(mine) == 1, f"ListSessions does not list {sid}: {sessions}")
    entry = mine[0]
    check(entry.get("summary") == "A session to list", f"summary: {entry}")
    check(entry.get("cwd") == fx.workdir, f"cwd: {entry}")
    check(entry.get("object") == path, f"object: {entry}")
    (meta,) = c.manager("GetSessionMetadata", (sid,), "(s)")
    check(meta.get("session-id") == sid and meta.get("cwd") == fx.workdir, f"metadata: {meta}")
    (filtered,) = c.manager("ListSessions", ({"cwd": V("s", fx.workdir)},), "(a{sv})")
    check(any(s["session-id"] == sid for s in filtered), "the cwd filter dropped the session")

    sig = h.Signals(c, path)
    c.manager("DeleteSession", (sid,), "(s)")
    (sessions,) = c.manager("ListSessions", ({},), "(a{sv})")
    check(not any(s.get("session-id") == sid for s in sessions),
          f"ListSessions still lists the deleted session: {sessions}")
    err = c.call_error(h.ROOT, "Manager", "GetSessionMetadata", (sid,), "(s)")
    check(err.name == h.ERROR + "NotFound", f"GetSessionMetadata of a deleted session: {err}")
    h.wait_until(lambda: sig.closed(), what="Closed after DeleteSession", alive=c.alive)
    check(sig.closed()[0][1][0].get("reason") == "deleted", f"Closed: {sig.closed()}")
    err = c.call_error(h.ROOT, "Manager", "ResumeSession", (sid, {}), "(sa{sv})")
    check(err.name.startswith(h.ERROR), f"ResumeSession of a deleted session: {err}")


def test_list_models(fx):
    (models,) = fx.client.manager("ListModels", ({},), "(a{sv})")
    ids = [m.get("id") for m in models]
    for wanted in ("gpt-5-mini", "claude-sonnet-4.5"):
        check(wanted in ids, f"ListModels lacks {wanted}: {ids}")
    claude = next(m for m in models if m["id"] == "claude-sonnet-4.5")
    check(claude.get("vendor") == "Anthropic" and claude.get("supports-vision") is True,
          f"claude-sonnet-4.5: {claude}")
    check(claude.get("max-context-tokens", 0) > 0, f"no context size: {claude}")
    json.loads(claude["capabilities-json"])


def test_auth_status(fx):
    (status,) = fx.client.manager("GetAuthStatus")
    check(status.get("authenticated") is True, f"GetAuthStatus: {status}")
    check(status.get("auth-type") == "token", f"GetAuthStatus: {status}")


def test_status(fx):
    c = fx.client
    # GetStatus never starts the CLI: Ping does.
    c.manager("Ping", ("start",), "(s)")
    (status,) = c.manager("GetStatus")
    check(status.get("version") == "1.0.102", f"GetStatus: {status}")
    check(status.get("protocol-version") == 3, f"GetStatus: {status}")
    check(status.get("backend-state") == "running", f"GetStatus: {status}")
    check(c.get_property(h.ROOT, "Manager", "BackendVersion") == "1.0.102", "BackendVersion")
    check(c.get_property(h.ROOT, "Manager", "ProtocolVersion") == 3, "ProtocolVersion")
    (pong,) = c.manager("Ping", ("marco",), "(s)")
    check(pong.get("message") and "marco" in pong["message"], f"Ping: {pong}")


def test_non_subscriber_is_denied(fx):
    owner = fx.client
    path = new_session(fx)
    other = fx.new_client()
    err = other.call_error(path, "Session", "Send", ("Not mine", {}), "(sa{sv})")
    check(err.name == h.ERROR + "AccessDenied", f"Send from a stranger: {err}")
    err = other.call_error(path, "Session", "GetMessages", ({},), "(a{sv})")
    check(err.name == h.ERROR + "AccessDenied", f"GetMessages from a stranger: {err}")
    # After Subscribe (same UID) the other connection may read the history.
    other.call(path, "Session", "Subscribe", ({},), "(a{sv})")
    other.messages(path)
    owner.destroy(path)
    other.close()


def test_match_rule_sees_no_chat(fx):
    owner = fx.client
    path = new_session(fx)
    snoop = fx.new_client()
    by_sender = h.Signals(snoop, path)
    any_sender = h.Signals(snoop, path, sender=None)
    mine = h.Signals(owner, path)
    # Control: the snooper's match rules do work for what is broadcast.
    states = []
    snoop.conn.signal_subscribe(
        h.BUS_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", path, None,
        h.Gio.DBusSignalFlags.NONE,
        lambda *a: states.append(a[5].unpack()[1].get("State")))
    owner.send_and_wait(path, "Private words")
    # The owner got the turn; let anything the snooper might get arrive too.
    mine.wait_event("session.idle")
    owner.call(h.ROOT, "Manager", "Ping", ("sync",), "(s)")
    snoop.call(h.ROOT, "Manager", "Ping", ("sync",), "(s)")
    check(mine.deltas() and mine.events("assistant.message"), "the owner got no signals")
    check(not by_sender.items and not any_sender.items,
          f"a match rule received the owner's signals: {by_sender.items + any_sender.items}")
    check("busy" in states and "idle" in states,
          f"the snooper saw no State changes, so its match rules prove nothing: {states}")
    owner.destroy(path)
    snoop.close()


def test_invalid_options(fx):
    c = fx.client
    err = c.call_error(h.ROOT, "Manager", "CreateSession",
                       ({"streaming": V("s", "yes")},), "(a{sv})")
    check(err.name == h.ERROR + "InvalidArgs", f"streaming as string: {err}")
    check("streaming" in err.text, f"the error does not name the key: {err.text!r}")
    err = c.call_error(h.ROOT, "Manager", "CreateSession",
                       ({"reasoning-effort": V("s", "extreme")},), "(a{sv})")
    check(err.name == h.ERROR + "InvalidArgs", f"reasoning-effort extreme: {err}")
    check("reasoning-effort" in err.text, f"the error does not name the key: {err.text!r}")
    (pong,) = c.manager("Ping", ("still here",), "(s)")
    check("still here" in pong.get("message", ""), f"Ping after errors: {pong}")
    path = new_session(fx, unknown_key=V("s", "ignored"))
    content, _ = c.send_and_wait(path, "Still works")
    check("Still works" in content, f"turn after invalid options: {content!r}")
    c.destroy(path)


def _xml_members(name):
    root = ET.fromstring(_strip_doctype(h.interface_xml(name)))
    iface = root.find("interface")
    return {kind: sorted(e.get("name") for e in iface.findall(kind))
            for kind in ("method", "signal", "property")}


def _strip_doctype(text):
    return re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)


def _busctl_members(fx, path):
    out = subprocess.run(["busctl", f"--address={fx.bus_address}", "introspect",
                          "--no-pager", h.BUS_NAME, path],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"busctl introspect failed: {out.stderr}")
    members = {}
    current = None
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        if fields[1] == "interface":
            current = members.setdefault(fields[0], {"method": [], "signal": [], "property": []})
        elif current is not None and fields[0].startswith(".") and fields[1] in current:
            current[fields[1]].append(fields[0][1:])
    for iface in members.values():
        for kind in iface:
            iface[kind].sort()
    return members


def test_introspection_matches_contract(fx):
    c = fx.client
    path = new_session(fx)
    root = _busctl_members(fx, h.ROOT)
    session = _busctl_members(fx, path)
    expected_counts = {"Manager": (16, 1, 5), "AgentManager": (3, 0, 0), "Session": (21, 3, 5)}
    for name, where in (("Manager", root), ("AgentManager", root), ("Session", session)):
        want = _xml_members(name)
        counts = tuple(len(want[k]) for k in ("method", "signal", "property"))
        check(counts == expected_counts[name],
              f"the XML of {name} has {counts} members, the contract says {expected_counts[name]}")
        got = where.get(f"{h.IFACE}.{name}")
        check(got is not None, f"busctl shows no {name} interface: {sorted(where)}")
        check(got == want, f"{name}: busctl shows {got}, the XML says {want}")
    check("org.freedesktop.DBus.ObjectManager" in root, "no ObjectManager at the root")
    c.destroy(path)


def test_readme_python_example(fx):
    with open(os.path.join(h.SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    # The first python block is the raw D-Bus example of "Use from D-Bus";
    # libcopilot's examples are run by tests/libcopilot/test-bindings.py.
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    check(len(blocks) >= 1, "README.md has no python block")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=fx.bus_address)
    n_before = len(fx.model_requests())
    out = subprocess.run([sys.executable, "-c", blocks[0]], env=env,
                         capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, f"the README example failed ({out.returncode}): {out.stderr}")
    requests = fx.model_requests()[n_before:]
    check(requests, "the README example did not reach the model")
    check(out.stdout.strip() == "Hello from the copilotd offline model. You said: Say hello",
          f"the README example printed {out.stdout!r}")


if __name__ == "__main__":
    h.run(globals())
