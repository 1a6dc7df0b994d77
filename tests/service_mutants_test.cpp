// The service model's checkers, shown to fail: every service mutant (a deliberately injected
// bug, off by default) is caught by an invariant within a seed budget (SYNCSIM_SEED_BUDGET:
// small in the quick suite, 200 in the long one), and the same runs without the mutant
// pass.  Seeds-to-detection are printed and recorded as test properties.
// Also: the storm twins (postgres writes more source markers than mongo), and the
// generated-id batching race of docs/protocol.md §3.1.3, which service-ack-after-replication
// reports as a finding.
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/service.hpp"
#include "scenarios/world/runner.hpp"
#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"
#include "tests/support/scenario_helpers.hpp"

#ifndef SYNCSIM_SEED_BUDGET
#define SYNCSIM_SEED_BUDGET 20
#endif

namespace syncsim {
namespace {

using nlohmann::json;
using scenarios::RunResult;
using scenarios::Scenario;

constexpr uint64_t kBudget = SYNCSIM_SEED_BUDGET;

using scenarios::test_support::catalog;
using scenarios::test_support::run;

// ---------------------------------------------------------------------------------------
// Scenario-level mutants
// ---------------------------------------------------------------------------------------

// In `long` only (200 seeds): in quick, MutationScore.EveryMutantIsDetected scores every one
// of these mutants on the same catalog scenario with the same tweak, expects the same
// invariants, within 5 seeds, and checks the same twin, so a quick instance here repeated its
// runs (issue 20 (e), perf10; docs/performance-ci.md "Quick suite toward 60 s (perf10)").
#ifdef SYNCSIM_SCENARIO_MUTANTS
struct ScenarioMutant {
  const char* mutant;
  const char* scenario;
  std::function<void(Scenario&)> tweak;
  std::vector<std::string> caught_by;  // any of these
};

std::vector<ScenarioMutant> scenario_mutants() {
  return {
      {"ack-before-replication", "basic", [](Scenario&) {}, {"service-ack-after-replication"}},
      // #201: with replication faster than the storage write, the marker is replicated
      // before the mapping exists, so the ack waits for the next source commit.  The repost
      // loop (every 10 s) would re-force a marker and hide it, so it is slowed down here,
      // and the quiesce is shorter than the heartbeat.
      {"marker-before-mapping",
       "basic",
       [](Scenario& s) {
         s.service.replication_lag_ms = 0;
         s.clients.repost_delay_ms = 600000;
         s.quiesce_s = 20;
       },
       {"requests-complete", "converges"}},
      // Pre-1.7.1: an ack that arrives on its own (replication already past the data, so
      // the marker's checkpoint changes only write_checkpoint) is never completed.
      {"no-complete-for-write-checkpoint-only",
       "basic",
       [](Scenario& s) { s.service.replication_lag_ms = 0; },
       {"requests-complete", "converges"}},
      // Issue 17 (docs/protocol.md §3.3.4): a torn compaction read that loses the op at its
      // resume point leaves a downloading client with a checksum the ops never had.
      {"torn-read-skips-op",
       "compaction-pages",
       [](Scenario& s) { s.service.compaction_reads = "torn"; },
       {"checksums-agree"}},
      // Issue 17 (docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip"): a v3
      // candidate served with its straddling document's checksum.
      {"straddled-checksum-served",
       "compaction-v3-checksums",
       [](Scenario&) {},
       {"checksums-agree"}},
  };
}

class ServiceScenarioMutant : public ::testing::TestWithParam<ScenarioMutant> {};

TEST_P(ServiceScenarioMutant, IsCaughtWithinTheSeedBudgetAndTheTwinPasses) {
  Scenario s = catalog(GetParam().scenario);
  GetParam().tweak(s);
  uint64_t detected_at = 0;
  for (uint64_t seed = 1; seed <= kBudget && detected_at == 0; ++seed) {
    Scenario m = s;
    m.mutants = {GetParam().mutant};
    RunResult r = run(m, seed);
    if (!r.violation) continue;
    const auto& ids = GetParam().caught_by;
    ASSERT_NE(std::find(ids.begin(), ids.end(), r.violation->invariant), ids.end())
        << "seed " << seed << " caught by an unexpected invariant: " << r.violation->invariant
        << ": " << r.violation->message;
    detected_at = seed;
  }
  ASSERT_GT(detected_at, 0u) << GetParam().mutant << " not detected within " << kBudget << " seeds";
  std::cout << "[ seeds-to-detection ] " << GetParam().mutant << ": " << detected_at << "\n";
  RecordProperty("seeds_to_detection", static_cast<int>(detected_at));
  // The same scenario without the mutant passes on the detecting seed.
  RunResult clean = run(s, detected_at);
  EXPECT_TRUE(clean.passed) << "the twin without the mutant failed on seed " << detected_at << ": "
                            << clean.stop.message;
}

INSTANTIATE_TEST_SUITE_P(Service, ServiceScenarioMutant, ::testing::ValuesIn(scenario_mutants()),
                         [](const auto& info) {
                           std::string n = info.param.mutant;
                           for (auto& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });
#endif

// ---------------------------------------------------------------------------------------
// Route-level mutants: a seeded client that posts valid, stale, equal, greater and
// invalid checkpoint requests for a few keys, judged by service-stored-id-monotonic.
// ---------------------------------------------------------------------------------------

struct RouteRun {
  std::optional<sim::Violation> violation;
  int accepted = 0;
  int rejected = 0;
};

// A server stream that discards its lines: the service only needs a connection open so
// that it emits write_checkpoint values (judged by service-ack-after-replication).
class NullStream : public sim::ServerStream {
 public:
  [[nodiscard]] bool closed() const override { return closed_; }
  sim::Signal& closed_signal() override { return closed_signal_; }
  void send(std::string) override {}
  void end() override { closed_ = true; }
  void abort() override {
    closed_ = true;
    closed_signal_.notify();
  }

 private:
  bool closed_ = false;
  sim::Notifier closed_signal_;
};

// generated_only: legacy clients (GET /write-checkpoint2.json) on postgres storage, with a
// sync stream per client open so every acknowledgement is judged.
RouteRun post_random_requests(uint64_t seed, std::vector<model::ServiceMutant> mutants,
                              bool generated_only = false) {
  sim::Loop loop;
  sim::Trace trace(loop.clock());
  sim::Verdicts verdicts({"service-stored-id-monotonic", "service-ack-after-replication"});
  model::ServiceConfig cfg;
  cfg.mutants = std::move(mutants);
  if (generated_only) {
    cfg.flavour = model::StorageFlavour::Postgres;
    cfg.replication_lag = sim::kSeconds;  // acks come long after the burst's batches wrote
  }
  model::Service svc(loop, trace, sim::Prng(seed), cfg);
  svc.set_verdicts(&verdicts);
  svc.start();
  std::vector<std::shared_ptr<NullStream>> streams;
  if (generated_only) {
    for (int c = 0; c < 3; ++c) {
      sim::HttpRequest open;
      open.method = "POST";
      open.path = "/sync/stream";
      open.subject = "u";
      open.body = json{{"client_id", "c" + std::to_string(c)}, {"buckets", json::array()}}.dump();
      streams.push_back(std::make_shared<NullStream>());
      EXPECT_EQ(svc.open_stream(open, streams.back()).status, 200);
    }
  }
  sim::Prng rng(seed * 7919 + 1);
  RouteRun out;
  std::map<std::string, int64_t> last;  // per client: the id it last got back
  if (generated_only) {
    // Bursts of four legacy requests (two from one client interleaved with two from
    // another) within a few ms, then quiet for longer than the replication lag, so the
    // ack of each burst is observable before the next burst moves the head again.
    for (int burst = 0; burst < 20 && !loop.stopped(); ++burst) {
      const int k = static_cast<int>(rng.uniform(3));
      const int other = (k + 1 + static_cast<int>(rng.uniform(2))) % 3;
      for (int c : {other, k, other, k}) {
        sim::HttpRequest req;
        req.subject = "u";
        req.method = "GET";
        req.path = "/write-checkpoint2.json?client_id=c" + std::to_string(c);
        svc.handle(req, [&out](sim::HttpResponse r) {
          ++(r.status == 200 ? out.accepted : out.rejected);
        });
        loop.run_until(loop.now() + static_cast<sim::Micros>(rng.uniform(15)) * sim::kMillis);
      }
      loop.run_until(loop.now() + 1500 * sim::kMillis +
                     static_cast<sim::Micros>(rng.uniform(200)) * sim::kMillis);
    }
  }
  for (int i = 0; i < 60 && !generated_only && !loop.stopped(); ++i) {
    const std::string client = "c" + std::to_string(rng.uniform(3));
    sim::HttpRequest req;
    req.subject = "u";
    {
      req.method = "POST";
      req.path = "/sync/checkpoint-request";
      const int64_t cur = last[client];
      json id;
      switch (rng.uniform(6)) {
        case 0:
          id = cur + 1;
          break;  // the next id
        case 1:
          id = cur;
          break;  // an equal retry
        case 2:
          id = std::max<int64_t>(1, cur - 1);
          break;  // stale
        case 3:
          id = std::to_string(cur + 2);
          break;  // a string id
        case 4:
          id = -static_cast<int64_t>(rng.uniform(3));
          break;  // 0, -1, -2: invalid
        default:
          id = "x";
          break;  // garbage
      }
      req.body = json{{"client_id", client}, {"checkpoint_request_id", id}}.dump();
    }
    svc.handle(req, [&out, &last, client](sim::HttpResponse r) {
      if (r.status != 200) {
        ++out.rejected;
        return;
      }
      ++out.accepted;
      const auto data = json::parse(r.body)["data"];
      const auto v = data.contains("write_checkpoint") ? data["write_checkpoint"]
                                                       : data["checkpoint_request_id"];
      last[client] = std::stoll(v.get<std::string>());
    });
    loop.run_until(loop.now() + static_cast<sim::Micros>(rng.uniform(30)) * sim::kMillis);
  }
  loop.run_until(loop.now() + 120 * sim::kSeconds);
  out.violation = verdicts.first();
  loop.shutdown();
  return out;
}

struct RouteMutant {
  const char* name;
  model::ServiceMutant mutant;
};

class ServiceRouteMutant : public ::testing::TestWithParam<RouteMutant> {};

TEST_P(ServiceRouteMutant, IsCaughtByStoredIdMonotonicWithinTheSeedBudget) {
  uint64_t detected_at = 0;
  for (uint64_t seed = 1; seed <= kBudget && detected_at == 0; ++seed) {
    RouteRun r = post_random_requests(seed, {GetParam().mutant});
    if (!r.violation) continue;
    EXPECT_EQ(r.violation->invariant, "service-stored-id-monotonic") << r.violation->message;
    // It explains itself (issue 18): the ids it compared and the batch that wrote them.
    EXPECT_GE(r.violation->inputs.size(), 3u) << r.violation->message;
    ASSERT_FALSE(r.violation->chain.empty()) << r.violation->message;
    EXPECT_GT(r.violation->chain.back().line, 0u) << r.violation->chain.back().what;
    detected_at = seed;
  }
  ASSERT_GT(detected_at, 0u) << GetParam().name << " not detected within " << kBudget << " seeds";
  std::cout << "[ seeds-to-detection ] " << GetParam().name << ": " << detected_at << "\n";
  RecordProperty("seeds_to_detection", static_cast<int>(detected_at));
}

INSTANTIATE_TEST_SUITE_P(Service, ServiceRouteMutant,
                         ::testing::Values(RouteMutant{"accept_non_positive_ids",
                                                       model::ServiceMutant::AcceptNonPositiveIds},
                                           RouteMutant{"lower_id_replaces",
                                                       model::ServiceMutant::LowerIdReplaces}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ServiceRoute, RandomSuppliedRequestsKeepEveryServiceInvariant) {
  for (uint64_t seed = 1; seed <= kBudget; ++seed) {
    RouteRun r = post_random_requests(seed, {});
    ASSERT_FALSE(r.violation) << "seed " << seed << ": " << r.violation->message;
    EXPECT_GT(r.accepted, 0);
    EXPECT_GT(r.rejected, 0) << "the generator must also send invalid requests";
  }
}

// Legacy clients on postgres storage: every generated request is answered with the next
// id of its key.  (The generated-id batching race of docs/protocol.md §3.1.3 needs a commit between
// two batches' head reads and the later batch to write first; this harness has not shown it
// yet, see the issue-3 closing note.)
TEST(ServiceRoute, GeneratedRequestsAreAnsweredAndKeepStoredIdsMonotonic) {
  for (uint64_t seed = 1; seed <= kBudget; ++seed) {
    RouteRun r = post_random_requests(seed, {}, /*generated_only=*/true);
    EXPECT_EQ(r.accepted, 80) << "seed " << seed;
    EXPECT_EQ(r.rejected, 0) << "seed " << seed;
    if (r.violation) {
      EXPECT_NE(r.violation->invariant, "service-stored-id-monotonic") << r.violation->message;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Storm twins: the same storm with duplicate requests on both storage flavours.
// ---------------------------------------------------------------------------------------

TEST(StormTwins, PostgresWritesMoreSourceMarkersThanMongo) {
  const Scenario mongo = catalog("storm-mongo");
  const Scenario postgres = catalog("storm-postgres");
  EXPECT_EQ(mongo.service.flavour, "mongo");
  EXPECT_EQ(postgres.service.flavour, "postgres");
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    RunResult m = run(mongo, seed);
    RunResult p = run(postgres, seed);
    ASSERT_TRUE(m.passed) << m.stop.message;
    ASSERT_TRUE(p.passed) << p.stop.message;
    if (seed == 1) {  // both scenarios' determinism (hosted here, not in CatalogDeterminism)
      EXPECT_TRUE(scenarios::test_support::repeats_its_trace(mongo, m, seed));
      EXPECT_TRUE(scenarios::test_support::repeats_its_trace(postgres, p, seed));
    }
    EXPECT_GT(p.metrics.at("markers_written"), m.metrics.at("markers_written")) << "seed " << seed;
    // On postgres every batch writes a marker; on mongo only batches with a pending record.
    EXPECT_EQ(p.metrics.at("markers_written"), p.metrics.at("batches"));
    EXPECT_LT(m.metrics.at("markers_written"), m.metrics.at("batches"));
  }
}

// Every service-side fault kind in one run: it heals, all invariants hold, and each fault
// visibly happened (not a vacuous pass).
TEST(ServiceFaults, EveryFaultKindHealsAndHappened) {
  const Scenario s = catalog("service-faults");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    RunResult r = run(s, seed);
    ASSERT_TRUE(r.passed) << "seed " << seed << ": " << r.stop.message;
    // Determinism of service-faults (hosted here, not in CatalogDeterminism).
    if (seed == 1) {
      EXPECT_TRUE(scenarios::test_support::repeats_its_trace(s, r, seed));
    }
    EXPECT_EQ(r.metrics.at("restarts"), 1u);
    EXPECT_GT(r.metrics.at("requests_deleted"), 0u);
    EXPECT_GT(r.metrics.at("compact_jobs"), 1u);
    EXPECT_GT(r.metrics.at("blocked_replication_commits"), 0u) << "replay after the restart";
    EXPECT_GT(r.metrics.at("streams_opened"), 8u) << "restart, config change and storm reconnect";
  }
}

}  // namespace
}  // namespace syncsim
