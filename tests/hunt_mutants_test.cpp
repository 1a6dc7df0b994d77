// Seeds to detection of every project mutant by the world swarm alone (issue 14): for each
// mutant, the world (scenarios/catalog/world.json) with that mutant runs seeds 1.. until a
// seed fails whose mutant-free run passes (so a finding of the world itself does not count),
// up to SYNCSIM_HUNT_SEEDS seeds.  The mutant sets and the equivalent mutants are those of
// tests/mutation_score_test.cpp (kept in step by hand): a mutant the mutation score injects
// with helpers is hunted with the same helpers (its twin keeps the helpers), and the two it
// argues equivalent (nothing observable can catch them) are skipped, saying so; a mutant whose
// helpers alone trip another invariant is judged by its `only` invariants.  Each test writes
// build/hunt-mutants.d/<mutant>.json and merges all of them into build/hunt-mutants.json.  Label
// `long`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Helpers injected together with a mutant (mutation_score_test.cpp's `helpers`).
std::vector<std::string> helpers_of(const std::string& mutant) {
  if (mutant == "write-checkpoint-may-drop") return {"repost-stale-id", "lower-id-replaces"};
  if (mutant == "repost-stale-id") return {"lower-id-replaces", "write-checkpoint-may-drop"};
  return {};
}

// The invariants a mutant is judged by, as in mutation_score_test.cpp's `only` entry, when its
// helpers alone trip another invariant: repost-stale-id + lower-id-replaces lower the stored
// id, which service-stored-id-monotonic catches on most world seeds, so with every invariant
// the helper-only twin fails too and write-checkpoint-may-drop could never count.  (Its twin
// repost-stale-id keeps every invariant: its helpers alone rarely fail.)  Empty: every one.
std::vector<std::string> only_invariants_of(const std::string& mutant) {
  if (mutant == "write-checkpoint-may-drop") return {"applied-id-monotonic"};
  return {};
}

// The mutants mutation_score_test.cpp argues equivalent (its `equiv` entries).
bool argued_equivalent(const std::string& mutant) {
  return mutant == "skip-sequence-check" || mutant == "target-posted-id";
}

class HuntMutant : public ::testing::TestWithParam<std::string> {};

TEST_P(HuntMutant, IsFoundByTheWorldSwarmAlone) {
  const auto ctx = validation_context();
  Scenario base =
      load_scenario_file(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/world.json", ctx);
  if (argued_equivalent(GetParam())) {
    record(GetParam(), {{"mutant", GetParam()}, {"equivalent", true}, {"detected", false}});
    GTEST_SKIP() << GetParam() << " is argued equivalent in tests/mutation_score_test.cpp";
  }
  base.mutants = helpers_of(GetParam());
  // On a postgres draw the world exempts applied-id-monotonic (exempt_invariants): a mutant
  // judged by it alone is judged by nothing there, so only mongo seeds can count.
  base.invariants = only_invariants_of(GetParam());
  Scenario mutated = base;
  mutated.mutants.insert(mutated.mutants.begin(), GetParam());
  json entry = {{"mutant", GetParam()},
                {"helpers", base.mutants},
                {"invariants", base.invariants.empty() ? json("all") : json(base.invariants)},
                {"seed_budget", SYNCSIM_HUNT_SEEDS},
                {"detected", false}};
  uint64_t seeds = 0;
  for (uint64_t seed = 1; seed <= SYNCSIM_HUNT_SEEDS; ++seed) {
    ++seeds;
    RunOptions opts;
    opts.seed = seed;
    opts.swarm = true;
    const RunResult r = run_scenario(mutated, opts);
    if (r.expectation_met) continue;
    // The world's own finding (or the helpers' alone) does not count.
    if (!run_scenario(base, opts).expectation_met) continue;
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
