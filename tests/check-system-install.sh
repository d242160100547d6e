#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the build into a DESTDIR and checks what a distribution ships for
# the system bus: the activation file, the systemd system unit, the bus
# policy and the polkit action; then `systemd-analyze verify` on the
# installed unit (against a root that has the host's systemd units, so that
# its dependencies resolve) must be clean, and its `systemd-analyze
# security` exposure is printed. Output is TAP.
#
# usage: check-system-install.sh BUILD_DIR PREFIX DATADIR SYSTEM_UNIT_DIR
set -uo pipefail

build=$1 prefix=$2 datadir=$3 unitdir=$4
dest=$(mktemp -d /tmp/copilotd-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
n=0 failed=0

ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
  return 0
}
check () { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

echo "1..9"
if out=$(meson install -C "$build" --destdir "$dest" --no-rebuild --quiet 2>&1); then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir" "$out"
fi

activation=$dest$datadir/dbus-1/system-services/io.github.copilotd.Copilot1.service
unit=$dest$unitdir/copilotd.service
policy=$dest$datadir/dbus-1/system.d/io.github.copilotd.Copilot1.conf
action=$dest$datadir/polkit-1/actions/io.github.copilotd.Copilot1.policy

check "system activation file names the unit and runs as root" \
  "grep -qx 'Name=io.github.copilotd.Copilot1' '$activation' && grep -qx 'SystemdService=copilotd.service' '$activation' && grep -qx 'User=root' '$activation' && grep -q '^Exec=$prefix/.*/copilotd --system' '$activation'" \
  "$(cat "$activation" 2>&1)"
check "system unit is Type=dbus with the bus name" \
  "grep -qx 'Type=dbus' '$unit' && grep -qx 'BusName=io.github.copilotd.Copilot1' '$unit' && grep -q '^ExecStart=$prefix/.*/copilotd --system' '$unit'" \
  "$(cat "$unit" 2>&1)"
check "system bus policy installed and well-formed" "xmllint --noout '$policy' 2>/dev/null"
check "polkit action installed and well-formed" "xmllint --noout '$action' 2>/dev/null"
defaults=$(xmllint --xpath "concat(//action[@id='io.github.copilotd.Copilot1.use']/defaults/allow_any,' ',//action[@id='io.github.copilotd.Copilot1.use']/defaults/allow_inactive,' ',//action[@id='io.github.copilotd.Copilot1.use']/defaults/allow_active)" "$action" 2>&1)
check "polkit action io.github.copilotd.Copilot1.use: any no, inactive no, active yes" \
  "[ '$defaults' = 'no no yes' ]" "defaults: $defaults"

# systemd-analyze resolves the unit's dependencies (sysinit.target, the
# D-Bus socket…) inside --root: give it the host's units beside ours.
mkdir -p "$dest/lib/systemd" "$dest/usr/lib/systemd"
for d in /lib/systemd/system /usr/lib/systemd/system; do
  [ -d "$d" ] && cp -a "$d" "$dest$(dirname "$d")/" 2>/dev/null
done
rel=${unit#"$dest"}
verify=$(systemd-analyze verify --man=no --root="$dest" "$rel" 2>&1); status=$?
check "systemd-analyze verify is clean" "[ $status -eq 0 ] && [ -z \"\$verify\" ]" "$verify"

security=$(systemd-analyze security --offline=yes --root="$dest" "$rel" 2>&1 | tail -n 1)
echo "# $security"
check "systemd-analyze security rates the unit OK or better" \
  "printf '%s' \"\$security\" | grep -Eq 'exposure level for copilotd.service: [0-9.]+ (OK|SAFE)'" "$security"

# The hardening that lets the daemon start user backends and nothing else.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
check "capability bounding set is only what switching users needs" \
  "[ '$caps' = 'CAP_SETUID CAP_SETGID CAP_CHOWN CAP_KILL CAP_DAC_READ_SEARCH' ]" "CapabilityBoundingSet=$caps"

[ "$failed" -eq 0 ]
