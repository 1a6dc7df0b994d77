// Unit tests of the model service end to end: rows from a backend upload through the source,
// replication and buckets to a sync stream, and the source heads checkpoints are taken at.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "sim/loop.hpp"
#include "tests/support/capturing_stream.hpp"
#include "tests/support/model_helpers.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kMillis;
using sim::kSeconds;
using sim::Micros;
using test_support::first;
using test_support::instant;
using test_support::ServiceWorld;

// ---------------------------------------------------------------------------------------
// Rows through the service: backend upload -> source -> replication -> buckets
// ---------------------------------------------------------------------------------------

struct OpView {
  bool put;
  std::string id;
  std::string data;
  friend bool operator==(const OpView&, const OpView&) = default;
};

std::vector<OpView> bucket_ops(Service& svc, const std::string& bucket) {
  std::vector<OpView> out;
  for (const Op* op : svc.storage().ops(bucket, 0, svc.storage().last_op(), 1000)) {
    out.push_back(OpView{op->put, op->object_id, op->data});
  }
  return out;
}

void PrintTo(const OpView& v, std::ostream* os) {
  *os << (v.put ? "PUT " : "REMOVE ") << v.id << " " << v.data;
}

TEST(ServiceRows, RowMovingBetweenOwnersIsRemovedFromTheOldNotesBucket) {
  ServiceWorld w;
  w.svc.start();
  auto r = w.upload("alice", json::parse(R"([{"op":"PUT","type":"notes","id":"n1","data":{"t":"a"}},
                                               {"op":"PUT","type":"todos","id":"t1","data":{"t":"x"}}])"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["data"]["lsn"], 1);
  w.loop.run_until(kEpoch + kSeconds);
  r = w.upload("bob", json::parse(R"([{"op":"PATCH","type":"notes","id":"n1","data":{"u":1}},
                                      {"op":"PATCH","type":"todos","id":"t1","data":{"u":1}}])"));
  ASSERT_EQ(r.status, 200) << r.body;
  w.loop.run_until(kEpoch + 2 * kSeconds);
  const std::vector<OpView> alice{{true, "n1", R"({"t":"a"})"}, {false, "n1", ""}};
  const std::vector<OpView> bob{{true, "n1", R"({"t":"a","u":1})"}};
  EXPECT_EQ(bucket_ops(w.svc, notes_bucket("alice")), alice);
  EXPECT_EQ(bucket_ops(w.svc, notes_bucket("bob")), bob);
  // A todo stays in the global bucket: an update is a PUT, never a REMOVE.
  const std::vector<OpView> global{{true, "t1", R"({"t":"x"})"},
                                   {true, "t1", R"({"t":"x","u":1})"}};
  EXPECT_EQ(bucket_ops(w.svc, global_bucket()), global);
  EXPECT_EQ(w.svc.rows_for("alice").count(RowKey{"notes", "n1"}), 0u);
  EXPECT_EQ(w.svc.rows_for("bob").count(RowKey{"notes", "n1"}), 1u);

  // Deleting the row removes it from its current bucket only.
  r = w.upload("carol", json::parse(R"([{"op":"DELETE","type":"notes","id":"n1"}])"));
  ASSERT_EQ(r.status, 200) << r.body;
  w.loop.run_until(kEpoch + 3 * kSeconds);
  EXPECT_EQ(bucket_ops(w.svc, notes_bucket("alice")), alice);
  EXPECT_EQ(bucket_ops(w.svc, notes_bucket("carol")), std::vector<OpView>{});
  const std::vector<OpView> bob_after{{true, "n1", R"({"t":"a","u":1})"}, {false, "n1", ""}};
  EXPECT_EQ(bucket_ops(w.svc, notes_bucket("bob")), bob_after);
  EXPECT_EQ(w.svc.storage().state(notes_bucket("bob"), w.svc.storage().last_op()).count, 2);
}

