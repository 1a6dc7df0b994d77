#!/usr/bin/env bash
# The port checked against the real SDK (issue 16): `syncsim diff --a sdk=shim --b sdk=js-real`
# over the catalog files js-real runs, N seeds each, and a table of the first divergences by
# class and field group.  Usage: tools/sdk-diff-sweep.sh [BUILD_DIR] [SEEDS] [EXTRA DIFF ARGS...]
# e.g. tools/sdk-diff-sweep.sh build 20 --allow timing
set -euo pipefail
build=${1:-build}
seeds=${2:-20}
shift $(($# < 2 ? $# : 2))
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scenarios=(basic basic-legacy kill restart power-loss switch-mode switch-user insert-only-tx downgrade)
for s in "${scenarios[@]}"; do
  nice "$build/syncsim" diff "$root/scenarios/catalog/$s.json" --seeds "1..$seeds" \
    --a sdk=shim --b sdk=js-real --per-field --json "$@" >"$out/$s.json" || true
done
python3 - "$out" "${scenarios[@]}" <<'PY'
import json, sys, collections
out, names = sys.argv[1], sys.argv[2:]
table = collections.Counter()
examples = {}
for n in names:
    doc = json.load(open(f"{out}/{n}.json"))
    for s in doc["seeds"]:
        d = s.get("divergence")
        if not d:
            key = ("none", "")
        elif d["class"] == "verdict":
            key = ("verdict", d["message"])
        else:
            a, b = d.get("a"), d.get("b")
            what = lambda o: "<end>" if o is None else o["field"]
            key = (d["class"], f'{d.get("group", "")}: A {what(a)} / B {what(b)}')
        table[key] += 1
        examples.setdefault(key, f'{n} seed {s["seed"]}')
print(f"{'count':>5}  {'class':<10} {'where':<45} example")
for (klass, where), count in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"{count:>5}  {klass:<10} {where[:45]:<45} {examples[(klass, where)]}")
PY
