#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what copilotd needs to build and test, and the Copilot CLI the
# end-to-end tests run. Safe to run again: it only does what is missing.
#
#   tests/setup-deps.sh [--quickstart] [--list-packages]
#
# --quickstart installs only what building and running copilotd needs
# (tests/quickstart.sh): no test tools, and nothing that changes the
# machine's system bus (dbus-daemon, not the dbus package or dbus-broker).
#
# Progress goes to stderr, one line a step; what apt-get and npm print goes
# to a log file, shown only when they fail. stdout gets one line, the path
# of the native Copilot CLI binary, so that scripts can say
# cli=$(tests/setup-deps.sh).
#
# Environment:
#   COPILOTD_CLI_PREFIX  npm prefix for the CLI
#                        (default: $HOME/.local/share/copilotd/cli)
#   COPILOTD_TEST_CLI    use this CLI binary instead of installing one; it
#                        must be version $cli_version
set -euo pipefail

cli_version=1.0.102
cli_prefix=${COPILOTD_CLI_PREFIX:-${HOME:?HOME is not set}/.local/share/copilotd/cli}

say () { printf 'setup-deps: %s\n' "$*" >&2; }
die () { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }

# Debian packages, and what each must provide.
packages=(
  meson ninja-build pkg-config gcc libc6-dev
  libglib2.0-dev libglib2.0-bin libjson-glib-dev gettext
  dbus-daemon
  python3 python3-gi gir1.2-glib-2.0
  procps util-linux bsdutils libxml2-utils man-db groff-base
  ca-certificates systemd passwd bash-completion libedit-dev libsoup-3.0-dev
  clang libclang-rt-14-dev
  gobject-introspection libgirepository1.0-dev valac gjs gi-docgen
  gir1.2-gtk-4.0 gir1.2-adw-1 xvfb xauth imagemagick
  valgrind
)
commands=(
  meson ninja pkg-config gcc gdbus gdbus-codegen msgfmt xgettext
  dbus-daemon dbus-run-session ps pkill setpriv script xmllint man groff
  systemd-analyze useradd usermod clang
  g-ir-scanner g-ir-compiler vapigen valac gjs gi-docgen Xvfb import
  valgrind callgrind_control
)
modules=(glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libsoup-3.0 libedit gobject-introspection-1.0)

quickstart=
if [ "${1:-}" = "--quickstart" ]; then
  quickstart=1
  packages=(meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev libglib2.0-bin
            libjson-glib-dev libsoup-3.0-dev libedit-dev gettext dbus-daemon ca-certificates)
  commands=(meson ninja pkg-config gcc gdbus gdbus-codegen msgfmt dbus-daemon dbus-run-session)
  modules=(glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libsoup-3.0 libedit)
fi

