// Issue 21, running beyond one machine: `--shard auto` from the engines' variables, budgeted
// shards and their coverage, the streaming merge (the same document as merge_results, the
// same JUnit as junit_xml), findings merged by signature and the new-finding gate.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/shard_env.hpp"
#include "cli/sweep_plan.hpp"
#include "scenarios/results/findings.hpp"
#include "scenarios/results/merge_stream.hpp"
#include "scenarios/results/results.hpp"
#include "tests/cli_helpers.hpp"
#include "tests/support/mutant_scenario_file.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
using testing::Outcome;
using testing::syncsim;

cli::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

cli::Shard shard_of(std::map<std::string, std::string> vars) {
  auto r = cli::shard_from_env(env_of(std::move(vars)));
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<cli::ShardFromEnv>(r).shard;
}

std::string error_of(std::map<std::string, std::string> vars) {
  auto r = cli::shard_from_env(env_of(std::move(vars)));
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

TEST(ShardAuto, ReadsEachEnginesVariables) {
  auto s = shard_of({{"SYNCSIM_SHARD_INDEX", "0"}, {"SYNCSIM_SHARD_COUNT", "3"}});
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.count, 3u);
  s = shard_of({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_EQ(s.index, 4u);
  // --array=10-16:2 numbers its 4 tasks 10, 12, 14, 16.
  s = shard_of({{"SLURM_ARRAY_TASK_ID", "14"},
                {"SLURM_ARRAY_TASK_COUNT", "4"},
                {"SLURM_ARRAY_TASK_MIN", "10"},
                {"SLURM_ARRAY_TASK_STEP", "2"}});
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 4u);
  s = shard_of({{"JOB_COMPLETION_INDEX", "7"}, {"JOB_COMPLETIONS", "8"}});
  EXPECT_EQ(s.index, 8u);
  // The workflow's own variables win over an engine's.
  s = shard_of({{"SYNCSIM_SHARD_INDEX", "1"},
                {"SYNCSIM_SHARD_COUNT", "2"},
                {"SLURM_ARRAY_TASK_ID", "0"},
                {"SLURM_ARRAY_TASK_COUNT", "5"}});
  EXPECT_EQ(s.count, 2u);
}

TEST(ShardAuto, ErrorsNameTheVariables) {
  EXPECT_NE(error_of({}).find("no shard index in the environment"), std::string::npos);
  EXPECT_NE(error_of({{"JOB_COMPLETION_INDEX", "1"}}).find("JOB_COMPLETIONS is not"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}})
                .find("below the count"),
            std::string::npos);
  EXPECT_NE(error_of({{"SYNCSIM_SHARD_INDEX", "x"}, {"SYNCSIM_SHARD_COUNT", "2"}})
                .find("SYNCSIM_SHARD_INDEX='x'"),
            std::string::npos);
  EXPECT_NE(error_of({{"SYNCSIM_SHARD_INDEX", "0"}, {"SYNCSIM_SHARD_COUNT", "0"}})
                .find("SYNCSIM_SHARD_COUNT='0'"),
            std::string::npos);
}

TEST(ShardAuto, TheCliExitsTwoWhenNoEngineIsSet) {
  Outcome o = syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --shard auto");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("SLURM_ARRAY_TASK_ID"), std::string::npos) << o.output;
  const auto r = testing::absent_temp_path("auto-shard.json");
  o = syncsim("sweep " + testing::catalog("basic") + " --seeds 1..6 --shard auto --results " + r,
              "&1");
  EXPECT_EQ(o.exit_code, 2);
  // With Slurm's variables: task 1 of 3 takes seeds 2 and 5.
  const std::string env = "SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 ";
  const std::string cmd = env + SYNCSIM_BINARY + " sweep " + testing::catalog("basic") +
                          " --seeds 1..6 --shard auto --results " + r + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto doc = json::parse(testing::read_file(r));
  EXPECT_EQ(doc["shard"], "2/3");
  ASSERT_EQ(doc["runs"].size(), 2u);
  EXPECT_EQ(doc["runs"][0]["seed"], 2);
  EXPECT_EQ(doc["runs"][1]["seed"], 5);
}