TEST(ServiceRows, BadUploadIs400AndAppliesNothing) {
  ServiceWorld w;
  auto r = w.call("POST", "/backend/upload", R"({"crud": []})");
  EXPECT_EQ(r.status, 400);
  r = w.upload("alice", json::parse(R"([{"op":"PUT","type":"todos","id":"t1","data":{}},
                                        {"op":"PUT","type":"todos","id":7}])"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "APP_BAD_UPLOAD");
  EXPECT_EQ(w.svc.source().head(), 0);
  EXPECT_TRUE(w.svc.source().rows().empty());
  EXPECT_EQ(w.svc.metrics().uploads, 0u);
}

// The sync stream side of visibility, through Service::open_stream.
using test_support::CapturingStream;

// Alice's sync stream for `client_id`, opened directly on the service; `status` is its answer.
struct OpenedStream {
  std::shared_ptr<CapturingStream> stream;
  int status = 0;
};
OpenedStream open_alice_stream(ServiceWorld& w, const std::string& client_id) {
  OpenedStream out{std::make_shared<CapturingStream>()};
  sim::HttpRequest open;
  open.method = "POST";
  open.path = "/sync/stream";
  open.subject = "alice";
  open.body = json{{"client_id", client_id}}.dump();
  out.status = w.svc.open_stream(open, out.stream).status;
  return out;
}

// Uploads a todo (lsn 1), requests checkpoint 5 (head 1, marker lsn 2) and opens a stream,
// all at t=0; returns the write_checkpoint of every checkpoint line.
std::vector<std::optional<std::string>> write_checkpoints_seen(const std::string& client_id) {
  ServiceWorld w;
  w.svc.start();
  EXPECT_EQ(w.upload("alice", json::parse(R"([{"op":"PUT","type":"todos","id":"t1"}])")).status,
            200);
  const json request{{"client_id", client_id}, {"checkpoint_request_id", 5}};
  EXPECT_EQ(w.checkpoint_request(request.dump()).status, 200);
  const auto [stream, status] = open_alice_stream(w, client_id);
  EXPECT_EQ(status, 200);
  w.loop.run_until(kEpoch + 2 * kSeconds);
  std::vector<std::optional<std::string>> out;
  for (const auto& cp : stream->checkpoint_lines()) {
    if (cp.contains("write_checkpoint")) {
      out.emplace_back(cp["write_checkpoint"].get<std::string>());
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  stream->close();
  w.loop.run_until(kEpoch + 3 * kSeconds);
  EXPECT_FALSE(w.loop.stopped()) << w.loop.stop_reason().message;
  return out;
}

// Checkpoints before replication passes the request's head carry no write_checkpoint; the
// first one past it carries "5", and it is the last line (nothing newer happens).  How many
// checkpoints come before depends on whether the todo and the marker replicate together: since
// issue 17 the upsert executes up to kUpsertExecutionMax after the request, so they may not.
void expect_write_checkpoint_only_last(const std::vector<std::optional<std::string>>& seen) {
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), std::nullopt) << "the first line is at lsn 0, before the head";
  EXPECT_EQ(seen.back(), std::optional<std::string>("5"));
  for (size_t i = 0; i + 1 < seen.size(); ++i) EXPECT_EQ(seen[i], std::nullopt) << "line " << i;
}

TEST(ServiceStream, WriteCheckpointAppearsOnceReplicationPassesTheHead) {
  expect_write_checkpoint_only_last(write_checkpoints_seen("c1"));
}

TEST(ServiceStream, EmptyClientIdUsesTheSameKeyOnBothRoutes) {
  expect_write_checkpoint_only_last(write_checkpoints_seen(""));
}

