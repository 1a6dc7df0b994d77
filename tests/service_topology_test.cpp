// Issue 17: the service as it really runs (docs/protocol.md §3.1.3 "Several API processes" and
// "Batch failures", §3.1.5 "Duplicates", §3.3.1 "Connection limit", §3.4 "Replication-only
// restart").  Each test names the powersync-service v1.24.0 file it follows.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/service.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"
#include "tests/support/capturing_stream.hpp"
#include "tests/support/service_world.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kMillis;
using sim::kSeconds;

using test_support::CapturingStream;

struct World : test_support::ServiceWorld {
  explicit World(ServiceConfig config, uint64_t seed = 11)
      : ServiceWorld(std::move(config), seed) {}

  // Posts without running the loop; the answer lands in `out` later.
  void post(const std::string& user, const std::string& client, std::optional<int64_t> id,
            sim::HttpResponse* out) {
    sim::HttpRequest r;
    r.subject = user;
    if (id) {
      r.method = "POST";
      r.path = "/sync/checkpoint-request";
      r.body = json{{"client_id", client}, {"checkpoint_request_id", *id}}.dump();
    } else {
      r.method = "GET";
      r.path = "/write-checkpoint2.json?client_id=" + client;
    }
    svc.handle(r, [out](sim::HttpResponse response) { *out = std::move(response); });
  }
  void upload(const std::string& user, int i) {
    svc.handle(test_support::upload_request(user, i),
               [](sim::HttpResponse response) { ASSERT_EQ(response.status, 200); });
  }
};

// ---------------------------------------------------------------------------------------
// Several API processes (write-checkpoint-batcher.ts: one WriteCheckpointBatcher per process)
// ---------------------------------------------------------------------------------------

TEST(ApiProcesses, EachProcessBatchesOnItsOwnAndAllShareOneStorage) {
  ServiceConfig config;
  config.api_processes = 3;
  World w(config);
  ASSERT_EQ(w.svc.api_processes(), 3u);
  // 30 clients post at one instant: one process would make one batch of 30.
  std::vector<sim::HttpResponse> answers(30, sim::HttpResponse{-1, ""});
  for (int i = 0; i < 30; ++i) w.post("u" + std::to_string(i), "c", 5, &answers[i]);
  w.run_for(kSeconds);
  uint64_t batches = 0;
  for (std::size_t p = 0; p < 3; ++p) {
    EXPECT_GE(w.svc.batcher(p).batches(), 1u) << "process " << p << " got no request";
    EXPECT_LT(w.svc.batcher(p).largest_batch(), 30u);
    batches += w.svc.batcher(p).batches();
  }
  EXPECT_EQ(batches, 3u) << "same-turn batching within each process";
  for (const auto& a : answers) EXPECT_EQ(a.status, 200);
  // Shared storage: every key is stored once, whichever process wrote it.
  EXPECT_EQ(w.svc.checkpoints().records().size(), 30u);
}

TEST(ApiProcesses, OneProcessKeepsOneBatchPerTurn) {
  World w(ServiceConfig{});
  std::vector<sim::HttpResponse> answers(30, sim::HttpResponse{-1, ""});
  for (int i = 0; i < 30; ++i) w.post("u" + std::to_string(i), "c", 5, &answers[i]);
  w.run_for(kSeconds);
  EXPECT_EQ(w.svc.batcher().batches(), 1u);
  EXPECT_EQ(w.svc.batcher().largest_batch(), 30u);
}

