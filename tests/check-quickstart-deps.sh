#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command must not change more of the machine than it
# needs: what tests/setup-deps.sh --quickstart would install builds and
# runs copilotd, and nothing in it replaces or adds a system bus (the dbus
# package installs and starts the system bus, dbus-broker replaces
# dbus-daemon as the system bus at the next boot). Output is TAP.
set -uo pipefail
setup=$1
list=$("$setup" --quickstart --list-packages) || { echo "1..1"; echo "not ok 1 - --list-packages"; exit 1; }
echo "1..3"
bad=$(printf '%s\n' "$list" | grep -Ex 'dbus|dbus-broker|dbus-x11|dbus-user-session|systemd|policykit-1|polkitd' || true)
if [ -z "$bad" ]; then echo "ok 1 - nothing that installs or replaces a system bus"; else echo "not ok 1 - would install: $bad"; fi
test_only=$(printf '%s\n' "$list" | grep -Ex 'clang|xvfb|gjs|valac|gi-docgen|python3-gi|man-db|groff-base|passwd' || true)
if [ -z "$test_only" ]; then echo "ok 2 - no test-only tools"; else echo "not ok 2 - test-only packages: $test_only"; fi
if printf '%s\n' "$list" | grep -qx dbus-daemon; then echo "ok 3 - dbus-daemon for its private session bus"; else echo "not ok 3 - no dbus-daemon: dbus-run-session needs it"; fi
[ -z "$bad$test_only" ] && printf '%s\n' "$list" | grep -qx dbus-daemon
