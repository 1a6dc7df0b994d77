// The client-side safety invariants (scenarios/checks/client_invariants.*, docs/invariants.md §1):
// each is checked in the catalog runs and each fails when a deliberately injected bug breaks it.
#include <gtest/gtest.h>

#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using test_support::catalog;
using test_support::describe;
using test_support::fault;
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

}  // namespace
}  // namespace syncsim::scenarios
