#!/usr/bin/env bash
# Lint syncsim's own C++ (run by ./test.sh, so by .ci/run):
#  1. clang-format: every .cpp/.hpp of ours is formatted (.clang-format), except the files
#     listed in tools/format-pending.txt (formatted in one go when no branch is open on them).
#  2. clang-tidy (.clang-tidy) on our non-test sources, in parallel, with the build's
#     compile_commands.json; any finding fails.
# Usage: tools/lint.sh [BUILD_DIR] [--tidy-advisory]  (BUILD_DIR default: build, configured).
# --tidy-advisory: clang-tidy findings are printed but do not fail.
# --tidy-changed: clang-tidy strictly on the sources changed since the commit of the last
# clean whole-tree run (tools/tidy-clean-base; ./test.sh uses it: a whole-tree run is ~7 min
# on 2 cores, over .ci/run's budget).  Without that commit in the history (a shallow clone) it
# checks the whole tree.  The `lint` ctest is strict on all; after a clean whole-tree run,
# write HEAD's id to tools/tidy-clean-base.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
tidy_fatal=1
tidy_list=0
if [[ "${2:-}" == --tidy-advisory ]]; then tidy_fatal=0; fi
if [[ "${2:-}" == --tidy-changed ]]; then tidy_list=1; fi
jobs="${SYNCSIM_LINT_JOBS:-2}"
status=0

mapfile -t pending < <(grep -v '^#' tools/format-pending.txt | sed '/^$/d')
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
unformatted=()
for f in "${sources[@]}"; do
  if printf '%s\n' "${pending[@]}" | grep -qxF "$f"; then continue; fi
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then unformatted+=("$f"); fi
done
if ((${#unformatted[@]})); then
  echo "lint: not clang-formatted (run clang-format -i on them): ${unformatted[*]}"
  status=1
fi

if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "lint: $build/compile_commands.json is missing; configure the build first" >&2
  exit 2
fi
# Asio 1.74 detects coroutine support for GCC only; clang-tidy parses the code as clang (and
# does not know GCC-only warning options such as the unity build's -Wno-subobject-linkage).
ours=('sim/*.cpp' 'model/*.cpp' 'engine/*.cpp' 'scenarios/*.cpp' 'cli/*.cpp' 'reports/*.cpp'
  'util/*.cpp')
base="$(grep -v '^#' tools/tidy-clean-base | sed '/^$/d' | head -1)"
if ((tidy_list)) && git cat-file -e "${base}^{commit}" 2>/dev/null; then
  # A changed header is checked through every source of ours that includes it.
  mapfile -t changed < <(git diff --name-only "$base" -- '*.cpp' '*.hpp')
  mapfile -t tidy_sources < <(
    {
      git ls-files "${ours[@]}" | grep -xF -f <(printf '%s\n' "${changed[@]}" "") || true
      for h in "${changed[@]}"; do
        [[ "$h" == *.hpp ]] || continue
        git grep -l -F "#include \"$h\"" -- "${ours[@]}" || true
      done
    } | sort -u)
  echo "lint: clang-tidy on the ${#tidy_sources[@]} sources changed since $base (whole tree clean there)"
  if ((${#tidy_sources[@]} == 0)); then
    echo "lint: clang-format clean; clang-tidy: nothing changed since the clean run"
    exit $status
  fi
else
  mapfile -t tidy_sources < <(git ls-files "${ours[@]}")
fi
log="$build/clang-tidy.log"
if ! printf '%s\n' "${tidy_sources[@]}" |
    xargs -P "$jobs" -n 4 clang-tidy -p "$build" --quiet \
      --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1 \
      --extra-arg=-Wno-unknown-warning-option \
      >"$log" 2>&1; then
  grep -E 'error:|warning:' "$log" | sort -u || true
  echo "lint: clang-tidy found problems (full output: $log)"
  if ((tidy_fatal)); then status=1; fi
fi
if ((status == 0)); then echo "lint: clang-format and clang-tidy clean"; fi
exit $status
