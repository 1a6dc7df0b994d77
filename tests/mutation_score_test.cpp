// Mutation score (issue 5): every mutant in scenarios::mutant_names() is run over a seed
// budget (SYNCSIM_SEED_BUDGET: small in `quick`, larger in `long`) in the scenario where it
// can show, and the test reports per mutant: detected, the invariant that caught it,
// seeds-to-detection and the shrunk size in steps (scenarios/shrink.*, at most
// SYNCSIM_SHRINK_ATTEMPTS runs on the first detecting seed).  One test per mutant
// (MutationScore/MutantScore.*); each adds its row to the JSON table in the build tree
// (mutation-score[-long].json, rows under <file>.d/), printed whole by the last to finish.
//
// The mutant -> scenario table is kMutationCatalog below: a catalog scenario plus JSON
// modifications.  Every detection is checked against a twin: the same scenario without the
// mutant (helper mutants kept) passes on the detecting seed.
//
// Two kinds of entry are not scenario runs:
//  - `external`: the mutant is caught by another test's harness that injects it and fails
//    an invariant (the route-level harness of tests/service_mutants_test.cpp); the test
//    binary is run with a gtest filter and must pass, i.e. detect it.
//  - `equivalent`: the mutant cannot change anything observable under the modelled SDK,
//    service and faults (the argument is in the entry; the shim-level behaviour change is
//    shown in tests/shim_api_test.cpp).  They are run over the budget anyway, reported as
//    EQUIVALENT and left out of the score, and the test fails if one of them is detected
//    (the argument was wrong: it should become a normal entry).  Any other undetected mutant
//    fails the test, named.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "engine/js/js_host.hpp"
#include "scenarios/explore/shrink.hpp"
#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

#ifndef SYNCSIM_SEED_BUDGET
#define SYNCSIM_SEED_BUDGET 5
#endif
#ifndef SYNCSIM_SHRINK_ATTEMPTS
#define SYNCSIM_SHRINK_ATTEMPTS 0
#endif
#ifndef SYNCSIM_SCORE_FILE
#define SYNCSIM_SCORE_FILE "mutation-score.json"
#endif
#ifndef SYNCSIM_HOSTED_TWINS
#define SYNCSIM_HOSTED_TWINS 0
#endif

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::add_frequent_reconnects;
using test_support::catalog_json;

constexpr uint64_t kBudget = SYNCSIM_SEED_BUDGET;
constexpr int kShrinkAttempts = SYNCSIM_SHRINK_ATTEMPTS;

struct Entry {
  std::string mutant;
  std::vector<std::string> helpers;  // injected together with the mutant
  std::string base;                  // catalog scenario
  std::function<void(json&)> modify;
  std::vector<std::string> caught_by;  // any of these
  bool only = false;                   // check only caught_by (another checker fires first)
  std::string external;                // gtest filter of service_mutants_test
  std::string equivalent;              // why no invariant can catch it (an argument)
};

void none(json&) {}

// The records of clients 1 and 2 are deleted while they are connected (client_invariants_test
// deleted_records).
void deleted_records(json& j) {
  for (json f : {json{{"at_ms", 20000}, {"kind", "delete_request"}, {"client", 1}},
                 json{{"at_ms", 21000}, {"kind", "disconnect"}, {"client", 1}},
                 json{{"at_ms", 30000}, {"kind", "delete_request"}, {"client", 2}},
                 json{{"at_ms", 31000}, {"kind", "disconnect"}, {"client", 2}}}) {
    j["faults"].push_back(f);
  }
  std::stable_sort(j["faults"].begin(), j["faults"].end(),
                   [](const json& a, const json& b) { return a["at_ms"] < b["at_ms"]; });
}

// requestCheckpoint() after every step, mostly no-op deletes: ids above every upload's
// target, so stale reposts are not hidden by the gate (client_invariants_test).
void frequent_checkpoint_requests(json& j) {
  j["workload"]["request_checkpoint_pct"] = 100;
  j["workload"]["delete_pct"] = 90;
  j["workload"]["keyspace"] = 1000;
  j["service"]["replication_lag_ms"] = 1500;
}

// #201 / pre-1.7.1 acks: replication faster than the storage write; the repost loop would
// re-force a marker and hide the bug, so it is slowed down, and the quiesce is shorter than
// the heartbeat (service_mutants_test).
void fast_replication_slow_repost(json& j) {
  j["service"]["replication_lag_ms"] = 0;
  j["clients"]["repost_delay_ms"] = 600000;
  j["quiesce_s"] = 20;
}

