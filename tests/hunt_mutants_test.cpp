// Seeds to detection of every project mutant by the world swarm alone (issue 14): for each
// mutant, the world (scenarios/catalog/world.json) with that mutant runs seeds 1.. until a
// seed fails whose mutant-free run passes (so a finding of the world itself does not count),
// up to SYNCSIM_HUNT_SEEDS seeds.  Each test writes build/hunt-mutants.d/<mutant>.json and
// merges all of them into build/hunt-mutants.json.  Label `long`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/explore/swarm.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void record(const std::string& mutant, const json& entry) {
  const fs::path dir = fs::path(SYNCSIM_BUILD_DIR) / "hunt-mutants.d";
  fs::create_directories(dir);
  std::ofstream(dir / (mutant + ".json")) << entry.dump(2) << "\n";
  json all = json::object();
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path());
    all[f.path().stem().string()] = json::parse(in);
  }
  const fs::path out = fs::path(SYNCSIM_BUILD_DIR) / "hunt-mutants.json";
  const fs::path tmp = out.string() + "." + mutant + ".tmp";
  std::ofstream(tmp) << all.dump(2) << "\n";
  fs::rename(tmp, out);
}

class HuntMutant : public ::testing::TestWithParam<std::string> {};

TEST_P(HuntMutant, IsFoundByTheWorldSwarmAlone) {
  const auto ctx = validation_context();
  Scenario base =
      load_scenario_file(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/world.json", ctx);
  Scenario mutated = base;
  mutated.mutants = {GetParam()};
  json entry = {{"mutant", GetParam()}, {"seed_budget", SYNCSIM_HUNT_SEEDS}, {"detected", false}};
  uint64_t seeds = 0;
  for (uint64_t seed = 1; seed <= SYNCSIM_HUNT_SEEDS; ++seed) {
    ++seeds;
    RunOptions opts;
    opts.seed = seed;
    opts.swarm = true;
    const RunResult r = run_scenario(mutated, opts);
    if (r.expectation_met) continue;
    if (!run_scenario(base, opts).expectation_met) continue;  // the world's own finding
    entry["detected"] = true;
    entry["seed"] = seed;
    entry["invariant"] = r.violation ? r.violation->invariant : r.stop.message;
    break;
  }
  entry["seeds_run"] = seeds;
  record(GetParam(), entry);
  EXPECT_TRUE(entry["detected"].get<bool>())
      << GetParam() << " not found by the world swarm in " << SYNCSIM_HUNT_SEEDS << " seeds";
}

INSTANTIATE_TEST_SUITE_P(Mutants, HuntMutant, ::testing::ValuesIn(mutant_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace syncsim::scenarios
