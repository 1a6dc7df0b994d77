// syncsim replay and run --check-determinism (issue 5): a repro printed by a failing run
// replays bit for bit, a different build is reported, a malformed repro exits 2, and the
// determinism check reports per seed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "scenarios/results/repro.hpp"
#include "tests/cli_helpers.hpp"
#include "tests/support/mutant_scenario_file.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
using testing::Outcome;
using testing::syncsim;

// One file per test: ctest -j2 runs these tests side by side, and a file rewritten while
// another test's run or replay reads it made that test fail.
std::string mutant_basic() {
  return test_support::failing_basic_file(
      std::string("replay-mutant-") +
      ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
}

std::string repro_of(const std::string& output) {
  std::smatch m;
  static const std::regex kRepro(R"(repro: (syncsim:\S+))");
  return std::regex_search(output, m, kRepro) ? m[1].str() : "";
}

TEST(Replay, AFailingRunsReproReplaysBitForBit) {
  Outcome run = syncsim("run " + mutant_basic() + " --seed 2");
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const std::string repro = repro_of(run.output);
  ASSERT_NE(repro.find(":hash="), std::string::npos) << run.output;
  Outcome o = syncsim("replay '" + repro + "'");
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("violated barrier-holds"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("bit-for-bit identical"), std::string::npos) << o.output;
  EXPECT_EQ(o.output.find("note:"), std::string::npos) << "same build: " << o.output;
}

TEST(Replay, SaysWhenTheBuildOrTheTraceDiffers) {
  Outcome run = syncsim("run " + mutant_basic() + " --seed 2");
  auto r = scenarios::parse_repro(repro_of(run.output));
  r.build = "0.0.0+elsewhere";
  r.hash = "0123456789abcdef";
  Outcome o = syncsim("replay '" + scenarios::format_repro(r) + "'");
  EXPECT_EQ(o.exit_code, 1) << "another build: still runs; " << o.output;
  EXPECT_NE(o.output.find("recorded by build 0.0.0+elsewhere"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("DIVERGED from the recorded run"), std::string::npos) << o.output;
  // Same build, other hash: the run is not the recorded one, an internal error.
  auto same = scenarios::parse_repro(repro_of(run.output));
  same.hash = "0123456789abcdef";
  EXPECT_EQ(syncsim("replay '" + scenarios::format_repro(same) + "'").exit_code, 3);
}

TEST(Replay, APassingSeedReplaysToPass) {
  Outcome run = syncsim("run " + testing::catalog("basic") + " --seed 1 --json");
  ASSERT_EQ(run.exit_code, 0);
  const auto repro = json::parse(run.output)["runs"][0]["repro"].get<std::string>();
  Outcome o = syncsim("replay '" + repro + "'");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("basic seed=1 PASS"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("bit-for-bit identical"), std::string::npos) << o.output;
}

TEST(Replay, AMalformedReproExitsTwoWithTheExpectedForm) {
  for (const char* bad :
       {"nonsense", "syncsim:basic", "syncsim:basic:x.json:seed=abc:build=1",
        "syncsim:basic:x.json:seed=1", "syncsim:basic:x.json:seed=1:build=b:hash=zz"}) {
    Outcome o = syncsim(std::string("replay '") + bad + "'");
    EXPECT_EQ(o.exit_code, 2) << bad << ": " << o.output;
    EXPECT_NE(o.output.find("expected syncsim:<name>:<scenario path>:seed=<n>"), std::string::npos)
        << o.output;
  }
  Outcome missing = syncsim("replay 'syncsim:basic:/nonexistent.json:seed=1:build=x'");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("cannot read /nonexistent.json"), std::string::npos)
      << missing.output;
  EXPECT_EQ(syncsim("replay").exit_code, 2);
}

TEST(CheckDeterminism, RunReportsEachSeedDeterministic) {
  Outcome o = syncsim("run " + testing::catalog("basic") + " --seeds 1..2 --check-determinism");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("seed 1: deterministic ("), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("seed 2: deterministic ("), std::string::npos) << o.output;
  // The failing verdict survives the check.
  EXPECT_EQ(syncsim("run " + mutant_basic() + " --seed 1 --check-determinism").exit_code, 1);
}

TEST(CheckDeterminism, SweepReportsNoDivergence) {
  Outcome o =
      syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --jobs 2 --check-determinism");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("determinism: 0 of 2 runs diverged"), std::string::npos) << o.output;
}

// The worked example of the README: shrink a failing repro, replay the shrunk one.
TEST(ShrinkCli, WritesAScenarioWhoseReproReplaysToTheSameViolation) {
  Outcome run = syncsim("run " + mutant_basic() + " --seed 1");
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const auto out = testing::absent_temp_path("shrunk.json");
  Outcome s = syncsim("shrink '" + repro_of(run.output) + "' --max-attempts 60 --out " + out);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_NE(s.output.find("still violates barrier-holds"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("shrink: attempt 1/60"), std::string::npos) << s.output;
  const std::string repro = repro_of(s.output);
  ASSERT_NE(repro.find(out), std::string::npos) << s.output;
  EXPECT_EQ(syncsim("validate " + out).exit_code, 0);
  Outcome o = syncsim("replay '" + repro + "'");
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("violated barrier-holds"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("bit-for-bit identical"), std::string::npos) << o.output;
}

TEST(ShrinkCli, RefusesAPassingSeedAndBadInput) {
  Outcome run = syncsim("run " + testing::catalog("basic") + " --seed 1 --json");
  const auto repro = json::parse(run.output)["runs"][0]["repro"].get<std::string>();
  Outcome o = syncsim("shrink '" + repro + "'");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("nothing to shrink"), std::string::npos) << o.output;
  EXPECT_EQ(syncsim("shrink not-a-repro").exit_code, 2);
  EXPECT_EQ(syncsim("shrink '" + repro + "' --max-attempts 0").exit_code, 2);
}

}  // namespace
}  // namespace syncsim
