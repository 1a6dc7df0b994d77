#!/usr/bin/env bash
# CPU of every quick js-real test, each as its own process as ctest runs it (issue 20 (e), js18;
# docs/performance-js-real.md "Fixed cost per host"): `/usr/bin/time` user + sys of
# `ctest -R ^<test>$` including its children (the test, its Node host), one test at a time.
# Prints one JSON object: per test CPU-s, the sum, the load average before and after.
# Usage: bench/js_real_quick_cpu.sh [build dir] [test regex]
set -euo pipefail
build=${1:-build}
regex=${2:-'JsReal|SdkDiff|PortVsRealSdk|PortStreams|DiffFleetKeys|js_real'}
tests=$(ctest --test-dir "$build" -N -L quick -R "$regex" | sed -n 's/^ *Test *#[0-9]*: //p')
load0=$(awk '{print $1}' /proc/loadavg)
out=$(mktemp)
for t in $tests; do
  esc=$(printf '%s' "$t" | sed 's/[.[\*^$()+?{|]/\\&/g')
  /usr/bin/time -o "$out" -f '%U %S' ctest --test-dir "$build" -R "^${esc}\$" >/dev/null 2>&1 ||
    echo "FAILED $t" >&2
  echo "$t $(awk '{print $1 + $2}' "$out")"
done | python3 -c '
import json, sys
rows = [l.split() for l in sys.stdin if l.strip()]
print(json.dumps({"tests": {k: float(v) for k, v in rows},
                  "sum_cpu_s": round(sum(float(v) for _, v in rows), 2),
                  "load_average": {"before": float(sys.argv[1]),
                                   "after": float(open("/proc/loadavg").read().split()[0])}},
                 indent=1))' "$load0"
rm -f "$out"