TEST(ShardPlan, ShardsPartitionTheRangeAndBudgetedPlansGoSeedBySeed) {
  const cli::SeedRange range{5, 107};
  std::map<std::pair<std::string, uint64_t>, int> seen;
  for (uint64_t i = 1; i <= 4; ++i) {
    cli::ChunkPlan plan({"a", "b"}, range, cli::Shard{i, 4}, 2, /*seed_major=*/i % 2 == 0);
    uint64_t n = 0;
    std::string last_path;
    while (auto c = plan.next()) {
      for (auto s : plan.chunk(*c).seeds) {
        EXPECT_EQ((s - 5) % 4, i - 1);
        ++seen[{plan.chunk(*c).path, s}];
        ++n;
      }
      if (i % 2 == 0 && !last_path.empty()) {
        EXPECT_NE(plan.chunk(*c).path, last_path) << "seed-major plans alternate scenarios";
      }
      last_path = plan.chunk(*c).path;
    }
    EXPECT_EQ(n, 2 * plan.shard_seeds());
  }
  EXPECT_EQ(seen.size(), 2u * 103);
  for (const auto& [k, count] : seen) EXPECT_EQ(count, 1) << k.first << " " << k.second;
}

TEST(Budget, StopsEarlyAndRecordsAPrefixOfTheShardThatMatchesAnUnbudgetedSweep) {
  const auto b = testing::absent_temp_path("budget.json"),
             f = testing::absent_temp_path("budget-full.json");
  Outcome o = syncsim("sweep " + testing::catalog("basic") +
                      " --seeds 1..1000000 --shard 2/3 --budget 1s --jobs 2 --results " + b);
  EXPECT_EQ(o.exit_code, 0) << o.output;
  const auto doc = json::parse(testing::read_file(b));
  const auto& cov = doc["coverage"]["scenarios"]["basic"];
  const auto n = cov["seeds"].get<uint64_t>();
  ASSERT_GT(n, 0u) << doc["coverage"];
  EXPECT_LT(n, 100000u) << "1s of a 333,334-seed shard";
  EXPECT_EQ(doc["coverage"]["complete"], false);
  EXPECT_EQ(cov["first"], 2);
  EXPECT_EQ(cov["last"], 2 + 3 * (n - 1));
  EXPECT_EQ(cov["gaps"], false);
  EXPECT_EQ(doc["runs"].size(), n);
  EXPECT_NE(o.output.find("budget 1s: covered"), std::string::npos) << o.output;
  // The same seeds without a budget: the same runs.
  const auto last = cov["last"].get<uint64_t>();
  ASSERT_EQ(syncsim("sweep " + testing::catalog("basic") + " --seeds 1.." + std::to_string(last) +
                    " --shard 2/3 --results " + f)
                .exit_code,
            0);
  auto strip = [](json d) {
    d = scenarios::strip_wall_times(d);
    d.erase("coverage");
    return d;
  };
  EXPECT_EQ(strip(doc), strip(json::parse(testing::read_file(f))));
  // merge reports the coverage and keeps it.
  const auto m = testing::absent_temp_path("budget-merged.json");
  o = syncsim("merge " + b + " --results " + m);
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("shard 2/3, " + std::to_string(n) + " runs, budget 1s, ran out of time"),
            std::string::npos)
      << o.output;
  EXPECT_EQ(json::parse(testing::read_file(m))["coverage"][0]["shard"], "2/3");
  EXPECT_EQ(syncsim("sweep " + testing::catalog("basic") + " --seeds 1..2 --budget 5x").exit_code,
            2);
}

std::string mutant_basic() { return test_support::failing_basic_file("dist-basic-mutant.json"); }

