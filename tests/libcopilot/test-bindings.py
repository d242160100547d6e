#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libcopilot through its bindings: the same turn driven from GJS and from
Python through the typelib, and from Vala through the VAPI, each against
the built copilotd (with the fake CLI) on a private bus.

argv: libdir vala-program build-root b_sanitize; the environment names
the daemon and the fake CLI (COPILOTD_DAEMON, COPILOTD_FAKE_CLI).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LIBDIR, VALA_PROGRAM, BUILD_ROOT, SANITIZE = sys.argv[1:5]
del sys.argv[1:5]
README = os.path.join(HERE, "..", "..", "README.md")
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from harness import check  # noqa: E402


def sanitizer_preload():
    """The library may be built with AddressSanitizer (tests/run-tests.sh):
    then an interpreter that loads it needs the runtime preloaded."""
    out = subprocess.run(["ldd", os.path.join(LIBDIR, "libcopilot-1.so")],
                         capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and ("libasan" in parts[0] or "libubsan" in parts[0]):
            libs.append(parts[2])
    return libs


class World:
    """A private bus and the built daemon with the fake CLI (harness.World),
    or with @real the real CLI and the offline model, and the environment a
    libcopilot client needs there."""

    def __init__(self, world_factory, real=False):
        self.world = world_factory(model=real)
        self.world.daemon(fake=not real)
        self.tmp = self.world.tmp.path
        self.env = dict(self.world.child_env, DBUS_SESSION_BUS_ADDRESS=self.world.bus.address,
                        COPILOT_HOME=self.world.home,
                        GI_TYPELIB_PATH=LIBDIR + os.pathsep + os.environ.get("GI_TYPELIB_PATH", ""),
                        LD_LIBRARY_PATH=LIBDIR + os.pathsep + os.environ.get("LD_LIBRARY_PATH", ""))
        preload = sanitizer_preload()
        self.interp_env = dict(self.env)
        if preload:
            self.interp_env["LD_PRELOAD"] = " ".join(preload)
            # The interpreters' own allocations are not ours to check.
            self.interp_env["ASAN_OPTIONS"] = "detect_leaks=0"

    def run(self, argv, env):
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, f"{argv} exited with {run.returncode}: {run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])


def check_turn(result, who):
    assert result["command"] == "ls -l", result
    assert result["permission"] == "Permission: approved", result
    assert result["answer"] == f"Echo: hello from {who}", result
    # Every streamed piece arrived once, in order.
    assert result["deltas"] == result["answer"], result
    assert result["state"] in ("idle", "busy"), result


def test_gjs(world):
    """GJS: a turn with an approval through the typelib"""
    check_turn(world.run(["gjs", os.path.join(HERE, "turn.js")], world.interp_env), "gjs")


def test_python(world):
    """Python: a turn with an approval through the typelib"""
    check_turn(world.run(["/usr/bin/python3", os.path.join(HERE, "turn.py")], world.interp_env), "python")


def test_vala(world):
    """Vala: a turn through the VAPI"""
    result = world.run([VALA_PROGRAM], world.env)
    assert result["answer"] == "Echo: hello from vala", result
    assert result["deltas"] == result["answer"], result


def test_shell_extension_logic(world):
    """The Shell extension's chat.js: a turn with an approval, then Stop."""
    script = os.path.join(HERE, "..", "examples", "shell-chat.js")
    seen = world.run(["gjs", "-m", script], world.interp_env)
    assert seen["answer"] == "Permission: approved", seen
    assert seen["lastText"] == seen["answer"], seen
    assert len(seen["descriptions"]) == 1, seen
    description = seen["descriptions"][0]
    # The dialog names the asking app and what it wants.
    assert description["app"] == "shell-test", description
    assert description["title"] == "shell-test wants Copilot to run the command “ls -l”", description
    # Stop aborted the long turn: no answer, not busy, the next turn works.
    assert seen["stopped"] is None, seen
    assert seen["busyAfter"] is False, seen
    assert seen["after"] == "Echo: still here?", seen
    assert seen["busy"][:2] == [True, False], seen


def test_shell_extension(world):
    """The Shell extension itself (extension.js with stand-ins for the
    Shell's modules): an approval in its dialog, the answer in its label,
    Stop, disable."""
    script = os.path.join(HERE, "..", "examples", "shell-extension-ui.js")
    extension_dir = os.path.join(HERE, "..", "..", "src", "examples", "shell-extension")
    seen = world.run(["gjs", "-m", script, extension_dir], world.interp_env)
    # Every Shell import of extension.js was pointed at the stand-ins:
    # St, Clutter, and the five resource:///org/gnome/shell/ modules.
    assert seen["rewrittenImports"] == 7, seen
    assert seen["inPanel"] is True, seen
    # The modal dialog names the asking app and what it wants.
    assert seen["dialogTitle"] == "GNOME Shell wants Copilot to run the command “ls -l”", seen
    assert seen["dialogButtons"] == ["Deny", "Allow once", "Allow for this session"], seen
    assert seen["dialogState"] == "closed", seen
    assert seen["stopDuringPrompt"] is True, seen
    assert seen["answer"] == "Permission: approved", seen
    # Stop was pressable while the answer streamed, and stopped the turn.
    assert seen["stopWhileStreaming"] is True, seen
    assert seen["stopped"] is True and seen["entryAfter"] is True, seen
    assert seen["buttonDestroyed"] is True, seen


def start_xvfb(tmp):
    """Xvfb on a free display (-displayfd), for the GTK app."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp", "-auth", os.devnull],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "xvfb.log"), "w"))
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        display = f.readline().strip()
    assert display, "Xvfb did not start"
    return proc, ":" + display


def test_gtk_chat_app(world):
    """The GTK 4 / libadwaita app under Xvfb, on the real CLI and the
    offline model: a turn with an approval dialog; the text view's content
    and a screenshot."""
    app = os.path.join(HERE, "..", "..", "src", "examples", "chat-app", "copilot-chat.js")
    transcript = os.path.join(world.tmp, "transcript.txt")
    target = os.path.join(world.tmp, "approved-in-gtk.txt")
    command = f"echo approved-in-gtk > {target}"
    shot = os.path.join(os.environ.get("G_TEST_BUILDDIR", world.tmp), "libcopilot-chat-app.png")
    xvfb, display = start_xvfb(world.tmp)
    env = dict(world.interp_env, DISPLAY=display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
               GTK_A11Y="none", NO_AT_BRIDGE="1", COPILOT_CHAT_TEST_PROMPT=f"RUN: {command}",
               COPILOT_CHAT_TEST_APPROVE="1", COPILOT_CHAT_TEST_TRANSCRIPT=transcript)
    log = open(os.path.join(world.tmp, "chat-app.log"), "w")
    proc = subprocess.Popen(["gjs", "-m", app], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        h.wait_until(lambda: os.path.exists(transcript) or proc.poll() is not None, 90,
                     "the chat app's transcript")
        assert os.path.exists(transcript), open(os.path.join(world.tmp, "chat-app.log")).read()[-3000:]
        with open(transcript) as f:
            text = f.read()
        assert f"You: RUN: {command}" in text, text
        assert f"wants Copilot to run “{command}”" in text, text
        # The approved command ran, and the model's answer streamed in after
        # the dialog.
        assert os.path.exists(target) and open(target).read().strip() == "approved-in-gtk", text
        answer = text[text.index("wants Copilot to run"):].split("]", 1)[1].strip()
        assert answer, text
        run = subprocess.run(["import", "-display", display, "-window", "root", shot],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and os.path.getsize(shot) > 1000, run.stderr
        print(f"# screenshot: {shot}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        xvfb.terminate()
        xvfb.wait(10)


def readme_blocks():
    """The code blocks of README.md's libcopilot section, by language."""
    text = open(README).read()
    section = text[text.index("### libcopilot"):]
    section = section[:section.index("\n### ", 1)]
    blocks = {}
    lang = None
    for line in section.splitlines(keepends=True):
        if line.startswith("```") and lang is None:
            lang = line[3:].strip()
            blocks[lang] = ""
        elif line.startswith("```"):
            lang = None
        elif lang is not None:
            blocks[lang] += line
    return blocks


def test_readme_examples(world):
    """README's C, GJS and Python examples work as written."""
    blocks = readme_blocks()
    assert set(blocks) >= {"c", "js", "python"}, blocks.keys()
    for lang, argv in (("js", ["gjs"]), ("python", ["/usr/bin/python3"])):
        path = os.path.join(world.tmp, "readme." + lang)
        with open(path, "w") as f:
            f.write(blocks[lang])
        run = subprocess.run(argv + [path], env=world.interp_env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and "Echo: Say hello" in run.stdout, (lang, run.stdout, run.stderr[-2000:])
    source = os.path.join(world.tmp, "readme.c")
    with open(source, "w") as f:
        f.write(blocks["c"])
    env = dict(world.env, PKG_CONFIG_PATH=os.path.join(BUILD_ROOT, "meson-uninstalled"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "copilot-1"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    program = os.path.join(world.tmp, "readme-c")
    sanitize = [] if SANITIZE == "none" else ["-fsanitize=" + SANITIZE]
    cc = subprocess.run(["cc", "-o", program, source] + flags + sanitize + ["-Wl,-rpath," + LIBDIR],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    # The example leaks its client and loop on purpose (it is ten lines).
    run = subprocess.run([program], env=dict(world.env, ASAN_OPTIONS="detect_leaks=0"),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Echo: Say hello" in run.stdout, (run.stdout, run.stderr[-2000:])


def test_daemon_restart(world):
    """An app across a daemon restart: session closed, agent registered again"""
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "restart.py")], env=world.interp_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check(proc.stdout.readline().strip() == "ready", f"restart.py: {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}")
        world.world.daemons[0].terminate()
        world.world.daemon(fake=True, log="copilotd-again.log")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode == 0, f"restart.py exited with {proc.returncode}: {err[-3000:]}")
    seen = json.loads(out.strip().splitlines()[-1])
    check(seen["closed"] == ["daemon-vanished"], seen)
    check(seen["state"] == "closed", seen)
    check(seen["registered"] == [True, False, True], seen)
    check(seen["prompts"] == 1 and seen["answer"] == "Permission: approved", seen)


def case(test, real=False):
    return (test.__doc__.strip().splitlines()[0] if test.__doc__ else test.__name__,
            lambda world_factory: test(World(world_factory, real)))


h.run_cases([case(t) for t in (test_readme_examples, test_gjs, test_python, test_vala,
                               test_shell_extension_logic, test_shell_extension)]
            + [case(test_gtk_chat_app, real=True), case(test_daemon_restart)],
            needs_cli=False)