// Heads are read after the replicated position (issue 17).  Follows
// PostgresRouteAPIAdapter.createReplicationHead (modules/module-postgres/src/api, reads
// pg_current_wal_lsn(), at or past the end of WAL) and MongoRouteAPIAdapter
// .createReplicationHead (session clusterTime), with docs/replication/06-checkpoints.md "Idle
// Sources", powersync-service v1.24.0: on a caught-up source whose marker was lost, a
// (re)connect must not see the ack until a later event (here the 60 s heartbeat) is
// replicated.  MySQL (MySQLRouteAPIAdapter.getReplicationHead, the executed GTID) reads the
// last transaction itself, so there, as in the pre-issue-17 model, the reconnect sees it.
struct LostMarkerRun {
  std::optional<sim::Micros> first_ack;  // when a line first carried write_checkpoint "5"
  Lsn stored_head = -1;
};
LostMarkerRun ack_after_lost_marker(StorageFlavour storage, SourceFlavour source,
                                    bool head_at_last_commit) {
  ServiceConfig config = instant();
  config.flavour = storage;
  config.source = source;
  config.head_at_last_commit = head_at_last_commit;
  ServiceWorld w(config);
  w.svc.start();
  EXPECT_EQ(w.upload("alice", json::parse(R"([{"op":"PUT","type":"todos","id":"t1"}])")).status,
            200);
  w.loop.run_until(kEpoch + kSeconds);  // replicated: checkpoint at lsn 1, source caught up
  // The mapping is stored, then the process restarts before its marker (§3.6.2.7).
  w.svc.set_mapping_stored_hook([&w](const std::string&) { w.svc.restart(100 * kMillis); });
  EXPECT_NE(w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": 5})").status, 200);
  w.svc.set_mapping_stored_hook({});
  EXPECT_EQ(w.svc.metrics().markers_written, 0u);
  LostMarkerRun out;
  out.stored_head = first(w.svc.checkpoints(), "alice/c1")->head;
  w.loop.run_until(kEpoch + 2 * kSeconds);
  const auto [stream, status] = open_alice_stream(w, "c1");
  EXPECT_EQ(status, 200);
  std::size_t seen = 0;
  for (sim::Micros t = kEpoch + 2 * kSeconds; t < kEpoch + 90 * kSeconds && !out.first_ack;
       t += 100 * kMillis) {
    w.loop.run_until(t);
    const auto lines = stream->checkpoint_lines();
    for (; seen < lines.size(); ++seen) {
      if (lines[seen].value("write_checkpoint", "") == "5") out.first_ack = w.loop.now() - kEpoch;
    }
  }
  stream->close();
  w.loop.run_until(w.loop.now() + kSeconds);
  return out;
}

TEST(SourceHead, ACaughtUpSourceAcksOnlyAfterALaterEvent) {
  for (StorageFlavour storage : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    for (SourceFlavour source : {SourceFlavour::Postgres, SourceFlavour::Mongodb}) {
      const std::string what = to_string(storage) + " storage, " + to_string(source);
      const LostMarkerRun now = ack_after_lost_marker(storage, source, false);
      EXPECT_EQ(now.stored_head, 2) << what << ": one past the last commit (lsn 1)";
      ASSERT_TRUE(now.first_ack.has_value()) << what;
      if (source == SourceFlavour::Postgres) {
        // The 60 s heartbeat keepalive (lsn 2) is the first later event; replicated 200 ms on.
        EXPECT_GE(*now.first_ack, 60 * kSeconds) << what;
        EXPECT_LT(*now.first_ack, 61 * kSeconds) << what;
      } else {
        // A restarted change stream starts with a fresh checkpoint marker (ChangeStream
        // "Always start with a checkpoint", docs/protocol.md §3.4): that is the later event.
        EXPECT_LT(*now.first_ack, 3 * kSeconds) << what;
      }
      // The switch back to the old model: acked at once on connect, with no later event.
      const LostMarkerRun old = ack_after_lost_marker(storage, source, true);
      EXPECT_EQ(old.stored_head, 1) << what;
      ASSERT_TRUE(old.first_ack.has_value()) << what;
      EXPECT_LT(*old.first_ack, 3 * kSeconds) << what;
    }
  }
}

