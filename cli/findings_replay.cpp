#include "cli/findings_replay.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "scenarios/results/repro.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/runner.hpp"
#include "scenarios/world/twin.hpp"

namespace syncsim::cli {

namespace fs = std::filesystem;

FindingRun finding_run(const fs::path& dir, const nlohmann::json& f) {
  const std::string shrunk = f.value("shrunk_repro", std::string());
  const bool use_shrunk = !shrunk.empty();
  const std::string file = use_shrunk ? f.value("shrunk_scenario", std::string())
                                      : f.value("scenario_file", std::string());
  FindingRun out{use_shrunk ? shrunk : f.value("repro", std::string()), ""};
  if (!file.empty()) {
    const fs::path p(file);
    const fs::path local = p.is_absolute() ? p : dir / p;
    if (fs::exists(local)) out.scenario = local.string();
  }
  return out;
}

std::vector<nlohmann::json> findings_documents(const fs::path& dir,
                                               const nlohmann::json& findings) {
  std::vector<nlohmann::json> out;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto run = finding_run(dir, findings[i]);
    const auto repro = scenarios::parse_repro(run.repro);  // ReproError is an invalid_argument
    const std::string path = run.scenario.empty() ? repro.path : run.scenario;
    const auto content = scenarios::scenario_content_hash(path);
    if (repro.scenario_hash && content && *content != *repro.scenario_hash) {
      throw std::runtime_error(fmt::format("finding {}: {} has content hash {}, the repro names {}",
                                           i + 1, path, *content, *repro.scenario_hash));
    }
    scenarios::Scenario scenario;
    try {
      scenario = scenarios::load_scenario_file(path, scenarios::validation_context());
    } catch (const scenarios::ScenarioError& e) {
      throw std::runtime_error(fmt::format("finding {}: {}", i + 1, e.what()));
    }
    scenarios::RunOptions opts;
    opts.seed = repro.seed;
    opts.swarm = repro.swarm;
    const auto r = scenarios::run_scenario(scenario, opts);
    auto j = scenarios::result_json(r, run.repro);
    if (!r.expectation_met && r.violation) {
      if (auto twin = scenarios::twin_run(scenario, opts)) j["twin"] = scenarios::to_json(*twin);
    }
    auto doc = scenarios::results_document(scenario, path, nlohmann::json::array({j}));
    doc["scenario"]["name"] = fmt::format("finding-{}-{}", i + 1, scenario.name);
    out.push_back(std::move(doc));
  }
  return out;
}

}  // namespace syncsim::cli
