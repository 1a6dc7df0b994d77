// Scale (issue 20 (d)): the 1000-client scenario (scenarios/scale/) passes 5 seeds, every client
// opens a stream under the raised stream limit and the shared bucket reaches all of them, and one
// seed repeats its trace byte for byte (the catalog's determinism test does not see
// scenarios/scale/).  Label long: each seed simulates 1000 clients.
#include <gtest/gtest.h>

#include "scenarios/world/determinism.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

// Scale scenarios live beside the catalog (scenarios/scale/), so that sweeping, sanitizing
// and determinism-checking scenarios/catalog/*.json stays minutes, not hours.
Scenario scale_scenario() {
  return load_scenario_file(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/scale/clients-1000.json",
                            validation_context());
}

TEST(Scale, ThousandClientsPassFiveSeeds) {
  const Scenario s = scale_scenario();
  ASSERT_EQ(s.clients.count, 1000);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    RunOptions o;
    o.seed = seed;
    o.keep_trace_lines = 40;
    const RunResult r = run_scenario(s, o);
    EXPECT_TRUE(r.passed) << "seed " << seed << "\n" << test_support::describe(r);
    EXPECT_TRUE(r.expectation_met) << "seed " << seed;
    // Every client held a stream: the limit (1000) let them all in, storms included.
    EXPECT_GE(r.metrics.at("streams_opened"), 1000u) << "seed " << seed;
    EXPECT_EQ(r.metrics.count("rejected_streams"), 0u) << "seed " << seed;
    // Private and shared writes were made and the shared ones reached the fleet: each of the
    // >= 10 shared writes goes to all 1000 clients.
    EXPECT_GE(r.metrics.at("local_writes"), 1000u) << "seed " << seed;
    EXPECT_GE(r.metrics.at("ops_sent"), 10000u) << "seed " << seed;
    EXPECT_GE(r.metrics.at("applied_checkpoints"), 1000u) << "seed " << seed;
  }
}

TEST(Scale, ThousandClientsRepeatTheirTrace) {
  const DeterminismReport r = check_determinism(scale_scenario(), 1);
  EXPECT_FALSE(r.divergence) << describe(r);
  EXPECT_EQ(r.hash_first, r.hash_second);
  EXPECT_GT(r.lines, 10000u);
}

}  // namespace
}  // namespace syncsim::scenarios
