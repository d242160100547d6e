#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# copilotctl's bash completion, with bash-completion loaded as in an
# interactive shell: commands and options come from the built copilotctl's
# --help, session ids from `copilotctl sessions --json` (a stand-in prints
# two sessions, so that no daemon is needed). Output is TAP.
#
# usage: check-bash-completion.sh COMPLETION_FILE COPILOTCTL
set -uo pipefail
completion=$1 copilotctl=$2
bin=$(mktemp -d /tmp/copilotd-completion-XXXXXX)
trap 'rm -rf "$bin"' EXIT
cat >"$bin/copilotctl" <<STUB
#!/bin/sh
for a in "\$@"; do
  if [ "\$a" = sessions ]; then
    echo '{"session-id": "6f1c2a4e-8d3b-4e5f-9a0b-1c2d3e4f5a6b", "summary": "one"}'
    echo '{"session-id": "0a1b2c3d-0000-4000-8000-000000000000", "summary": "two"}'
    exit 0
  fi
done
exec "$copilotctl" "\$@"
STUB
chmod +x "$bin/copilotctl"

# complete "WORDS…": prints the candidates for the last word, one a line.
complete_words () {
  PATH="$bin:$PATH" bash --norc --noprofile -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _copilotctl copilotctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}

n=0 failed=0
expect () {
  local what=$1 want=$2; shift 2
  local got
  got=$(complete_words "$@" | sort | tr '\n' ' ')
  n=$((n + 1))
  if [ "$got" = "$want " ]; then echo "ok $n - $what"
  else failed=$((failed + 1)); echo "not ok $n - $what"; echo "# wanted: $want"; echo "# got:    $got"; fi
}

echo "1..5"
expect "commands from --help" "sessions show status" copilotctl s
expect "a command's options" "--default" copilotctl agent --d
expect "global options before the command" "--system" copilotctl --sys
expect "session ids after --resume" "6f1c2a4e-8d3b-4e5f-9a0b-1c2d3e4f5a6b" copilotctl chat --resume 6f
expect "session ids for show" "0a1b2c3d-0000-4000-8000-000000000000 6f1c2a4e-8d3b-4e5f-9a0b-1c2d3e4f5a6b" copilotctl show ""
[ "$failed" -eq 0 ]
