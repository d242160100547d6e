#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: a call made right after the CLI died is held, not lost.

The Copilot CLI is SIGKILLed and, as soon as the process is gone (no wait
for any event of copilotd), SendAndWait is called on the same session
object. copilotd must hold the call until the restarted CLI has resumed
the session, then send it: the caller gets the answer (never NotFound),
the model sees the earlier history, and subscribers get the
copilotd.backend_restarted Event (DESIGN.md §7). The kill and the
immediate call run 20 times in a row, once with the session idle and
once with a turn streaming when the CLI dies. TAP output.
"""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ERROR, SESSION, DBusError, check, pid_alive, run_cases, user_texts, wait_until,
)

BACKEND_FAILED = ERROR + "BackendFailed"
ROUNDS = 20


def daemon_args(world):
    """Twenty crashes in a row must not reach restart-max-failures: only
    the last second counts, so each restart waits the base backoff."""
    path = world.tmp("copilotd.conf")
    with open(path, "w") as f:
        f.write("[copilotd]\nrestart-window=1\nrestart-max-failures=5\n")
    return ("--config", path)


def process_gone(pid):
    """No thread of @pid runs any more. The main thread of a killed
    multi-threaded process turns zombie while others still exit and hold
    its files (the pipes to copilotd) open."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return all(not pid_alive(f"{pid}/task/{tid}") for tid in tasks)


def kill_cli(daemon):
    """SIGKILLs the CLI and returns once the process is gone (exited, its
    pipes closed): that is the kill itself, not an event of copilotd."""
    pid = daemon.cli_pid()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: process_gone(pid), 10, f"the CLI {pid} to die", interval=0.001)
    return pid


def texts_since(world, seen):
    return [t for request in world.model.requests()[seen:] for t in user_texts(request)]


def check_round(world, client, path, n, remembered, restarted_before):
    """The immediate SendAndWait of round @n answered with the history."""
    seen = len(world.model.requests())
    word = f"ROUND-{n}-ASK"
    try:
        content, _ = client.send_and_wait(path, f"Which words did I ask you to remember? {word}")
    except DBusError as e:
        raise AssertionError(f"round {n}: SendAndWait right after the kill failed: "
                             f"{e.name}: {e.text}")
    check(content, f"round {n}: SendAndWait right after the kill gave no answer")
    texts = texts_since(world, seen)
    check(any(word in t for t in texts), f"round {n}: the new prompt did not reach the model")
    check(any(remembered in t for t in texts),
          f"round {n}: the history was lost: '{remembered}' is not in the model request")
    wait_until(lambda: len(client.events_of(path, "copilotd.backend_restarted")) > restarted_before,
             10, f"round {n}: the copilotd.backend_restarted event")


def test_kill_idle_then_send(world_factory):
    world = world_factory()
    daemon = world.daemon(args=daemon_args(world))
    client = world.client()

    path = client.create_session()
    content, _ = client.send_and_wait(path, "Remember the word KESTREL-FIRST.")
    check(content, "the first turn gave no answer")

    for n in range(1, ROUNDS + 1):
        restarted = len(client.events_of(path, "copilotd.backend_restarted"))
        kill_cli(daemon)
        check_round(world, client, path, n, "KESTREL-FIRST", restarted)

    # The next plain call works too, and no call ever saw NotFound.
    client.call(path, SESSION, "Send", ("One more LAST-SEND", {}), "(sa{sv})")
    check(client.backend_state() == "running", "BackendState is not 'running' at the end")


def test_kill_streaming_then_send(world_factory):
    world = world_factory()
    daemon = world.daemon(args=daemon_args(world))
    client = world.client()

    path = client.create_session()
    content, _ = client.send_and_wait(path, "Remember the word OSPREY-FIRST.")
    check(content, "the first turn gave no answer")

    for n in range(1, ROUNDS + 1):
        restarted = len(client.events_of(path, "copilotd.backend_restarted"))
        errors = len(client.events_of(path, "session.error"))
        before = len(client.deltas)
        # 40 words, 250 ms apart: the turn streams for 10 s unless killed.
        lost = client.call_async(path, SESSION, "SendAndWait", ("SLOW: 40", {}), "(sa{sv})",
                                 timeout_ms=120000)
        wait_until(lambda: len([d for d in client.deltas[before:] if d[0] == path]) >= 2, 30,
                 f"round {n}: the slow turn to stream")
        kill_cli(daemon)
        check_round(world, client, path, n, "OSPREY-FIRST", restarted)

        lost.settle(20)
        check(lost.error is not None, f"round {n}: the lost turn's SendAndWait returned {lost.result}")
        check(lost.error.name == BACKEND_FAILED,
              f"round {n}: the lost turn failed with {lost.error.name}, not BackendFailed")
        reported = [json.loads(e[4]).get("errorType")
                    for e in client.events_of(path, "session.error")[errors:]]
        check("backend_lost" in reported,
              f"round {n}: no session.error with errorType backend_lost: {reported}")


CASES = [
    (f"SIGKILL of an idle CLI, then SendAndWait at once, {ROUNDS} times: answered with history",
     test_kill_idle_then_send),
    (f"SIGKILL in a streaming turn, then SendAndWait at once, {ROUNDS} times: "
     "the lost turn is reported, the next is answered", test_kill_streaming_then_send),
]

if __name__ == "__main__":
    run_cases(CASES)
