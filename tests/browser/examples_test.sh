#!/usr/bin/env bash
# deterministic: two generations of the example reports are byte-identical (over the
# seeds in SYNCSIM_EXAMPLE_SEEDS when set: 1..3 in quick, the examples' 1..10 in long).
# up-to-date: the committed examples equal a fresh generation (build ids aside, since
# every commit changes the build id); always seeds 1..10.
# Usage: examples_test.sh deterministic|up-to-date SYNCSIM SOURCE_DIR OUT_DIR
set -uo pipefail
mode="$1" syncsim="$2" src="$3" out="$4"
rm -rf "$out" && mkdir -p "$out"
[[ "$mode" == deterministic ]] || unset SYNCSIM_EXAMPLE_SEEDS
"$src/reports/regenerate.sh" "$syncsim" "$out/a" > /dev/null || { echo "FAIL: regenerate.sh"; exit 1; }
if [[ "$mode" == deterministic ]]; then
  "$src/reports/regenerate.sh" "$syncsim" "$out/b" > /dev/null || { echo "FAIL: regenerate.sh"; exit 1; }
  diff -r "$out/a" "$out/b" > "$out/diff.txt" || { echo "FAIL: generations differ"; head -40 "$out/diff.txt"; exit 1; }
  echo "OK: $(ls "$out/a" | wc -l) example reports regenerate byte-identically"
else
  normalize() { sed -E 's/[0-9]+\.[0-9]+\.[0-9]+\+[0-9a-f]{12}(-dirty)?|[0-9]+\.[0-9]+\.[0-9]+\+nogit(-dirty)?/BUILD/g' "$1"; }
  status=0
  for f in "$out/a"/*; do
    name="$(basename "$f")"
    if ! diff <(normalize "$src/reports/examples/$name") <(normalize "$f") > "$out/$name.diff"; then
      echo "FAIL: reports/examples/$name is out of date (run reports/regenerate.sh)"; head -20 "$out/$name.diff"; status=1
    fi
  done
  [[ $status -eq 0 ]] && echo "OK: reports/examples are up to date"
  exit $status
fi