TEST(SourceHead, MysqlReadsTheExecutedGtidAndWritesNoMarker) {
  const LostMarkerRun run =
      ack_after_lost_marker(StorageFlavour::Mongo, SourceFlavour::Mysql, false);
  EXPECT_EQ(run.stored_head, 1) << "the executed GTID is the last transaction";
  ASSERT_TRUE(run.first_ack.has_value());
  EXPECT_LT(*run.first_ack, 3 * kSeconds) << "the initial lookup at lsn 1 covers head 1";
}

// MySQL has no marker (MySQLRouteAPIAdapter.createReplicationHead: "TODO: make sure another
// message is replicated when shouldAdvance is true"), and its binlog heartbeat (30 s without
// binlog events) forwards keepalive() at the last transaction's position, not a new one
// (BinLogListener, powersync-service v1.24.0; docs/protocol.md §3.1.4 "MySQL keepalives").  A
// request read at head 1 after lsn 1 was replicated: the heartbeat at 40 s makes no checkpoint
// and marks the mongo record processed at lsn 1, which an open connection at lsn 1 never
// emits, not even after the next transaction (findings-world.md W41); a new connection's
// lookup finds it.  Postgres storage looks the id up at the next checkpoint: the next
// transaction's.
struct MysqlIdleRun {
  std::optional<sim::Micros> acked_open;  // on the connection open before the request
  bool acked_new = false;                 // on a connection opened after the next transaction
  std::size_t source_commits_at_70s = 0;  // the heartbeats wrote nothing to the source
  uint64_t keepalive_checkpoints = 0;     // heartbeats whose checkpoint was allowed, by 69.9 s
};
MysqlIdleRun mysql_request_on_an_idle_binlog(StorageFlavour storage,
                                             MysqlKeepalive keepalive = MysqlKeepalive::V1_24_0) {
  ServiceConfig config = instant();
  config.source = SourceFlavour::Mysql;
  config.flavour = storage;
  config.mysql_keepalive = keepalive;
  ServiceWorld w(config);
  w.svc.start();
  auto open_stream = [&w] {
    const OpenedStream opened = open_alice_stream(w, "c1");
    EXPECT_EQ(opened.status, 200);
    return opened.stream;
  };
  auto stream = open_stream();
  w.loop.run_until(kEpoch + 10 * kSeconds);
  EXPECT_EQ(w.upload("alice", json::parse(R"([{"op":"PUT","type":"todos","id":"t1"}])")).status,
            200);  // lsn 1 at t=10 s
  w.loop.run_until(kEpoch + 11 * kSeconds);
  EXPECT_EQ(w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": 5})").status, 200);
  EXPECT_EQ(w.svc.metrics().markers_written, 0u);
  EXPECT_EQ(w.svc.source().head(), 1);
  MysqlIdleRun out;
  auto scan = [&](sim::Micros until) {
    for (sim::Micros t = w.loop.now(); t < until; t += 100 * kMillis) {
      w.loop.run_until(t);
      for (const auto& l : stream->checkpoint_lines()) {
        if (l.value("write_checkpoint", "") == "5" && !out.acked_open) {
          out.acked_open = w.loop.now() - kEpoch;
        }
      }
    }
  };
  scan(kEpoch + 70 * kSeconds);  // heartbeats at 40 s and 70 s
  out.source_commits_at_70s = w.svc.source().log().size();
  out.keepalive_checkpoints = w.svc.replication().keepalive_checkpoints();
  EXPECT_EQ(w.upload("alice", json::parse(R"([{"op":"PUT","type":"todos","id":"t2"}])")).status,
            200);  // the next transaction, lsn 2
  scan(kEpoch + 75 * kSeconds);
  auto late = open_stream();
  w.loop.run_until(kEpoch + 77 * kSeconds);
  for (const auto& l : late->checkpoint_lines())
    out.acked_new |= l.value("write_checkpoint", "") == "5";
  stream->close();
  late->close();
  w.loop.run_until(w.loop.now() + kSeconds);
  return out;
}

