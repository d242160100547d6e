#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README's first command, as a newcomer runs it: tests/quickstart.sh
under a terminal, answering the permission prompt with "y".

It reuses the test build (COPILOTD_BUILD_DIR), runs on a bus of its own and,
with no GitHub login in the environment, on the embedded offline model.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

script = sys.argv[1]
build = sys.argv[2]


def run(answer):
    """quickstart.sh on a terminal; types @answer at the permission prompt
    (and a reason when asked for one)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "GH_TOKEN", "GITHUB_TOKEN", "COPILOT_SDK_AUTH_TOKEN")}
    env["COPILOTD_BUILD_DIR"] = build
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
    # copilotctl drops lines typed before it asks, so each answer is typed
    # once its question is on the screen, as a person would.
    code, out = h.pty_run([script], [(r"Allow\?", answer + "\n"),
                                     (r"Reason to tell Copilot", "not today\n")],
                          env=env, timeout=240)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    return code, "Allow?" in text, text


def main():
    tap = h.Tap(2)
    code, asked, text = run("y")
    tap.ok("approving with y writes hello.txt",
           code == 0 and asked and "offline model" in text and
           "hello.txt now contains: Hello from copilotd!" in text, text)
    code, asked, text = run("n")
    tap.ok("answering n writes nothing and the model hears why",
           asked and "hello.txt now contains" not in text and "User feedback: not today" in text,
           text)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
