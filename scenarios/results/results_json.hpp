// The results document `syncsim run --results` writes and `syncsim report` reads: per-seed
// results plus everything a report must name (scenario with every parameter, build, core
// hashes, enabled invariants, repro command).  One definition so both agree.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

nlohmann::json result_json(const RunResult& r, const std::string& repro);
nlohmann::json timeline_json(const Timeline& t);

// Everything a report names besides the runs: the scenario (every parameter) and its path,
// the SQLite pin, cores, enabled invariants and the sometimes catalog.  `run --results`
// documents carry it at top level; sweep and merge documents once per scenario under
// "scenarios" (sweep_document), so `syncsim report` can read them too.
nlohmann::json scenario_header(const Scenario& s, const std::string& scenario_path,
                               const ExtraCores& extra = {});

// `runs` is an array of result_json values.  `cores` lists every core binary the scenario
// can load (each fleet group's, upgrade/downgrade targets, a --core-path build) with its
// sha256; `extra` resolves names outside the pinned registry.
nlohmann::json results_document(const Scenario& s, const std::string& scenario_path,
                                nlohmann::json runs, const ExtraCores& extra = {});

}  // namespace syncsim::scenarios