// write-checkpoint-batcher.ts (v1.24.0): executeBatch(...).finally(() => { inFlight--;
// schedulePump(); }) pumps one turn later, so a request that arrives in the turn a batch
// finishes joins the waiting ones (docs/protocol.md §3.1.3 "Re-dispatch").  With one batch in
// flight: A runs; B waits; A's answer makes its caller post C in the same turn; B and C are
// one batch (a synchronous re-dispatch would send B alone and C after it).
TEST(Batcher, ReDispatchesOnTheNextTurnSoTheFinishingTurnsRequestsJoin) {
  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  SourceDb source;
  CheckpointStore store;
  BatcherConfig config;
  config.max_in_flight = 1;
  BatcherHooks hooks;
  hooks.write_marker = [] {};
  CheckpointBatcher batcher(loop, trace, sim::Prng(3), source, store, config, hooks);
  std::vector<std::string> answered;
  const auto answer = [&answered](const std::string& who) {
    return [&answered, who](BatchOutcome o) {
      EXPECT_TRUE(o.ok) << who << ": " << o.error;
      answered.push_back(who);
    };
  };
  batcher.enqueue("a/c", 1, [&](BatchOutcome o) {
    answer("A")(o);
    loop.after(0, [&] { batcher.enqueue("c/c", 1, answer("C")); });
  });
  loop.run_until(loop.now() + 1);  // A is dispatched and in flight
  ASSERT_EQ(batcher.in_flight(), 1);
  batcher.enqueue("b/c", 1, answer("B"));
  loop.run_until(loop.now() + kSeconds);
  EXPECT_EQ(answered, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(batcher.batches(), 2u) << "B and C share the second batch";
  EXPECT_EQ(batcher.largest_batch(), 2u);
  loop.shutdown();
}

// MongoWriteCheckpointAPI.createManagedWriteCheckpoints: updateMany/findOneAndUpdate with
// upsert on a non-unique user_id; two upserts duplicate only while both execute.
uint64_t duplicates(int processes, DuplicateWindow window, uint64_t seeds) {
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    ServiceConfig config;
    config.api_processes = processes;
    config.duplicate_window = window;
    World w(config, seed);
    // One key, first requests from 6 installations sharing a client id, 200 µs apart.
    std::vector<sim::HttpResponse> answers(6, sim::HttpResponse{-1, ""});
    for (int i = 0; i < 6; ++i) {
      w.post("alice", "c1", i + 1, &answers[i]);
      w.run_for(200);
    }
    w.run_for(kSeconds);
    total += w.svc.checkpoints().duplicates_created();
  }
  return total;
}

TEST(ApiProcesses, DuplicatesNeedTrulyConcurrentUpsertsNotAHeadReadApart) {
  const uint64_t inflated = duplicates(1, DuplicateWindow::HeadRead, 40);
  const uint64_t one_process = duplicates(1, DuplicateWindow::Write, 40);
  const uint64_t four = duplicates(4, DuplicateWindow::Write, 40);
  // The pre-issue-17 window (head read -> write) duplicates far more often than the
  // server-side execution window does, and several processes race more than one.
  EXPECT_GT(inflated, 2 * one_process) << inflated << " vs " << one_process;
  EXPECT_GT(four, one_process) << four << " vs " << one_process;
  EXPECT_GT(four, 0u);
}

// docs/protocol.md §3.1.5 "Read-back round trip": with the read-back as a step of its own,
// requests of one key racing on two processes are answered a later batch's id (the trace says
// "a concurrent batch wrote after this one's"); read with the write, never.
uint64_t interleaved_read_backs(bool separate, uint64_t seeds) {
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    ServiceConfig config;
    config.api_processes = 2;
    config.separate_read_back = separate;
    World w(config, seed);
    std::ostringstream trace;
    w.trace.set_sink(&trace);
    std::vector<sim::HttpResponse> answers(6, sim::HttpResponse{-1, ""});
    for (int i = 0; i < 6; ++i) {
      w.post("alice", "c1", 10 * (i + 1), &answers[i]);
      w.run_for(3 * kMillis);
    }
    w.run_for(kSeconds);
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(answers[i].status, 200) << answers[i].body;
      if (answers[i].status != 200) continue;
      // Never below the posted id (route-response-per-request).
      const json answer = json::parse(answers[i].body).at("data").at("checkpoint_request_id");
      EXPECT_GE(std::stoll(answer.get<std::string>()), 10 * (i + 1)) << answers[i].body;
    }
    w.trace.set_sink(nullptr);
    const std::string text = trace.str();
    for (auto at = text.find("a concurrent batch wrote after"); at != std::string::npos;
         at = text.find("a concurrent batch wrote after", at + 1)) {
      ++total;
    }
  }
  return total;
}

TEST(ReadBack, ASeparateFindAnswersAConcurrentBatchsIdAndAnAtomicOneNever) {
  EXPECT_GT(interleaved_read_backs(true, 20), 0u);
  EXPECT_EQ(interleaved_read_backs(false, 20), 0u);
}

// ---------------------------------------------------------------------------------------
// Connection limit (hooks.ts createRequestQueueHook, max_queue_depth 0; CoreModule.ts;
// defaults.ts DEFAULT_MAX_CONCURRENT_CONNECTIONS = 200)
// ---------------------------------------------------------------------------------------

TEST(ConnectionLimit, StreamsBeyondTheLimitGet429UntilOneCloses) {
  ServiceConfig config;
  EXPECT_EQ(config.max_concurrent_streams, 200);
  config.max_concurrent_streams = 2;
  World w(config);
  int status = 0;
  auto a = w.open("a", &status);
  EXPECT_EQ(status, 200);
  auto b = w.open("b", &status);
  EXPECT_EQ(status, 200);
  auto c = w.open("c", &status);
  EXPECT_EQ(status, 429);
  EXPECT_EQ(w.svc.metrics().rejected_streams, 1u);
  a->close();
  auto d = w.open("d", &status);
  EXPECT_EQ(status, 200);
  config.max_concurrent_streams = 0;  // unlimited: the model before issue 17
  World u(config);
  for (int i = 0; i < 300; ++i) {
    u.open("u" + std::to_string(i), &status);
    ASSERT_EQ(status, 200);
  }
}