TEST(SourceHead, MysqlHeartbeatsRepeatThePositionSoOpenMongoConnectionsNeverAckAnIdleRequest) {
  const MysqlIdleRun mongo = mysql_request_on_an_idle_binlog(StorageFlavour::Mongo);
  EXPECT_EQ(mongo.source_commits_at_70s, 1u) << "a heartbeat writes no source commit";
  EXPECT_FALSE(mongo.acked_open.has_value()) << "processed at lsn 1 by the heartbeat: never in a "
                                                "window (1, next]";
  EXPECT_TRUE(mongo.acked_new) << "a new connection looks the id up";
  const MysqlIdleRun postgres = mysql_request_on_an_idle_binlog(StorageFlavour::Postgres);
  ASSERT_TRUE(postgres.acked_open.has_value());
  EXPECT_GE(*postgres.acked_open, 70 * kSeconds) << "not at a heartbeat: at the next transaction";
  EXPECT_LT(*postgres.acked_open, 71 * kSeconds);
}

// v1.25.0 (PR #706) makes the keepalive carry the commit LSN, so its checkpoint is allowed, but
// at the last checkpoint's op id and LSN: Postgres storage's watchActiveCheckpoint yields only a
// checkpoint whose op id or LSN advanced, and Mongo storage's watchCheckpointChanges skips an
// equal one (docs/protocol.md §3.1.4 "MySQL keepalives", v1.25.0).  So neither storage acks the
// idle request at a heartbeat; the mongo record is processed at lsn 1 as before.
TEST(SourceHead, AtV1_25_0AMysqlKeepaliveIsAllowedButStillAcksNoIdleRequestOnOpenConnections) {
  const MysqlIdleRun mongo =
      mysql_request_on_an_idle_binlog(StorageFlavour::Mongo, MysqlKeepalive::V1_25_0);
  EXPECT_EQ(mongo.keepalive_checkpoints, 1u) << "the heartbeat at 40 s, not blocked";
  EXPECT_EQ(mongo.source_commits_at_70s, 1u);
  EXPECT_FALSE(mongo.acked_open.has_value()) << "processed at lsn 1: never in a window (1, next]";
  EXPECT_TRUE(mongo.acked_new);
  const MysqlIdleRun postgres =
      mysql_request_on_an_idle_binlog(StorageFlavour::Postgres, MysqlKeepalive::V1_25_0);
  EXPECT_EQ(postgres.keepalive_checkpoints, 1u);
  ASSERT_TRUE(postgres.acked_open.has_value());
  EXPECT_GE(*postgres.acked_open, 70 * kSeconds) << "not at a heartbeat: at the next transaction";
  EXPECT_LT(*postgres.acked_open, 71 * kSeconds);
  EXPECT_EQ(mysql_request_on_an_idle_binlog(StorageFlavour::Postgres).keepalive_checkpoints, 0u)
      << "v1.24.0: every keepalive blocked";
}

// A null LSN is not a position (PostgresSyncRulesStorage.watchCheckpointChanges passes no
// heads filter, so lastManagedWriteCheckpoint answers null; v1.24.0): a MySQL request before
// any source commit (head 0) is not acked at the empty checkpoint on postgres storage.
TEST(SourceHead, TheEmptyCheckpointAcksNothing) {
  ServiceConfig config = instant();
  config.flavour = StorageFlavour::Postgres;
  config.source = SourceFlavour::Mysql;
  ServiceWorld w(config);
  w.svc.start();
  EXPECT_EQ(w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": 5})").status, 200);
  EXPECT_EQ(first(w.svc.checkpoints(), "alice/c1")->head, 0);
  const auto [stream, status] = open_alice_stream(w, "c1");
  ASSERT_EQ(status, 200);
  w.loop.run_until(kEpoch + 5 * kSeconds);
  const auto lines = stream->checkpoint_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].value("last_op_id", ""), "0");
  for (const auto& l : lines) EXPECT_FALSE(l.contains("write_checkpoint")) << l.dump();
  stream->close();
  w.loop.run_until(w.loop.now() + kSeconds);
}

}  // namespace
}  // namespace syncsim::model