// Requests stay pending for longer than the retention: replication lags for the whole run,
// each client writes once at 100..110 s (the record is then never refreshed: no later
// write, and the repost loop, whose equal retries refresh requested_at, is slowed down) and
// a compact job runs at 175 s.  Correct mongo cleanup keeps pending records (docs/protocol.md
// §3.2.1); the mutant deletes them, so after the heal nothing acknowledges the last request.
void pending_past_retention(json& j) {
  j["workload"]["write_interval_min_ms"] = 100000;
  j["workload"]["write_interval_max_ms"] = 110000;
  j["clients"]["repost_delay_ms"] = 600000;
  j["service"]["checkpoint_request_retention_minutes"] = 1;
  j["duration_s"] = 180;
  j["quiesce_s"] = 60;
  j["faults"] = json::array({json{{"at_ms", 0}, {"kind", "lag"}, {"lag_ms", 3600000}},
                             json{{"at_ms", 175000}, {"kind", "compact"}}});
}

// One write at ~105 s, reconnects every 20 s whose seeds re-post the same id (equal
// retries refresh checkpoint_requested_at), compact jobs every 30 s, 1 min retention.
void refreshed_by_reconnects(json& j) {
  j["clients"]["count"] = 1;
  j["workload"]["write_interval_min_ms"] = 100000;
  j["workload"]["write_interval_max_ms"] = 110000;
  j["service"]["checkpoint_request_retention_minutes"] = 1;
  j["service"]["compact_interval_s"] = 30;
  j["duration_s"] = 250;
  j["faults"] = json::array();
  for (int i = 0; i < 7; ++i) {
    j["faults"].push_back({{"at_ms", 110000 + 20000 * i}, {"kind", "disconnect"}, {"client", 1}});
  }
}

// requestCheckpoint() + waitForSync() after every write, under replication lag.
void waits_for_sync(json& j) {
  j["workload"]["request_checkpoint_pct"] = 100;
  j["workload"]["wait_for_sync_pct"] = 100;
  j["service"]["replication_lag_ms"] = 1000;
}

void clear_client_2(json& j) {
  j["faults"] = json::array(
      {{{"at_ms", 20000}, {"kind", "disconnect_and_clear"}, {"client", 2}, {"down_ms", 2000}}});
}

// Many writes racing slow checkpoint requests (the trace shows "MUTANT target ... stored
// despite new local writes" here, shim_api_test).
void racing_writes(json& j) {
  j["workload"]["write_interval_min_ms"] = 50;
  j["workload"]["write_interval_max_ms"] = 1500;
  j["workload"]["keyspace"] = 4;
  j["clients"]["crud_upload_throttle_ms"] = 3000;
  j["network"]["latency_up_ms"] = 200;
  j["network"]["latency_down_ms"] = 200;
  j["service"]["batch_latency_max_ms"] = 300;
  j["service"]["replication_lag_ms"] = 1000;
  j["duration_s"] = 30;
  j["faults"] = json::array();
}

// Checkpoint lines overtake upload responses: replication and batches immediate, the
// downlink slow; nothing but a later line would retry a blocked checkpoint.
void checkpoint_before_target(json& j) {
  j["service"]["replication_lag_ms"] = 0;
  j["service"]["batch_latency_max_ms"] = 0;
  j["clients"]["repost_delay_ms"] = 600000;
  j["network"]["latency_down_ms"] = 300;
  j["quiesce_s"] = 20;
  j["faults"] = json::array();
}

// The storage mutant shows only when a power loss reverts the file to what fsync made durable.
void power_loss_client_1(json& j) {
  j["faults"].push_back(
      {{"at_ms", 30000}, {"kind", "power_loss"}, {"client", 1}, {"down_ms", 1000}});
}

// connection-limit with 6 clients on 2 API processes of 4 slots each, 40 s: both storms stay
// in the run, and the twin (no leak) still converges every seed.
void fewer_connections(json& j) {
  j["clients"]["count"] = 6;
  j["service"]["max_concurrent_streams"] = 4;
  j["duration_s"] = 40;
}

