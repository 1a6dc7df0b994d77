#!/usr/bin/env bash
# The reusable workflow's steps, run for real on this machine (issue 21): every `run:` step of
# .github/workflows/syncsim.yml under a fake 2-shard matrix (ci/github/run-workflow-locally.js;
# the build steps replaced by this build's binary), on tiny seed ranges:
#   1. a passing scenario: every job succeeds, merged results/JUnit/findings are uploaded;
#   2. a failing mutant: the run fails on the new finding;
#   3. the same with its findings given as known: it passes;
#   4. a budget: each shard records its coverage and the merge keeps it.
#   tests/workflow_steps_test.sh SOURCE_DIR BUILD_DIR NODE_PATH
set -euo pipefail
src=$1 build=$2
export NODE_PATH=$3
[[ -d $NODE_PATH/js-yaml ]] || { echo "FAIL: pinned js-yaml missing in '$NODE_PATH' (configure)" >&2; exit 1; }
W=$(mktemp -d /tmp/syncsim-workflow.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {  # name, inputs...
  local name=$1
  shift
  local ins=()
  for i in "$@"; do ins+=(--input "$i"); done
  rc=0
  node "$src/ci/github/run-workflow-locally.js" "$src/.github/workflows/syncsim.yml" \
    --workspace "$W/$name" --source "$src" --prebuilt "$build" "${ins[@]}" >"$W/$name.log" 2>&1 || rc=$?
}
json() { node -e "const j=require('$1'); console.log(JSON.stringify($2))"; }

run pass scenarios="$src/scenarios/catalog/basic.json" seeds=1..6 shards=2
((rc == 0)) || { cat "$W/pass.log"; fail "the passing run failed"; }
grep -q 'job merge: success' "$W/pass.log" || fail "no merge job"
r=$W/pass/_artifacts/syncsim-results
[[ $(json "$r/merged.json" 'j.runs.length') == 6 ]] || fail "merged.json has not 6 runs"
[[ $(json "$W/pass/_artifacts/shard-1/shard-1.json" 'j.shard') == '"2/2"' ]] || fail "shard 1 is not 2/2"
[[ $(json "$W/pass/_artifacts/shard-1/shard-1.json" 'j.runs.map(r=>r.seed)') == '[2,4,6]' ]] ||
  fail "shard 1 did not take seeds 2, 4, 6"
grep -q '<testsuite name="basic" tests="' "$r/junit.xml" || fail "no JUnit"
[[ $(json "$r/findings.json" 'j.findings.length') == 0 ]] || fail "findings in a passing run"
ls "$r"/report*.html >/dev/null || fail "no HTML report uploaded"
echo "ok: passing run (2 shards, merged 6 runs, JUnit, findings, report)"

node -e "const j=require('$src/scenarios/catalog/basic.json'); j.name='basic-mutant';
  j.mutants=['publish-while-blocked']; delete j.sometimes; require('fs').writeFileSync('$W/mutant.json', JSON.stringify(j))"
run newfinding scenarios="$W/mutant.json" seeds=1..4 shards=2
((rc == 1)) || { cat "$W/newfinding.log"; fail "a new finding did not fail the run"; }
grep -q 'FAILED (exit 1): Fail on a new finding' "$W/newfinding.log" || fail "not failed by the finding gate"
f=$W/newfinding/_artifacts/syncsim-results/findings.json
[[ $(json "$f" 'j.findings.map(f=>f.signature+" "+f.seeds)') == '["basic-mutant: barrier-holds 4"]' ]] ||
  fail "findings: $(cat "$f")"
echo "ok: a new finding fails the run"

run known scenarios="$W/mutant.json" seeds=1..4 shards=2 known-findings="$f"
((rc == 0)) || { cat "$W/known.log"; fail "a known finding failed the run"; }
echo "ok: a known finding does not"

run budget scenarios="$src/scenarios/catalog/basic.json" seeds=1..1000000 shards=2 budget=1s
((rc == 0)) || { cat "$W/budget.log"; fail "the budgeted run failed"; }
m=$W/budget/_artifacts/syncsim-results/merged.json
[[ $(json "$m" 'j.coverage.map(c=>c.shard)') == '["1/2","2/2"]' ]] || fail "coverage: $(json "$m" 'j.coverage')"
grep -q 'budget 1s, ran out of time' "$W/budget/_artifacts/syncsim-results/merge.txt" || fail "no coverage report"
echo "ok: budgeted shards: $(json "$m" 'j.coverage.map(c=>c.shard+" "+c.scenarios.basic.seeds+" seeds").join(", ")')"
echo PASS
