#!/usr/bin/env bash
# Where a js-real seed's Node time goes (issue 16, docs/performance-js-real.md "The floor and
# the handoff"): runs `syncsim_js_real_bench <seeds> --kept-only` (basic.json, the shim and
# js-real on one host process kept across the seeds) with Node's inspector profiler preloaded
# into the host, then splits the host's profile by script: the published SDK (@powersync/*),
# its npm dependencies, our host (engine/js/*.mjs), fake-timers, blocked in the bridge's pipe
# read/write, GC, (program).  Prints one JSON object: the bench's own output (CPU and wall per
# seed, load) and the split in ms per seed, plus the floor ratio
# (shim CPU + SDK JS) / shim CPU.  Profiling slows Node somewhat; the split is what to read.
# Profile time is wall time of Node's main thread: under load, read the *_by_samples figures
# (sample counts times the sampling interval), which preemption does not inflate as much.
# Usage: bench/js_real_profile.sh [seeds] [build dir]   (default 3, ./build)
set -euo pipefail
seeds=${1:-3}
build=${2:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/js_real_profile.XXXXXX)
trap 'rm -rf "$out"' EXIT
bench_json=$(SYNCSIM_JS_PROF_DIR="$out" \
  NODE_OPTIONS="--require $here/js_real_profile_preload.cjs" \
  "$build/bench/syncsim_js_real_bench" "$seeds" --kept-only)
profiles=("$out"/*.cpuprofile)
if [ "${#profiles[@]}" -ne 1 ]; then
  echo "expected one host profile in $out, found ${#profiles[@]}" >&2
  exit 1
fi
# JS_REAL_PROFILE_KEEP=<file>: keep the host's profile (DevTools opens .cpuprofile files).
if [ -n "${JS_REAL_PROFILE_KEEP:-}" ]; then cp "${profiles[0]}" "$JS_REAL_PROFILE_KEEP"; fi
split_json=$(node "$here/js_real_profile_split.mjs" "${profiles[0]}" "$seeds")
node -e '
const bench = JSON.parse(process.argv[1]), split = JSON.parse(process.argv[2]);
delete split.profile;
const shim = bench.shim.cpu_total_s, shimWall = bench.shim.wall_s;
const sdk = split.sdk_js_ms_per_run / 1000;
const ms = split.ms_per_run;
// What the SDK cannot run without either: V8 GC, (program) and the fake timers it runs on.
const v8 = ((ms.gc || 0) + (ms.program || 0) + (ms.fake_timers || 0)) / 1000;
const r = (x) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  bench, split,
  floor: { shim_cpu_s: shim, shim_wall_s: shimWall, sdk_js_s: sdk, gc_program_timers_s: v8,
           cpu_ratio: r((shim + sdk) / shim), wall_ratio: r((shimWall + sdk) / shimWall),
           cpu_ratio_with_gc_program_timers: r((shim + sdk + v8) / shim),
           cpu_ratio_by_samples: r((shim + split.sdk_js_ms_per_run_by_samples / 1000) / shim),
           note: "(shim + the SDK own JS self time in the host profile) / shim, per seed" },
}, null, 2));' "$bench_json" "$split_json"
