#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the build into a DESTDIR and checks that libcopilot is there as
# an app developer needs it: the shared library with its soname, copilot-1.pc,
# the headers, the GIR, the typelib and the VAPI; that pkg-config finds it
# (sysroot-adjusted), that a C program builds and links with those flags,
# and that GJS imports the installed typelib. Output is TAP.
#
# usage: check-install.sh BUILD_DIR PREFIX LIBDIR INCLUDEDIR DATADIR SANITIZE
# (SANITIZE: meson's b_sanitize, "none" or e.g. "address,undefined")
set -uo pipefail

build=$1 prefix=$2 libdir=$3 includedir=$4 datadir=$5 sanitize=${6:-none}
[ "$sanitize" = none ] && sanitize=
dest=$(mktemp -d /tmp/libcopilot-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
n=0 failed=0

ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
  return 0
}
check () { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

echo "1..10"
if out=$(meson install -C "$build" --destdir "$dest" --no-rebuild --quiet 2>&1); then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir" "$out"
fi

lib=$dest$libdir
check "libcopilot-1.so, its soname link and the real file" \
  "[ -L '$lib/libcopilot-1.so' ] && [ -L '$lib/libcopilot-1.so.1' ] && [ -f '$lib/libcopilot-1.so.1.0.0' ]" \
  "$(ls -l "$lib" 2>&1)"
check "copilot-1.pc" "[ -f '$lib/pkgconfig/copilot-1.pc' ]" "$(ls "$lib/pkgconfig" 2>&1)"
headers=(copilot.h copilot-types.h copilot-error.h copilot-client.h copilot-session.h copilot-agent.h
         copilot-prompt.h copilot-tool.h copilot-tool-call.h copilot-attachment.h copilot-enums.h)
missing=()
for h in "${headers[@]}"; do [ -f "$dest$includedir/copilot-1/$h" ] || missing+=("$h"); done
check "headers in include/copilot-1" "[ \${#missing[@]} -eq 0 ]" "missing: ${missing[*]}"
check "Copilot-1.gir, Copilot-1.typelib, copilot-1.vapi" \
  "[ -f '$dest$datadir/gir-1.0/Copilot-1.gir' ] && [ -f '$lib/girepository-1.0/Copilot-1.typelib' ] && [ -f '$dest$datadir/vala/vapi/copilot-1.vapi' ]" \
  "$(find "$dest" -name 'Copilot-1.*' -o -name 'copilot-1.vapi' 2>&1)"

docs=$dest$datadir/doc/copilotd
check "API references: gi-docgen's and the D-Bus interfaces'" \
  "[ -f '$docs/copilot-1/index.html' ] && [ -f '$docs/copilot-1/class.Session.html' ] && [ -f '$docs/dbus/copilotd-dbus-io.github.copilotd.Copilot1.Session.rst' ]" \
  "$(find "$docs" -maxdepth 2 2>&1 | head -20)"

export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs copilot-1 2>&1)
check "pkg-config --cflags --libs copilot-1 points into the DESTDIR" \
  "[[ '$flags' == *'-I$dest$includedir/copilot-1'* ]] && [[ '$flags' == *-lcopilot-1* ]]" "$flags"

cat >"$dest/hello.c" <<'C'
#include <copilot.h>
int main (void) { return COPILOT_TYPE_CLIENT == 0 || COPILOT_ERROR == 0; }
C
# The sysroot also moved the system's own -I/-L (glib): take those back.
cflags=
for f in $flags; do
  case $f in
    -I"$dest"*|-L"$dest"*) [ -e "${f:2}" ] || f=${f:0:2}${f:2+${#dest}} ;;
  esac
  cflags+=" $f"
done
# shellcheck disable=SC2086
if cc -o "$dest/hello" "$dest/hello.c" $cflags -Wl,-rpath,"$lib" ${sanitize:+-fsanitize=$sanitize} \
     >"$dest/cc.log" 2>&1 && "$dest/hello" >>"$dest/cc.log" 2>&1; then
  ok "a C program builds and runs against the installed library"
else
  not_ok "a C program builds and runs against the installed library" "$cflags
$(cat "$dest/cc.log")"
fi

gjs_env=(env "GI_TYPELIB_PATH=$lib/girepository-1.0" "LD_LIBRARY_PATH=$lib")
# A sanitized build: the interpreters need the runtime first.
preload=$(ldd "$lib/libcopilot-1.so" 2>/dev/null | awk '/lib(a|ub)san/ { print $3 }' | tr '\n' ' ')
if [ -n "$preload" ]; then
  gjs_env+=("LD_PRELOAD=$preload" "ASAN_OPTIONS=detect_leaks=0")
fi
out=$("${gjs_env[@]}" gjs -c "imports.gi.versions.Copilot='1'; const C = imports.gi.Copilot; print(C.Client.\$gtype.name)" 2>&1)
check "gjs imports the installed typelib" "[ '$out' = CopilotClient ]" "$out"
out=$("${gjs_env[@]}" /usr/bin/python3 -c "import gi; gi.require_version('Copilot', '1'); from gi.repository import Copilot; print(Copilot.Session.__gtype__.name)" 2>&1)
check "python imports the installed typelib" "[ '$out' = CopilotSession ]" "$out"

[ "$failed" -eq 0 ]
