#!/usr/bin/env bash
# ctest -L distributed (issue 21): a single-node Slurm started here (ci/slurm/local-slurm.sh),
# a 4-task `sbatch --array` sweeping 200 seeds of two catalog scenarios with `--shard auto`, a
# merge job depending on it (afterok), and the merged document checked against a
# single-machine sweep of the same seeds: the same runs, verdicts and trace hashes (only the
# wall-clock fields may differ).  Slurm is stopped on every exit path.
#   tests/slurm_distributed_test.sh SYNCSIM SOURCE_DIR
set -euo pipefail
syncsim=$1 src=$2
seeds=1..200
scenarios=("$src/scenarios/catalog/basic.json" "$src/scenarios/catalog/restart.json")
for tool in slurmctld slurmd munged sbatch; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool not installed; configure with -DSYNCSIM_DISTRIBUTED_TESTS=ON (runs" \
      "cmake/install-deps.sh --slurm) or run cmake/install-deps.sh --slurm" >&2
    exit 1
  fi
done
D=$(mktemp -d /tmp/syncsim-slurm.XXXXXX)
ok=0
finish() {
  "$src/ci/slurm/local-slurm.sh" stop "$D/slurm" || true
  if ((ok)); then rm -rf "$D"; else echo "kept $D for inspection" >&2; fi
}
trap finish EXIT

t0=$(date +%s.%N)
eval "$("$src/ci/slurm/local-slurm.sh" start "$D/slurm")"
t_up=$(date +%s.%N)
out=$D/out
array=$(sbatch --parsable --array=0-3 --output="$D/shard-%a.log" \
  "$src/ci/slurm/syncsim-array.sbatch" "$syncsim" "$out" "$seeds" "${scenarios[@]}")
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$D/merge.log" \
  "$src/ci/slurm/syncsim-merge.sbatch" "$syncsim" "$out")
echo "submitted array job $array and merge job $merge"
deadline=$((SECONDS + 900))
while squeue -h -j "$array,$merge" 2>/dev/null | grep -q .; do
  if ((SECONDS > deadline)); then
    echo "FAIL: jobs still queued after 900 s" >&2
    squeue >&2
    exit 1
  fi
  sleep 0.5
done
t_done=$(date +%s.%N)
state=$(scontrol show job "$merge" | grep -o 'JobState=[A-Z_]*')
if [[ $state != JobState=COMPLETED ]]; then
  echo "FAIL: merge job $merge: $state" >&2
  cat "$D"/*.log "$out/merge.txt" >&2 2>/dev/null || true
  exit 1
fi
for i in 0 1 2 3; do
  state=$(scontrol show job "${array}_$i" | grep -o 'JobState=[A-Z_]*' | head -1)
  [[ $state == JobState=COMPLETED ]] || { echo "FAIL: task $i: $state" >&2; exit 1; }
done
cat "$out/merge.txt"

# The same seeds on one machine.
rc=0
"$syncsim" sweep "${scenarios[@]}" --seeds "$seeds" --results "$D/single.json" >"$D/single.txt" ||
  rc=$?
((rc == 0 || rc == 1 || rc == 4)) || { cat "$D/single.txt" >&2; exit 1; }
t_single=$(date +%s.%N)

node - "$out/merged.json" "$D/single.json" "$out" <<'JS'
const fs = require('fs');
const [merged, single, out] = process.argv.slice(2);
const strip = (j) => Array.isArray(j) ? j.map(strip)
  : j && typeof j === 'object'
    ? Object.fromEntries(Object.entries(j).filter(([k]) => k !== 'wall_s').map(([k, v]) => [k, strip(v)]))
    : j;
const m = JSON.parse(fs.readFileSync(merged)), s = JSON.parse(fs.readFileSync(single));
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };
if (m.runs.length !== 400) fail(`merged has ${m.runs.length} runs, expected 400`);
for (let i = 0; i < 4; i++) {
  const shard = JSON.parse(fs.readFileSync(`${out}/shard-${i}.json`));
  if (shard.shard !== `${i + 1}/4`) fail(`shard-${i}.json is shard ${shard.shard}`);
  if (shard.runs.length !== 100) fail(`shard-${i}.json has ${shard.runs.length} runs`);
  for (const r of shard.runs) if ((r.seed - 1) % 4 !== i) fail(`shard ${i} ran seed ${r.seed}`);
}
m.runs.forEach((r, i) => {
  const t = s.runs[i];
  if (r.scenario !== t.scenario || r.seed !== t.seed || r.trace_hash !== t.trace_hash ||
      r.expectation_met !== t.expectation_met)
    fail(`run ${i}: ${r.scenario} seed ${r.seed} ${r.trace_hash} vs ${t.scenario} seed ${t.seed} ${t.trace_hash}`);
});
if (JSON.stringify(strip(m)) !== JSON.stringify(strip(s))) fail('the documents differ beyond wall_s');
const hashes = new Set(m.runs.map((r) => r.trace_hash)).size;
console.log(`merged == single-machine sweep: ${m.runs.length} runs, ${m.passed} passed, ` +
            `${m.failed} failed, ${hashes} distinct trace hashes`);
JS
awk -v a="$t0" -v b="$t_up" -v c="$t_done" -v d="$t_single" 'BEGIN {
  printf "timing: slurm up %.1f s; array of 4 + merge %.1f s; single-machine sweep %.1f s\n",
         b - a, c - b, d - c }'
ok=1
echo PASS
