#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end: --cli-url, copilotd driving a Copilot CLI server that is
already running (TCP, PROTOCOL.md §1.5), gated by a connection token."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import GLib, check  # noqa: E402

V = GLib.Variant
TOKEN = "e2e-connection-token"


class CliServerFixture(h.Fixture):
    """The real CLI listens on 127.0.0.1; copilotd connects to it."""

    daemon_token = TOKEN

    def start_daemon(self, args=()):
        if not getattr(self, "cli_port", None):
            env = self.daemon_env()
            env["COPILOT_CONNECTION_TOKEN"] = TOKEN
            server = subprocess.Popen(
                [self.cli, "--headless", "--no-auto-update", "--log-level", "info",
                 "--auth-token-env", "COPILOT_SDK_AUTH_TOKEN", "--port", "0"],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL)
            self.world.procs.append(server)
            line = server.stdout.readline().decode()
            check("listening on port" in line, f"the CLI server said {line!r}")
            self.cli_port = int(line.rsplit(" ", 1)[1])
        env = self.daemon_env()
        env["COPILOT_CONNECTION_TOKEN"] = self.daemon_token
        self.daemon = h.Daemon(self.tmp, self.bus, args=["--cli-url", f"127.0.0.1:{self.cli_port}"],
                               env=env, log="copilotd.log")


def test_conversation_over_tcp(fx):
    c = fx.client
    path = c.create_session({"working-directory": V("s", fx.workdir)})
    content, details = c.send_and_wait(path, "over tcp")
    check(content == "Hello from the copilotd offline model. You said: over tcp", content)
    status = c.manager("GetStatus")[0]
    check(status.get("version") == "1.0.102" and status.get("backend-state") == "running", status)
    # No process of ours: the CLI server was started by the test.
    check(not h.children_of(fx.daemon.pid), "copilotd spawned a CLI although --cli-url was given")
    c.destroy(path)


def test_wrong_token_is_refused(fx):
    fx.stop_daemon()
    fx.daemon_token = "not-the-token"
    fx.start_daemon()
    err = fx.client.call_error(h.ROOT, "Manager", "CreateSession", ({},), "(a{sv})")
    check(err.name == "io.github.copilotd.Copilot1.Error.BackendFailed", err.name)
    check("AUTHENTICATION" in err.text, err.text)
    fx.stop_daemon()
    fx.daemon_token = TOKEN
    fx.start_daemon()
    path = fx.client.create_session({})
    content, _ = fx.client.send_and_wait(path, "token again")
    check(content.endswith("You said: token again"), content)


if __name__ == "__main__":
    h.Fixture = CliServerFixture
    h.run(globals())
