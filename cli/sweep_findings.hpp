// sweep --findings DIR (issue 18): a sweep's failing repros saved as a findings directory in
// the format `hunt --findings` writes (scenarios/explore/findings.hpp), so `replay --all DIR`
// re-runs them (as Hypothesis keeps its example database).  Failures are grouped by scenario,
// invariant and explanation class; each finding keeps its first seed's repro, every seed, and
// a copy of its scenario file in DIR/scenarios/ (`scenario_file`), so the directory travels.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/format/scenario.hpp"

namespace syncsim::cli {

struct SweepFindingsInput {
  const nlohmann::json* runs = nullptr;                       // the sweep document's runs
  const std::map<std::string, std::string>* paths = nullptr;  // scenario name -> file
  const std::map<std::string, scenarios::Scenario>* loaded = nullptr;
  std::string seeds;
  double wall_s = 0;
  int jobs = 1;
};

// Writes DIR/findings.json, .md, .html and DIR/scenarios/*.json; "" or an error message.
std::string write_sweep_findings(const std::string& dir, const SweepFindingsInput& in);

}  // namespace syncsim::cli
