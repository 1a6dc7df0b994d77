// Determinism (docs/architecture.md §2): every catalog scenario gives byte-identical traces when a
// seed is run twice (SYNCSIM_SEED_BUDGET seeds each: 1 in quick, 10 in long; in quick, the
// scenarios of hosted_elsewhere() are checked by the test named there), and the divergence
// finder behind `--check-determinism` names the first differing event.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "scenarios/world/determinism.hpp"
#include "tests/support/scenario_helpers.hpp"

#ifndef SYNCSIM_SEED_BUDGET
#define SYNCSIM_SEED_BUDGET 1
#endif

namespace syncsim::scenarios {
namespace {

TEST(FirstDivergence, IsNoneForIdenticalTraces) {
  EXPECT_FALSE(first_divergence("1 a x\n2 b y\n", "1 a x\n2 b y\n"));
}

TEST(FirstDivergence, NamesTheFirstDifferingLineWithContext) {
  auto d = first_divergence("1 a\n2 b\n3 c\n4 d\n", "1 a\n2 b\n3 C\n4 d\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->line, 3u);
  EXPECT_EQ(d->first, "3 c");
  EXPECT_EQ(d->second, "3 C");
  EXPECT_EQ(d->context, (std::vector<std::string>{"1 a", "2 b"}));
}

TEST(FirstDivergence, ReportsATraceThatEndsEarly) {
  auto d = first_divergence("1 a\n2 b\n", "1 a\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->line, 2u);
  EXPECT_EQ(d->first, "2 b");
  EXPECT_EQ(d->second, "<end of trace>");
}

// The check can fail: two runs that do differ (here: two seeds) are reported with the
// first event where they part.
TEST(FirstDivergence, FindsWhereTwoDifferentRunsPart) {
  const Scenario s = test_support::catalog("basic");
  std::ostringstream traces[2];
  for (int i = 0; i < 2; ++i) {
    RunOptions o;
    o.seed = static_cast<uint64_t>(i + 1);
    o.trace_sink = &traces[i];
    run_scenario(s, o);
  }
  auto d = first_divergence(traces[0].str(), traces[1].str());
  ASSERT_TRUE(d);
  EXPECT_GE(d->line, 1u);
  EXPECT_NE(d->first, d->second);
}

// Catalog scenarios whose seed-1 determinism another quick test checks on a run it makes anyway
// (test_support::repeats_its_trace or its own double run), with that test: CatalogDeterminism
// would run them twice more (docs/performance-ci.md "Quick suite toward 60 s (perf12)").  The
// long twin (SYNCSIM_SEED_BUDGET > 1) checks every scenario itself.
const std::map<std::string, std::string>& hosted_elsewhere() {
  static const std::map<std::string, std::string> hosted = {
      {"basic", "BasicScenario.PassesAllInvariantsOnEverySeedOfItsBudgetAndRepeatsItsTrace"},
      {"basic-legacy", "BasicLegacy.PassesEverySeedOfItsBudgetAndIsDeterministic"},
      {"change-feed-limit",
       "ChangeFeedLimit.OverAThousandDeviceKeysMakeEveryStreamFallBackAndAllHolds"},
      {"compaction-v3-checksums", "StreamWakeIndex.CallingOnlyTheConcernedWatchersKeepsTheTrace"},
      {"config-reprocessing",
       "Catalog/StreamWake.ClientsObserveWhatTheyObservedWhenEveryCheckpointWokeEveryStream/"
       "config_reprocessing"},
      {"custom-write-checkpoints",
       "Catalog/StreamWake.ClientsObserveWhatTheyObservedWhenEveryCheckpointWokeEveryStream/"
       "custom_write_checkpoints"},
      {"downgrade", "Catalog/LifecycleCatalog.PassesEverySeed/downgrade"},
      {"kill", "Catalog/LifecycleCatalog.PassesEverySeed/kill"},
      {"mixed-fleet", "Catalog/LifecycleCatalog.PassesEverySeed/mixed_fleet"},
      {"power-loss", "Catalog/LifecycleCatalog.PassesEverySeed/power_loss"},
      {"request-hiding-lag", "Reports.RequestHidingLagEndToEnd"},
      {"restart", "Catalog/LifecycleCatalog.PassesEverySeed/restart"},
      {"service-faults", "ServiceFaults.EveryFaultKindHealsAndHappened"},
      {"storm-mongo", "StormTwins.PostgresWritesMoreSourceMarkersThanMongo"},
      {"storm-postgres", "StormTwins.PostgresWritesMoreSourceMarkersThanMongo"},
      {"stream-churn", "StreamChurn.CatalogScenarioHoldsAndIsNotVacuous"},
      {"switch-mode", "Catalog/LifecycleCatalog.PassesEverySeed/switch_mode"},
      {"switch-user", "StreamWakeIndex.CallingOnlyTheConcernedWatchersKeepsTheTrace"},
      {"upgrade", "Catalog/LifecycleCatalog.PassesEverySeed/upgrade"},
  };
  return hosted;
}

std::vector<std::string> catalog_files(bool all = SYNCSIM_SEED_BUDGET > 1) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SYNCSIM_SOURCE_DIR) +
                                                           "/scenarios/catalog")) {
    if (e.path().extension() != ".json") continue;
    if (!all && hosted_elsewhere().contains(e.path().stem().string())) continue;
    out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());  // directory order is unspecified
  return out;
}

TEST(CatalogFiles, AreFound) { ASSERT_GE(catalog_files().size(), 5u); }

// Every scenario left to another test is a catalog file (a renamed one would lose its check).
TEST(CatalogFiles, EveryDeterminismCheckHostedElsewhereNamesAFile) {
  const auto all = catalog_files(true);
  for (const auto& [name, test] : hosted_elsewhere()) {
    const std::string file =
        std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json";
    EXPECT_TRUE(std::find(all.begin(), all.end(), file) != all.end())
        << name << " (" << test << ")";
  }
  EXPECT_EQ(catalog_files(false).size() + hosted_elsewhere().size(), all.size());
}

// One test per scenario, so that ctest spreads the catalog over its jobs.
class CatalogDeterminism : public ::testing::TestWithParam<std::string> {};

TEST_P(CatalogDeterminism, RepeatsItsTraceByteForByte) {
  const std::string& file = GetParam();
  const Scenario s = load_scenario_file(file, validation_context());
  for (uint64_t seed = 1; seed <= SYNCSIM_SEED_BUDGET; ++seed) {
    const DeterminismReport r = check_determinism(s, seed);
    EXPECT_FALSE(r.divergence) << file << "\n" << describe(r);
    EXPECT_EQ(r.hash_first, r.hash_second) << file << " seed " << seed;
    EXPECT_GT(r.lines, 40u) << file << " seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Catalog, CatalogDeterminism, ::testing::ValuesIn(catalog_files()),
                         [](const auto& info) {
                           std::string n = std::filesystem::path(info.param).stem().string();
                           for (auto& ch : n) {
                             if (ch == '-' || ch == '.') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace syncsim::scenarios
