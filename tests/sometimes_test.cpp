// Sometimes-properties (scenarios/explore/sometimes.*, docs/invariants.md §1, issue 5): every
// condition is counted > 0 in a scenario built to trigger it and 0 in one that cannot (so the
// counter can fail); a listed condition that never happened makes run and sweep report the pass as
// vacuous (exit 4); the loader rejects unknown condition ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scenarios/explore/sometimes.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/world/runner.hpp"
#include "tests/cli_helpers.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;

using test_support::catalog;
using test_support::describe;
using test_support::fault;
using test_support::run;

// Two clients writing shared todos for 20 s, no faults.
Scenario base() {
  Scenario s = catalog("basic");
  s.name = "sometimes-base";
  s.sometimes.clear();
  s.faults.clear();
  s.clients.count = 2;
  s.duration_s = 20;
  return s;
}

// No local writes at all (the first wait is longer than the run).
Scenario idle() {
  Scenario s = base();
  s.name = "sometimes-idle";
  s.workload.write_interval_min_ms = 3600000;
  s.workload.write_interval_max_ms = 3600000;
  return s;
}

uint64_t count(const RunResult& r, const std::string& id) {
  auto it = r.sometimes.find(id);
  EXPECT_NE(it, r.sometimes.end()) << id << " is not counted";
  return it == r.sometimes.end() ? 0 : it->second;
}

// Counted in `yes`, not in `no`; both runs must pass.
void expect_discriminates(const std::string& id, const Scenario& yes, const Scenario& no,
                          uint64_t seed = 1) {
  const RunResult a = run(yes, seed);
  ASSERT_TRUE(a.passed) << describe(a);
  EXPECT_GT(count(a, id), 0u) << id << " not counted in the scenario built for it\n" << describe(a);
  const RunResult b = run(no, seed);
  ASSERT_TRUE(b.passed) << describe(b);
  EXPECT_EQ(count(b, id), 0u) << id << " counted where it cannot happen\n" << describe(b);
}

TEST(Sometimes, CatalogIsSortedAndEveryConditionIsCounted) {
  const auto ids = sometimes_ids();
  ASSERT_FALSE(ids.empty());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  const RunResult r = run(idle());
  ASSERT_TRUE(r.passed) << describe(r);
  ASSERT_EQ(r.sometimes.size(), ids.size());
  for (const auto& id : ids) {
    EXPECT_NE(find_sometimes(id), nullptr);
    EXPECT_EQ(count(r, id), 0u) << id << " happened without a single write";
  }
}

TEST(Sometimes, BarrierBlockedMatchesTheEnginesBlockedCount) {
  expect_discriminates("barrier-blocked", base(), idle());
  const RunResult r = run(base());
  EXPECT_EQ(count(r, "barrier-blocked"), r.metrics.at("blocked_checkpoints"));
}

TEST(Sometimes, SeedRaisedAfterDisconnectAndClear) {
  // The clear restarts the local counter; the seed posts 1 and the service answers its record.
  Scenario yes = base();
  yes.faults.push_back(fault(10000, FaultKind::DisconnectAndClear, 1));
  Scenario no = base();  // reconnects re-seed ids the service already has, never lower ones
  no.faults.push_back(fault(10000, FaultKind::DisconnectClient, 1));
  no.faults.push_back(fault(12000, FaultKind::Disconnect, 2));
  expect_discriminates("seed-raised", yes, no);
}

TEST(Sometimes, RequestRepostedWhileReplicationStalls) {
  // Rare writes (a new id restarts the repost timer) while replication stops until quiesce.
  Scenario yes = base();
  yes.duration_s = 40;
  yes.workload.write_interval_min_ms = 15000;
  yes.workload.write_interval_max_ms = 20000;
  yes.faults.push_back(fault(2000, FaultKind::Stall));
  Scenario no = yes;
  no.faults.clear();
  expect_discriminates("request-reposted", yes, no);
}

TEST(Sometimes, DuplicateRequestWhenAReconnectReseeds) {
  Scenario yes = base();
  yes.faults.push_back(fault(10000, FaultKind::Disconnect, 1));
  yes.faults.push_back(fault(15000, FaultKind::Disconnect, 2));
  expect_discriminates("duplicate-request", yes, idle());
}

TEST(Sometimes, NewerHidesOlderMatchesTheRecordersHiddenAcks) {
  Scenario yes = catalog("request-hiding-lag");
  yes.sometimes.clear();
  Scenario no = base();
  no.service.replication_lag_ms = 0;
  no.workload.write_interval_min_ms = 5000;  // one request at a time, acked before the next
  no.workload.write_interval_max_ms = 8000;
  expect_discriminates("newer-hides-older", yes, no);
  const RunResult r = run(yes);
  EXPECT_EQ(count(r, "newer-hides-older"), r.metrics.at("hidden_acks"));
}

