#!/usr/bin/env bash
# The main job: set everything up, build, and run the default scenario over a range of
# seeds, printing one line per seed and a summary; results also go to build/results.json
# and a report to build/report.md and build/report.html.
# Extra arguments are passed to `syncsim run` (e.g. ./run.sh --seeds 1..200).
set -euo pipefail
cd "$(dirname "$0")"
cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.log 2>&1 || { cat build.log; exit 3; }
cmake --build build -j2 --target syncsim >> build.log 2>&1 || { tail -50 build.log; exit 3; }
args=("$@")
if ((${#args[@]} == 0)); then args=(--seeds 1..20); fi
echo "results: build/results.json, report: build/report.md, build/report.html"
status=0
rm -f build/results.json
./build/syncsim run scenarios/catalog/basic.json "${args[@]}" --results build/results.json \
  --report build/report.html || status=$?
# The Markdown twin comes from the same results (no second run); keep run's exit code.
if [[ -s build/results.json ]]; then ./build/syncsim report build/results.json --out build/report.md; fi
exit $status