Entry scen(std::string mutant, std::vector<std::string> helpers, std::function<void(json&)> modify,
           std::vector<std::string> caught_by, bool only = false) {
  return Entry{std::move(mutant),
               std::move(helpers),
               "basic",
               std::move(modify),
               std::move(caught_by),
               only,
               "",
               ""};
}
Entry ext(std::string mutant, std::string filter, std::string invariant) {
  return Entry{std::move(mutant), {}, "", none, {std::move(invariant)}, false,
               std::move(filter), ""};
}
Entry equiv(std::string mutant, std::function<void(json&)> modify, std::string reason) {
  return Entry{std::move(mutant), {}, "basic", std::move(modify), {}, false, "", std::move(reason)};
}

// Empty when the violation gives at least two inputs and a causal chain of at least two steps,
// every step at a trace line of the run (inputs may name no line: a value read from a
// model without a trace line of its own), else what is missing.
std::string unexplained(const sim::Violation& v, uint64_t trace_lines) {
  if (v.inputs.size() < 2) return fmt::format("{} input(s)", v.inputs.size());
  if (v.chain.size() < 2) return fmt::format("{} causal step(s)", v.chain.size());
  for (const auto& in : v.inputs) {
    if (in.line > trace_lines) return fmt::format("input {} at line {}", in.name, in.line);
  }
  for (const auto& c : v.chain) {
    if (c.line == 0 || c.line > trace_lines) {
      return fmt::format("step '{}' at line {} of {}", c.what, c.line, trace_lines);
    }
  }
  return "";
}

const char* kRouteTest =
    "Service/ServiceRouteMutant.IsCaughtByStoredIdMonotonicWithinTheSeedBudget/";