TEST(ConnectionLimit, TheLimitIsPerProcess) {
  ServiceConfig config;
  config.max_concurrent_streams = 2;
  config.api_processes = 3;
  World w(config);
  std::vector<std::shared_ptr<CapturingStream>> open;
  int accepted = 0;
  for (int i = 0; i < 40; ++i) {
    int status = 0;
    open.push_back(w.open("u" + std::to_string(i), &status));
    accepted += status == 200 ? 1 : 0;
  }
  EXPECT_EQ(accepted, 6);
}

// ---------------------------------------------------------------------------------------
// Replication-only restart (split roles; docs/protocol.md §3.4)
// ---------------------------------------------------------------------------------------

TEST(SplitRoles, AReplicationOnlyRestartKeepsStreamsAndTheirAcksArriveAfterTheReplay) {
  World w(ServiceConfig{});
  w.upload("alice", 1);
  w.run_for(kSeconds);
  auto stream = w.open("alice");
  w.run_for(100 * kMillis);
  w.svc.restart_replication(2 * kSeconds);
  sim::HttpResponse answer{-1, ""};
  w.post("alice", "c1", 7, &answer);  // the API process still answers
  w.run_for(100 * kMillis);
  EXPECT_EQ(answer.status, 200);
  EXPECT_TRUE(stream->write_checkpoints().empty()) << "no ack while replication is down";
  w.run_for(5 * kSeconds);
  EXPECT_FALSE(stream->closed());
  EXPECT_EQ(stream->write_checkpoints(), (std::vector<std::string>{"7"}));
  EXPECT_EQ(w.svc.metrics().replication_restarts, 1u);
  EXPECT_EQ(w.svc.metrics().restarts, 0u);
  // A full restart drops the stream.
  w.svc.restart(kSeconds);
  EXPECT_TRUE(stream->closed());
}

// ---------------------------------------------------------------------------------------
// Batch failures (write-checkpoint-batcher.ts executeBatch; Postgres/MongoWriteCheckpointAPI
// .createManagedWriteCheckpoints: the generated and supplied writes are separate statements)
// ---------------------------------------------------------------------------------------

struct FailureOutcome {
  int supplied_status = -1;
  int generated_status = -1;
  std::string error;
  std::optional<int64_t> stored_supplied;   // alice/c1
  std::optional<int64_t> stored_generated;  // bob/c1
  uint64_t markers = 0;
};

FailureOutcome run_failure(BatchFailure mode, StorageFlavour flavour) {
  ServiceConfig config;
  config.flavour = flavour;
  config.batch_failure_pct = 100;
  config.batch_failures = {mode};
  World w(config);
  sim::HttpResponse supplied{-1, ""};
  sim::HttpResponse generated{-1, ""};
  w.post("alice", "c1", 9, &supplied);
  w.post("bob", "c1", std::nullopt, &generated);
  w.run_for(kSeconds);
  return {supplied.status,
          generated.status,
          supplied.body,
          w.svc.checkpoints().stored_id("alice/c1"),
          w.svc.checkpoints().stored_id("bob/c1"),
          w.svc.metrics().markers_written};
}

TEST(BatchFailures, NoSyncConfigFailsTheBatchBeforeAnythingIsStored) {
  const FailureOutcome o = run_failure(BatchFailure::NoSyncConfig, StorageFlavour::Mongo);
  EXPECT_NE(o.supplied_status, 200);
  EXPECT_NE(o.generated_status, 200);
  EXPECT_NE(o.error.find("PSYNC_S2302"), std::string::npos) << o.error;
  EXPECT_FALSE(o.stored_supplied);
  EXPECT_FALSE(o.stored_generated);
  EXPECT_EQ(o.markers, 0u);
}

TEST(BatchFailures, AFailedHeadReadStoresNothing) {
  const FailureOutcome o = run_failure(BatchFailure::HeadRead, StorageFlavour::Postgres);
  EXPECT_NE(o.supplied_status, 200);
  EXPECT_FALSE(o.stored_supplied);
  EXPECT_FALSE(o.stored_generated);
  EXPECT_EQ(o.markers, 0u);
}

