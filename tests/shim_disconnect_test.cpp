// The port's API while disconnect() is under way (fidelity review items 5 and 16), against the
// real core 0.5.3 and a scripted service (docs/protocol.md §2.1.9, §2.3.1):
// - ConnectionManager.performDisconnect nulls the sync implementation before it awaits
//   sync.disconnect(), so requestCheckpoint() and waitForSync() reject as soon as disconnect()
//   begins, not once the loops have ended;
// - markAsDisconnected keeps internal_last_applied_checkpoint_request_id until a status from the
//   core clears it, so an applied request still counts as synced right after disconnect() began.
// A held upload keeps the upload loop (and so disconnect()) running for as long as the test
// wants: the connector's uploadData is not abortable.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/sdk_shim.hpp"
#include "sim/loop.hpp"
#include "tests/support/scripted_server.hpp"

namespace syncsim {
namespace {

using namespace test_support::sync_lines;  // NOLINT(google-build-using-namespace)

struct Harness : test_support::ShimHarness {
  explicit Harness(engine::CheckpointMode mode = engine::CheckpointMode::Requests)
      : ShimHarness(mode, "disconnect-client-1") {}

  // connect, seed, requestCheckpoint() (id 2) applied by the next checkpoint, then a local
  // write whose upload is held: the upload loop is busy until release_upload().
  void applied_request_then_held_upload() {
    client->open();
    client->connect();
    run_for(1 * sim::kSeconds);
    ASSERT_EQ(server.posted, std::vector<std::string>({"1"})) << tail();
    requested.reset();
    loop.spawn(
        [](Harness& h) -> sim::Task<void> {
          h.requested = co_await h.client->request_checkpoint();
        }(*this),
        "app.request");
    run_for(1 * sim::kSeconds);
    ASSERT_EQ(requested, std::optional<int64_t>(2)) << tail();
    server.send(line_checkpoint("1", "2", 11, 1));
    server.send(line_data("1", "r1", "server1", 11));
    server.send(line_complete("1"));
    run_for(1 * sim::kSeconds);
    ASSERT_TRUE(client->is_checkpoint_request_applied(2)) << tail();
    client->local_write({"todos", "l1", "local1"});
    run_for(2 * sim::kSeconds);
    ASSERT_EQ(server.held_uploads.size(), 1u) << tail();
  }

  // Starts disconnect() (at the loop's next turn); `disconnected` once it returned.
  void begin_disconnect() {
    loop.spawn(
        [](Harness& h) -> sim::Task<void> {
          co_await h.client->disconnect();
          h.disconnected = true;
        }(*this),
        "app.disconnect");
  }

