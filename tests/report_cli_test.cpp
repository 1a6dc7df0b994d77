// `syncsim report` on every results document syncsim writes: a sharded sweep merged into one
// document gives one report (issue 18), and a multi-scenario sweep one report per scenario.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_helpers.hpp"
#include "scenarios/results/results.hpp"

namespace syncsim {
namespace {

using testing::absent_temp_path;
using testing::catalog;
using testing::read_file;
using testing::syncsim;
using testing::write_temp;

TEST(ReportCli, ShardedSweepMergedGivesOneReport) {
  const auto s1 = absent_temp_path("report-shard1.json"),
             s2 = absent_temp_path("report-shard2.json");
  const auto merged = absent_temp_path("report-merged.json");
  for (const auto& [shard, out] : {std::pair{"1/2", s1}, {"2/2", s2}}) {
    auto o = syncsim("sweep " + catalog("basic") + " --seeds 1..4 --shard " + shard +
                     " --results " + out);
    ASSERT_EQ(o.exit_code, 0) << o.output;
  }
  auto m = syncsim("merge " + s1 + " " + s2 + " --results " + merged);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const auto html = absent_temp_path("report-merged.html"),
             md = absent_temp_path("report-merged.md");
  auto r = syncsim("report " + merged + " --out " + html);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto page = read_file(html);
  EXPECT_NE(page.find("syncsim report: basic"), std::string::npos);
  EXPECT_NE(page.find("1..4: 4 as expected, 0 not"), std::string::npos);
  // A shard alone is a report too, over its own seeds.
  auto one = syncsim("report " + s2 + " --out " + md);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(read_file(md).find("as expected"), std::string::npos);
}

// `hunt --findings` writes the findings format `report DIR` reads (as `sweep --findings` does,
// tests/findings_cli_test.cpp): each finding replayed with its explanation and twin.
TEST(ReportCli, ReadsAHuntFindingsDirectory) {
  auto j = nlohmann::json::parse(read_file(catalog("world")));
  j["name"] = "world-report";
  j["mutants"] = {"ack-before-replication"};
  auto& w = j["swarm"]["world"]["weights"];
  w["duration"] = {{"short", 1}};
  w["service.replication_lag"] = {{"short", 1}};
  w["fleet.groups"] = {{"1", 1}};
  // Not a MySQL source: its idle-binlog requests are a second finding (W41), and this test
  // reads the report of exactly one.
  w["service.source"] = {{"postgres", 1}};
  j["swarm"]["world"]["fault_counts"] = {
      {"service", {0, 0}}, {"network", {0, 0}}, {"lifecycle", {0, 0}}, {"records", {0, 0}}};
  const auto world = write_temp("report-hunt-world.json", j.dump(2));
  const auto known = write_temp("report-hunt-known.json", R"({"format": 1, "known": []})");
  const auto dir = absent_temp_path("report-hunt-findings");
  auto h = syncsim("hunt " + world + " --seeds 1..6 --jobs 1 --max-shrink 0 --known " + known +
                   " --findings " + dir);
  ASSERT_EQ(h.exit_code, 1) << h.output;
  const auto doc = nlohmann::json::parse(read_file(dir + "/findings.json"));
  ASSERT_GE(doc["findings"].size(), 1u) << doc.dump(2).substr(0, 800);
  const auto md = absent_temp_path("report-hunt.md");
  auto r = syncsim("report " + dir + " --out " + md);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // One finding: its report is the --out file itself.
  const auto text = read_file(md);
  EXPECT_NE(text.find("# syncsim report: finding-1-world-report"), std::string::npos)
      << text.substr(0, 800);
  EXPECT_NE(text.find("## Why seed"), std::string::npos) << text.substr(0, 800);
  EXPECT_NE(text.find("What the invariant compared:"), std::string::npos);
  EXPECT_NE(text.find("How it came about"), std::string::npos);
  EXPECT_NE(text.find("The runs first part at trace line"), std::string::npos);
}

TEST(ReportCli, MultiScenarioSweepWritesOneReportPerScenario) {
  const auto results = absent_temp_path("report-multi.json");
  auto o = syncsim("sweep " + catalog("basic") + " " + catalog("basic-legacy") +
                   " --seeds 1..2 --results " + results);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  auto no_out = syncsim("report " + results);
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.output.find("2 scenarios"), std::string::npos) << no_out.output;
  const auto out = absent_temp_path("report-multi.md");
  const auto basic_md = absent_temp_path("report-multi.basic.md"),
             legacy_md = absent_temp_path("report-multi.basic-legacy.md");
  auto r = syncsim("report " + results + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read_file(basic_md).find("basic"), std::string::npos);
  EXPECT_NE(read_file(legacy_md).find("legacy"), std::string::npos);
  // --compare needs one scenario per input.
  auto c = syncsim("report --compare " + results + " " + results + " --out " + out);
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_NE(c.output.find("one scenario per input"), std::string::npos) << c.output;