TEST(BatchFailures, AFailedMarkerLeavesTheMappingStoredButUnmarked) {
  const FailureOutcome o = run_failure(BatchFailure::Marker, StorageFlavour::Mongo);
  EXPECT_NE(o.supplied_status, 200);
  EXPECT_NE(o.generated_status, 200);
  EXPECT_EQ(o.stored_supplied, 9);
  EXPECT_EQ(o.stored_generated, 1);
  EXPECT_EQ(o.markers, 0u);
}

TEST(BatchFailures, APartialPostgresWriteKeepsTheGeneratedStatementOnly) {
  const FailureOutcome o = run_failure(BatchFailure::PartialWrite, StorageFlavour::Postgres);
  EXPECT_NE(o.supplied_status, 200);
  EXPECT_NE(o.generated_status, 200) << "the whole batch errors";
  EXPECT_FALSE(o.stored_supplied);
  EXPECT_EQ(o.stored_generated, 1);
  EXPECT_EQ(o.markers, 0u);
}

TEST(BatchFailures, NoFailuresByDefault) {
  ServiceConfig config;
  EXPECT_EQ(config.batch_failure_pct, 0);
  World w(config);
  sim::HttpResponse supplied{-1, ""};
  w.post("alice", "c1", 9, &supplied);
  w.run_for(kSeconds);
  EXPECT_EQ(supplied.status, 200);
  EXPECT_EQ(w.svc.batcher().failed_batches(), 0u);
}

// ---------------------------------------------------------------------------------------
// Sync-config reprocessing (docs/protocol.md §3.4 "Sync config reprocessing"):
// WalStream.initialReplication, MongoBucketBatchV1.autoActivate,
// MongoSyncBucketStorage.watchActiveCheckpoint, HydrationState.versionedHydrationState
// ---------------------------------------------------------------------------------------

std::vector<std::string> bucket_names(const json& checkpoint) {
  std::vector<std::string> out;
  for (const auto& b : checkpoint.value("buckets", json::array())) out.push_back(b["bucket"]);
  return out;
}

std::vector<std::string> data_ids(const CapturingStream& s, const std::string& bucket) {
  std::vector<std::string> out;
  for (const auto& l : s.lines) {
    if (!l.contains("data") || l["data"]["bucket"] != bucket) continue;
    for (const auto& op : l["data"]["data"]) out.push_back(op.value("object_id", ""));
  }
  return out;
}

TEST(SyncConfigReprocessing, NewRulesSnapshotInTheBackgroundAndActivateOnceCaughtUp) {
  ServiceConfig config;
  config.snapshot_duration = kSeconds;
  World w(config);
  for (int i = 1; i <= 3; ++i) w.upload("alice", i);
  w.run_for(kSeconds);
  auto old_stream = w.open("alice");
  w.run_for(100 * kMillis);
  ASSERT_FALSE(old_stream->checkpoint_lines().empty());
  EXPECT_EQ(bucket_names(old_stream->checkpoint_lines().front()),
            (std::vector<std::string>{"global[]", "notes[\"alice\"]"}));
  w.svc.change_sync_config();
  // PROCESSING: the old instance keeps serving (a new upload reaches the old stream).
  w.upload("alice", 4);
  w.run_for(900 * kMillis);
  EXPECT_EQ(w.svc.sync_rules_id(), 1);
  EXPECT_FALSE(old_stream->closed());
  EXPECT_EQ(data_ids(*old_stream, "global[]"), (std::vector<std::string>{"t1", "t2", "t3", "t4"}));
  // The snapshot ends at 1 s (noCommitBefore = the source head then); the new job streams
  // from its slot and its first checkpoint, past that LSN, activates it.
  w.run_for(150 * kMillis);
  const Lsn no_checkpoint_before = w.svc.source().head();  // sendKeepAlive's commit
  EXPECT_EQ(w.svc.sync_rules_id(), 1) << "no checkpoint while replication lags the snapshot";
  w.run_for(kSeconds);
  EXPECT_EQ(w.svc.sync_rules_id(), 2);
  EXPECT_EQ(w.svc.metrics().sync_config_activations, 1u);
  EXPECT_TRUE(old_stream->closed()) << "the stopped instance's streams end";
  // Reconnecting: only the new, versioned names; every row downloaded again.
  auto new_stream = w.open("alice");
  w.run_for(200 * kMillis);
  ASSERT_FALSE(new_stream->checkpoint_lines().empty());
  const json first = new_stream->checkpoint_lines().front();
  EXPECT_EQ(bucket_names(first), (std::vector<std::string>{"2#global[]", "2#notes[\"alice\"]"}));
  // The snapshot's four PUTs, then t4 again: its commit came after the slot and replays
  // (harmless: the same row, a later op).
  EXPECT_EQ(data_ids(*new_stream, "2#global[]"),
            (std::vector<std::string>{"t1", "t2", "t3", "t4", "t4"}));
  const auto cp = w.svc.checkpoint_of(std::stoll(first["last_op_id"].get<std::string>()));
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->sync_rules_id, 2);
  EXPECT_GE(cp->lsn, no_checkpoint_before) << "canCheckpointState: none below the snapshot";
}