  std::optional<int64_t> requested;
  bool disconnected = false;
};

// A task's outcome: the error it threw, or "ok".
sim::Task<void> capture(sim::Task<void> call, std::string& out) {
  try {
    co_await std::move(call);
    out = "ok";
  } catch (const engine::SyncApiError& e) {
    out = e.what();
  }
}

sim::Task<void> request(engine::Client& c) { co_await c.request_checkpoint(); }

constexpr const char* kDisconnected = "Cannot request checkpoints, sync client is disconnected.";

// ConnectionManager.performDisconnect (@powersync/shared-internals 1.3.0
// lib/client/ConnectionManager.js): `this.syncStreamImplementation = null` before `await
// sync.disconnect()`; BasePowerSyncDatabase.requestCheckpoint then throws
// cannotRequestDueToDisconnectedError.  The port used to accept requests until its loops ended:
// here it would have allocated id 3 and posted it while the held upload kept the upload loop up.
TEST(DuringDisconnect, RequestCheckpointRejectsAsSoonAsDisconnectBegins) {
  Harness h;
  h.applied_request_then_held_upload();
  h.begin_disconnect();
  h.run_for(100 * sim::kMillis);
  ASSERT_FALSE(h.disconnected) << "the held upload keeps disconnect() waiting";
  ASSERT_TRUE(h.client->sync_running());
  std::string outcome;
  h.loop.spawn(capture(request(*h.client), outcome), "app.request-during-disconnect");
  h.run_for(100 * sim::kMillis);
  EXPECT_EQ(outcome, kDisconnected);
  EXPECT_EQ(h.server.posted, std::vector<std::string>({"1", "2"})) << "nothing posted after";
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 2) << "no id allocated";
  h.server.release_upload();
  h.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(h.disconnected) << h.tail();
}

// CheckpointRequestImpl.waitForSync (same package, lib/client/sync/CheckpointRequestImpl.js)
// checks `manager.syncStreamImplementation == null` before the checkpoint mode, so in legacy
// mode a wait while the loops wind down rejects as disconnected.  The port used to test "no
// loop running" and so answered with the legacy-mode error.
TEST(DuringDisconnect, WaitForSyncRejectsAsDisconnectedBeforeTheModeCheck) {
  Harness h(engine::CheckpointMode::Legacy);
  ASSERT_NO_FATAL_FAILURE(h.connected_with_held_upload());
  h.begin_disconnect();
  h.run_for(100 * sim::kMillis);
  ASSERT_FALSE(h.disconnected);
  std::string outcome;
  h.loop.spawn(capture(h.client->wait_for_sync(1, nullptr), outcome), "app.wait");
  h.run_for(10 * sim::kMillis);
  EXPECT_EQ(outcome, kDisconnected);
  h.server.release_upload();
  h.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(h.disconnected) << h.tail();
}

// AbstractStreamingSyncImplementation.markAsDisconnected (same package) spreads the core's
// status with connected/connecting false and downloading null, so the applied request id
// stays: right after disconnect() began, request 2 still counts as synced and its
// waitForSync() resolves (`if (this.hasSynced) return` comes before any check).  Only the
// core's next status (`connection end` on 0.5.3, as the download loop winds down) replaces it.
// The port used to clear the id at once (fidelity review item 16).
TEST(DuringDisconnect, TheAppliedRequestIdOutlivesTheDisconnectedMarkUntilTheCoresStatus) {
  Harness h;
  h.applied_request_then_held_upload();
  // Spawned right after disconnect(): runs once disconnect() waits for its loops (aborted,
  // marked disconnected), before the download loop sees the abort.
  h.begin_disconnect();
  bool connected = true;
  bool applied = false;
  std::string outcome;
  h.loop.spawn(
      [](Harness& hh, bool& c, bool& a, std::string& out) -> sim::Task<void> {
        c = hh.client->connected();
        a = hh.client->is_checkpoint_request_applied(2);
        co_await capture(hh.client->wait_for_sync(2, nullptr), out);
      }(h, connected, applied, outcome),
      "app.wait");
  h.run_for(100 * sim::kMillis);
  ASSERT_FALSE(h.disconnected);
  EXPECT_FALSE(connected) << "markAsDisconnected ran first";
  EXPECT_TRUE(applied) << "markAsDisconnected kept internal_last_applied_checkpoint_request_id";
  EXPECT_EQ(outcome, "ok") << "hasSynced resolves before the disconnected check";
  const auto end = h.recorder.last("connection", std::string("end"));
  ASSERT_FALSE(end.empty()) << h.tail();
  const auto& status = end[0]["UpdateSyncStatus"]["status"];
  EXPECT_EQ(h.client->is_checkpoint_request_applied(2),
            status.contains("internal_last_applied_checkpoint_request_id"))
      << "the core's status decides from then on: " << status.dump();
  h.server.release_upload();
  h.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(h.disconnected) << h.tail();
}

// generateSyncStreamImplementation builds a new remote per connect() (@powersync/node 1.1.0:
// `new NodeRemote(connector, ...)`), and AbstractRemote's `credentials` start null: a connect
// after a disconnect fetches credentials again.  The port reused its cached token (found by
// `syncsim diff` on compaction-pages and deleted-records, docs/sdk-diff.md session js13).
TEST(Reconnect, EveryConnectFetchesCredentialsAgain) {
  Harness h;
  h.server.hold_uploads = false;
  h.client->open();
  h.client->connect();
  h.run_for(1 * sim::kSeconds);
  const uint64_t first = h.client->stats().credential_fetches;
  ASSERT_GE(first, 1u);
  h.begin_disconnect();
  h.run_for(1 * sim::kSeconds);
  ASSERT_TRUE(h.disconnected) << h.tail();
  h.client->connect();
  h.run_for(1 * sim::kSeconds);
  EXPECT_GT(h.client->stats().credential_fetches, first) << h.tail();
  EXPECT_EQ(h.server.stream_requests.size(), 2u) << "both connects opened a stream";
}

}  // namespace
}  // namespace syncsim