TEST(StreamMerge, WritesExactlyWhatMergeResultsDumpsAndTheSameJunit) {
  const std::string s = testing::catalog("basic") + " " + mutant_basic();
  std::vector<std::string> shards;
  std::vector<scenarios::NamedDocument> docs;
  for (int i = 1; i <= 3; ++i) {
    const auto p = testing::absent_temp_path("sm-shard" + std::to_string(i) + ".json");
    syncsim("sweep " + s + " --seeds 1..7 --jobs 2 --shard " + std::to_string(i) + "/3 --results " +
            p);
    shards.push_back(p);
    docs.push_back({p, json::parse(testing::read_file(p))});
  }
  // Hand-made input: out of order, and "build" after "runs" (read whole).
  json reversed = docs[2].doc;
  std::reverse(reversed["runs"].begin(), reversed["runs"].end());
  const auto rev = testing::write_temp("sm-rev.json", reversed.dump(1));
  shards[2] = rev;
  const auto out = testing::absent_temp_path("sm-merged.json");
  const auto summary = scenarios::merge_result_files(shards, out);
  const json expected = scenarios::merge_results(docs);
  EXPECT_EQ(testing::read_file(out), expected.dump(2) + "\n");
  EXPECT_EQ(summary.runs, 14u);
  EXPECT_EQ(summary.failed, 7u);
  EXPECT_TRUE(summary.inputs[2].read_whole);
  EXPECT_FALSE(summary.inputs[0].read_whole);
  EXPECT_EQ(scenarios::summary_table(summary.scenarios),
            scenarios::summary_table(scenarios::summarize(expected)));
  // Findings: the mutant's failures share one signature.
  const auto findings = summary.findings.document(summary.build);
  ASSERT_EQ(findings["findings"].size(), 1u) << findings;
  EXPECT_EQ(findings["findings"][0]["signature"], "basic-mutant: barrier-holds");
  EXPECT_EQ(findings["findings"][0]["seeds"], 7);
  EXPECT_EQ(findings["findings"][0]["first_seed"], 1);
  // Overlap is refused, as merge_results does.
  EXPECT_THROW(scenarios::merge_result_files({shards[0], shards[0]}, out + "2"),
               scenarios::MergeError);
}

TEST(Findings, MergeBySignatureAndOnlyNewOnesFailTheMerge) {
  scenarios::FindingSet set;
  set.add({{"signature", "x: inv"}, {"seeds", 2}, {"first_seed", 9}, {"repro", "r9"}}, "a");
  set.add({{"signature", "x: inv"}, {"seeds", 3}, {"first_seed", 4}, {"repro", "r4"}}, "b");
  set.add({{"signature", "y: stop crash"}, {"seeds", 1}, {"first_seed", 1}}, "b");
  const auto doc = set.document("B");
  ASSERT_EQ(doc["findings"].size(), 2u);
  EXPECT_EQ(doc["findings"][0]["seeds"], 5);
  EXPECT_EQ(doc["findings"][0]["first_seed"], 4);
  EXPECT_EQ(doc["findings"][0]["repro"], "r4");
  EXPECT_EQ(set.new_findings({"x: inv"}).size(), 1u);
  EXPECT_THROW(set.add({{"seeds", 1}}, "c"), scenarios::MergeError);

  // Through the CLI: a failing sweep with its finding known passes, unknown fails.
  const auto r = testing::absent_temp_path("nf.json"),
             f = testing::absent_temp_path("nf-findings.json"),
             merged = testing::absent_temp_path("nf-m.json");
  syncsim("sweep " + mutant_basic() + " --seeds 1..2 --results " + r);
  Outcome o = syncsim("merge " + r + " --results " + merged + " --findings " + f);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  const auto known = testing::write_temp("nf-known.json", R"(["basic-mutant: barrier-holds"])");
  o = syncsim("merge " + r + " --results " + merged + " --known-findings " + known);
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("findings: 1 (0 new, 1 known)"), std::string::npos) << o.output;
  o = syncsim("merge " + r + " --results " + merged + " --known-findings " +
              testing::write_temp("nf-none.json", "[]") + " --with-findings " + f);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("NEW finding: basic-mutant: barrier-holds (first seed 1, 4 seeds)"),
            std::string::npos)
      << o.output;
}

}  // namespace
}  // namespace syncsim