TEST(SyncConfigReprocessing, ManagedWriteCheckpointsCarryOverTheSwitch) {
  World w(ServiceConfig{});
  w.upload("alice", 1);
  w.run_for(kSeconds);
  sim::HttpResponse before{-1, ""};
  w.post("alice", "c1", 7, &before);
  w.svc.change_sync_config();
  w.run_for(200 * kMillis);
  sim::HttpResponse during{-1, ""};
  w.post("alice", "c1", 8, &during);  // while the new instance is processing
  w.run_for(3 * kSeconds);
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(during.status, 200);
  ASSERT_EQ(w.svc.sync_rules_id(), 2);
  // One write_checkpoints collection for every instance: the new connection's initial lookup
  // finds the id, processed by both jobs' commits.
  auto stream = w.open("alice");
  w.run_for(200 * kMillis);
  EXPECT_EQ(stream->write_checkpoints(), (std::vector<std::string>{"8"}));
}

TEST(SyncConfigReprocessing, OpIdsComeFromOneSequenceAndEachInstanceChecksItsOwnBuckets) {
  World w(ServiceConfig{});
  w.upload("alice", 1);
  w.run_for(kSeconds);
  w.svc.change_sync_config();
  w.run_for(3 * kSeconds);
  ASSERT_EQ(w.svc.sync_rules_id(), 2);
  // The snapshot's op for t1 follows every op instance 1 wrote before it (op_id_sequence).
  auto stream = w.open("alice");
  w.run_for(200 * kMillis);
  int64_t new_op = 0;
  for (const auto& l : stream->lines) {
    if (l.contains("data")) new_op = std::stoll(l["data"]["data"][0]["op_id"].get<std::string>());
  }
  EXPECT_GT(new_op, 1);
  EXPECT_EQ(Service::bucket_version("2#global[]"), 2);
  EXPECT_EQ(Service::bucket_version("global[]"), 1);
  EXPECT_EQ(Service::bucket_version("items[\"a#b\"]"), 1);
  // checksums-agree's recomputation: per instance, under the bucket's own name.
  EXPECT_NE(w.svc.checksum_at("2#global[]", new_op), 0);
  EXPECT_EQ(w.svc.checksum_at("global[]", 1), w.svc.checksum_at("2#global[]", new_op))
      << "one PUT of the same row: the same checksum under either name";
}

TEST(SyncConfigReprocessing, EndStreamsModeEndsEveryStreamAtOnceAndKeepsTheBuckets) {
  ServiceConfig config;
  config.sync_config_change = SyncConfigChange::EndStreams;
  World w(config);
  w.upload("alice", 1);
  w.run_for(kSeconds);
  auto stream = w.open("alice");
  w.run_for(100 * kMillis);
  w.svc.change_sync_config();
  EXPECT_TRUE(stream->closed());
  auto again = w.open("alice");
  w.run_for(3 * kSeconds);
  ASSERT_FALSE(again->checkpoint_lines().empty());
  EXPECT_EQ(bucket_names(again->checkpoint_lines().front()),
            (std::vector<std::string>{"global[]", "notes[\"alice\"]"}));
  EXPECT_EQ(w.svc.sync_rules_instances(), 1u);
}

// Mutant stopped-config-keeps-streams: the old stream outlives the switch and never sees a
// later upload (the catalog's converges catches it, tests/mutation_score_test.cpp).
TEST(SyncConfigReprocessing, MutantStoppedConfigKeepsStreamsLeavesClientsOnDeadBuckets) {
  ServiceConfig config;
  config.mutants = {ServiceMutant::StoppedConfigKeepsStreams};
  World w(config);
  w.upload("alice", 1);
  w.run_for(kSeconds);
  auto stream = w.open("alice");
  w.svc.change_sync_config();
  w.run_for(3 * kSeconds);
  ASSERT_EQ(w.svc.sync_rules_id(), 2);
  EXPECT_FALSE(stream->closed());
  w.upload("alice", 2);
  w.run_for(3 * kSeconds);
  EXPECT_EQ(data_ids(*stream, "global[]"), (std::vector<std::string>{"t1"}));
}

}  // namespace
}  // namespace syncsim::model
