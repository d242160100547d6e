#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end, real CLI and offline model: how turns fail and who they
belong to.

- A rate limit (HTTP 429 with Retry-After) and an authorization failure
  (HTTP 401) from the model API: the CLI retries, then reports a
  session.error; SendAndWait and Ask fail with Error.RateLimited and
  Error.NotAuthenticated (DESIGN.md §8), a Send's session.error carries
  the CLI's data verbatim, and the session takes the next turn.
- The turn sender: the prompts of a turn started by Ask or ExecuteCommand
  go to the caller's agent, as for Send (§5 routing: the owner's agent,
  then the agent of the connection that sent the turn)."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check, data  # noqa: E402

V = GLib.Variant

# Retry-After of an hour: the CLI does not wait, it fails the turn at once
# (a short Retry-After makes it retry five times first).
RATE_LIMIT = "FAIL: 429 3600"
UNAUTHORIZED = "FAIL: 401"


def check_error(err, name, *words):
    check(err.name == h.ERROR + name, f"expected {name}, got {err.name}: {err.text}")
    for word in words:
        check(word in err.text, f"the error does not say {word!r}: {err.text}")


def new_session(fx, client, **options):
    opts = {"working-directory": V("s", tempfile.mkdtemp(dir=fx.workdir))}
    opts.update(options)
    return client.create_session(opts)


def check_usable(client, path, prompt):
    content, details = client.send_and_wait(path, prompt)
    check(f"You said: {prompt}" in content and details["aborted"] is False,
          f"the session did not take the next turn: {content!r} {details}")


def failing_turns(fx, prompt, error, error_type, status, *words):
    c = fx.client
    path = new_session(fx, c)
    signals = h.Signals(c, path)
    try:
        # SendAndWait: the named error, with the CLI's message. It comes
        # with the turn's session.error; the turn ends with its
        # session.idle, after the CLI asked about the auto model (429):
        # CLI 1.0.102 never runs a turn sent before that.
        after = fx.next_order()
        err = c.call_error(path, "Session", "SendAndWait", (prompt, {}), "(sa{sv})")
        check_error(err, error, *words)
        signals.wait_event("session.idle", after=after)
        check_usable(c, path, "Still there after SendAndWait?")

        # Send: it was accepted (a message id); the turn's session.error
        # carries what the CLI said, verbatim.
        after = fx.next_order()
        message_id = c.send(path, prompt)
        check(message_id, "Send returned no message id")
        _, event = signals.wait_event("session.error", after=after)
        details = data(event)
        check(details.get("errorType") == error_type and details.get("statusCode") == status,
              f"session.error of a Send: {details}")
        signals.wait_event("session.idle", after=after)
        check_usable(c, path, "Still there after Send?")

        # Ask, on a session of its own and on this one.
        err = c.call_error(h.ROOT, "Manager", "Ask", (prompt, {
            "working-directory": V("s", fx.workdir)}), "(sa{sv})")
        check_error(err, error, *words)
        sid = c.get_property(path, "Session", "Id")
        err = c.call_error(h.ROOT, "Manager", "Ask", (prompt, {"session-id": V("s", sid)}), "(sa{sv})")
        check_error(err, error, *words)
        content, _ = c.manager("Ask", ("Still there after Ask?", {"session-id": V("s", sid)}), "(sa{sv})")
        check("You said: Still there after Ask?" in content, f"Ask after the failure: {content!r}")
    finally:
        signals.close()
        c.destroy(path)


def test_rate_limited(fx):
    # "in 1 hour": the CLI read the Retry-After header.
    failing_turns(fx, RATE_LIMIT, "RateLimited", "rate_limit", 429, "rate limit", "1 hour")


def test_not_authenticated(fx):
    failing_turns(fx, UNAUTHORIZED, "NotAuthenticated", "authorization", 401, "Authorization")


class Joiner:
    """A second connection of the same user on a live session: subscribed,
    with an agent that approves and records."""

    def __init__(self, fx, path, agent_path):
        self.client = fx.new_client()
        self.client.call(path, "Session", "Subscribe", ({},), "(a{sv})")
        self.agent = h.Agent(self.client, agent_path)
        self.agent.policies["RequestPermission"] = (1, {})
        self.agent.policies["RequestUserInput"] = (0, {"answer": V("s", "blue"), "was-freeform": V("b", False)})
        self.agent.register_with_daemon()

    def asked(self):
        return self.agent.count("RequestPermission") + self.agent.count("RequestUserInput")

    def close(self):
        self.client.call(h.ROOT, "AgentManager", "UnregisterAgent", (self.agent.path,), "(o)")
        self.client.close()


def test_turn_sender(fx):
    owner = fx.new_client()
    workdir = tempfile.mkdtemp(dir=fx.workdir)
    # The owner has no agent: the turn sender's agent comes first.
    path = owner.create_session({"working-directory": V("s", workdir), "persist": V("b", True)})
    sid = owner.get_property(path, "Session", "Id")
    asker = Joiner(fx, path, "/test/AskerAgent")
    # Registered last: the newest agent, asked first when the turn has no
    # sender with an agent.
    other = Joiner(fx, path, "/test/OtherAgent")
    signals = h.Signals(other.client, path)
    try:
        def other_turn(name):
            content, _ = other.client.send_and_wait(path, f"RUN: echo other > {workdir}/{name}")
            check(os.path.exists(os.path.join(workdir, name)), f"the other client's turn did not run: {content!r}")
            check(other.asked() == 1 and asker.asked() == 0,
                  f"a Send's prompt went elsewhere: other {other.agent.calls}, asker {asker.agent.calls}")
            other.agent.calls.clear()

        # Send makes the other client the turn sender ...
        other_turn("send-1.txt")
        # ... and Ask makes the asker the turn sender.
        target = os.path.join(workdir, "ask.txt")
        content, details = asker.client.manager(
            "Ask", (f"RUN: echo asked > {target}", {"session-id": V("s", sid)}), "(sa{sv})")
        check(details["session-id"] == sid, f"Ask used another session: {details}")
        check(asker.asked() == 1 and other.asked() == 0,
              f"Ask's prompt did not go to the asker's agent: asker {asker.agent.calls}, "
              f"other {other.agent.calls}")
        check(os.path.exists(target), f"the asker's approved command did not run: {content!r}")
        (session, _, request, _) = asker.agent.args_of("RequestPermission")[0]
        check(session == path and request.get("client-pid") == os.getpid(),
              f"the prompt does not name the session and the asking app: {session} {request}")
        asker.agent.calls.clear()

        other_turn("send-2.txt")
        # ExecuteCommand of a command whose work is a turn (plan mode runs
        # no shell: the turn asks the user instead).
        after = other.client.next_order()
        (result,) = asker.client.call(path, "Session", "ExecuteCommand",
                                      ("/plan", "ASK: which colour? | red | blue", {}), "(ssa{sv})")
        check(result.get("kind") == "agent-prompt", f"/plan: {result}")
        signals.wait_event("session.idle", after=after)
        check(asker.asked() == 1 and other.asked() == 0,
              f"ExecuteCommand's prompt did not go to the caller's agent: asker {asker.agent.calls}, "
              f"other {other.agent.calls}")
    finally:
        signals.close()
        asker.close()
        other.close()
        owner.destroy(path)
        owner.close()


if __name__ == "__main__":
    h.run(globals())