const std::vector<Entry>& mutation_catalog() {
  static const std::vector<Entry> entries = {
      ext("accept-non-positive-ids", std::string(kRouteTest) + "accept_non_positive_ids",
          "service-stored-id-monotonic"),
      scen("ack-before-replication", {}, none, {"service-ack-after-replication"}),
      scen("cleanup-deletes-pending", {}, pending_past_retention,
           {"retention-deletes-only-what-it-may", "converges", "requests-complete"}),
      ext("lower-id-replaces", std::string(kRouteTest) + "lower_id_replaces",
          "service-stored-id-monotonic"),
      scen("marker-before-mapping", {}, fast_replication_slow_repost,
           {"requests-complete", "converges"}),
      scen("no-complete-for-write-checkpoint-only", {},
           [](json& j) { j["service"]["replication_lag_ms"] = 0; },
           {"requests-complete", "converges"}),
      scen("replication-stall", {}, none, {"requests-complete", "converges"}),
      // Issue 14: the invariants the mission names.
      scen("stale-route-response", {}, none, {"route-response-per-request"}),
      scen("equal-retry-keeps-age", {}, refreshed_by_reconnects,
           {"retention-deletes-only-what-it-may"}),
      scen("stale-write-checkpoint-on-connect", {}, add_frequent_reconnects,
           {"gate-never-recloses"}),
      {"generated-answer-ahead", {}, "basic-legacy", none, {"no-wedge"}, false, "", ""},
      // Issue 17: leaked connection-limit slots lock reconnecting clients out for good.
      // connection-limit scaled down (6 clients on 2 x 4 slots, 40 s: both storms; the first
      // one leaks 6 of the 8 slots): the same lock-out at a seventh of the catalog
      // scenario's events (docs/performance-ci.md "Quick suite toward 60 s (perf10)").
      {"connection-slot-leak",
       {},
       "connection-limit",
       fewer_connections,
       {"converges", "requests-complete", "no-wedge"},
       false,
       "",
       ""},
      // Issue 17: a custom write checkpoint that skips replication is acked before its data.
      {"custom-checkpoint-before-replication",
       {},
       "custom-write-checkpoints",
       none,
       {"service-ack-after-replication"},
       false,
       "",
       ""},
      // Issue 17: after a reprocessing's switch-over the replaced instance's streams keep
      // serving buckets that never advance.
      {"stopped-config-keeps-streams",
       {},
       "config-reprocessing",
       none,
       {"converges", "requests-complete", "no-wedge"},
       false,
       "",
       ""},
      // Issue 17: checksums-agree's first mutant: a compact job every 2 s over a 2-row
      // keyspace makes CLEARs early; clients then hold or receive a wrong total.
      scen("clear-loses-checksum", {},
           [](json& j) {
             j["service"]["compact_interval_s"] = 2;
             j["workload"]["keyspace"] = 2;
           },
           {"checksums-agree"}),
      // Issue 17: a torn compaction read that loses the op at its resume point; the clients
      // that clear and reconnect in compaction-pages download while the compact job runs.
      {"torn-read-skips-op",
       {},
       "compaction-pages",
       [](json& j) { j["service"]["compaction_reads"] = "torn"; },
       {"checksums-agree"},
       false,
       "",
       ""},
      // Issue 17: a v3 candidate a compaction's merged document straddles, served with that
      // document's checksum instead of skipped (compaction-v3-checksums, protocol.md §3.3.4).
      {"straddled-checksum-served",
       {},
       "compaction-v3-checksums",
       [](json&) {},
       {"checksums-agree"},
       false,
       "",
       ""},
      // A chunk's MOVE/CLEAR past the checkpoint never withholds the complete: compaction-pages
      // plus a reader (no writes of its own, so it applies checkpoints at once) that clears and
      // re-downloads; it shows superseded rows without their value (protocol.md §3.3.3 step 6).
      {"complete-despite-invalidation",
       {},
       "compaction-pages",
       [](json& j) {
         j["clients"]["count"] = 4;
         j["faults"].push_back(
             {{"at_ms", 0}, {"kind", "quiet"}, {"client", 4}, {"duration_ms", 3600000}});
         j["faults"].push_back(
             {{"at_ms", 35000}, {"kind", "disconnect_and_clear"}, {"client", 4}, {"down_ms", 300}});
       },
       {"consistent-checkpoint"},
       false,
       "",
       ""},
      scen("wait-resolves-on-seen", {}, waits_for_sync, {"wait-for-sync-keeps-promise"}),
      // js-real: a stream's end the published SDK never sees leaves it waiting on nothing,
      // which no-wedge reads from the SDK's own state (docs/invariants.md §3.1 "js-real").
      {"stream-end-unseen",
       {},
       "basic-legacy",
       [](json& j) {
         j["clients"]["sdk"] = "js-real";
         j["duration_s"] = 30;  // client 2's stream ends at 15 s
         json faults = json::array();
         for (const auto& f : j["faults"]) {
           if (f["at_ms"].get<int64_t>() < 30000) faults.push_back(f);
         }
         j["faults"] = faults;
       },
       {"no-wedge"},
       true,
       "",
       ""},
      // Sync streams (issue 7): rows of removed subscriptions keep syncing.
      {"removed-subscription-keeps-buckets",
       {},
       "stream-churn",
       none,
       {"stream-rows-covered"},
       false,
       "",
       ""},
      scen("write-checkpoint-may-drop", {"repost-stale-id", "lower-id-replaces"},
           frequent_checkpoint_requests, {"applied-id-monotonic"}, true),
      scen("complete-without-upload", {}, none, {"read-your-writes", "no-lost-writes"}),
      scen("drop-completed-upload", {}, checkpoint_before_target, {"completed-upload-notified"}),
      scen("publish-while-blocked", {}, none, {"barrier-holds"}),
      scen("repost-stale-id", {"lower-id-replaces", "write-checkpoint-may-drop"},
           frequent_checkpoint_requests, {"applied-id-monotonic"}, true),
      scen("reset-target-on-reconnect", {}, add_frequent_reconnects, {"target-no-regress"}),
      scen("fsync-lies", {}, power_loss_client_1, {"monotonic-reads"}),
      scen("seed-from-one", {}, deleted_records, {"request-id-monotonic"}),
      scen("seed-local-counter", {}, clear_client_2, {"request-id-monotonic"}),
      equiv("skip-sequence-check", racing_writes,
            "one SDK instance uploads sequentially, so a write W racing the request is still in "
            "ps_crud when the mutant stores the id that does not cover W; the gate stays shut "
            "while ps_crud holds W, and W's complete() sets the target back to MAX in the same "
            "transaction as the ps_crud delete (docs/protocol.md §2.2.3), so the wrong target is "
            "gone before "
            "the gate can open. Only a second uploader of the same database (not modelled) "
            "could empty ps_crud in between; read-your-writes' no-flicker half would see it"),
      equiv("target-posted-id", none,
            "the answer exceeds the posted id only when the service's record is ahead of the "
            "client's counter, and the stream only ever reports the stored id, which is >= the "
            "answer: the posted-id target and the answer open the gate at the same line "
            "(docs/protocol.md §3.1.5 stale requests return the stored id at its old head)"),
  };
  return entries;
}

