// syncsim sweep and merge (issue 5): worker processes give the same results whatever
// --jobs, shards merged equal the full sweep, failures reach the summary, the exit code and
// JUnit, and merge refuses overlapping shards and mismatched builds.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <tuple>

#include "scenarios/results/results.hpp"
#include "tests/cli_helpers.hpp"
#include "tests/support/mutant_scenario_file.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
using testing::Outcome;
using testing::syncsim;

// Fails seed 1 and stops at the first violation: the JUnit counts below are per seed.
std::string mutant_basic() { return test_support::failing_basic_file("sweep-basic-mutant.json"); }

json results(const std::string& path) {
  return scenarios::strip_wall_times(json::parse(testing::read_file(path)));
}

TEST(Sweep, JobsOneAndJobsTwoGiveIdenticalResults) {
  const std::string scenarios = testing::catalog("basic") + " " + mutant_basic();
  const auto r1 = testing::absent_temp_path("sweep-j1.json"),
             r2 = testing::absent_temp_path("sweep-j2.json");
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
  const auto r = testing::absent_temp_path("sweep-one.json"),
             q = testing::absent_temp_path("run-one.json");
  ASSERT_EQ(
      syncsim("sweep " + testing::catalog("basic") + " --seeds 3..3 --results " + r).exit_code, 0);
  ASSERT_EQ(syncsim("run " + testing::catalog("basic") + " --seed 3 --results " + q).exit_code, 0);
  EXPECT_EQ(results(r)["runs"][0]["trace_hash"], results(q)["runs"][0]["trace_hash"]);
}

