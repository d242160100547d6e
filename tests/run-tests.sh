#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds copilotd with -Werror and AddressSanitizer/UBSan in build-tests/ and
# runs every test. Arguments go to `meson test` (e.g. a test name).
#
# The last line printed is "N passed, N failed", counting test cases (TAP
# subtests and plain tests); skipped ones count as failed, because a test
# that cannot run proves nothing. Exit status 0 only when
# nothing failed and something passed. When the build itself fails nothing
# ran, and the line is "0 passed, 1 failed".
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
top=$PWD
builddir=build-tests

fail_before_tests () {
  printf '%s\n' "$1" >&2
  echo "0 passed, 1 failed"
  exit 1
}

cli=$(tests/setup-deps.sh) || fail_before_tests "run-tests: setting up the dependencies failed"

setup_args=(-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
            -Dintrospection=enabled -Dvapi=enabled -Ddocs=enabled)
if [ -f "$builddir/meson-private/coredata.dat" ]; then
  meson setup --reconfigure "$builddir" "${setup_args[@]}" \
    || fail_before_tests "run-tests: meson setup --reconfigure failed"
else
  rm -rf "$builddir"
  meson setup "$builddir" "${setup_args[@]}" \
    || fail_before_tests "run-tests: meson setup failed"
fi
ninja -C "$builddir" || fail_before_tests "run-tests: the build failed"

export COPILOTD_TEST_CLI=$cli
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp
export G_DEBUG=fatal-criticals
export G_SLICE=always-malloc

# A stale log must not be counted if meson test dies before writing one.
rm -f "$builddir/meson-logs/testlog.json" "$builddir/meson-logs/testlog.junit.xml"

status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 \
  --timeout-multiplier 2 "$@" || status=$?
echo "run-tests: meson test exited with status $status" >&2

python3 - "$builddir/meson-logs" <<'EOF'
# The closing line counts test cases: each TAP subtest (GTest cases, the
# Python end-to-end cases) and each plain exit-code test. A skipped case
# counts as failed, and so does a TAP program that failed (crashed, timed
# out) without a failing case to show for it.
import json
import os
import sys
import xml.etree.ElementTree as ET

logdir = sys.argv[1]
passing = {"OK", "EXPECTEDFAIL"}
results = {}
outputs = {}
try:
    with open(os.path.join(logdir, "testlog.json")) as f:
        for line in f:
            if line.strip():
                test = json.loads(line)
                results[test["name"]] = test["result"]
                outputs[test["name"]] = test.get("stdout") or ""
except FileNotFoundError:
    print("run-tests: meson wrote no testlog.json: no test ran", file=sys.stderr)

subtests = {}
try:
    root = ET.parse(os.path.join(logdir, "testlog.junit.xml")).getroot()
except (FileNotFoundError, ET.ParseError):
    root = None
if root is not None:
    for suite in root.iter("testsuite"):
        name = suite.get("name", "")
        # Exit-code tests share one suite named after the project; a TAP
        # test gets a suite of its own named project.test.
        if "." not in name:
            continue
        counts = subtests.setdefault(name.split(".", 1)[1], [0, 0])
        for case in suite.iter("testcase"):
            bad = any(case.find(tag) is not None for tag in ("skipped", "failure", "error"))
            counts[1 if bad else 0] += 1

passed = failed = 0
for name, result in sorted(results.items()):
    sub = subtests.get(name)
    if sub is not None and sum(sub) > 0:
        passed += sub[0]
        failed += sub[1]
        if result not in passing and sub[1] == 0:
            failed += 1
    elif result in passing:
        passed += 1
    else:
        failed += 1
    if result not in passing:
        print(f"not passed: {name}: {result}")
        # meson shows a failing test's stderr only; a TAP test says why it
        # failed on stdout ("not ok" and the "# " lines after it).
        why = [l for l in outputs.get(name, "").splitlines()
               if l.startswith("not ok") or l.startswith("#")]
        for l in why[-60:]:
            print(f"  {l}")
ok = sum(r in passing for r in results.values())
print(f"test programs: {ok} of {len(results)} passed")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
EOF
