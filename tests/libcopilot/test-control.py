#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libcopilot's Contract 2 wrappers against the built daemon with the real
Copilot CLI and the offline model (tests/e2e/harness.py), through the
typelib. argv: libdir."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from harness import check  # noqa: E402

LIBDIR = sys.argv.pop(1)


def preload():
    out = subprocess.run(["ldd", os.path.join(LIBDIR, "libcopilot-1.so")],
                         capture_output=True, text=True).stdout
    return " ".join(line.split()[2] for line in out.splitlines()
                    if "libasan" in line or "libubsan" in line)


def test_control(world_factory):
    world = world_factory()
    world.daemon()
    env = dict(world.child_env, DBUS_SESSION_BUS_ADDRESS=world.bus.address,
               GI_TYPELIB_PATH=LIBDIR, LD_LIBRARY_PATH=LIBDIR)
    if preload():
        env.update(LD_PRELOAD=preload(), ASAN_OPTIONS="detect_leaks=0")
    run = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "control.py"), world.workdir],
                         env=env, capture_output=True, text=True, timeout=240)
    check(run.returncode == 0, f"control.py failed: {run.stderr[-3000:]}")
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    check(seen["mode0"] == "interactive", seen)
    check(seen["modes"] == ["plan", "interactive"], seen)
    check(seen["bad_mode"] == ["copilot-error-quark", True], seen)
    check(seen["info_name"] == "Renamed by libcopilot", seen)
    check(seen["info_mode"] == "interactive", seen)
    check(seen["answer"] and seen["deltas"] == seen["answer"], seen)
    check(seen["rewind_points"] >= 1, seen)
    check(isinstance(seen["call"], dict), seen)
    check(seen["ask"] == "Hello from the copilotd offline model. You said: Say hello", seen)
    check({"session-id", "message-id"} <= set(seen["ask_details"]), seen)
    check(seen["account"].get("auth-type") == "token", f"GetAccount through libcopilot: {seen['account']}")


h.run_cases([("the control surface through libcopilot", test_control)])
