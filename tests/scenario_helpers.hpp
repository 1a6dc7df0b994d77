// Helpers for tests that run catalog scenarios in-process: load a catalog file, run one seed
// keeping the trace tail, describe a result for a failure message, build a fault.
#pragma once

#include <cstdint>
#include <string>

#include "scenarios/runner.hpp"

namespace syncsim::scenarios::test_support {

inline Scenario catalog(const std::string& name) {
  return load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json",
      validation_context());
}

inline RunResult run(const Scenario& s, uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  o.keep_trace_lines = 30;
  return run_scenario(s, o);
}

inline std::string describe(const RunResult& r) {
  std::string out = r.stop.message + "\n" + r.pending;
  for (const auto& l : r.trace_tail) out += "  | " + l + "\n";
  return out;
}

inline Fault fault(int64_t at_ms, FaultKind kind, int client = 1) {
  Fault f;
  f.at_ms = at_ms;
  f.kind = kind;
  f.client = client;
  return f;
}

}  // namespace syncsim::scenarios::test_support
