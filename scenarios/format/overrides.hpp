// `--set key=value` on run, sweep and diff: a scenario file with some fields replaced, so
// variants need no edited JSON copies.  The key is a dotted path into the file
// (workload.request_interval_ms, service.flavour, faults.0.lag_ms); the value is JSON when it
// parses as JSON (1000, true, ["a","b"]), else a string (mongo).  The result is validated
// like a file, so an unknown key or a bad value is an error naming the field.
#pragma once

#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"

namespace syncsim::scenarios {

// Throws ScenarioError for a malformed override ("--set: 'x' is not key=value") or an
// invalid result.  With no overrides this is load_scenario_file.
Scenario load_scenario_with_overrides(const std::string& path,
                                      const std::vector<std::string>& overrides,
                                      const ValidationContext& ctx);

// "a,b" -> --set invariants=["a","b"] (the --invariants filter).
std::string invariants_override(const std::string& comma_list);

}  // namespace syncsim::scenarios
