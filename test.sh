#!/usr/bin/env bash
# Set everything up, build everything, run the `quick` test suite and the linters (what CI runs).
set -euo pipefail
cd "$(dirname "$0")"
cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCSIM_WERROR=ON
cmake --build build -j2
ctest --test-dir build -L quick --output-on-failure -j2 "$@"
# clang-format and clang-tidy on our code (outside ctest -L quick: it takes minutes).
tools/lint.sh build --tidy-advisory