// Catalog scenarios whose seed-1 run passing another quick test asserts on a run it makes
// anyway.  A twin that is that catalog scenario unchanged (only its name differs, which only
// the trace's first line shows) on seed 1 is that run: in quick it is not made again here
// (docs/performance-ci.md "Quick suite toward 60 s (quick20)"); the long twin runs every twin.
const std::map<std::string, std::string>& twin_hosted_by() {
  static const std::map<std::string, std::string> hosted = {
      {"basic", "BasicScenario.PassesAllInvariantsOnEverySeedOfItsBudgetAndRepeatsItsTrace"},
      {"basic-legacy", "BasicLegacy.PassesEverySeedOfItsBudgetAndIsDeterministic"},
      {"compaction-v3-checksums", "StreamWakeIndex.CallingOnlyTheConcernedWatchersKeepsTheTrace"},
      {"config-reprocessing",
       "Catalog/StreamWake.ClientsObserveWhatTheyObservedWhenEveryCheckpointWokeEveryStream/"
       "config_reprocessing"},
      {"custom-write-checkpoints",
       "Catalog/StreamWake.ClientsObserveWhatTheyObservedWhenEveryCheckpointWokeEveryStream/"
       "custom_write_checkpoints"},
      {"stream-churn", "StreamChurn.CatalogScenarioHoldsAndIsNotVacuous"},
  };
  return hosted;
}

// Mutants that must be caught by the seed given, not merely within the budget: this test's run
// of that seed is the one the test that asked for it made (moved here, quick20):
// removed-subscription-keeps-buckets on stream-churn seed 1 was
// StreamChurn.RemovedSubscriptionKeepsBucketsIsCaughtOnSeed1 (stream_sync_test.cpp).
const std::map<std::string, uint64_t>& detected_by_seed() {
  static const std::map<std::string, uint64_t> by = {{"removed-subscription-keeps-buckets", 1}};
  return by;
}

// The twin is `base` as the catalog has it (the name aside).
bool twin_is_the_catalog_scenario(const json& twin, const std::string& base) {
  json plain = catalog_json(base);
  plain["name"] = twin["name"];
  plain["mutants"] = json::array();
  return twin == plain;
}

struct Score {
  std::string mutant;
  std::string scenario;  // base + helpers, for the table
  bool detected = false;
  std::string invariant;
  uint64_t seeds = 0;  // seeds to detection (or run, if not detected)
  std::optional<uint64_t> steps_before, steps_after;
  std::string note;
  std::string twin_hosted_by;  // the quick test that asserts the twin's run passes
  bool equivalent_expected = false;
  std::string failure;  // why this entry fails the test
};

std::string run_external(const std::string& filter, uint64_t& seeds) {
  const std::string cmd =
      fmt::format("'{}' --gtest_filter='{}' 2>&1", SYNCSIM_SERVICE_MUTANTS_TEST, filter);
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "cannot run " + cmd;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = pclose(p);
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(\[ seeds-to-detection \] \S+: (\d+))"))) {
    seeds = std::stoull(m[1]);
  }
  if (rc != 0 || out.find("[  PASSED  ] 1 test") == std::string::npos || seeds == 0) {
    return "external test " + filter + " did not pass:\n" + out;
  }
  return "";
}

