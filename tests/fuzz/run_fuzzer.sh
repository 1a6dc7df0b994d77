#!/usr/bin/env bash
# Runs one libFuzzer target on a scratch corpus seeded from the committed ones (the `fuzz`
# ctest label, tests/fuzz/fuzz.cmake):
#   run_fuzzer.sh FUZZER WORK REGRESSIONS DICT SEED_DIR...
# For SYNCSIM_FUZZ_SECONDS (default 60) of fuzzing, or until SYNCSIM_FUZZ_RUNS executions
# when that is set (the 10^6-execution campaign of issue 19).  Fails on a crash, leak,
# timeout or out-of-memory, and keeps the input that caused it in REGRESSIONS (the target's
# tests/fuzz/regressions/<target>/, replayed by the quick fuzz_replay_test): fix the cause,
# rename the file to say what it is and commit it.
set -uo pipefail
fuzzer=$1 work=$2 regressions=$3 dict=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus"
args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/")
if [[ -n "${SYNCSIM_FUZZ_RUNS:-}" ]]; then
  args+=(-runs="$SYNCSIM_FUZZ_RUNS")
else
  args+=(-max_total_time="${SYNCSIM_FUZZ_SECONDS:-60}")
fi
if [[ -n "${SYNCSIM_FUZZ_MAX_LEN:-}" ]]; then args+=(-max_len="$SYNCSIM_FUZZ_MAX_LEN"); fi
if [[ -f "$dict" ]]; then args+=(-dict="$dict"); fi
# New inputs go to the scratch corpus (the first directory); the seed directories are read only.
start=$(date +%s)
"$fuzzer" "${args[@]}" "$work/corpus" "$@" 2>"$work/log"
rc=$?
end=$(date +%s)
grep -E "^stat::|^(==[0-9]+==|SUMMARY|ERROR)" "$work/log" | sed "s/^/$(basename "$fuzzer"): /"
echo "$(basename "$fuzzer"): exit $rc after $((end - start)) s (log: $work/log)"
shopt -s nullglob
kept=0
for artifact in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  mkdir -p "$regressions"
  cp "$artifact" "$regressions/"
  echo "kept as a regression: $regressions/$(basename "$artifact")"
  kept=1
done
if ((rc != 0 || kept)); then
  tail -40 "$work/log"
  exit 1
fi