TEST(Sometimes, ReconnectWithPendingTargetUnderLag) {
  // Slow replication and frequent disconnects: reconnects find a target not yet acknowledged.
  Scenario yes = base();
  yes.service.replication_lag_ms = 2000;
  yes.workload.write_interval_min_ms = 4000;  // concrete targets, not MAX with ps_crud queued
  yes.workload.write_interval_max_ms = 8000;
  for (int i = 0; i < 10; ++i) {
    yes.faults.push_back(fault(3000 + 1500 * i, FaultKind::Disconnect, 1 + i % 2));
  }
  Scenario no = yes;  // never reconnects; a fresh database has no target at its start
  no.faults.clear();
  expect_discriminates("reconnect-with-pending-target", yes, no);
}

TEST(Sometimes, RecordDeletedThenRequest) {
  Scenario yes = base();
  yes.faults.push_back(fault(10000, FaultKind::DeleteRequest, 1));
  expect_discriminates("record-deleted-then-request", yes, base());
}

TEST(Sometimes, UploadRetriedAfterALostUpload) {
  Scenario yes = base();
  Fault lost = fault(5000, FaultKind::RequestLost, 1);
  lost.lost = "response";
  lost.route = "upload";
  lost.count = 2;
  yes.faults.push_back(lost);
  expect_discriminates("upload-retried", yes, base());
}

TEST(Sometimes, Priority0BypassOnlyWithAPriority0Bucket) {
  // todos at priority 0, notes at 3: a checkpoint changing both completes priority 0 first.
  Scenario yes = base();
  yes.service.todos_priority = 0;
  yes.workload.notes_pct = 50;
  yes.workload.write_interval_min_ms = 300;
  yes.workload.write_interval_max_ms = 800;
  // barrier-holds does not exempt priority-0 partial applies yet (docs/invariants.md §1 says they
  // are exempt): it reports exactly the bypass this condition counts, so it is left out here.
  for (const auto& id : invariant_catalog().ids()) {
    if (id != "barrier-holds" && id != "read-your-writes") yes.invariants.push_back(id);
  }
  Scenario no = yes;
  no.service.todos_priority = 3;
  expect_discriminates("priority0-bypass", yes, no);
}

TEST(Sometimes, DuplicateRecordFromConcurrentInsertsOnMongo) {
  // After the record is deleted, the upload's request and requestCheckpoint() calls race in
  // slow, concurrent batches that each find no record and insert one.
  Scenario yes = base();
  yes.service.batch_latency_max_ms = 5000;
  yes.workload.request_checkpoint_pct = 100;
  // The upsert's match read at the head read (the model before issue 17): with the default
  // "write" window only upserts executing within 1 ms of each other duplicate, which these
  // seeds never draw (service_topology_test covers that window).
  yes.service.duplicate_window = "head-read";
  yes.faults.push_back(fault(8000, FaultKind::DeleteRequest, 1));
  yes.faults.push_back(fault(12000, FaultKind::DeleteRequest, 2));
  Scenario no = yes;
  no.service.flavour = "postgres";  // ON CONFLICT updates the row instead
  no.invariants = {"read-your-writes", "converges", "requests-complete", "checksums-agree"};
  expect_discriminates("duplicate-record", yes, no);
}

TEST(Sometimes, CompactionInvalidationsWithheldAndForgottenPerPage) {
  // compaction-pages up to its reconnect at 40 s: 500 ms page fetches with a compact job every
  // second; the cleared client's download is two pages (docs/protocol.md §3.3.3 step 6).
  Scenario yes = catalog("compaction-pages");
  yes.sometimes.clear();
  yes.duration_s = 45;
  std::erase_if(yes.faults, [](const Fault& f) { return f.at_ms >= 45000; });
  Scenario no = yes;
  no.service.compact_interval_s = 0;  // no MOVE or CLEAR, so nothing to invalidate
  const RunResult a = run(yes);
  ASSERT_TRUE(a.passed) << describe(a);
  for (const auto& [id, metric] :
       {std::pair{"checkpoint-invalidated", "invalidated_checkpoints"},
        std::pair{"page-invalidation-forgotten", "forgotten_invalidations"}}) {
    EXPECT_GT(count(a, id), 0u) << id << " not counted in the scenario built for it\n"
                                << describe(a);
    EXPECT_EQ(count(a, id), a.metrics.count(metric) ? a.metrics.at(metric) : 0u) << id;
  }
  const RunResult b = run(no);
  ASSERT_TRUE(b.passed) << describe(b);
  EXPECT_EQ(count(b, "checkpoint-invalidated"), 0u) << describe(b);
  EXPECT_EQ(count(b, "page-invalidation-forgotten"), 0u) << describe(b);
}

