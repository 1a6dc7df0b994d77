// The twin of a failing run (issue 18): the same seed without the scenario's mutants (or,
// without mutants, without its faults), and the first trace line where the two runs part.
// A failure then points at where the injected bug or the fault first changed the run.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

struct TwinReport {
  std::string removed;  // "mutants ack-before-replication" / "faults (4)"
  bool twin_passed = false;
  std::string twin_stop;  // the twin's violation or stop reason, "" when it passed
  uint64_t line = 0;      // first differing trace line (1-based), 0 = identical traces
  std::string run_line, twin_line;
  std::vector<std::string> context;  // identical lines just before it
};

// nullopt when the scenario has neither mutants nor faults (there is no twin to run).
// Runs the seed twice (the run and its twin) with traces captured in memory.
std::optional<TwinReport> twin_run(const Scenario& scenario, const RunOptions& options);

nlohmann::json to_json(const TwinReport& t);

}  // namespace syncsim::scenarios
