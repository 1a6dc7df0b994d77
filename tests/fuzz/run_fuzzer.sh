#!/usr/bin/env bash
# Runs one libFuzzer target for SYNCSIM_FUZZ_SECONDS (default 60) on a scratch copy of its
# committed corpus; fails on a crash, leak, timeout or out-of-memory (the input is left in
# WORK/crash-* etc.: keep it as a regression in tests/fuzz/regressions/<target>/).
#   run_fuzzer.sh FUZZER WORK CORPUS [DICT]
set -euo pipefail
fuzzer=$1 work=$2 corpus=$3 dict=${4:-}
mkdir -p "$work/corpus"
args=(-max_total_time="${SYNCSIM_FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/")
if [[ -n "$dict" && -f "$dict" ]]; then args+=(-dict="$dict"); fi
# New inputs go to the scratch corpus (first directory); the committed one is read only.
exec "$fuzzer" "${args[@]}" "$work/corpus" "$corpus"
