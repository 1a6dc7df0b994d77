#!/usr/bin/env bash
# The workflow linter is trusted only if it fails a broken workflow: a copy of
# .github/workflows/syncsim.yml whose merge job needs a missing job and whose sweep reads a
# matrix property that does not exist must give exactly those two kinds of problem.  It is linted
# after the intact workflow, in one run: the second file of a run is linted too.
set -euo pipefail
src=$1
export NODE_PATH=$2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
sed 's/needs: \[build, shard\]/needs: [build, shards]/; s/matrix.index }}$/matrix.idx }}/' \
  "$src/.github/workflows/syncsim.yml" >"$W/broken.yml"
cmp -s "$src/.github/workflows/syncsim.yml" "$W/broken.yml" && { echo "FAIL: nothing mutated"; exit 1; }
rc=0
node "$src/ci/github/lint-workflow.js" "$src/.github/workflows/syncsim.yml" "$W/broken.yml" \
  >"$W/out.txt" || rc=$?
cat "$W/out.txt"
((rc == 1)) || { echo "FAIL: lint exit $rc, expected 1"; exit 1; }
grep -q 'needs job "shards" which does not exist' "$W/out.txt" || { echo "FAIL: missing job not found"; exit 1; }
grep -q 'property "idx" is not defined' "$W/out.txt" || { echo "FAIL: bad matrix property not found"; exit 1; }
grep -q '^2 workflow(s), ' "$W/out.txt" || { echo "FAIL: not both files linted"; exit 1; }
grep -q '^/.*syncsim.yml:' "$W/out.txt" && { echo "FAIL: a problem in the intact workflow"; exit 1; }
echo PASS
