#!/usr/bin/env bash
# Runs one command of a sanitizer build (-DSYNCSIM_SANITIZE=ON) and passes only if it exits
# with the code the normal build gives and no sanitizer reported anything (a leak at exit,
# a memory error, undefined behaviour).
#   run_clean.sh EXPECTED_EXIT LOG_DIR NAME -- COMMAND...
set -uo pipefail
expected=$1 log_dir=$2 name=$3
shift 3
[[ $1 == -- ]] && shift
mkdir -p "$log_dir"
out="$log_dir/$name.out" err="$log_dir/$name.err"
# Distinct exit codes for the sanitizers, so a report can never pass as an expected code.
export ASAN_OPTIONS="detect_leaks=1:exitcode=97:abort_on_error=0:halt_on_error=1:${ASAN_OPTIONS:-}"
# Leaks inside third-party binaries, each justified in lsan.supp.
export LSAN_OPTIONS="exitcode=98:suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
"$@" >"$out" 2>"$err"
rc=$?
fail=0
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer" "$err"; then
  echo "FAIL: $name: sanitizer report (stderr: $err):"
  grep -E -A 12 "ERROR: |runtime error:" "$err" | head -60
  fail=1
fi
if [[ $rc != "$expected" ]]; then
  echo "FAIL: $name: exit $rc, expected $expected (stdout: $out, stderr: $err)"
  tail -5 "$err"
  fail=1
fi
if ((fail)); then exit 1; fi
echo "ok: $name exit $rc, no sanitizer report"
# Per-seed lines of `run` (a sweep prints a summary instead: 0 here, not a failure).
echo "runs: $(grep -cE "^\S+ +seed=[0-9]+ " "$out" || true)"
