#!/usr/bin/env bash
# Set everything up, build syncsim and the quick suite's tests, run the `quick` test suite, the
# sanitizer subset and the linters (what CI runs).  The benchmarks and the `*_long_test`
# variants are built by `cmake --build build` (tests/CMakeLists.txt, syncsim_quick_build).
set -euo pipefail
cd "$(dirname "$0")"
cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCSIM_WERROR=ON -DSYNCSIM_DEBUG_INFO=lines \
  -DSYNCSIM_UNITY=ON -DSYNCSIM_PCH=ON
cmake --build build -j2 --target syncsim_quick_build
ctest --test-dir build -L quick --output-on-failure -j2 "$@"
# The sanitizer subset (issue 19): ASan + UBSan + LSan with leaks fatal, in a build directory
# of its own holding only what the `san_quick` label runs (tests/CMakeLists.txt says which).
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DSYNCSIM_SANITIZE=ON -DSYNCSIM_WERROR=ON \
  -DSYNCSIM_DEBUG_INFO=lines -DSYNCSIM_UNITY=ON
cmake --build build-san -j2 --target syncsim sim_test scenario_format_test fuzz_replay_test
ctest --test-dir build-san -L san_quick --output-on-failure -j2
# clang-format on all our code; clang-tidy on what changed since its last clean whole-tree run.
# clang-tidy reads a compile database with one entry per source: `build`'s lists the unity
# batches instead, so a tree configured without them (configure only, nothing is built).
cmake -S . -B build-lint -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCSIM_WERROR=ON > /dev/null
tools/lint.sh build-lint --tidy-changed