TEST(Sweep, JunitHasOneTestcasePerSeedAndTheFailure) {
  const auto x = testing::absent_temp_path("sweep.xml");
  Outcome o = syncsim("sweep " + mutant_basic() + " --seeds 1..2 --jobs 2 --junit " + x);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  const auto xml = testing::read_file(x);
  EXPECT_NE(xml.find("<testsuite name=\"basic-mutant\" tests=\"2\" failures=\"2\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"seed=2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"barrier-holds\" message=\"violated barrier-holds"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("repro: syncsim:basic-mutant:"), std::string::npos) << xml;
}

TEST(Sweep, ShardsMergedEqualTheFullSweep) {
  const std::string s = testing::catalog("basic") + " " + mutant_basic();
  const auto full = testing::absent_temp_path("full.json"),
             s1 = testing::absent_temp_path("shard1.json"),
             s2 = testing::absent_temp_path("shard2.json"),
             merged = testing::absent_temp_path("merged.json");
  // Seeds 1..3 (was 1..5, perf10): the shards are still uneven and interleaved.
  syncsim("sweep " + s + " --seeds 1..3 --jobs 2 --results " + full);
  syncsim("sweep " + s + " --seeds 1..3 --jobs 2 --shard 1/2 --results " + s1);
  syncsim("sweep " + s + " --seeds 1..3 --jobs 2 --shard 2/2 --results " + s2);
  const json j1 = results(s1);
  ASSERT_EQ(j1["runs"].size(), 4u);  // seeds 1 and 3 of each scenario
  EXPECT_EQ(j1["runs"][1]["seed"], 3);
  EXPECT_EQ(results(s2)["runs"].size(), 2u);
  Outcome m = syncsim("merge " + s2 + " " + s1 + " --results " + merged);
  EXPECT_EQ(m.exit_code, 1) << m.output;  // the merged results contain failures
  json jf = results(full);
  EXPECT_EQ(results(merged), jf);
}

TEST(Merge, RefusesOverlappingShards) {
  const auto a = testing::absent_temp_path("ov-a.json"), b = testing::absent_temp_path("ov-b.json");
  syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --results " + a);
  syncsim("sweep " + testing::catalog("basic") + " --seeds 2..3 --results " + b);
  Outcome m = syncsim("merge " + a + " " + b);
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_NE(m.output.find("basic seed 2 occurs twice"), std::string::npos) << m.output;
}

TEST(Merge, RefusesMismatchedBuilds) {
  const auto a = testing::absent_temp_path("b-a.json");
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

// basic with the mutant that fails seed 1, declared: every seed meets `expect` by violating
// barrier-holds, so its diagram's timeline must survive the sweep although no run fails.
std::string expected_violation_basic() {
  auto j = json::parse(testing::read_file(testing::catalog("basic")));
  j["name"] = "basic-expected";
  j["mutants"] = {"publish-while-blocked"};
  j["expect"] = {{"violates", "barrier-holds"}};
  j.erase("sometimes");  // it stops at the violation, before basic's disconnects
  return testing::write_temp("basic-expected.json", j.dump(2));
}

TEST(Sweep, ReportWritesOneHtmlReportPerScenario) {
  const auto out = testing::absent_temp_path("sweep-report.html");
  const auto results_path = testing::absent_temp_path("sweep-report.json");
  const auto basic_html = testing::absent_temp_path("sweep-report.basic.html");
  const auto expected_html = testing::absent_temp_path("sweep-report.basic-expected.html");
  Outcome o = syncsim("sweep " + testing::catalog("basic") + " " + expected_violation_basic() +
                      " --seeds 1..3 --jobs 2 --results " + results_path + " --report " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("report: " + basic_html + " (basic)"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("report: " + expected_html + " (basic-expected)"), std::string::npos)
      << o.output;
  for (const auto& [path, name, verdicts, why] :
       {std::tuple{basic_html, "basic", "1..3: 3 as expected, 0 not",
                   "no seed violated an invariant: the first seed"},
        std::tuple{expected_html, "basic-expected", "1..3: 3 as expected, 0 not",
                   "the first seed with a violation"}}) {
    const auto html = testing::read_file(path);
    ASSERT_FALSE(html.empty()) << path << " was not written\n" << o.output;
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << path;
    EXPECT_NE(html.find(std::string("<h1>syncsim report: ") + name + "</h1>"), std::string::npos)
        << path;
    EXPECT_NE(html.find("<svg class=\"sequence\""), std::string::npos) << path;
    EXPECT_NE(html.find("<h2>Sequence diagram (seed 1)</h2>\n<p>" + std::string(why)),
              std::string::npos)
        << path;
    EXPECT_NE(html.find(verdicts), std::string::npos) << path;
    for (int seed = 1; seed <= 3; ++seed) {
      EXPECT_NE(html.find(fmt::format("<tr><td class=\"num\">{}</td><td class=", seed)),
                std::string::npos)
          << path << " has no row for seed " << seed;
    }
    // Seed counts over the whole sweep: the invariant table (n/3 seeds checked) and the
    // coverage matrix (every seed checks barrier-holds under both of basic's fault classes).
    EXPECT_NE(html.find("</td><td class=\"num\">3/3</td>"), std::string::npos) << path;
    EXPECT_NE(html.find("<tr><td><code>barrier-holds</code></td><td class=\""), std::string::npos);
    const auto coverage = html.substr(html.find("<table class=\"coverage\">"));
    const auto row = coverage.substr(coverage.find("<code>barrier-holds</code>"));
    const auto cell =
        std::string(name) == "basic" ? "3 checked, 0 violated" : "3 checked, 3 violated";
    EXPECT_NE(row.substr(0, row.find("</tr>")).find(cell), std::string::npos)
        << row.substr(0, row.find("</tr>"));
  }
  // The document keeps the timelines the reports drew (the first seed, which is also
  // basic-expected's first violation) and no other passing run's, whatever the chunking.
  const json doc = results(results_path);
  ASSERT_EQ(doc["runs"].size(), 6u);
  for (const auto& r : doc["runs"]) {
    EXPECT_EQ(r.contains("timeline"), r["seed"] == 1) << r["scenario"] << " seed " << r["seed"];
  }
  const auto j1 = testing::absent_temp_path("sweep-report-j1.json");
  ASSERT_EQ(syncsim("sweep " + testing::catalog("basic") + " " + expected_violation_basic() +
                    " --seeds 1..3 --jobs 1 --results " + j1)
                .exit_code,
            0);
  EXPECT_EQ(results(j1), doc);
}

TEST(Sweep, ReportWithOneScenarioWritesTheFileAsNamed) {
  const auto out = testing::absent_temp_path("sweep-one-report.md");
  Outcome o = syncsim("sweep " + testing::catalog("basic") + " --seeds 2..3 --report " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  const auto md = testing::read_file(out);
  EXPECT_NE(md.find("```mermaid\nsequenceDiagram\n"), std::string::npos) << md;
  EXPECT_NE(md.find("basic"), std::string::npos);
  // The same report as `run --report` over the same seeds.
  const auto run_md = testing::absent_temp_path("run-one-report.md");
  ASSERT_EQ(
      syncsim("run " + testing::catalog("basic") + " --seeds 2..3 --report " + run_md).exit_code,
      0);
  EXPECT_EQ(md, testing::read_file(run_md));
}

TEST(Sweep, ReportWithAnUnknownExtensionExitsTwoBeforeRunning) {
  const auto report = testing::absent_temp_path("sweep-report.txt");
  Outcome o = syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --report " + report);
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("--report: report file '" + report +
                          "': cannot tell the format from its extension; use .md, .html or .json"),
            std::string::npos)
      << o.output;
  EXPECT_EQ(o.output.find("sweep: "), std::string::npos) << "ran seeds first:\n" << o.output;
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
