// syncsim sweep and merge (issue 5): worker processes give the same results whatever
// --jobs, shards merged equal the full sweep, failures reach the summary, the exit code and
// JUnit, and merge refuses overlapping shards and mismatched builds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scenarios/results.hpp"
#include "tests/cli_helpers.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
using testing::Outcome;
using testing::syncsim;

// basic with a mutant that fails seed 1 (cli_test), as its own scenario name.
std::string mutant_basic() {
  auto j = json::parse(testing::read_file(testing::catalog("basic")));
  j["name"] = "basic-mutant";
  j["mutants"] = {"publish-while-blocked"};
  return testing::write_temp("basic-mutant.json", j.dump(2));
}

json results(const std::string& path) {
  return scenarios::strip_wall_times(json::parse(testing::read_file(path)));
}

TEST(Sweep, JobsOneAndJobsTwoGiveIdenticalResults) {
  const std::string scenarios = testing::catalog("basic") + " " + mutant_basic();
  const auto r1 = testing::temp_path("sweep-j1.json"), r2 = testing::temp_path("sweep-j2.json");
  Outcome a = syncsim("sweep " + scenarios + " --seeds 1..4 --jobs 1 --results " + r1);
  Outcome b = syncsim("sweep " + scenarios + " --seeds 1..4 --jobs 2 --results " + r2);
  EXPECT_EQ(a.exit_code, 1) << a.output;  // the mutant's expect (pass) fails
  EXPECT_EQ(b.exit_code, 1) << b.output;
  const json ja = results(r1), jb = results(r2);
  EXPECT_EQ(ja, jb);
  ASSERT_EQ(ja["runs"].size(), 8u);
  // Ordered by scenario, then seed.
  EXPECT_EQ(ja["runs"][0]["scenario"], "basic");
  EXPECT_EQ(ja["runs"][3]["seed"], 4);
  EXPECT_EQ(ja["runs"][4]["scenario"], "basic-mutant");
  EXPECT_EQ(ja["runs"][4]["seed"], 1);
  EXPECT_EQ(ja["passed"], 4);
  EXPECT_EQ(ja["failed"], 4) << "publish-while-blocked fails every seed of basic";
  // The summary table names the first failing seed with its repro.
  EXPECT_NE(a.output.find("basic-mutant"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("1 (barrier-holds)  repro: syncsim:basic-mutant:"), std::string::npos)
      << a.output;
  EXPECT_NE(a.output.find("sweep: 8/8 seeds, 4 failed"), std::string::npos) << a.output;
}

TEST(Sweep, RunsTheSameSeedAsRunDoes) {
  const auto r = testing::temp_path("sweep-one.json"), q = testing::temp_path("run-one.json");
  ASSERT_EQ(
      syncsim("sweep " + testing::catalog("basic") + " --seeds 3..3 --results " + r).exit_code, 0);
  ASSERT_EQ(syncsim("run " + testing::catalog("basic") + " --seed 3 --results " + q).exit_code, 0);
  EXPECT_EQ(results(r)["runs"][0]["trace_hash"], results(q)["runs"][0]["trace_hash"]);
}

TEST(Sweep, JunitHasOneTestcasePerSeedAndTheFailure) {
  const auto x = testing::temp_path("sweep.xml");
  Outcome o = syncsim("sweep " + mutant_basic() + " --seeds 1..2 --jobs 2 --junit " + x);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  const auto xml = testing::read_file(x);
  EXPECT_NE(xml.find("<testsuite name=\"basic-mutant\" tests=\"2\" failures=\"2\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"seed=2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"violated barrier-holds"), std::string::npos) << xml;
  EXPECT_NE(xml.find("repro: syncsim:basic-mutant:"), std::string::npos) << xml;
}

TEST(Sweep, ShardsMergedEqualTheFullSweep) {
  const std::string s = testing::catalog("basic") + " " + mutant_basic();
  const auto full = testing::temp_path("full.json"), s1 = testing::temp_path("shard1.json"),
             s2 = testing::temp_path("shard2.json"), merged = testing::temp_path("merged.json");
  syncsim("sweep " + s + " --seeds 1..5 --jobs 2 --results " + full);
  syncsim("sweep " + s + " --seeds 1..5 --jobs 2 --shard 1/2 --results " + s1);
  syncsim("sweep " + s + " --seeds 1..5 --jobs 2 --shard 2/2 --results " + s2);
  const json j1 = results(s1);
  ASSERT_EQ(j1["runs"].size(), 6u);  // seeds 1, 3, 5 of each scenario
  EXPECT_EQ(j1["runs"][1]["seed"], 3);
  EXPECT_EQ(results(s2)["runs"].size(), 4u);
  Outcome m = syncsim("merge " + s2 + " " + s1 + " --results " + merged);
  EXPECT_EQ(m.exit_code, 1) << m.output;  // the merged results contain failures
  json jf = results(full);
  EXPECT_EQ(results(merged), jf);
}

TEST(Merge, RefusesOverlappingShards) {
  const auto a = testing::temp_path("ov-a.json"), b = testing::temp_path("ov-b.json");
  syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --results " + a);
  syncsim("sweep " + testing::catalog("basic") + " --seeds 2..3 --results " + b);
  Outcome m = syncsim("merge " + a + " " + b);
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_NE(m.output.find("basic seed 2 occurs twice"), std::string::npos) << m.output;
}

TEST(Merge, RefusesMismatchedBuilds) {
  const auto a = testing::temp_path("b-a.json");
  syncsim("sweep " + testing::catalog("basic") + " --seeds 1..1 --results " + a);
  auto j = json::parse(testing::read_file(a));
  j["build"] = "0.0.0+elsewhere";
  for (auto& r : j["runs"]) r["seed"] = 99;
  const auto b = testing::write_temp("b-b.json", j.dump());
  Outcome m = syncsim("merge " + a + " " + b);
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_NE(m.output.find("builds differ"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("0.0.0+elsewhere"), std::string::npos) << m.output;
}

TEST(Merge, RefusesSomethingThatIsNotResults) {
  Outcome m = syncsim("merge " + testing::write_temp("nr.json", R"({"format":1})"));
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_NE(m.output.find("not a syncsim results document"), std::string::npos) << m.output;
  EXPECT_EQ(syncsim("merge " + testing::write_temp("nj.json", "{")).exit_code, 2);
  EXPECT_EQ(syncsim("merge /nonexistent.json").exit_code, 2);
}

TEST(Sweep, BadFlagsExitTwoWithAMessage) {
  const auto b = testing::catalog("basic");
  Outcome o = syncsim("sweep " + b + " --seeds 1..2 --shard 3/2");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("--shard: '3/2'"), std::string::npos) << o.output;
  EXPECT_EQ(syncsim("sweep " + b + " --seeds 2..1").exit_code, 2);
  EXPECT_EQ(syncsim("sweep " + b).exit_code, 2);  // --seeds is required
  EXPECT_EQ(syncsim("sweep " + b + " --seeds 1..2 --jobs 0").exit_code, 2);
  EXPECT_EQ(syncsim("sweep /nonexistent.json --seeds 1..2").exit_code, 2);
  Outcome twice = syncsim("sweep " + b + " " + b + " --seeds 1..2");
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.output.find("are both named 'basic'"), std::string::npos) << twice.output;
  Outcome h = syncsim("sweep --help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.output.find("--shard"), std::string::npos) << h.output;
}

}  // namespace
}  // namespace syncsim
