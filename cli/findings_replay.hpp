// The runs behind a findings directory (hunt --findings, sweep --findings): which repro and
// which stored scenario file each finding replays, shared by `replay --all` and `report`.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace syncsim::cli {

struct FindingRun {
  std::string repro;     // the shrunk repro when there is one, else the failing run's
  std::string scenario;  // the scenario file stored in the directory ("" = the repro's path)
};

// `finding`: one entry of findings.json's "findings"; `dir`: the directory holding it.
FindingRun finding_run(const std::filesystem::path& dir, const nlohmann::json& finding);

// One single-scenario results document per finding (the `run --results` shape): its seed
// replayed, with the twin, under the name "finding-<i>-<scenario>".  Throws
// std::runtime_error for a finding that cannot be replayed (bad repro, missing scenario,
// content hash mismatch).
std::vector<nlohmann::json> findings_documents(const std::filesystem::path& dir,
                                               const nlohmann::json& findings);

}  // namespace syncsim::cli
