// The lifecycle catalog scenarios (restart, kill, power loss, up/downgrade, mode and user
// switches) and the mixed fleet, each over a seed budget: a few seeds in the quick suite,
// SYNCSIM_SEED_BUDGET (100) in the long one.  Not vacuous: the apps really were reopened.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

#ifndef SYNCSIM_SEED_BUDGET
#define SYNCSIM_SEED_BUDGET 3
#endif

namespace syncsim {
namespace {

class LifecycleCatalog : public ::testing::TestWithParam<const char*> {};

TEST_P(LifecycleCatalog, PassesEverySeed) {
  const std::string name = GetParam();
  const scenarios::Scenario s = scenarios::load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json",
      scenarios::validation_context());
  ASSERT_FALSE(s.description.empty());
  const uint64_t budget =
      name == "mixed-fleet" && SYNCSIM_SEED_BUDGET > 50 ? 50 : SYNCSIM_SEED_BUDGET;
  uint64_t reopens = 0, acknowledged = 0;
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    scenarios::RunOptions o;
    o.seed = seed;
    o.keep_trace_lines = 30;
    const scenarios::RunResult r = scenarios::run_scenario(s, o);
    std::string tail;
    for (const auto& l : r.trace_tail) tail += "  | " + l;
    ASSERT_TRUE(r.passed) << name << " seed " << seed << ": "
                          << (r.violation ? r.violation->invariant + ": " + r.violation->message
                                          : r.stop.message + "\n" + r.pending)
                          << "\n"
                          << tail;
    ASSERT_EQ(r.checks.at("converges"), 1u) << "seed " << seed;
    ASSERT_EQ(r.checks.at("requests-complete"), 1u) << "seed " << seed;
    // The scenario's determinism on seed 1 (hosted here, not in CatalogDeterminism; switch-user's
    // is StreamWakeIndex's).
    if (seed == 1 && name != "switch-user") {
      EXPECT_TRUE(scenarios::test_support::repeats_its_trace(s, r, seed));
    }
    reopens += r.metrics.at("app_reopens");
    acknowledged += r.metrics.at("acknowledged_writes");
  }
  if (name != "mixed-fleet") {
    EXPECT_GE(reopens, budget) << "no app was reopened";
  }
  EXPECT_GT(acknowledged, 10 * budget) << "read-your-writes acknowledged too few writes";
}

INSTANTIATE_TEST_SUITE_P(Catalog, LifecycleCatalog,
                         ::testing::Values("restart", "kill", "power-loss", "downgrade", "upgrade",
                                           "switch-mode", "switch-user", "mixed-fleet"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

// The checkers read 0.4.x state (`$local`, the id-less DidCompleteSync) correctly: on basic
// with core 0.4.12 (js-legacy) each engine/cross-layer mutant is caught by its invariant.
scenarios::Scenario basic_on_0412(const std::string& mutant,
                                  const std::vector<std::string>& invariants = {}) {
  std::ifstream file(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json");
  nlohmann::json j = nlohmann::json::parse(file);
  j["clients"]["core"] = "0.4.12";
  j["clients"]["checkpoint_mode"] = "legacy";
  j["mutants"] = {mutant};
  if (!invariants.empty()) j["invariants"] = invariants;
  return scenarios::parse_scenario(j, scenarios::validation_context(), "basic-0.4.12");
}

uint64_t seeds_to_detect(const scenarios::Scenario& s, const std::string& invariant,
                         uint64_t budget) {
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    scenarios::RunOptions o;
    o.seed = seed;
    const scenarios::RunResult r = scenarios::run_scenario(s, o);
    if (r.violation && r.violation->invariant == invariant) return seed;
  }
  return 0;
}

TEST(LegacyCoreCheckers, BarrierHoldsReadsLocalOn0412) {
  const uint64_t seed = seeds_to_detect(basic_on_0412("publish-while-blocked"), "barrier-holds", 5);
  std::cout << "publish-while-blocked on 0.4.12: caught by barrier-holds at seed " << seed << "\n";
  EXPECT_GT(seed, 0u);
}

TEST(LegacyCoreCheckers, ReadYourWritesSeesAcksWithoutIdsOn0412) {
  const uint64_t seed =
      // Only read-your-writes judges: the service-side cross-check
      // service-ack-after-replication catches this mutant first on most seeds, and this test
      // is about the client checker reading 0.4.x's id-less acks.
      seeds_to_detect(basic_on_0412("ack-before-replication", {"read-your-writes"}),
                      "read-your-writes", 20);
  std::cout << "ack-before-replication on 0.4.12: caught by read-your-writes at seed " << seed
            << "\n";
  EXPECT_GT(seed, 0u);
}

}  // namespace
}  // namespace syncsim
