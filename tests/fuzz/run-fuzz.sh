#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (ASan + UBSan + libFuzzer) in their
# own build dir and runs each for a bounded time, printing TAP.
#
#   tests/fuzz/run-fuzz.sh SOURCE_DIR BUILD_DIR
#
# FUZZ_SECONDS (default 50) is each target's time. A crash, a leak, a GLib
# critical (fuzz-common.h aborts on one), a UBSan report, an input that
# runs longer than 10 s or an RSS over 2 GiB fails the target; the input is
# kept in BUILD_DIR/artifacts/. Seeds come from tests/data/ (make-seeds.py).
set -uo pipefail

src=$1
build=$2
seconds=${FUZZ_SECONDS:-50}
targets=(fuzz-jsonrpc fuzz-relay fuzz-options)

echo "1..${#targets[@]}"

bail () {
  echo "Bail out! $1"
  exit 1
}

command -v clang >/dev/null || bail "clang is not installed (tests/setup-deps.sh)"

setup_args=(-Dfuzzing=true -Dtests=false -Dbuildtype=debugoptimized
            -Db_sanitize=address,undefined -Db_lundef=false
            -Dc_args=-fsanitize=fuzzer-no-link)
if [ -f "$build/meson-private/coredata.dat" ]; then
  meson setup --reconfigure "$build" "$src" "${setup_args[@]}" >"$build.log" 2>&1
else
  rm -rf "$build"
  CC=clang meson setup "$build" "$src" "${setup_args[@]}" >"$build.log" 2>&1
fi || { cat "$build.log" >&2; bail "meson setup of the clang build failed"; }
ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >>"$build.log" 2>&1 \
  || { tail -50 "$build.log" >&2; bail "building the fuzz targets failed"; }

seeds=$build/seeds
rm -rf "$seeds"
/usr/bin/python3 "$src/tests/fuzz/make-seeds.py" "$src/tests/data" "$seeds" \
  || bail "writing the seeds failed"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export G_DEBUG=fatal-criticals
unset G_SLICE

n=0
status=0
for target in "${targets[@]}"; do
  n=$((n + 1))
  kind=${target#fuzz-}
  corpus=$build/corpus/$kind
  artifacts=$build/artifacts/$kind/
  log=$build/$target.log
  mkdir -p "$corpus" "$artifacts"
  max_len=65536
  [ "$kind" = options ] && max_len=8192
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "$seeds/$kind" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "ok $n - $target: ${execs:-?} executions in ${seconds} s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "not ok $n - $target: exit status $rc after ${execs:-?} executions"
    sed 's/^/# /' "$log" | grep -v '^# #[0-9]' | tail -60
    status=1
  fi
done
exit $status
