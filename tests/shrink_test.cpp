// Shrinking (scenarios/explore/shrink.hpp, issue 5): for mutants from the earlier issues, a failing
// seed is shrunk to a scenario of at most 20 steps (faults + local writes) whose JSON,
// loaded again, replays to the same violation with the same trace; the shrinker is
// deterministic and refuses a seed that does not fail.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "scenarios/explore/shrink.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::add_frequent_reconnects;
using test_support::catalog_json;

struct Case {
  std::string name;
  std::function<json()> scenario;  // with its mutant
  std::string invariant;           // the violation to shrink
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

json with_mutant(json j, const std::string& mutant) {
  j["mutants"] = {mutant};
  return j;
}

std::vector<Case> cases() {
  std::vector<Case> all = {
      {"publish_while_blocked",
       [] { return with_mutant(catalog_json("basic"), "publish-while-blocked"); }, "barrier-holds"},
      {"ack_before_replication",
       [] { return with_mutant(catalog_json("basic"), "ack-before-replication"); },
       "service-ack-after-replication"},
      {"complete_without_upload",
       [] { return with_mutant(catalog_json("basic"), "complete-without-upload"); },
       "read-your-writes"},
      {"reset_target_on_reconnect",
       [] {
         json j = catalog_json("basic");
         add_frequent_reconnects(j);
         return with_mutant(j, "reset-target-on-reconnect");
       },
       "target-no-regress"},
  };
  return all;
}

RunResult run(const Scenario& s, uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return run_scenario(s, o);
}

class ShrinkMutant : public ::testing::TestWithParam<Case> {};

TEST_P(ShrinkMutant, ToAtMostTwentyStepsThatReplayToTheSameViolation) {
  const auto ctx = validation_context();
  const Scenario original = parse_scenario(GetParam().scenario(), ctx, GetParam().name);
  uint64_t seed = 0;
  for (uint64_t s = 1; s <= 10 && seed == 0; ++s) {
    const auto r = run(original, s);
    if (r.violation && r.violation->invariant == GetParam().invariant) seed = s;
  }
  ASSERT_GT(seed, 0u) << GetParam().name << ": no seed in 1..10 violates " << GetParam().invariant;
  ShrinkOptions opts;
  opts.seed = seed;
  opts.invariant = GetParam().invariant;
  opts.ctx = ctx;
  opts.max_attempts = 150;
  const ShrinkResult res = shrink(original, opts);
  std::cout << fmt::format(
      "[ shrunk ] {} seed {}: {} -> {} steps ({} faults), {} clients, {} s, "
      "{} trace lines, {} attempts\n",
      GetParam().name, seed, res.initial_steps, res.steps, res.parsed.faults.size(),
      res.parsed.clients.count, res.parsed.duration_s, res.run.trace_lines, res.attempts);
  RecordProperty("shrunk_steps", static_cast<int>(res.steps));
  EXPECT_LE(res.steps, 20u);
  EXPECT_LT(res.steps, res.initial_steps);
  // The written JSON, loaded through the loader again, replays to the same violation and
  // the same trace.
  const Scenario again = parse_scenario_text(res.scenario.dump(2), ctx, "shrunk.json");
  const RunResult replay = run(again, seed);
  ASSERT_TRUE(replay.violation);
  EXPECT_EQ(replay.violation->invariant, GetParam().invariant);
  EXPECT_EQ(replay.trace_hash, res.run.trace_hash);
  EXPECT_EQ(scenario_steps(again, replay), res.steps);
  // The mutant is still what makes it fail.
  Scenario clean = again;
  clean.mutants.clear();
  const RunResult without = run(clean, seed);
  EXPECT_FALSE(without.violation && without.violation->invariant == GetParam().invariant)
      << "the shrunk scenario fails the same way without the mutant";
}

INSTANTIATE_TEST_SUITE_P(Mutants, ShrinkMutant, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Shrink, IsDeterministicAndBounded) {
  const auto ctx = validation_context();
  const Scenario s =
      parse_scenario(with_mutant(catalog_json("basic"), "publish-while-blocked"), ctx, "pwb");
  ShrinkOptions opts;
  opts.seed = 1;
  opts.invariant = "barrier-holds";
  opts.ctx = ctx;
  opts.max_attempts = 6;
  int reported = 0;
  opts.progress = [&](const ShrinkProgress& p) {
    ++reported;
    EXPECT_LE(p.attempt, 6);
  };
  const auto a = shrink(s, opts);
  const auto b = shrink(s, opts);
  EXPECT_EQ(a.scenario, b.scenario);
  EXPECT_EQ(a.run.trace_hash, b.run.trace_hash);
  EXPECT_EQ(a.attempts, 6);
  EXPECT_TRUE(a.exhausted);
  EXPECT_EQ(reported, 12);
}

TEST(Shrink, RefusesASeedThatDoesNotFail) {
  const auto ctx = validation_context();
  const Scenario s = parse_scenario(catalog_json("basic"), ctx, "basic");
  ShrinkOptions opts;
  opts.seed = 1;
  opts.invariant = "barrier-holds";
  opts.ctx = ctx;
  EXPECT_THROW(shrink(s, opts), std::invalid_argument);
}

TEST(ScenarioSteps, CountsFaultsAndLocalWrites) {
  Scenario s;
  s.faults.resize(3);
  RunResult r;
  r.metrics["local_writes"] = 7;
  EXPECT_EQ(scenario_steps(s, r), 10u);
}

}  // namespace
}  // namespace syncsim::scenarios
