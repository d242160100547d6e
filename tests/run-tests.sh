#!/usr/bin/env bash
# Builds copilotd with -Werror and AddressSanitizer/UBSan in build-tests/ and
# runs every test. Arguments go to `meson test` (e.g. a test name).
#
# The last line printed is "N passed, N failed", counting meson's tests:
# passed = OK + EXPECTEDFAIL; failed = everything else, skipped tests included,
# because a test that cannot run proves nothing. Exit status 0 only when
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

setup_args=(-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false)
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

# Count per meson test (testlog.json, one object per line), then per TAP
# subtest (meson records those only in the JUnit log).
python3 - "$builddir/meson-logs" <<'EOF'
import json
import os
import sys
import xml.etree.ElementTree as ET

logdir = sys.argv[1]
passing = {"OK", "EXPECTEDFAIL"}
passed = failed = 0
bad = []
try:
    with open(os.path.join(logdir, "testlog.json")) as f:
        for line in f:
            if not line.strip():
                continue
            test = json.loads(line)
            if test["result"] in passing:
                passed += 1
            else:
                failed += 1
                bad.append(f"{test['name']}: {test['result']}")
except FileNotFoundError:
    print("run-tests: meson wrote no testlog.json: no test ran", file=sys.stderr)

try:
    root = ET.parse(os.path.join(logdir, "testlog.junit.xml")).getroot()
except (FileNotFoundError, ET.ParseError):
    root = None
if root is not None:
    sub_passed = sub_failed = sub_skipped = 0
    tap_suites = 0
    for suite in root.iter("testsuite"):
        # Exit-code tests share one suite named after the project; TAP
        # tests get a suite of their own named project.test.
        if "." not in suite.get("name", ""):
            continue
        tap_suites += 1
        for case in suite.iter("testcase"):
            if case.find("skipped") is not None:
                sub_skipped += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                sub_failed += 1
            else:
                sub_passed += 1
    if tap_suites:
        print(f"subtests of {tap_suites} TAP tests: {sub_passed} passed, "
              f"{sub_failed} failed, {sub_skipped} skipped")

for line in bad:
    print(f"not passed: {line}")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
EOF
