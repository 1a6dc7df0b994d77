// Determinism check (docs/architecture.md §2, `--check-determinism`): run one seed twice in this
// process and compare the full traces; on a mismatch, name the first divergent event.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

struct TraceDivergence {
  uint64_t line = 0;  // 1-based index of the first differing trace line
  std::string first;  // that line in the first run ("<end of trace>" if it ended)
  std::string second;
  std::vector<std::string> context;  // up to 5 identical lines before it
};

// The first line where two traces (one event per '\n'-terminated line) differ.
std::optional<TraceDivergence> first_divergence(const std::string& a, const std::string& b);

struct DeterminismReport {
  uint64_t seed = 0;
  std::string hash_first;
  std::string hash_second;
  uint64_t lines = 0;
  std::optional<TraceDivergence> divergence;  // nullopt: byte-identical traces
  RunResult first_run;                        // the first run's result
  std::string first_trace;                    // and its full trace
};

DeterminismReport check_determinism(const Scenario& scenario, uint64_t seed,
                                    const sim::Bounds& bounds = {});
// The same with the runs' options (seed, bounds, extra cores, kept trace lines); its
// trace_sink is ignored (the traces are captured, the first one is in the report).
DeterminismReport check_determinism(const Scenario& scenario, const RunOptions& options);

// A human-readable account of a report (one line when deterministic).
std::string describe(const DeterminismReport& report);

}  // namespace syncsim::scenarios
