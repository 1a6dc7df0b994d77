// End-to-end: the real core 0.5.3 against the model service in a full simulated world.
// Determinism (docs/architecture.md §2), the basic scenario over many seeds, and mutants showing
// checkers can fail (others, on basic too, in mutation_score_test) (issue: walking skeleton).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <regex>
#include <set>

#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

// Seeds per check: a few in `quick`; the `long` twin (end_to_end_long_test) runs the full
// counts.  Thresholds that sum over seeds scale with the count.
#ifndef SYNCSIM_BASIC_SEEDS
#define SYNCSIM_BASIC_SEEDS 10
#endif
#ifndef SYNCSIM_DETERMINISM_SEEDS
#define SYNCSIM_DETERMINISM_SEEDS 5
#endif

namespace syncsim::scenarios {
namespace {

constexpr uint64_t kBasicSeeds = SYNCSIM_BASIC_SEEDS;
constexpr uint64_t kDeterminismSeeds = SYNCSIM_DETERMINISM_SEEDS;

using test_support::describe;
using test_support::run;

Scenario basic() { return test_support::catalog("basic"); }

// The trace hash of `syncsim run basic.json --seed <seed>` in a fresh process.
std::string hash_in_a_fresh_process(uint64_t seed) {
  const std::string cmd = std::string(SYNCSIM_BINARY) + " run " + SYNCSIM_SOURCE_DIR +
                          "/scenarios/catalog/basic.json --seed " + std::to_string(seed) +
                          " --json";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "cannot run " + cmd;
  std::string output;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) output += buf.data();
  std::smatch m;
  if (!std::regex_search(output, m, std::regex("\"trace_hash\": \"([0-9a-f]{16})\""))) {
    return "no trace_hash in: " + output;
  }
  return m[1].str();
}

// Basic over its seed budget, with two determinism checks on the same runs (they were
// Determinism.SameSeedTwiceGivesTheSameTraceHash and Determinism.SeedInsideASweepMatchesTheSeed-
// RunAlone, which ran these seeds again; docs/performance-ci.md "Quick suite toward 60 s
// (perf12)"):
//  - each of the first kDeterminismSeeds seeds is run twice and repeats its trace;
//  - seed 7, run after other seeds in this process, matches the same seed run alone in a fresh
//    process (SQLite's PRNG and the VFS are process-global; docs/architecture.md §2).
TEST(BasicScenario, PassesAllInvariantsOnEverySeedOfItsBudgetAndRepeatsItsTrace) {
  constexpr uint64_t kSweepSeed = 7;
  static_assert(kDeterminismSeeds <= kBasicSeeds && kSweepSeed <= kBasicSeeds);
  const Scenario s = basic();
  uint64_t acknowledged = 0, blocked = 0, barrier_checks = 0, ryw_checks = 0;
  std::set<std::string> hashes;
  for (uint64_t seed = 1; seed <= kBasicSeeds; ++seed) {
    RunResult r = run(s, seed);
    ASSERT_TRUE(r.passed) << "seed " << seed << ": "
                          << (r.violation ? r.violation->invariant + ": " + r.violation->message
                                          : describe(r));
    ASSERT_EQ(r.checks.at("converges"), 1u) << "seed " << seed;
    if (seed == kSweepSeed) {
      EXPECT_EQ(r.trace_hash, hash_in_a_fresh_process(seed));
    }
    acknowledged += r.metrics.at("acknowledged_writes");
    blocked += r.metrics.at("blocked_checkpoints");
    barrier_checks += r.checks.at("barrier-holds");
    ryw_checks += r.checks.at("read-your-writes");
    if (seed > kDeterminismSeeds) continue;
    // The same seed twice gives the same trace.
    RunResult again = run(s, seed);
    ASSERT_EQ(r.trace_hash, again.trace_hash) << "seed " << seed;
    ASSERT_EQ(r.trace_lines, again.trace_lines) << "seed " << seed;
    ASSERT_EQ(r.events, again.events) << "seed " << seed;
    hashes.insert(r.trace_hash);
  }
  EXPECT_EQ(hashes.size(), kDeterminismSeeds) << "different seeds must give different runs";
  // Not vacuous: the barrier blocked checkpoints, and acknowledged writes were re-read (per
  // seed at least 1, 10, 20 and 20; seeds 1..50 have at least 135, 86, 126 and 243).
  EXPECT_GT(blocked, 1 * kBasicSeeds);
  EXPECT_GT(acknowledged, 10 * kBasicSeeds);
  EXPECT_GT(barrier_checks, 20 * kBasicSeeds);
  EXPECT_GT(ryw_checks, 20 * kBasicSeeds);
}

struct MutantCase {
  const char* mutant;
  const char* invariant;
  bool only = false;  // check this invariant alone (another one would catch the bug first)
};

class MutantDetection : public ::testing::TestWithParam<MutantCase> {};

// Each invariant fails when it should: a switchable bug, off by default, is detected
// within 50 seeds, by the invariant it is meant to break.
TEST_P(MutantDetection, IsCaughtWithinFiftySeeds) {
  Scenario s = basic();
  s.mutants = {GetParam().mutant};
  if (GetParam().only) s.invariants = {GetParam().invariant};
  int detected_at = 0;
  for (uint64_t seed = 1; seed <= 50 && detected_at == 0; ++seed) {
    RunResult r = run(s, seed);
    if (!r.violation) continue;
    ASSERT_EQ(r.violation->invariant, GetParam().invariant)
        << "seed " << seed << ": " << r.violation->message;
    EXPECT_FALSE(r.passed);
    detected_at = static_cast<int>(seed);
  }
  EXPECT_GT(detected_at, 0) << GetParam().mutant << " was never detected";
}

INSTANTIATE_TEST_SUITE_P(
    Checkers, MutantDetection,
    // ack-before-replication by service-ack-after-replication and publish-while-blocked by
    // barrier-holds, with every invariant on, are mutation_score_test's entries for them on the
    // same scenario (within 5 seeds, with a passing twin; perf12 moved them there).
    ::testing::Values(MutantCase{"ack-before-replication", "read-your-writes", true},
                      MutantCase{"replication-stall", "converges", true},
                      // issue 14: the stuck target is the headline, judged before converges.
                      MutantCase{"replication-stall", "requests-complete"}),
    [](const auto& info) {
      std::string n = info.param.mutant;
      if (info.param.only) n += std::string("_only_") + info.param.invariant;
      for (auto& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

TEST(Mutants, AreOffByDefault) {
  EXPECT_TRUE(basic().mutants.empty());
  RunResult r = run(basic(), 3);
  EXPECT_TRUE(r.passed) << describe(r);
}

// A violation names the invariant, the time and the client, and the expectation of a
// known-unsafe variant is honoured.
TEST(Expectations, AViolationExpectedByTheScenarioMeetsItsExpectation) {
  Scenario s = basic();
  s.mutants = {"publish-while-blocked"};
  s.expect = Expectation{false, "barrier-holds"};
  RunResult r = run(s, 1);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_TRUE(r.expectation_met);
  EXPECT_FALSE(r.passed);
  EXPECT_GT(r.violation->at, 0);
  EXPECT_NE(r.violation->subject.find("client"), std::string::npos);
  s.expect = Expectation{false, "converges"};
  EXPECT_FALSE(run(s, 1).expectation_met);
}

TEST(Bounds, AnEventCapStopsTheRunWithAnExplanation) {
  RunOptions o;
  o.seed = 1;
  o.bounds.max_events = 500;
  RunResult r = run_scenario(basic(), o);
  EXPECT_EQ(r.stop.kind, sim::StopKind::Bound);
  EXPECT_NE(r.stop.message.find("event cap"), std::string::npos);
  EXPECT_NE(r.pending.find("client 1:"), std::string::npos) << r.pending;
  EXPECT_NE(r.pending.find("service:"), std::string::npos) << r.pending;
  EXPECT_FALSE(r.passed);
}

// Issue 17, docs/protocol.md §3.1.9 "Change feed" (getManagedWriteCheckpointChanges,
// MongoSyncBucketStorage.ts, v1.24.0): catalog change-feed-limit's 1200 and 1100 device keys
// processed between two checkpoints make each of the 3 open streams fall back to the lookup
// once per burst, and everything holds; 990 devices (with the clients' keys under the limit)
// make none fall back.
TEST(ChangeFeedLimit, OverAThousandDeviceKeysMakeEveryStreamFallBackAndAllHolds) {
  const Scenario s = test_support::catalog("change-feed-limit");
  const RunResult r = run(s, 1);
  EXPECT_TRUE(r.passed) << describe(r);
  // Determinism of change-feed-limit (hosted here, not in CatalogDeterminism).
  EXPECT_TRUE(test_support::repeats_its_trace(s, r, 1));
  ASSERT_TRUE(r.metrics.contains("change_feed_fallbacks")) << describe(r);
  EXPECT_EQ(r.metrics.at("change_feed_fallbacks"), 6u);
  Scenario at_limit = s;
  for (auto& f : at_limit.faults) {
    if (f.kind == FaultKind::ForeignRequest) f.devices = 990;  // + the 3 clients: < 1000
  }
  const RunResult under = run(at_limit, 1);
  EXPECT_TRUE(under.passed) << describe(under);
  EXPECT_FALSE(under.metrics.contains("change_feed_fallbacks"));
}

}  // namespace
}  // namespace syncsim::scenarios
