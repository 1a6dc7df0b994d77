// The client-side safety invariants (scenarios/checks/client_invariants.*, docs/invariants.md §1):
// each is checked in the catalog runs and each fails when a deliberately injected bug breaks it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "model/service.hpp"
#include "scenarios/world/world.hpp"

#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using test_support::catalog;
using test_support::describe;
using test_support::fault;
using test_support::finding;
using test_support::frequent_reconnects;
using test_support::MutantCase;
using test_support::run;

const char* kClientInvariants[] = {"request-id-monotonic", "applied-id-monotonic",
                                   "target-no-regress", "monotonic-reads", "no-lost-writes"};

TEST(ClientInvariants, AreRegisteredAndCheckedOnTheBasicScenario) {
  for (const char* id : kClientInvariants) {
    EXPECT_NE(invariant_catalog().find(id), nullptr) << id;
  }
  RunResult r = run(catalog("basic"), 2);
  ASSERT_TRUE(r.passed) << describe(r);
  for (const char* id : kClientInvariants) {
    EXPECT_GT(r.checks[id], 0u) << id << " was never checked";
  }
}

// The record of clients 1 and 2 is deleted while they are connected; their next iteration's
// seed must re-announce the client's maximum (docs/protocol.md §2.3.4).
Scenario deleted_records() {
  Scenario s = catalog("basic");
  for (const auto& f :
       {fault(20000, FaultKind::DeleteRequest, 1), fault(21000, FaultKind::Disconnect, 1),
        fault(30000, FaultKind::DeleteRequest, 2), fault(31000, FaultKind::Disconnect, 2)}) {
    s.faults.push_back(f);
  }
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ms < b.at_ms; });
  return s;
}

// The app calls requestCheckpoint() after every workload step, and most steps delete an
// absent row (nothing to upload): ids are allocated above every upload's target, so the
// repost loop has stale ids the gate would not hide (docs/protocol.md §2.3.3).
Scenario frequent_checkpoint_requests() {
  Scenario s = catalog("basic");
  s.workload.request_checkpoint_pct = 100;
  s.workload.delete_pct = 90;
  s.workload.keyspace = 1000;
  s.service.replication_lag_ms = 1500;
  return s;
}

// Checkpoint lines overtake upload responses (replication and batches immediate, the
// downlink slow): the gate withholds checkpoints that only completed_upload retries.
Scenario checkpoint_before_target() {
  Scenario s = catalog("basic");
  s.service.replication_lag_ms = 0;
  s.service.batch_latency_max_ms = 0;
  s.clients.repost_delay_ms = 600000;
  s.network.latency_down_ms = 300;
  s.quiesce_s = 20;
  s.faults.clear();
  return s;
}

// Sees, at every iteration start, whether ps_buckets holds only renamed (another sync-rules
// instance's) buckets none of which is applied, after the database had shown applied state:
// the state the monotonic-reads checker must not call a regression.
class RenameWatcher : public engine::ClientObserver {
 public:
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& /*payload*/,
                  const std::optional<std::string>& /*result*/) override {
    if (op != "start") return;
    const int64_t position = c.applied_position();
    auto& shown = shown_[c.index()];
    const auto buckets = c.bucket_checksums();
    if (position == 0 && shown > 0 && !buckets.empty() &&
        std::ranges::none_of(
            buckets, [](const auto& b) { return model::Service::bucket_version(b.first) == 1; })) {
      ++renamed_unapplied_starts;
    }
    shown = std::max(shown, position);
  }
  void on_sync_applied(engine::Client& c, std::optional<int64_t> /*applied_id*/) override {
    shown_[c.index()] = std::max(shown_[c.index()], c.applied_position());
  }
  int renamed_unapplied_starts = 0;

 private:
  std::map<int, int64_t> shown_;
};

