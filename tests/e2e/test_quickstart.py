#!/usr/bin/python3
"""The README's first command, as a newcomer runs it: tests/quickstart.sh
under a terminal, answering the permission prompt with "y".

It reuses the test build (COPILOTD_BUILD_DIR), runs on a bus of its own and,
with no GitHub login in the environment, on the embedded offline model.
"""
import os
import pty
import re
import select
import sys
import time

script = sys.argv[1]
build = sys.argv[2]


def run(answer):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "GH_TOKEN", "GITHUB_TOKEN", "COPILOT_SDK_AUTH_TOKEN")}
    env["COPILOTD_BUILD_DIR"] = build
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(script, [script], env)
    out = b""
    asked = False
    reasoned = False
    deadline = time.time() + 240
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
        if not asked and b"Allow?" in out:
            asked = True
            # copilotctl drops typed-ahead input before it asks, so answer
            # once the question is on the screen, as a person would.
            time.sleep(0.5)
            os.write(fd, answer + b"\n")
        if not reasoned and b"Reason to tell Copilot" in out:
            reasoned = True
            time.sleep(0.5)
            os.write(fd, b"not today\n")
    else:
        os.kill(pid, 15)
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status), asked, text


def main():
    print("1..2")
    failed = 0
    code, asked, text = run(b"y")
    checks = [
        ("approving with y writes hello.txt",
         code == 0 and asked and "offline model" in text and
         "hello.txt now contains: Hello from copilotd!" in text),
    ]
    code, asked, text2 = run(b"n")
    checks.append(("answering n writes nothing and the model hears why",
                   asked and "hello.txt now contains" not in text2 and
                   "User feedback: not today" in text2))
    for i, (name, ok) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in (text if i == 1 else text2).splitlines()[-40:]:
                print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
