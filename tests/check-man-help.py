#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A man page says what the program's --help says: every command of
copilotctl has an entry, every option of the program and of each command
is documented, and the synopsis renders without stray brackets. Output is
TAP.

usage: check-man-help.py PROGRAM PAGE
"""
import os
import re
import subprocess
import sys

program, page = sys.argv[1], sys.argv[2]
env = dict(os.environ, LC_ALL="C", MANWIDTH="200")


def run(*argv):
    return subprocess.run(argv, env=env, capture_output=True, text=True).stdout


def options_of(help_text):
    """Long options of a --help text, without --help itself."""
    found = re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", help_text, re.M)
    return [o for o in found if o != "--help"]


def sections(text):
    """Rendered man page → {SECTION: text}."""
    out, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


man = run("man", "-l", page)
# man renders hyphens and quotes as themselves with LC_ALL=C.
secs = sections(man)
results = []


def check(what, ok, detail=""):
    results.append((what, ok, detail))


top_help = run(program, "--help")
commands = re.findall(r"^  ([a-z][a-z-]*)\s{2,}", top_help.split("Commands:", 1)[1], re.M) \
    if "Commands:" in top_help else []

check("the synopsis has no empty alternative", "|]" not in secs.get("SYNOPSIS", "") and "[|" not in secs.get("SYNOPSIS", ""),
      secs.get("SYNOPSIS", ""))
missing = [o for o in options_of(top_help) if o not in secs.get("OPTIONS", "")]
check("every option of --help is in OPTIONS", not missing, f"missing: {missing}")

if commands:
    body = secs.get("COMMANDS", "")
    # An entry starts with the command name at the entry indent.
    starts = {c: re.search(rf"^ {{7}}{re.escape(c)}\b", body, re.M) for c in commands}
    missing = [c for c, m in starts.items() if m is None]
    check("every command has an entry in COMMANDS", not missing, f"missing: {missing}")
    missing = [c for c in commands if not re.search(rf"copilotctl(\s+\[[^]]*\])*\s+{re.escape(c)}\b",
                                                    secs.get("SYNOPSIS", ""))]
    check("every command is in the SYNOPSIS", not missing, f"missing: {missing}")
    positions = sorted((m.start(), c) for c, m in starts.items() if m is not None)
    globals_ = set(options_of(top_help))
    for i, (start, c) in enumerate(positions):
        end = positions[i + 1][0] if i + 1 < len(positions) else len(body)
        entry = body[start:end]
        own = [o for o in options_of(run(program, c, "--help")) if o not in globals_]
        missing = [o for o in own if o not in entry]
        check(f"{c}: every option of its --help is in its entry", not missing, f"missing: {missing}")

print(f"1..{len(results)}")
failed = 0
for i, (what, ok, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
    if not ok:
        failed += 1
        for line in str(detail).splitlines():
            print(f"# {line}")
sys.exit(1 if failed else 0)
