// Shrinking a failing scenario (issue 5): greedy passes over the scenario's JSON that
// remove faults, clients, workload and duration while the same invariant still fails on the
// same seed.  Candidates are made on nlohmann::json (to_json's full form) and re-validated by
// the scenario loader, so a candidate the format does not allow (a fault after the end, a
// client number beyond the count) is skipped without a run, and the shrinker keeps working
// when fields are added.  Deterministic: same input, seed and build => same result.
//
// Size in steps (docs/cli.md §1): the scenario's fault entries plus the workload actions the
// run performed (local writes, metric `local_writes`).  A candidate is kept only if it still
// violates the target invariant and its steps do not grow.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/format/scenario.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

uint64_t scenario_steps(const Scenario& s, const RunResult& r);

struct ShrinkProgress {
  int attempt = 0;  // runs so far
  int max_attempts = 0;
  std::string candidate;  // what this candidate changed
  bool accepted = false;
  uint64_t steps = 0;  // of the current (best) scenario
};

struct ShrinkOptions {
  uint64_t seed = 1;
  std::string invariant;   // the invariant that must keep failing
  int max_attempts = 300;  // runs, the initial one not counted
  ValidationContext ctx;
  std::function<void(const ShrinkProgress&)> progress;
};

struct ShrinkResult {
  nlohmann::json scenario;  // the minimal scenario (full form)
  Scenario parsed;
  RunResult run;  // its run on the seed
  uint64_t steps = 0;
  uint64_t initial_steps = 0;
  int attempts = 0;
  int accepted = 0;
  bool exhausted = false;  // stopped by max_attempts, not by a fixed point
};

// `original` must violate options.invariant on options.seed (std::invalid_argument if not).
ShrinkResult shrink(const Scenario& original, const ShrinkOptions& options);

}  // namespace syncsim::scenarios