TEST(Sometimes, RunResultListsVacuousConditions) {
  Scenario s = idle();
  s.sometimes = {"barrier-blocked", "upload-retried"};
  const RunResult r = run(s);
  ASSERT_TRUE(r.passed) << describe(r);
  EXPECT_EQ(r.sometimes_listed, s.sometimes);
  EXPECT_EQ(r.vacuous(), s.sometimes);
  Scenario b = base();
  b.sometimes = {"barrier-blocked"};
  EXPECT_TRUE(run(b).vacuous().empty());
}

TEST(Sometimes, SummaryCountsSeedsAndOnlyANeverHappenedConditionIsVacuous) {
  // Synthetic runs: one condition happened in one seed of two, the other in none.
  json runs = json::array();
  for (int seed = 1; seed <= 2; ++seed) {
    runs.push_back({{"scenario", "s"},
                    {"seed", seed},
                    {"expectation_met", true},
                    {"sometimes", {{"barrier-blocked", seed == 2 ? 3 : 0}, {"seed-raised", 0}}},
                    {"sometimes_listed", {"barrier-blocked", "seed-raised"}}});
  }
  runs.push_back({{"scenario", "unlisted"}, {"seed", 1}, {"expectation_met", true}});
  const auto rows = summarize_sometimes(runs);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seeds, 2u);
  ASSERT_EQ(rows[0].listed.size(), 2u);
  EXPECT_EQ(rows[0].listed[0], std::make_pair(std::string("barrier-blocked"), uint64_t{1}));
  EXPECT_EQ(rows[0].vacuous, std::vector<std::string>{"seed-raised"});
  EXPECT_TRUE(any_vacuous(rows));
  const json j = sometimes_summary_json(rows);
  EXPECT_EQ(j["s"]["conditions"]["barrier-blocked"], 1);
  EXPECT_EQ(j["s"]["vacuous"], json::array({"seed-raised"}));

  const json doc = sweep_document("b", runs);
  EXPECT_EQ(doc["sometimes"], j);
  const auto summary = summary_table(summarize(doc));
  EXPECT_NE(summary.find("VACUOUS"), std::string::npos) << summary;
  const auto xml = junit_xml(doc);
  EXPECT_NE(xml.find("<testsuite name=\"s\" tests=\"3\" failures=\"1\" "), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"vacuous\" message=\"vacuous: seed-raised happened in none "
                     "of the 2 seeds\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"unlisted\" tests=\"1\" failures=\"0\" "), std::string::npos)
      << xml;
}

// --- the scenario format

TEST(SometimesFormat, LoaderRejectsUnknownIdsAndRoundTrips) {
  const auto ctx = validation_context();
  try {
    parse_scenario_text(R"({"format": 1, "sometimes": ["barrier-blocked", "never-ever", 3]})", ctx,
                        "t.json");
    FAIL() << "accepted an unknown condition";
  } catch (const ScenarioError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("t.json: sometimes[1]: \"never-ever\" is not a known sometimes "
                        "condition; allowed: barrier-blocked, "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("sometimes[2]: 3 must be a string"), std::string::npos) << what;
  }
  EXPECT_THROW(parse_scenario_text(R"({"format": 1, "sometimes": "barrier-blocked"})", ctx, "t"),
               ScenarioError);
  EXPECT_THROW(parse_scenario_text(R"({"format": 1, "sometimes": ["seed-raised", "seed-raised"]})",
                                   ctx, "t"),
               ScenarioError);
  const Scenario s = parse_scenario_text(
      R"({"format": 1, "sometimes": ["seed-raised", "barrier-blocked"]})", ctx, "t");
  EXPECT_EQ(s.sometimes, (std::vector<std::string>{"seed-raised", "barrier-blocked"}));
  EXPECT_EQ(parse_scenario(to_json(s), ctx, "t"), s);
  EXPECT_TRUE(parse_scenario_text(R"({"format": 1})", ctx, "t").sometimes.empty());
}

// --- the CLI: run, sweep, validate

std::string idle_file(const std::string& name, const std::vector<std::string>& sometimes) {
  json j = to_json(idle());
  j["name"] = name;
  j["sometimes"] = sometimes;
  return testing::write_temp(name + ".json", j.dump(2));
}

