#!/usr/bin/env bash
# Regenerates the example reports committed under reports/examples/:
#   request-hiding-lag.{md,html}   scenarios/catalog/request-hiding-lag.json, seeds 1..10
#   legacy-vs-requests.{md,html}   basic-legacy.json (A) vs basic.json (B), seeds 1..10
#   request-interval-lag.{md,html} the seed's question: request-interval-lag-postgres (A) vs
#                                  request-interval-lag-mongo (B), seeds 1..10
#   explained-failure.{md,html}    explained-failure.json (basic.json with the
#                                  ack-before-replication mutant), seed 1:
#                                  the invariant's inputs, the causal chain and the twin
# Usage: reports/regenerate.sh [SYNCSIM] [OUT_DIR]   (default build/syncsim, reports/examples)
# SYNCSIM_EXAMPLE_SEEDS=A..B runs those seeds instead of 1..10 (the quick suite's determinism
# check, tests/browser/examples_test.sh); the committed examples are always 1..10.
# Paths in the reports are relative to the repository root, so run from anywhere.
set -euo pipefail
syncsim="$(realpath "${1:-$(dirname "$0")/../build/syncsim}")"
out="$(realpath -m "${2:-$(dirname "$0")/examples}")"
cd "$(dirname "$0")/.."
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# run exits 1 when a seed does not meet its expectation and 4 when a listed sometimes-
# condition never happened; the report shows both.
seeds="${SYNCSIM_EXAMPLE_SEEDS:-1..10}"
run() { "$syncsim" run "$1" --seeds "$seeds" --results "$2" > /dev/null || { rc=$?; [[ $rc -eq 1 || $rc -eq 4 ]]; }; }
run scenarios/catalog/request-hiding-lag.json "$tmp/hiding.json"
run scenarios/catalog/basic-legacy.json "$tmp/legacy.json"
run scenarios/catalog/basic.json "$tmp/requests.json"
run scenarios/catalog/request-interval-lag-postgres.json "$tmp/interval-postgres.json"
run scenarios/catalog/request-interval-lag-mongo.json "$tmp/interval-mongo.json"
"$syncsim" run reports/examples/explained-failure.json --seed 1 --results "$tmp/failure.json" \
  > /dev/null || [[ $? -eq 1 ]]
for f in md html; do
  "$syncsim" report "$tmp/failure.json" --format "$f" --out "$out/explained-failure.$f"
  "$syncsim" report "$tmp/hiding.json" --format "$f" --out "$out/request-hiding-lag.$f"
  "$syncsim" report --compare "$tmp/legacy.json" "$tmp/requests.json" --format "$f" \
    --out "$out/legacy-vs-requests.$f"
  "$syncsim" report --compare "$tmp/interval-postgres.json" "$tmp/interval-mongo.json" \
    --format "$f" --out "$out/request-interval-lag.$f"
done
echo "wrote $out/{request-hiding-lag,legacy-vs-requests,request-interval-lag,explained-failure}.{md,html}"
