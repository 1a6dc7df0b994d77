// Repros that travel (issue 18): a repro names its scenario by content hash; `replay
// --scenario` takes a moved copy and refuses a different file; `sweep --findings DIR` saves
// failing repros in the hunt findings format with a copy of the scenario, so a moved DIR is
// re-run by `replay --all` (CI exit code) and read by `report`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli_helpers.hpp"

namespace syncsim {
namespace {

namespace fs = std::filesystem;
using testing::absent_temp_path;
using testing::catalog;
using testing::read_file;
using testing::syncsim;

std::optional<std::string> scenarios_hash_of(const std::string& repro) {
  const auto at = repro.find(":scenario=");
  if (at == std::string::npos) return std::nullopt;
  return repro.substr(at + 10, 16);
}

TEST(FindingsCli, SweepFindingsTravelAndReplayAll) {
  auto j = nlohmann::json::parse(read_file(catalog("basic")));
  j["name"] = "travel";
  j["mutants"] = {"ack-before-replication"};
  // One invariant judges, so both seeds are one finding whatever else the mutant breaks.
  j["invariants"] = {"service-ack-after-replication"};
  const auto scenario = testing::write_temp("travel.json", j.dump(2));
  const auto dir = absent_temp_path("travel-findings");
  auto sweep = syncsim("sweep " + scenario + " --seeds 1..2 --jobs 1 --findings " + dir);
  ASSERT_EQ(sweep.exit_code, 1) << sweep.output;
  const auto doc = nlohmann::json::parse(read_file(dir + "/findings.json"));
  EXPECT_EQ(doc["source"], "sweep");
  EXPECT_EQ(doc["failed"], 2);
  ASSERT_EQ(doc["findings"].size(), 1u) << doc.dump(2);
  const auto& f = doc["findings"][0];
  EXPECT_EQ(f["seeds"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(f["signature"]["invariant"], "service-ack-after-replication");
  const std::string repro = f["repro"];
  EXPECT_NE(repro.find(":scenario="), std::string::npos) << repro;
  EXPECT_TRUE(fs::exists(dir + "/" + f["scenario_file"].get<std::string>()));
  EXPECT_TRUE(fs::exists(dir + "/findings.md"));

  // Move the directory and remove the original scenario: the findings still replay.
  const auto moved = absent_temp_path("travel-moved");
  fs::rename(dir, moved);
  fs::remove(scenario);
  auto all = syncsim("replay --all " + moved);
  EXPECT_EQ(all.exit_code, 1) << all.output;
  EXPECT_NE(all.output.find("1 findings, 1 still fail, 0 pass now, 0 errors"), std::string::npos)
      << all.output;
  EXPECT_NE(all.output.find("bit-for-bit identical"), std::string::npos) << all.output;

  // replay --scenario: the moved copy is accepted, another file refused naming both hashes.
  const auto copy = moved + "/" + f["scenario_file"].get<std::string>();
  auto one = syncsim("replay '" + repro + "' --scenario " + copy);
  EXPECT_EQ(one.exit_code, 1) << one.output;
  EXPECT_NE(one.output.find("bit-for-bit identical"), std::string::npos) << one.output;
  auto other = syncsim("replay '" + repro + "' --scenario " + catalog("basic"));
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("different scenario file"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find(*scenarios_hash_of(repro)), std::string::npos) << other.output;

  // report reads the findings directory: each finding replayed, explained, with its twin.
  const auto md = absent_temp_path("travel-report.md");
  auto rep = syncsim("report " + moved + " --out " + md);
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  const auto text = read_file(md);
  EXPECT_NE(text.find("finding-1-travel"), std::string::npos) << text.substr(0, 800);
  EXPECT_NE(text.find("What the invariant compared:"), std::string::npos);
  EXPECT_NE(text.find("The runs first part at trace line"), std::string::npos);

  // Bad input: not a findings directory.
  auto bad = syncsim("replay --all " + absent_temp_path("no-such-findings"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("findings.json"), std::string::npos) << bad.output;
}

// sweep --fail-fast / --max-failures: no chunk starts once the limit is reached; the document
// says it is partial and which seeds did not run.
TEST(SweepCli, FailFastStopsStartingSeeds) {
  const auto results = absent_temp_path("sweep-fail-fast.json");
  auto o =
      syncsim("sweep " + catalog("basic") +
              " --seeds 1..12 --jobs 1 --fail-fast --set 'mutants=[\"ack-before-replication\"]'"
              " --results " +
              results);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("stopped after"), std::string::npos) << o.output;
  const auto doc = nlohmann::json::parse(read_file(results));
  EXPECT_LT(doc["runs"].size(), 12u);
  EXPECT_TRUE(doc.value("partial", false));
  EXPECT_TRUE(doc["seeds_not_run"].contains("basic")) << doc["seeds_not_run"].dump();
  auto both = syncsim("sweep " + catalog("basic") + " --seeds 1..2 --fail-fast --max-failures 2");
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

}  // namespace
}  // namespace syncsim