TEST(SometimesCli, ValidateRejectsUnknownIds) {
  json j = to_json(idle());
  j["sometimes"] = {"no-such-condition"};
  const auto path = testing::write_temp("sometimes-bad.json", j.dump(2));
  const auto o = testing::syncsim("validate " + path);
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("sometimes[0]: \"no-such-condition\" is not a known sometimes "
                          "condition; allowed: barrier-blocked"),
            std::string::npos)
      << o.output;
}

TEST(SometimesCli, RunReportsAVacuousPassAndExits4) {
  const auto path = idle_file("idle-vacuous", {"barrier-blocked"});
  const auto results = testing::absent_temp_path("idle-vacuous-results.json");
  const auto o = testing::syncsim("run " + path + " --seeds 1..2 --results " + results);
  EXPECT_EQ(o.exit_code, 4) << o.output;
  EXPECT_NE(o.output.find("PASS"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("sometimes: barrier-blocked=0 VACUOUS(barrier-blocked)"),
            std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("VACUOUS: barrier-blocked happened in none of the 2 seeds"),
            std::string::npos)
      << o.output;
  const json doc = json::parse(testing::read_file(results));
  EXPECT_EQ(doc["runs"][0]["vacuous"], json::array({"barrier-blocked"}));
  EXPECT_EQ(doc["runs"][0]["sometimes"]["barrier-blocked"], 0);
  EXPECT_EQ(doc["sometimes"]["idle-vacuous"]["vacuous"], json::array({"barrier-blocked"}));
  EXPECT_EQ(doc["scenario"]["sometimes"], json::array({"barrier-blocked"}));
  // The report marks it.
  const auto md = testing::syncsim("report " + results + " --format md");
  EXPECT_EQ(md.exit_code, 0) << md.output;
  EXPECT_NE(md.output.find("| `barrier-blocked` | yes | **VACUOUS** | 0 | 0/2 |"),
            std::string::npos)
      << md.output;
}

TEST(SometimesCli, RunWithoutAListOrWithAHappenedConditionExits0) {
  const auto none = idle_file("idle-unlisted", {});
  const auto a = testing::syncsim("run " + none + " --seed 1");
  EXPECT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output.find("sometimes:"), std::string::npos) << a.output;
  json j = to_json(base());
  j["name"] = "base-listed";
  j["sometimes"] = {"barrier-blocked"};
  const auto listed = testing::write_temp("base-listed.json", j.dump(2));
  const auto b = testing::syncsim("run " + listed + " --seed 1");
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("sometimes: barrier-blocked="), std::string::npos) << b.output;
  EXPECT_EQ(b.output.find("VACUOUS"), std::string::npos) << b.output;
}

TEST(SometimesCli, SweepReportsAVacuousScenarioInTableJsonAndJunit) {
  const auto vacuous = idle_file("idle-sweep", {"barrier-blocked"});
  json j = to_json(base());
  j["name"] = "base-sweep";
  j["sometimes"] = {"barrier-blocked"};
  const auto fine = testing::write_temp("base-sweep.json", j.dump(2));
  const auto results = testing::absent_temp_path("sometimes-sweep.json");
  const auto junit = testing::absent_temp_path("sometimes-sweep.xml");
  const auto o =
      testing::syncsim("sweep " + vacuous + " " + fine + " --seeds 1..2 --jobs 2 --results " +
                       results + " --junit " + junit);
  EXPECT_EQ(o.exit_code, 4) << o.output;
  EXPECT_NE(o.output.find("idle-sweep       2       2       0   VACUOUS  -"), std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("base-sweep       2       2       0        ok  -"), std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("idle-sweep  barrier-blocked 0/2 VACUOUS"), std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("base-sweep  barrier-blocked 2/2\n"), std::string::npos) << o.output;
  const json doc = json::parse(testing::read_file(results));
  EXPECT_EQ(doc["sometimes"]["idle-sweep"]["vacuous"], json::array({"barrier-blocked"}));
  EXPECT_EQ(doc["sometimes"]["base-sweep"]["conditions"]["barrier-blocked"], 2);
  const auto xml = testing::read_file(junit);
  EXPECT_NE(xml.find("<testsuite name=\"idle-sweep\" tests=\"3\" failures=\"1\" "),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"vacuous\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"base-sweep\" tests=\"3\" failures=\"0\" "),
            std::string::npos)
      << xml;
  // Only the non-vacuous scenario: exit 0.
  const auto ok = testing::syncsim("sweep " + fine + " --seeds 1..2 --jobs 2");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

}  // namespace
}  // namespace syncsim::scenarios
