// Service-side line faults (issue 14 §1, model/line_fault.hpp): each kind rewrites the
// line sequence as documented (and only on the armed key, once); each has its exemptions;
// and a client facing each kind passes its pass criterion: it notices or recovers and the
// run converges after heal with every other invariant on.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model/line_fault.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim {
namespace {

using nlohmann::json;

const json kCheckpoint = json::parse(
    R"({"checkpoint":{"last_op_id":"3","write_checkpoint":"5","buckets":[{"bucket":"b","checksum":7,"count":2}]}})");
const json kData1 = json::parse(R"({"data":{"bucket":"b","data":[{"op_id":"2"}]}})");
const json kData2 = json::parse(R"({"data":{"bucket":"b","data":[{"op_id":"3"}]}})");
const json kComplete = json::parse(R"({"checkpoint_complete":{"last_op_id":"3"}})");
const json kDiff = json::parse(
    R"({"checkpoint_diff":{"last_op_id":"4","write_checkpoint":"6","updated_buckets":[],"removed_buckets":[]}})");

// The lines sent for the sequence checkpoint, data1, data2, complete, diff with `kind`
// armed on key "k" from the start (or on another key).
std::vector<json> sent(const std::string& kind, const std::string& armed_key = "k") {
  model::LineFaultInjector inj;
  inj.arm(kind, armed_key);
  std::vector<json> out;
  for (const json& l : {kCheckpoint, kData1, kData2, kComplete, kDiff}) {
    if (!inj.intercepts("k", l)) {
      out.push_back(l);
      continue;
    }
    for (auto& x : inj.rewrite("k", l)) out.push_back(x);
  }
  return out;
}

TEST(LineFault, EachKindRewritesTheSequenceOnce) {
  EXPECT_EQ(sent("duplicate_line"),
            (std::vector<json>{kCheckpoint, kData1, kData1, kData2, kComplete, kDiff}));
  EXPECT_EQ(sent("data_after_complete"),
            (std::vector<json>{kCheckpoint, kData1, kData2, kComplete, kData1, kDiff}));
  EXPECT_EQ(sent("out_of_order"),
            (std::vector<json>{kCheckpoint, kData2, kData1, kComplete, kDiff}));
  auto corrupt = sent("corrupt_checksum");
  ASSERT_EQ(corrupt.size(), 5u);
  EXPECT_EQ(corrupt[0]["checkpoint"]["buckets"][0]["checksum"], 8);
  EXPECT_EQ(corrupt[4], kDiff);  // once only
  // lower_write_checkpoint: the diff after a line with write_checkpoint 5 carries 4.
  auto lower = sent("lower_write_checkpoint");
  ASSERT_EQ(lower.size(), 5u);
  EXPECT_EQ(lower[0], kCheckpoint);  // nothing sent before it: nothing to go below
  EXPECT_EQ(lower[4]["checkpoint_diff"]["write_checkpoint"], "4");
  // Armed for another key: untouched.
  EXPECT_EQ(sent("duplicate_line", "other"),
            (std::vector<json>{kCheckpoint, kData1, kData2, kComplete, kDiff}));
  // Disarmed: untouched.
  model::LineFaultInjector inj;
  inj.arm("duplicate_line", "k");
  EXPECT_TRUE(inj.disarm().empty());  // no write_checkpoint was lowered: nothing to heal
  EXPECT_FALSE(inj.intercepts("k", kData1));
  // The heal names the keys a lowered write_checkpoint hit (their streams are ended), once.
  model::LineFaultInjector low;
  low.arm("lower_write_checkpoint", "k");
  for (const auto& l : {kCheckpoint, kData1, kData2, kComplete, kDiff}) low.rewrite("k", l);
  EXPECT_EQ(low.disarm(), std::set<std::string>{"k"});
  EXPECT_TRUE(low.disarm().empty());
  EXPECT_THROW(inj.arm("bogus", "k"), std::invalid_argument);
}

TEST(LineFault, EveryKindNamesItsExemptionsAndPassCriterionAndKeepsConverges) {
  ASSERT_EQ(model::line_fault_kinds().size(), 5u);
  for (const auto& r : model::line_fault_rules()) {
    EXPECT_FALSE(r.exempts.empty()) << r.kind;
    EXPECT_NE(r.pass.find("converges"), std::string::npos) << r.kind;
    for (const char* kept : {"converges", "requests-complete", "no-lost-writes"}) {
      EXPECT_EQ(std::find(r.exempts.begin(), r.exempts.end(), kept), r.exempts.end())
          << r.kind << " exempts " << kept;
    }
    for (const auto& id : r.exempts) {
      EXPECT_NE(scenarios::invariant_catalog().find(id), nullptr) << r.kind << ": " << id;
    }
  }
}

class LineFaultRun : public ::testing::TestWithParam<std::string> {};

TEST_P(LineFaultRun, TheClientRecoversAndConvergesAfterHeal) {
  const auto ctx = scenarios::validation_context();
  const json j = {
      {"format", 1},
      {"name", "line-" + GetParam()},
      {"duration_s", 30},
      {"clients", {{"count", 2}}},
      {"workload", {{"request_checkpoint_pct", 30}}},
      {"faults",
       {{{"at_ms", 4000}, {"kind", "line_fault"}, {"client", 1}, {"line", GetParam()}},
        {{"at_ms", 9000}, {"kind", "line_fault"}, {"client", 2}, {"line", GetParam()}}}}};
  const auto s = scenarios::parse_scenario(j, ctx, "line");
  EXPECT_EQ(scenarios::to_json(s)["faults"][0]["line"], GetParam());
  bool fired = false, noticed = false;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    scenarios::RunOptions o;
    o.seed = seed;
    std::ostringstream trace;
    o.trace_sink = &trace;
    const auto r = scenarios::run_scenario(s, o);
    EXPECT_TRUE(r.expectation_met)
        << GetParam() << " seed " << seed << ": "
        << (r.violation ? r.violation->invariant + ": " + r.violation->message : r.stop.message);
    EXPECT_NE(trace.str().find("line fault " + GetParam() + " armed"), std::string::npos);
    fired = fired || trace.str().find("line fault fired") != std::string::npos;
    noticed = noticed || trace.str().find("Checksums didn't match") != std::string::npos;
  }
  EXPECT_TRUE(fired) << GetParam() << " never fired: the test would pass vacuously";
  // The checksum kinds are noticed by the core itself (it re-syncs the bucket).
  if (GetParam() == "corrupt_checksum" || GetParam() == "duplicate_line") {
    EXPECT_TRUE(noticed) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, LineFaultRun, ::testing::ValuesIn(model::line_fault_kinds()));

}  // namespace
}  // namespace syncsim
