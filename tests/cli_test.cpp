// The CLI as a user (or CI) sees it: exit codes (docs/cli.md §1), readable errors that name
// the field, value and what is allowed, and the per-seed summary line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli_helpers.hpp"

namespace {

using syncsim::testing::absent_temp_path;
using syncsim::testing::Outcome;
using syncsim::testing::syncsim;
using syncsim::testing::temp_path;
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
  std::string a = syncsim::testing::absent_temp_path("a.trace"),
              b = syncsim::testing::absent_temp_path("b.trace");
  ASSERT_EQ(syncsim("run " + basic() + " --seed 4 --trace " + a).exit_code, 0);
  ASSERT_EQ(syncsim("run " + basic() + " --seed 4 --trace " + b).exit_code, 0);
  std::ifstream fa(a), fb(b);
  std::string ta((std::istreambuf_iterator<char>(fa)), std::istreambuf_iterator<char>());
  std::string tb((std::istreambuf_iterator<char>(fb)), std::istreambuf_iterator<char>());
  EXPECT_GT(ta.size(), 1000u);
  EXPECT_EQ(ta, tb) << "same seed, same build: byte-identical trace";
}

// Outputs the tests read back go through absent_temp_path, so a file an earlier run left in
// the stable temp directory cannot stand in for one the CLI no longer writes.
TEST(CliHelpers, AbsentTempPathRemovesAFileADirectoryAndTheTraceSeedFiles) {
  namespace fs = std::filesystem;
  const std::string name = "absent-probe.trace", path = temp_path(name);
  std::ofstream(path) << "stale";
  ASSERT_TRUE(fs::is_regular_file(path));
  EXPECT_EQ(absent_temp_path(name), path);
  EXPECT_FALSE(fs::exists(path));

  fs::create_directories(path + "/sub");
  std::ofstream(path + "/sub/findings.json") << "stale";
  EXPECT_EQ(absent_temp_path(name), path);
  EXPECT_FALSE(fs::exists(path));

  // The per-seed files of `--trace FILE` over a range go too; look-alikes stay.
  ASSERT_EQ(syncsim("run " + basic() + " --seeds 1..2 --trace " + path).exit_code, 0);
  ASSERT_TRUE(fs::is_regular_file(path + ".1"));
  ASSERT_TRUE(fs::is_regular_file(path + ".2"));
  for (const auto* other : {".md", ".1.md", "2"}) std::ofstream(path + other) << "keep";
  EXPECT_EQ(absent_temp_path(name), path);
  EXPECT_FALSE(fs::exists(path + ".1"));
  EXPECT_FALSE(fs::exists(path + ".2"));
  for (const auto* other : {".md", ".1.md", "2"}) {
    EXPECT_TRUE(fs::exists(path + other)) << other;
    fs::remove(path + other);
  }
  EXPECT_EQ(absent_temp_path(name), path) << "nothing there is fine too";
}

}  // namespace
