// Failures explain themselves (issue 18): for one mutant of each class (service, engine,
// storage) a sweep's failure is shrunk, the shrunk scenario is run, and its report must show
// what the invariant compared (inputs with their trace lines), the causal chain, and the
// twin's first divergence; the trace carries the same as INPUT/CAUSE lines, and its header
// names the mutant and the fault schedule.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <tuple>

#include "cli_helpers.hpp"

namespace syncsim {
namespace {

using testing::absent_temp_path;
using testing::catalog;
using testing::read_file;
using testing::syncsim;

struct MutantCase {
  const char* mutant;
  const char* invariant;
  std::vector<std::string> input_names;  // each must appear in the report's input table
  bool power_loss = false;               // the storage mutant shows only with one
  const char* base = "basic";            // the catalog scenario it shows in
  std::size_t min_chain = 3;             // causal steps the invariant gives at least
};

std::string trace_line(const std::string& trace, uint64_t n) {
  std::istringstream in(trace);
  std::string line;
  for (uint64_t i = 1; std::getline(in, line); ++i) {
    if (i == n) return line;
  }
  return "";
}

class ExplainFailure : public ::testing::TestWithParam<MutantCase> {};

TEST_P(ExplainFailure, ShrunkFailureReportShowsInputsChainAndTwin) {
  const auto& c = GetParam();
  const std::string tag = std::string("explain-") + c.mutant;
  auto j = nlohmann::json::parse(read_file(catalog(c.base)));
  j["name"] = tag;
  j["mutants"] = {c.mutant};
  if (c.power_loss) {
    j["faults"].push_back(
        {{"at_ms", 30000}, {"kind", "power_loss"}, {"client", 1}, {"down_ms", 1000}});
  }
  const auto scenario = testing::write_temp(tag + ".json", j.dump(2));
  const auto results = absent_temp_path(tag + "-sweep.json");
  auto sweep = syncsim("sweep " + scenario + " --seeds 1..3 --jobs 1 --results " + results);
  ASSERT_EQ(sweep.exit_code, 1) << sweep.output;
  const auto doc = nlohmann::json::parse(read_file(results));
  const nlohmann::json* failing = nullptr;
  for (const auto& candidate : doc["runs"]) {
    if (candidate.contains("violation") && failing == nullptr) failing = &candidate;
  }
  ASSERT_NE(failing, nullptr) << doc.dump().substr(0, 400);
  const auto& run = *failing;
  const auto seed = run["seed"].get<uint64_t>();
  // The sweep runs the first failing seed's twin too.
  EXPECT_NE(sweep.output.find(
                fmt::format("twin of {} seed {} (without mutants {}): PASS", tag, seed, c.mutant)),
            std::string::npos)
      << sweep.output;
  ASSERT_EQ(run["violation"]["invariant"], c.invariant) << run["violation"].dump();
  ASSERT_TRUE(run["violation"].contains("inputs")) << run["violation"].dump();

  const auto shrunk = absent_temp_path(tag + "-shrunk.json");
  auto s = syncsim("shrink '" + run["repro"].get<std::string>() + "' --out " + shrunk +
                   " --max-attempts 25");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  // The shrunk file says what it is and where it came from, and lists no sometimes.
  const auto shrunk_json = nlohmann::json::parse(read_file(shrunk));
  const auto description = shrunk_json["description"].get<std::string>();
  EXPECT_EQ(
      description.rfind("Shrunk by `syncsim shrink` from " + run["repro"].get<std::string>(), 0),
      0u)
      << description;
  EXPECT_NE(description.find(std::string("mutants ") + c.mutant), std::string::npos) << description;
  EXPECT_TRUE(shrunk_json["sometimes"].empty());
  const auto shrunk_results = absent_temp_path(tag + "-shrunk-run.json");
  const auto trace_file = absent_temp_path(tag + "-shrunk.trace");
  auto r = syncsim(fmt::format("run {} --seed {} --trace {} --results {}", shrunk, seed, trace_file,
                               shrunk_results));
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const auto trace = read_file(trace_file);
  EXPECT_NE(trace_line(trace, 1).find(std::string("MUTANTS ") + c.mutant), std::string::npos)
      << trace_line(trace, 1);
  if (c.power_loss) {
    EXPECT_NE(trace_line(trace, 1).find("FAULTS power_loss@"), std::string::npos)
        << trace_line(trace, 1);
  }

  // The inputs and the chain in the results point at real trace lines.
  const auto sd = nlohmann::json::parse(read_file(shrunk_results));
  const auto& v = sd["runs"][0]["violation"];
  ASSERT_EQ(v["invariant"], c.invariant) << v.dump();
  ASSERT_GE(v["chain"].size(), c.min_chain) << v.dump();
  for (const auto& step : v["chain"]) {
    const auto n = step["line"].get<uint64_t>();
    ASSERT_GT(n, 1u) << step.dump();
    EXPECT_FALSE(trace_line(trace, n).empty()) << step.dump();
  }
  EXPECT_NE(trace.find("why INPUT "), std::string::npos);
  EXPECT_NE(trace.find(fmt::format("why CAUSE {}/{}", v["chain"].size(), v["chain"].size())),
            std::string::npos);
  ASSERT_TRUE(sd["runs"][0].contains("twin")) << sd["runs"][0].dump().substr(0, 400);
  EXPECT_TRUE(sd["runs"][0]["twin"]["twin_passed"].get<bool>());

  const auto md = absent_temp_path(tag + "-shrunk.md");
  auto rep = syncsim("report " + shrunk_results + " --out " + md);
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  const auto text = read_file(md);
  EXPECT_NE(text.find(fmt::format("## Why seed {} failed", seed)), std::string::npos)
      << text.substr(0, 1500);
  EXPECT_NE(text.find("What the invariant compared:"), std::string::npos);
  for (const auto& name : c.input_names) {
    EXPECT_NE(text.find("| " + name + " |"), std::string::npos) << name;
  }
  EXPECT_NE(text.find("How it came about"), std::string::npos);
  EXPECT_NE(text.find(fmt::format("{}. ", v["chain"].size())), std::string::npos);
  EXPECT_NE(text.find("The runs first part at trace line"), std::string::npos);
}

// Invariants that no mutant reaches first (another invariant catches it earlier) still explain
// themselves when they judge alone: no-lost-writes (engine) and converges (liveness).
TEST(ExplainFailureAlone, NoLostWritesAndConvergesGiveInputsAndChain) {
  for (const auto& [mutant, invariant, input] :
       {std::tuple{"complete-without-upload", "no-lost-writes", "local write"},
        std::tuple{"replication-stall", "converges", "rows differing"}}) {
    auto j = nlohmann::json::parse(read_file(catalog("basic")));
    j["name"] = std::string("alone-") + invariant;
    j["mutants"] = {mutant};
    j["invariants"] = {invariant};
    const auto scenario =
        testing::write_temp(std::string("alone-") + invariant + ".json", j.dump());
    const auto results = absent_temp_path(std::string("alone-") + invariant + "-run.json");
    auto r = syncsim("run " + scenario + " --seeds 1..3 --fail-fast --results " + results);
    ASSERT_EQ(r.exit_code, 1) << r.output;
    const nlohmann::json doc = nlohmann::json::parse(read_file(results));
    nlohmann::json violation;
    for (const auto& run : doc["runs"]) {
      if (run.contains("violation") && violation.is_null()) violation = run["violation"];
    }
    ASSERT_FALSE(violation.is_null()) << invariant;
    EXPECT_EQ(violation["invariant"], invariant);
    ASSERT_GE(violation["inputs"].size(), 3u) << violation.dump();
    EXPECT_EQ(violation["inputs"][0]["name"], input) << violation.dump();
    ASSERT_GE(violation["chain"].size(), 2u) << violation.dump();
    for (const auto& step : violation["chain"]) EXPECT_GT(step["line"].get<uint64_t>(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    MutantClasses, ExplainFailure,
    ::testing::Values(MutantCase{"ack-before-replication",
                                 "service-ack-after-replication",
                                 {"write_checkpoint", "checkpoint lsn", "required position"}},
                      MutantCase{"complete-without-upload",
                                 "read-your-writes",
                                 {"row shown", "own write", "upload lsn"}},
                      MutantCase{"fsync-lies",
                                 "monotonic-reads",
                                 {"position now", "position shown before"},
                                 true},
                      // Every invariant explains itself, not only the
                      // three above: one more per checker family.
                      MutantCase{"stale-route-response",
                                 "route-response-per-request",
                                 {"response", "posted id", "stored by its batch"},
                                 false,
                                 "basic",
                                 2},
                      MutantCase{"publish-while-blocked",
                                 "barrier-holds",
                                 {"ps_crud before", "target before", "last_seen"},
                                 false,
                                 "basic",
                                 2},
                      MutantCase{"generated-answer-ahead",
                                 "no-wedge",
                                 {"target", "last_seen", "ps_crud", "gate"},
                                 false,
                                 "basic-legacy",
                                 2}),
    [](const auto& info) {
      std::string name = info.param.mutant;
      for (auto& ch : name) ch = ch == '-' ? '_' : ch;
      return name;
    });

}  // namespace
}  // namespace syncsim
