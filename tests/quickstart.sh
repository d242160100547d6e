#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The newcomer's first command: installs what is missing, builds copilotd,
# starts it and holds one real conversation through copilotctl, with a
# permission prompt you answer in the terminal.
#
#   tests/quickstart.sh [copilotctl ask options] [PROMPT…]
#
# With a GitHub login (GH_TOKEN, GITHUB_TOKEN or COPILOT_SDK_AUTH_TOKEN in
# the environment, or `gh auth token` working) it talks to your Copilot
# account. Without one it starts the embedded offline model,
# copilotd-offline-model, on 127.0.0.1 and says so.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${COPILOTD_BUILD_DIR:-$here/build-quickstart}
say () { printf '\033[1mquickstart:\033[0m %s\n' "$*" >&2; }

if [ -z "${COPILOTD_QUICKSTART_READY:-}" ]; then
  say "checking what is installed (Debian packages, the Copilot CLI)"
  cli=$("$here/tests/setup-deps.sh" --quickstart)
  say "building copilotd in $build"
  blog=${TMPDIR:-/tmp}/copilotd-quickstart-build.log
  if ! { [ -f "$build/build.ninja" ] || meson setup "$build" "$here" -Dtests=false; } >"$blog" 2>&1 ||
     ! ninja -C "$build" >>"$blog" 2>&1; then
    tail -n 25 "$blog" >&2
    say "the build failed (the whole log: $blog)"
    exit 1
  fi
  say "built copilotd in $build"
  export COPILOTD_QUICKSTART_READY=$cli
  # Our own bus unless one is running: a fresh machine often has none.
  if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    exec dbus-run-session -- "$0" "$@"
  fi
fi
cli=$COPILOTD_QUICKSTART_READY

state=$(mktemp -d "${TMPDIR:-/tmp}/copilotd-quickstart.XXXXXX")
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

token=${COPILOT_SDK_AUTH_TOKEN:-${GH_TOKEN:-${GITHUB_TOKEN:-}}}
if [ -z "$token" ] && command -v gh >/dev/null 2>&1; then
  token=$(gh auth token 2>/dev/null || true)
fi
if [ -n "$token" ]; then
  export COPILOT_SDK_AUTH_TOKEN=$token
  say "using your GitHub login"
else
  "$build/src/copilotd-offline-model" --log "$state/model-requests.jsonl" >"$state/model.port" &
  pids+=($!)
  for _ in $(seq 50); do grep -q 'listening on port' "$state/model.port" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/^listening on port //p' "$state/model.port")
  [ -n "$port" ] || { say "the offline model did not start"; exit 1; }
  export COPILOT_API_URL="http://127.0.0.1:$port"
  export COPILOT_DEBUG_GITHUB_API_URL="http://127.0.0.1:$port"
  export COPILOT_SDK_AUTH_TOKEN=offline
  export COPILOT_HOME="$state/copilot-home"
  say "no GitHub login found: using the embedded offline model on 127.0.0.1:$port"
fi

"$build/src/copilotd" --cli-path "$cli" ${COPILOTD_VERBOSE:+--verbose} &
pids+=($!)
for _ in $(seq 100); do
  gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
    -m org.freedesktop.DBus.NameHasOwner io.github.copilotd.Copilot1 2>/dev/null | grep -q true && break
  sleep 0.1
done

workdir="$state/work"
mkdir -p "$workdir"
# Options alone (say --yes) still get the demo prompt.
if [ $# -eq 0 ] || [ "${!#:0:1}" = "-" ]; then
  set -- "$@" "Create a file named hello.txt"
fi
say "asking Copilot, in $workdir: $*"
status=0
"$build/src/copilotctl/copilotctl" ask --cwd "$workdir" "$@" || status=$?
if [ -e "$workdir/hello.txt" ]; then
  say "hello.txt now contains: $(cat "$workdir/hello.txt")"
fi
exit $status