  // A sweep document without the scenario headers (an older build) is refused by name.
  auto doc = nlohmann::json::parse(read_file(results));
  doc.erase("scenarios");
  const auto old = write_temp("report-old.json", doc.dump());
  auto refused = syncsim("report " + old + " --out " + absent_temp_path("report-old.md"));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.output.find("no header for it"), std::string::npos) << refused.output;
}

// Discovery: each list names its items with a one-line statement.
TEST(ListCli, ListsEverythingWithStatements) {
  auto inv = syncsim("list invariants");
  ASSERT_EQ(inv.exit_code, 0) << inv.output;
  EXPECT_NE(inv.output.find("read-your-writes"), std::string::npos);
  auto mutants = syncsim("list mutants");
  ASSERT_EQ(mutants.exit_code, 0) << mutants.output;
  std::size_t lines = 0, start = 0;
  while (start < mutants.output.size()) {
    const auto end = mutants.output.find('\n', start);
    const auto line = mutants.output.substr(start, end - start);
    const auto gap = line.find("  ");
    ASSERT_NE(gap, std::string::npos) << line;
    EXPECT_GT(line.find_first_not_of(' ', gap), gap) << "no statement: " << line;
    EXPECT_LT(line.find_first_not_of(' ', gap), line.size()) << "no statement: " << line;
    ++lines;
    start = end + 1;
  }
  // 23 + fsync-lies (storage) + connection-slot-leak, custom-checkpoint-before-replication,
  // stopped-config-keeps-streams, clear-loses-checksum, torn-read-skips-op,
  // straddled-checksum-served (issue 17) + complete-despite-invalidation (consistent-checkpoint)
  // + stream-end-unseen (js-real's no-wedge)
  EXPECT_EQ(lines, 32u);
  for (const auto* what : {"faults", "sometimes", "metrics"}) {
    auto o = syncsim(std::string("list ") + what);
    EXPECT_EQ(o.exit_code, 0) << what << o.output;
    EXPECT_GT(o.output.size(), 100u) << what;
  }
  auto scenarios =
      syncsim("list scenarios --dir " + std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog");
  ASSERT_EQ(scenarios.exit_code, 0) << scenarios.output;
  EXPECT_NE(scenarios.output.find("request-interval-lag-mongo.json"), std::string::npos);
  EXPECT_EQ(syncsim("list nothing").exit_code, 2);
}

// --set and --invariants change the scenario without editing it; bad keys exit 2 by name;
// --fail-fast stops the seed range at the first failing seed.
TEST(SelectionCli, SetInvariantsAndFailFast) {
  const auto results = absent_temp_path("set.json");
  auto o = syncsim("run " + catalog("basic") +
                   " --seed 1 --set duration_s=50 --set service.flavour=postgres --invariants "
                   "converges,read-your-writes --results " +
                   results);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("overrides: duration_s=50 service.flavour=postgres"), std::string::npos)
      << o.output;
  const auto doc = nlohmann::json::parse(read_file(results));
  EXPECT_EQ(doc["scenario"]["duration_s"], 50);
  EXPECT_EQ(doc["scenario"]["service"]["flavour"], "postgres");
  EXPECT_EQ(doc["invariants"].size(), 2u) << doc["invariants"].dump();
  auto bad = syncsim("run " + catalog("basic") + " --set workload.nope=1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("workload.nope"), std::string::npos) << bad.output;
  auto bad_inv = syncsim("run " + catalog("basic") + " --invariants converges,nope");
  EXPECT_EQ(bad_inv.exit_code, 2);
  EXPECT_NE(bad_inv.output.find("\"nope\" is not a known invariant"), std::string::npos)
      << bad_inv.output;
  auto ff = syncsim("run " + catalog("basic") +
                    " --seeds 1..5 --fail-fast --set 'mutants=[\"ack-before-replication\"]'");
  EXPECT_EQ(ff.exit_code, 1) << ff.output;
  EXPECT_NE(ff.output.find("stopped after 1 failing seed(s)"), std::string::npos) << ff.output;
  EXPECT_EQ(ff.output.find("VACUOUS"), std::string::npos) << ff.output;
  const auto sweep_results = absent_temp_path("set-sweep.json");
  auto sweep = syncsim("sweep " + catalog("basic") +
                       " --seeds 1..2 --set duration_s=50 --invariants converges --results " +
                       sweep_results);
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  const auto sd = nlohmann::json::parse(read_file(sweep_results));
  EXPECT_EQ(sd["scenarios"]["basic"]["scenario"]["duration_s"], 50);
  EXPECT_EQ(sd["scenarios"]["basic"]["invariants"].size(), 1u)
      << sd["scenarios"]["basic"]["invariants"].dump();
}

// A failing mutant run explains itself: the trace header names the mutant, the results
// carry the twin (same seed, no mutant) with the first divergent trace line, and the report
// shows both under "Why seed N failed".
TEST(TwinCli, FailingMutantRunHasItsTwinInTheReport) {
  const auto results = absent_temp_path("twin.json"), trace = absent_temp_path("twin-trace.txt");
  auto o = syncsim("run " + catalog("basic") +
                   " --seed 1 --set 'mutants=[\"ack-before-replication\"]' --trace " + trace +
                   " --results " + results);
  ASSERT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("twin (seed 1 without mutants ack-before-replication): PASS"),
            std::string::npos)
      << o.output;
  EXPECT_NE(read_file(trace).find("MUTANTS ack-before-replication"), std::string::npos);
  const auto doc = nlohmann::json::parse(read_file(results));
  const auto& twin = doc["runs"][0]["twin"];
  ASSERT_TRUE(twin.is_object()) << doc["runs"][0].dump().substr(0, 500);
  EXPECT_TRUE(twin["twin_passed"].get<bool>());
  EXPECT_GT(twin["line"].get<uint64_t>(), 1u);
  EXPECT_NE(twin["run_line"], twin["twin_line"]);
  const auto md = absent_temp_path("twin.md");
  ASSERT_EQ(syncsim("report " + results + " --out " + md).exit_code, 0);
  const auto text = read_file(md);
  EXPECT_NE(text.find("## Why seed 1 failed"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("The runs first part at trace line"), std::string::npos);
  EXPECT_NE(text.find("**FAIL: 1 of 1 seeds"), std::string::npos);
}

}  // namespace
}  // namespace syncsim

namespace syncsim::scenarios {
namespace {

// A failing run stops at its violation, so its listed sometimes-conditions had no chance:
// JUnit does not also call the suite vacuous, and the summary table does not either.
TEST(Junit, FailingSuiteIsNotAlsoVacuous) {
  nlohmann::json runs = nlohmann::json::array();
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    runs.push_back({{"scenario", "s"},
                    {"seed", seed},
                    {"expectation_met", false},
                    {"wall_s", 0.25},
                    {"repro", "r"},
                    {"violation", {{"invariant", "converges"}, {"at_s", 1.0}, {"message", "m"}}},
                    {"sometimes", {{"seed-raised", 0}}},
                    {"sometimes_listed", {"seed-raised"}}});
  }
  const auto doc = sweep_document("b", runs);
  const auto xml = junit_xml(doc);
  EXPECT_EQ(xml.find("type=\"vacuous\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("vacuity not judged"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"converges\""), std::string::npos) << xml;
  const auto table = summary_table(summarize(doc));
  EXPECT_EQ(table.find("VACUOUS"), std::string::npos) << table;
}

}  // namespace
}  // namespace syncsim::scenarios