# --list-packages (after --quickstart, if any): print the Debian packages
# it would install, one a line, and stop.
if [ "${1:-}" = "--list-packages" ] || [ "${2:-}" = "--list-packages" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

log=${TMPDIR:-/tmp}/copilotd-setup-deps.log
: >"$log" 2>/dev/null || log=/dev/null
# Runs a noisy installer with its output in the log; on failure shows the
# end of it.
quietly () {
  if "$@" >>"$log" 2>&1 </dev/null; then
    return 0
  fi
  tail -n 25 "$log" >&2
  return 1
}

missing=()
for c in "${commands[@]}"; do
  command -v "$c" >/dev/null 2>&1 || missing+=("command $c")
done
if command -v pkg-config >/dev/null 2>&1; then
  for m in "${modules[@]}"; do
    pkg-config --exists "$m" || missing+=("pkg-config module $m")
  done
fi
# The fuzz targets (tests/fuzz/) link clang's libFuzzer runtime.
if [ -z "$quickstart" ] && command -v clang >/dev/null 2>&1 &&
   ! ls "$(clang --print-runtime-dir)"/libclang_rt.fuzzer*.a >/dev/null 2>&1; then
  missing+=("clang's libFuzzer runtime (libclang-rt-14-dev)")
fi
# The tests' Python helpers use the system interpreter, which has PyGObject.
if [ -z "$quickstart" ] && ! /usr/bin/python3 -c 'import gi; gi.require_version("Gio", "2.0"); from gi.repository import Gio' >/dev/null 2>&1; then
  missing+=("python3-gi for /usr/bin/python3")
fi
# The GTK example app runs under Xvfb in the tests (gjs, GTK 4, libadwaita).
if [ -z "$quickstart" ] && command -v gjs >/dev/null 2>&1 &&
   ! gjs -c "imports.gi.versions.Gtk = '4.0'; imports.gi.versions.Adw = '1'; imports.gi.Gtk; imports.gi.Adw" >/dev/null 2>&1; then
  missing+=("the GTK 4 and libadwaita typelibs")
fi
# Node and npm only install the CLI. Any recent ones will do; Debian's are
# installed only when there are none, never over a newer one.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
  missing+=("node/npm")
fi

if [ ${#missing[@]} -eq 0 ]; then
  say "system packages: all present"
else
  say "missing: ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 \
    || die "apt-get not found; install the equivalent of: ${packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    # Without a terminal sudo cannot ask for a password; fail rather than hang.
    if [ -t 0 ]; then sudo=(sudo); else sudo=(sudo -n); fi
  else
    die "not root and no sudo: as root, run apt-get install ${packages[*]}"
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update (output in $log)"
  quietly "${sudo[@]}" apt-get update \
    || die "apt-get update failed"
  say "apt-get install ${#packages[@]} packages (output in $log)"
  quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${packages[@]}" \
    || die "apt-get install failed"
  say "system packages: installed"
fi

# The Copilot CLI. npm installs a launcher and, as an optional dependency,
# the native binary for this platform; copilotd and the tests run the
# native binary directly.
case "$(uname -m)" in
  x86_64|amd64) cli_arch=x64 ;;
  aarch64|arm64) cli_arch=arm64 ;;
  *) die "the Copilot CLI has no native binary for $(uname -m)" ;;
esac

# `copilot --version` prints "GitHub Copilot CLI 1.0.102." and, on its first
# run, unpacks the CLI's bundled files (about 235 MB) into
# $XDG_CACHE_HOME/copilot, so checking the version also does that once.
cli_is_wanted () {
  local out
  [ -x "$1" ] || return 1
  out=$("$1" --version </dev/null 2>/dev/null) || return 1
  [[ $out == *"Copilot CLI $cli_version."* ]]
}

if [ -n "${COPILOTD_TEST_CLI:-}" ]; then
  cli_is_wanted "$COPILOTD_TEST_CLI" \
    || die "COPILOTD_TEST_CLI=$COPILOTD_TEST_CLI is not a Copilot CLI $cli_version binary"
  cli=$COPILOTD_TEST_CLI
else
  cli=$cli_prefix/node_modules/@github/copilot-linux-$cli_arch/copilot
  if cli_is_wanted "$cli"; then
    say "Copilot CLI $cli_version: already installed"
  else
    command -v npm >/dev/null 2>&1 || die "npm not found"
    mkdir -p "$cli_prefix" || die "cannot create $cli_prefix"
    say "npm install @github/copilot@$cli_version into $cli_prefix"
    quietly npm install --prefix "$cli_prefix" --no-audit --no-fund \
        --no-update-notifier --include=optional \
        "@github/copilot@$cli_version" \
      || die "npm install @github/copilot@$cli_version failed (no network? set COPILOTD_TEST_CLI to an installed copilot $cli_version binary)"
    cli_is_wanted "$cli" \
      || die "$cli is missing or is not version $cli_version after npm install"
  fi
fi

say "Copilot CLI $cli_version: $cli"
printf '%s\n' "$cli"