Score score(const Entry& e) {
  Score s;
  s.mutant = e.mutant;
  s.equivalent_expected = !e.equivalent.empty();
  if (!e.external.empty()) {
    s.scenario = "service_mutants_test route harness";
    s.failure = run_external(e.external, s.seeds);
    s.detected = s.failure.empty();
    if (s.detected) s.invariant = e.caught_by.front();
    s.note = "caught by " + e.external.substr(0, e.external.find('.'));
    return s;
  }
  const auto ctx = validation_context();
  json j = catalog_json(e.base);
  e.modify(j);
  j["name"] = e.base + "+" + e.mutant;
  json mutants = json::array({e.mutant});
  for (const auto& h : e.helpers) mutants.push_back(h);
  if (e.only) j["invariants"] = e.caught_by;
  s.scenario = e.base;
  for (const auto& h : e.helpers) s.scenario += " +" + h;
  json twin_json = j;
  twin_json["mutants"] = json(e.helpers);
  j["mutants"] = mutants;
  const Scenario scen = parse_scenario(j, ctx, j["name"].get<std::string>());
  RunOptions o;
  o.keep_trace_lines = 20;
  for (uint64_t seed = 1; seed <= kBudget && !s.detected; ++seed) {
    s.seeds = seed;
    o.seed = seed;
    const RunResult r = run_scenario(scen, o);
    if (!r.violation) {
      if (!r.passed) s.failure = fmt::format("seed {}: {}", seed, r.stop.message);
      continue;
    }
    s.detected = true;
    s.invariant = r.violation->invariant;
    if (auto by = detected_by_seed().find(e.mutant);
        by != detected_by_seed().end() && seed > by->second) {
      s.failure = fmt::format("caught on seed {}, not by seed {}", seed, by->second);
      return s;
    }
    if (s.equivalent_expected) {
      s.failure = fmt::format("listed as equivalent but {} caught it on seed {}: {}", s.invariant,
                              seed, r.violation->message);
      return s;
    }
    if (std::find(e.caught_by.begin(), e.caught_by.end(), s.invariant) == e.caught_by.end()) {
      s.failure = fmt::format("seed {}: unexpected invariant {}: {}", seed, s.invariant,
                              r.violation->message);
      return s;
    }
    // Every invariant explains itself (issue 18): what it compared, where each value came
    // from, and the causal chain as trace lines of this run.
    if (auto why = unexplained(*r.violation, r.trace_lines); !why.empty()) {
      s.failure = fmt::format("seed {}: {} does not explain itself: {}", seed, s.invariant, why);
      return s;
    }
    // The twin without the mutant passes on this seed (a hosted twin: see twin_hosted_by()).
    if (SYNCSIM_HOSTED_TWINS && seed == 1 && twin_hosted_by().contains(e.base) &&
        twin_is_the_catalog_scenario(twin_json, e.base)) {
      s.twin_hosted_by = twin_hosted_by().at(e.base);
    } else {
      const Scenario twin = parse_scenario(twin_json, ctx, j["name"].get<std::string>());
      const RunResult t = run_scenario(twin, o);
      if (!t.passed) {
        s.failure =
            fmt::format("the twin without {} fails on seed {}: {}", e.mutant, seed, t.stop.message);
        return s;
      }
    }
    s.steps_before = scenario_steps(scen, r);
    if (kShrinkAttempts > 0) {
      ShrinkOptions so;
      so.seed = seed;
      so.invariant = s.invariant;
      so.ctx = ctx;
      so.max_attempts = kShrinkAttempts;
      const ShrinkResult sr = shrink(scen, so);
      s.steps_after = sr.steps;
      s.note = fmt::format("shrunk in {} runs{}", sr.attempts, sr.exhausted ? " (bounded)" : "");
    }
  }
  if (!s.detected && s.equivalent_expected) s.note = "EQUIVALENT: " + e.equivalent;
  if (!s.detected && !s.equivalent_expected && s.failure.empty()) {
    s.failure = fmt::format("{} survived {} seeds of {}", e.mutant, kBudget, s.scenario);
  }
  return s;
}

TEST(MutationScore, CatalogCoversEveryMutantOnce) {
  std::multiset<std::string> listed;
  for (const auto& e : mutation_catalog()) listed.insert(e.mutant);
  const auto names = mutant_names();
  EXPECT_EQ(listed, std::multiset<std::string>(names.begin(), names.end()));
}

// Every hosted twin's base is a catalog scenario (a renamed one would lose its check).
TEST(MutationScore, EveryHostedTwinNamesACatalogScenario) {
  for (const auto& [base, test] : twin_hosted_by()) {
    EXPECT_NO_THROW(catalog_json(base)) << base << " (" << test << ")";
  }
}

json row(const Score& s) {
  json m = {{"mutant", s.mutant},
            {"detected", s.detected},
            {"scenario", s.scenario},
            {"seeds_to_detection", s.detected ? json(s.seeds) : json()},
            {"seeds_run", s.seeds},
            {"invariant", s.invariant.empty() ? json() : json(s.invariant)},
            {"equivalent", s.equivalent_expected},
            {"note", s.note},
            {"twin_hosted_by", s.twin_hosted_by.empty() ? json() : json(s.twin_hosted_by)},
            {"build", build_id()}};
  m["steps"] = s.steps_before ? json(*s.steps_before) : json();
  m["shrunk_steps"] = s.steps_after ? json(*s.steps_after) : json();
  return m;
}