// Regression (world hunt seeds 5 and 354, docs/findings-world.md W13): after a sync-config
// reprocessing renamed the buckets, the core deletes the old ones on receipt of the new
// instance's checkpoint, before the gate lets it apply it; a reconnect in between reads
// max(last_applied_op) = 0 while the rows shown are unchanged.  The checker must not call that
// a regression, and the run must reach that state (else the test proves nothing).
TEST(ClientInvariants, MonotonicReadsHoldsAcrossABucketRenameBeforeTheApply) {
  Scenario s = catalog("config-reprocessing");
  s.faults.erase(s.faults.begin() + 1, s.faults.end());  // one reprocessing at 20 s
  // Replication lags during the switch, so targets stay above last_seen (the gate holds the
  // new instance's first checkpoint), and each client reconnects while it waits.
  Fault lag = fault(20000, FaultKind::Lag);
  lag.lag_ms = 4000;
  lag.duration_ms = 20000;
  s.faults.push_back(lag);
  for (int c = 1; c <= s.clients.count; ++c) {
    for (int64_t at = 24000; at <= 36000; at += 1500) {
      s.faults.push_back(fault(at + 100 * c, FaultKind::Disconnect, c));
    }
  }
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ms < b.at_ms; });
  int reached = 0;
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    RenameWatcher watcher;
    RunOptions o;
    o.seed = seed;
    o.keep_trace_lines = 30;
    o.attach = [&](World& w) { w.observers().add(&watcher); };
    const RunResult r = run_scenario(s, o);
    ASSERT_TRUE(r.passed) << "seed " << seed << ": " << describe(r);
    EXPECT_GT(r.checks.at("monotonic-reads"), 0u);
    reached += watcher.renamed_unapplied_starts;
  }
  EXPECT_GT(reached, 0) << "no iteration started with renamed, unapplied buckets";
}

class ClientInvariantMutants : public ::testing::TestWithParam<MutantCase> {};

// Each mutant is detected within 20 seeds by the invariant it is meant to break, and the
// same scenario without the mutant passes those seeds.
TEST_P(ClientInvariantMutants, AreCaught) { test_support::expect_mutant_caught(GetParam(), 20); }

INSTANTIATE_TEST_SUITE_P(
    Checkers, ClientInvariantMutants,
    ::testing::Values(
        // read-your-writes notices the missing row first; no-lost-writes on its own too.
        MutantCase{"complete_without_upload",
                   {"complete-without-upload"},
                   "no-lost-writes",
                   [] { return catalog("basic"); },
                   true},
        // The no-flicker half of read-your-writes: the batch complete() dropped is visible
        // locally until the next sync apply resets the row to the server's state.
        MutantCase{"complete_without_upload_flickers",
                   {"complete-without-upload"},
                   "read-your-writes",
                   [] { return catalog("basic"); },
                   true},
        MutantCase{"drop_completed_upload",
                   {"drop-completed-upload"},
                   "completed-upload-notified",
                   checkpoint_before_target},
        MutantCase{"reset_target_on_reconnect",
                   {"reset-target-on-reconnect"},
                   "target-no-regress",
                   frequent_reconnects},
        MutantCase{"seed_from_one", {"seed-from-one"}, "request-id-monotonic", deleted_records},
        // No one bug alone lowers an applied id: the service keeps the maximum and a mongo
        // connection emits only greater ids (I7).  Together the stale repost lowers the
        // stored id mid-connection and the connection passes the lower id on.
        MutantCase{"repost_stale_id_with_lower_id_replaces",
                   {"repost-stale-id", "lower-id-replaces", "write-checkpoint-may-drop"},
                   "applied-id-monotonic",
                   frequent_checkpoint_requests,
                   true}),
    [](const auto& info) { return info.param.name; });

TEST(MonotonicReads, NoBucketsBeforeTheNewInstancesFirstDataAreNotARollback) {
  // docs/findings-world.md W25: after a reprocessing the new instance's checkpoint line deletes the
  // old buckets and the stream breaks before data: ps_buckets is empty while the rows shown are
  // those of the applied checkpoint.  It failed before the checker knew this; the fsync-lies
  // mutant (a reverted file, MutationScore) is still judged because a power loss is not exempt.
  const Scenario s = finding("reprocess-before-first-data");
  const RunResult r = run(s, 2759);
  EXPECT_TRUE(r.passed) << describe(r);
  EXPECT_GT(r.checks.at("monotonic-reads"), 0u);
  EXPECT_GT(r.metrics.at("sync_config_activations"), 0u) << "the reprocessing happened";
}

}  // namespace
}  // namespace syncsim::scenarios
