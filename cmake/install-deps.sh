#!/usr/bin/env bash
# Set-up step shared by ./run.sh and ./test.sh (docs/architecture.md §3): install whatever Debian
# packages are missing, non-interactively (CI has no stdin).  Runs apt-get update at most
# once, and only when something is missing.
set -euo pipefail

packages=(g++ cmake make nodejs npm librapidcheck-dev libboost-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev libcli11-dev libfmt-dev libbenchmark-dev libssl-dev
          clang-format clang-tidy lld
          chromium python3)  # chromium: the report tests render HTML and Mermaid headless;
# python3: the docs tests and the README tour; clang-format, clang-tidy: tools/lint.sh; lld: the
# linker (CMakeLists.txt)
# --slurm: also a single-node Slurm for `ctest -L distributed` (tests/slurm_distributed_test.sh);
# asked for by -DSYNCSIM_DISTRIBUTED_TESTS=ON, not by the normal set-up (~12 s, rarely needed).
if [[ "${1:-}" == --slurm ]]; then
  packages+=(slurmctld slurmd slurm-client munge)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # node and npm may come from outside Debian on some images; accept them on PATH.
    if [[ "$p" == nodejs && -x "$(command -v node)" ]] || [[ "$p" == npm && -x "$(command -v npm)" ]]; then
      continue
    fi
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "syncsim set-up: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