std::string table_line(const json& m) {
  auto opt = [](const json& v) { return v.is_null() ? std::string("-") : v.dump(); };
  const std::string steps =
      m["steps"].is_null()
          ? "-"
          : opt(m["steps"]) + (m["shrunk_steps"].is_null() ? "" : "->" + opt(m["shrunk_steps"]));
  const std::string note = m["note"].get<std::string>();
  return fmt::format(
      "{:<38} {:<9} {:<30} {:>6} {:>7}  {}{}\n", m["mutant"].get<std::string>(),
      m["detected"].get<bool>() ? "yes" : (m["equivalent"].get<bool>() ? "EQUIVALENT" : "NO"),
      m["invariant"].is_null() ? "-" : m["invariant"].get<std::string>(),
      m["seeds_run"].get<uint64_t>(), steps, m["scenario"].get<std::string>(),
      note.empty() ? "" : "; " + note);
}

// One ctest test per mutant (so that -j2 spreads the score; docs/performance-ci.md "Quick suite
// toward 60 s (perf12)"): each writes its row into <score file>.d/ and rebuilds the table
// from the rows there, under a lock; the table is whole once every mutant has run.
void record_row(const json& m) {
  const std::string file = std::string(SYNCSIM_BUILD_DIR) + "/" + SYNCSIM_SCORE_FILE;
  const std::filesystem::path dir = file + ".d";
  std::filesystem::create_directories(dir);
  const int lock = ::open((dir / "lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(lock, 0) << dir;
  ::flock(lock, LOCK_EX);
  std::ofstream(dir / (m["mutant"].get<std::string>() + ".json")) << m.dump(2) << "\n";
  json doc = {{"seed_budget", kBudget},
              {"shrink_attempts", kShrinkAttempts},
              {"build", build_id()},
              {"mutants", json::array()}};
  int detected = 0;
  int equivalent = 0;
  for (const auto& e : mutation_catalog()) {  // the catalog's order
    std::ifstream in(dir / (e.mutant + ".json"));
    if (!in) continue;
    const json r = json::parse(in);
    detected += r["detected"].get<bool>() ? 1 : 0;
    equivalent += r["equivalent"].get<bool>() ? 1 : 0;
    doc["mutants"].push_back(r);
  }
  doc["detected"] = detected;
  doc["equivalent"] = equivalent;
  doc["total"] = doc["mutants"].size();
  std::ofstream(file + ".tmp") << doc.dump(2) << "\n";
  std::filesystem::rename(file + ".tmp", file);
  if (doc["mutants"].size() == mutation_catalog().size()) {
    std::cout << fmt::format("\nmutation score: budget {} seeds, shrink <= {} runs\n", kBudget,
                             kShrinkAttempts);
    std::cout << fmt::format("{:<38} {:<9} {:<30} {:>6} {:>7}  {}\n", "mutant", "detected",
                             "invariant", "seeds", "steps", "scenario / note");
    for (const auto& r : doc["mutants"]) std::cout << table_line(r);
    std::cout << fmt::format("{}/{} mutants detected ({} more listed as equivalent)\n", detected,
                             doc["mutants"].size() - equivalent, equivalent);
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
}

// GoogleTest prints a parameter in failure messages; an Entry is its mutant.
void PrintTo(const Entry& e, std::ostream* os) { *os << e.mutant; }

class MutantScore : public ::testing::TestWithParam<Entry> {};

TEST_P(MutantScore, IsDetectedWithinTheBudget) {
  const Entry& e = GetParam();
  if (e.external.empty()) {
    json j = catalog_json(e.base);
    e.modify(j);
    if (j["clients"].value("sdk", "") == "js-real") {
      if (auto why = engine::js::js_real_unavailable(j["clients"].value("core", ""))) {
        GTEST_SKIP() << "js-real unavailable: " << *why;
      }
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Score s = score(e);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("[ scored ] {} in {:.1f} s\n", e.mutant, secs);
  const json m = row(s);
  std::cout << table_line(m) << std::flush;
  record_row(m);
  EXPECT_TRUE(s.failure.empty()) << s.mutant << ": " << s.failure;
}

INSTANTIATE_TEST_SUITE_P(MutationScore, MutantScore, ::testing::ValuesIn(mutation_catalog()),
                         [](const ::testing::TestParamInfo<Entry>& info) {
                           std::string n = info.param.mutant;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace syncsim::scenarios
