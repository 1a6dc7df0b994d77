// The CLI as a user (or CI) sees it: exit codes (docs/cli.md §1), readable errors that name
// the field, value and what is allowed, and the per-seed summary line.
#include <gtest/gtest.h>

#include <string>

#include "tests/cli_helpers.hpp"

namespace {

using syncsim::testing::Outcome;
using syncsim::testing::syncsim;
using syncsim::testing::write_temp;

std::string basic() { return syncsim::testing::catalog("basic"); }

TEST(Cli, VersionPrintsBuildIdAndPins) {
  Outcome o = syncsim("--version");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.output.find("syncsim 0.1.0+"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("core 0.5.3 sha256 a6de0c79"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("sqlite 3.54.1"), std::string::npos) << o.output;
}

TEST(Cli, RunPrintsOneSummaryLinePerSeedAndExitsZero) {
  Outcome o = syncsim("run " + basic() + " --seeds 1..2");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("seed=1 "), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("seed=2 "), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("PASS events="), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("hash="), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("2 passed, 0 failed"), std::string::npos) << o.output;
}

TEST(Cli, AnUnexpectedViolationExitsOneWithReproAndReplayCommand) {
  std::ifstream in(basic());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.rfind("\"expect\""), 0, "\"mutants\": [\"publish-while-blocked\"],\n  ");
  Outcome o = syncsim("run " + write_temp("mutant.json", text) + " --seed 1");
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("violated barrier-holds at t="), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("repro: syncsim:basic:"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("replay: syncsim run "), std::string::npos) << o.output;
}

TEST(Cli, BadScenarioExitsTwoNamingFieldValueAndAllowed) {
  Outcome o = syncsim("run " + write_temp("bad.json", R"({"format":1,"clients":{"count":0}})"));
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("clients.count"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("allowed"), std::string::npos) << o.output;
}

TEST(Cli, BadFlagsExitTwo) {
  EXPECT_EQ(syncsim("run " + basic() + " --seeds 5..1").exit_code, 2);
  EXPECT_EQ(syncsim("run " + basic() + " --seeds x").exit_code, 2);
  EXPECT_EQ(syncsim("run " + basic() + " --no-such-flag").exit_code, 2);
  EXPECT_EQ(syncsim("run").exit_code, 2);
  EXPECT_EQ(syncsim("run /nonexistent.json").exit_code, 2);
}

TEST(Cli, ValidateChecksWithoutRunning) {
  Outcome ok = syncsim("validate " + basic());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("ok (3 clients"), std::string::npos) << ok.output;
  Outcome bad = syncsim("validate " + write_temp("v.json", R"({"format":1,"nope":1})"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("nope"), std::string::npos) << bad.output;
}

TEST(Cli, TraceFileHasOneLinePerEventAndMatchesTheHashAcrossRuns) {
  std::string a = syncsim::testing::temp_path("a.trace"),
              b = syncsim::testing::temp_path("b.trace");
  ASSERT_EQ(syncsim("run " + basic() + " --seed 4 --trace " + a).exit_code, 0);
  ASSERT_EQ(syncsim("run " + basic() + " --seed 4 --trace " + b).exit_code, 0);
  std::ifstream fa(a), fb(b);
  std::string ta((std::istreambuf_iterator<char>(fa)), std::istreambuf_iterator<char>());
  std::string tb((std::istreambuf_iterator<char>(fb)), std::istreambuf_iterator<char>());
  EXPECT_GT(ta.size(), 1000u);
  EXPECT_EQ(ta, tb) << "same seed, same build: byte-identical trace";
}

}  // namespace
