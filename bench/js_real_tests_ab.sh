#!/usr/bin/env bash
# The js-real quick tests' cost, two builds back to back (docs/performance-js-real.md, "The real JS
# SDK", js10): every test of js_real_test as its own process, two at a time (as ctest -j2
# runs them), first with binary A, then with binary B.  Prints JSON: per test the wall seconds,
# and per side the sum, the CPU seconds (user + sys of all of it) and the load average.
# Each binary runs the engine/js/*.mjs of the tree it was built in.
# Usage: bench/js_real_tests_ab.sh <js_real_test A> <js_real_test B>
set -euo pipefail
a=$1
b=$2
tests=$("$b" --gtest_list_tests | awk '/^[^ ]/{s=$1} /^  /{print s $1}' | grep -v '^JsRealScenario')
side() {
  local bin=$1 out
  out=$(mktemp)
  local start
  start=$(awk '{print $1}' /proc/loadavg)
  /usr/bin/time -o "$out.time" -f '%U %S %e' bash -c '
    printf "%s\n" "$2" | xargs -P2 -I{} bash -c "s=\$(date +%s.%N); nice \"$1\" --gtest_filter={} >/dev/null 2>&1 || echo FAILED {} >&2; e=\$(date +%s.%N); echo {} \$(echo \"\$e - \$s\" | bc)"
  ' _ "$bin" "$tests" >"$out"
  python3 - "$out" "$start" "$(awk '{print $1}' /proc/loadavg)" <<'PY'
import json, sys
rows = dict(l.split() for l in open(sys.argv[1]))
user, system, wall = map(float, open(sys.argv[1] + ".time").read().split()[-3:])
print(json.dumps({"tests": {k: float(v) for k, v in sorted(rows.items())},
                  "sum_wall_s": round(sum(float(v) for v in rows.values()), 2),
                  "cpu_s": round(user + system, 2), "wall_s": wall,
                  "load_average": {"before": float(sys.argv[2]), "after": float(sys.argv[3])}}))
PY
  rm -f "$out" "$out.time"
}
echo "{\"a\": $(side "$a"),"
echo " \"b\": $(side "$b")}"
