#!/usr/bin/env bash
# Where the framework's CPU goes around the real core (issue 20 (a),
# docs/performance-framework-7.md): records `syncsim run <scenario> --seeds 1..N` with perf's
# DWARF call stacks, then splits the samples by their whole stack into the engine (core, and
# SQLite by who called it), our VFS, and the framework's parts: the SDK port, the service model,
# the observers (invariants and recorders), the simulator.  Prints one JSON object
# (bench/framework_split.py), whose a_cpu_over_engine_cpu is the perf profile that must agree
# with cost_bench's within 0.05.
# Usage: bench/framework_split.sh [seeds] [build dir] [scenario]
#        (default 30, ./build, scenarios/catalog/basic.json; run from the repo root)
set -euo pipefail
seeds=${1:-30}
build=${2:-build}
scenario=${3:-scenarios/catalog/basic.json}
here=$(cd "$(dirname "$0")" && pwd)
for tool in perf nm python3; do
  command -v "$tool" >/dev/null || { echo "framework_split: needs $tool on PATH" >&2; exit 2; }
done
[ -x "$build/syncsim" ] || { echo "framework_split: no $build/syncsim (build it first)" >&2; exit 2; }
sqlite_lib="$build/libsyncsim_sqlite.a"
[ -f "$sqlite_lib" ] || { echo "framework_split: no $sqlite_lib" >&2; exit 2; }
out=$(mktemp -d /tmp/framework_split.XXXXXX)
trap 'rm -rf "$out"' EXIT
# Every symbol SQLite's object defines, static functions included: how a frame is known as SQLite's
# (it is linked into syncsim, so perf's dso cannot tell).
nm --defined-only "$sqlite_lib" 2>/dev/null | awk 'NF == 3 {print $3}' | sed 's/\..*//' \
  | sort -u > "$out/sqlite-symbols"
# 1999 Hz with 32 KiB stack copies: every stack reaches main (a shallower copy truncates the
# coroutine frames and misfiles SQLite under "sql:sdk").
perf record -q -F 1999 --call-graph dwarf,32768 -o "$out/perf.data" \
  "$build/syncsim" run "$scenario" --seeds "1..$seeds" > /dev/null
perf script -i "$out/perf.data" -F ip,sym,dso 2>/dev/null > "$out/stacks"
python3 "$here/framework_split.py" "$out/sqlite-symbols" "$out/stacks"
