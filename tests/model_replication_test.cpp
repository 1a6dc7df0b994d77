// Unit tests of the model service's replication: the lag, LSN order, stalls and heartbeats.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/replication.hpp"
#include "model/source_db.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"
#include "tests/support/model_helpers.hpp"

namespace syncsim::model {
namespace {

using sim::kEpoch;
using sim::kMillis;
using sim::kSeconds;
using sim::Micros;
using test_support::first;
using test_support::supply;
using test_support::wait_checkpoints;

// ---------------------------------------------------------------------------------------
// Replication
// ---------------------------------------------------------------------------------------

std::vector<std::string> test_router(const RowKey& key, const Row& row) {
  if (key.table == "todos") return {"global[]"};
  if (key.table == "notes") return {"notes[\"" + row.owner + "\"]"};
  return {};
}

struct ReplicationWorld {
  ReplicationWorld(Micros lag, Micros heartbeat, SourceFlavour flavour = SourceFlavour::Postgres,
                   MysqlKeepalive keepalive = MysqlKeepalive::V1_24_0)
      : repl(loop, trace, source, storage, checkpoints, test_router, lag, heartbeat) {
    repl.set_source(flavour, keepalive);
  }
  ~ReplicationWorld() { loop.shutdown(); }

  Lsn commit_todo(const std::string& id, const std::string& data) {
    RowChange change{RowKey{"todos", id}, Row{data, "alice"}};
    std::vector<RowChange> changes;
    changes.push_back(change);
    const Lsn lsn = source.commit(loop.now(), CommitKind::Data, changes);
    repl.on_source_commit();
    return lsn;
  }
  std::vector<std::string> global_ids() const {
    std::vector<std::string> out;
    for (const Op* op : storage.ops("global[]", 0, storage.last_op(), 1000)) {
      out.push_back(op->object_id);
    }
    return out;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  SourceDb source;
  BucketStorage storage;
  CheckpointStore checkpoints;
  Replication repl;
};

TEST(Replication, CommitsBecomeVisibleOnlyAfterTheLag) {
  ReplicationWorld w(200 * kMillis, 3600 * kSeconds);
  w.repl.start();
  EXPECT_EQ(w.storage.checkpoints(), 1u) << "start() writes the empty initial checkpoint";
  w.loop.run_until(kEpoch + kSeconds);
  supply(w.checkpoints, "alice/c", 1, 1, w.loop.now());  // waits for lsn 1
  const Lsn lsn = w.commit_todo("t1", R"({"title":"a"})");
  EXPECT_EQ(lsn, 1);
  EXPECT_NE(w.repl.pending().find("next commit due"), std::string::npos) << w.repl.pending();
  w.loop.run_until(kEpoch + kSeconds + 199 * kMillis);
  EXPECT_EQ(w.storage.latest().lsn, 0);
  EXPECT_EQ(w.repl.replicated_lsn(), 0);
  EXPECT_TRUE(w.global_ids().empty());
  EXPECT_FALSE(first(w.checkpoints, "alice/c")->processed_at_lsn.has_value());
  w.loop.run_until(kEpoch + kSeconds + 200 * kMillis);
  EXPECT_EQ(w.storage.latest().lsn, 1);
  EXPECT_EQ(w.storage.latest().op_id, 1);
  EXPECT_EQ(w.repl.replicated_lsn(), 1);
  EXPECT_EQ(w.global_ids(), (std::vector<std::string>{"t1"}));
  EXPECT_EQ(first(w.checkpoints, "alice/c")->processed_at_lsn, 1);
  EXPECT_EQ(w.storage.checkpoints(), 2u);
  EXPECT_NE(w.repl.pending().find("caught up at lsn 1"), std::string::npos) << w.repl.pending();
}

TEST(Replication, ProcessesCommitsInLsnOrderAndBatchesReadyOnes) {
  ReplicationWorld w(100 * kMillis, 3600 * kSeconds);
  w.repl.start();
  std::vector<std::pair<Micros, StorageCheckpoint>> seen;
  w.loop.spawn(wait_checkpoints(&w.loop, &w.storage, 3, &seen), "watcher");
  w.loop.run_until(kEpoch);
  // Three commits at the same instant: one wake-up, one checkpoint at the last LSN.
  w.commit_todo("a", "{}");
  w.commit_todo("b", "{}");
  w.commit_todo("a", R"({"v":2})");
  w.loop.run_until(kEpoch + 10 * kMillis);
  w.commit_todo("c", "{}");
  w.loop.run_until(kEpoch + 20 * kMillis);
  w.commit_todo("d", "{}");
  w.loop.run_until(kEpoch + kSeconds);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, kEpoch + 100 * kMillis);
  EXPECT_EQ(seen[0].second.lsn, 3);
  EXPECT_EQ(seen[0].second.op_id, 3);
  EXPECT_EQ(seen[1].first, kEpoch + 110 * kMillis);
  EXPECT_EQ(seen[1].second.lsn, 4);
  EXPECT_EQ(seen[2].first, kEpoch + 120 * kMillis);
  EXPECT_EQ(seen[2].second.lsn, 5);
  EXPECT_EQ(w.global_ids(), (std::vector<std::string>{"a", "b", "a", "c", "d"}));
  const auto ops = w.storage.ops("global[]", 2, 3, 10);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]->data, R"({"v":2})") << "op ids follow LSN order";
  EXPECT_EQ(w.storage.checkpoints(), 4u);
}

TEST(Replication, LoweringTheLagCatchesUpPendingCommits) {
  ReplicationWorld w(10 * kSeconds, 3600 * kSeconds);
  w.repl.start();
  w.commit_todo("a", "{}");
  w.loop.run_until(kEpoch + kSeconds);
  EXPECT_EQ(w.repl.replicated_lsn(), 0);
  w.repl.set_lag(100 * kMillis);  // already overdue: replicate now
  EXPECT_EQ(w.repl.lag(), 100 * kMillis);
  w.loop.run_until(kEpoch + kSeconds);
  EXPECT_EQ(w.repl.replicated_lsn(), 1);

  w.commit_todo("b", "{}");       // at 1 s, due at 1.1 s
  w.repl.set_lag(500 * kMillis);  // raised: due at 1.5 s
  w.loop.run_until(kEpoch + kSeconds + 499 * kMillis);
  EXPECT_EQ(w.repl.replicated_lsn(), 1);
  w.repl.set_lag(300 * kMillis);  // lowered again, but already overdue at 1.499 s
  w.loop.run_until(kEpoch + kSeconds + 499 * kMillis);
  EXPECT_EQ(w.repl.replicated_lsn(), 2);
}

TEST(Replication, StallForeverStopsIt) {
  ReplicationWorld w(100 * kMillis, 10 * kSeconds);
  w.repl.start();
  w.commit_todo("a", "{}");
  w.loop.run_until(kEpoch + 50 * kMillis);
  w.repl.stall_forever();
  EXPECT_TRUE(w.repl.stalled());
  w.commit_todo("b", "{}");
  w.repl.set_lag(0);  // must not revive it
  w.loop.run_until(kEpoch + 100 * kSeconds);
  EXPECT_EQ(w.repl.replicated_lsn(), 0);
  EXPECT_EQ(w.storage.latest().lsn, 0);
  EXPECT_EQ(w.storage.checkpoints(), 1u);
  EXPECT_GT(w.source.head(), 2) << "heartbeats still reach the source";
  EXPECT_NE(w.repl.pending().find("STALLED"), std::string::npos) << w.repl.pending();
}

TEST(Replication, HeartbeatKeepaliveCreatesCheckpointsOnAnIdleSource) {
  ReplicationWorld w(200 * kMillis, 60 * kSeconds);
  w.repl.start();
  // A request whose head is already replicated is processed by the next keepalive, a source
  // message with a new LSN (postgres, mongodb; MySQL's is not, the tests below).
  supply(w.checkpoints, "alice/c", 1, 0, w.loop.now());
  w.loop.run_until(kEpoch + 60 * kSeconds + 199 * kMillis);
  EXPECT_EQ(w.source.head(), 1);
  ASSERT_EQ(w.source.log().size(), 1u);
  EXPECT_EQ(w.source.log()[0].kind, CommitKind::Keepalive);
  EXPECT_TRUE(w.source.log()[0].changes.empty());
  EXPECT_EQ(w.source.log()[0].committed_at, kEpoch + 60 * kSeconds);
  EXPECT_EQ(w.storage.latest().lsn, 0);
  w.loop.run_until(kEpoch + 60 * kSeconds + 200 * kMillis);
  EXPECT_EQ(w.storage.latest().lsn, 1);
  EXPECT_EQ(w.storage.checkpoints(), 2u);
  EXPECT_EQ(first(w.checkpoints, "alice/c")->processed_at_lsn, 1);
  w.loop.run_until(kEpoch + 121 * kSeconds);
  EXPECT_EQ(w.storage.latest().lsn, 2);
  EXPECT_EQ(w.storage.latest().op_id, 0) << "keepalives carry no ops";
  EXPECT_EQ(w.storage.checkpoints(), 3u);
}

// The source decides the heartbeat (docs/protocol.md §3.1.4 "MySQL keepalives"), so a job
// without one must not start it.
TEST(Replication, StartingTheHeartbeatWithoutASourceThrows) {
  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  SourceDb source;
  BucketStorage storage;
  CheckpointStore checkpoints;
  Replication repl(loop, trace, source, storage, checkpoints, test_router, 0, 30 * kSeconds);
  EXPECT_THROW(repl.start(), std::logic_error);
  EXPECT_THROW(repl.start_heartbeat(), std::logic_error);
  repl.set_source(SourceFlavour::Mysql);
  EXPECT_NO_THROW(repl.start());
  loop.shutdown();
}

// MySQL's binlog heartbeat (30 s without binlog events) forwards keepalive() at the last
// transaction's position, and first marks the pending request with head 1 processed at lsn 1
// (docs/protocol.md §3.1.4 "MySQL keepalives", §3.1.8).  v1.24.0: below the commit LSN, the
// checkpoint is blocked.  v1.25.0 (PR #706): the commit LSN itself, the checkpoint is allowed
// (autoActivate runs) but has the last one's op id and LSN, so storage makes no new one.
struct MysqlKeepaliveRun {
  std::size_t checkpoints_after_commit = 0, checkpoints_after_heartbeat = 0;
  int hooks_after_commit = 0, hooks_after_heartbeat = 0;
  uint64_t keepalive_checkpoints = 0;
  std::optional<Lsn> processed_at;
  Lsn latest_lsn = 0;
  OpId latest_op = 0;
  std::size_t source_commits = 0;
};
MysqlKeepaliveRun mysql_heartbeat_after_one_commit(MysqlKeepalive keepalive) {
  ReplicationWorld w(200 * kMillis, 30 * kSeconds, SourceFlavour::Mysql, keepalive);
  int hooks = 0;
  w.repl.set_checkpoint_hook([&hooks] { ++hooks; });
  w.repl.start();
  w.loop.run_until(kEpoch + kSeconds);
  w.commit_todo("t1", R"({"title":"a"})");  // lsn 1 at 1 s
  w.loop.run_until(kEpoch + 2 * kSeconds);
  MysqlKeepaliveRun out;
  out.checkpoints_after_commit = w.storage.checkpoints();
  out.hooks_after_commit = hooks;
  supply(w.checkpoints, "alice/c", 1, 1, w.loop.now());  // head 1, read after lsn 1 replicated
  w.loop.run_until(kEpoch + 31 * kSeconds + kMillis);    // the heartbeat at 31 s
  out.checkpoints_after_heartbeat = w.storage.checkpoints();
  out.hooks_after_heartbeat = hooks;
  out.keepalive_checkpoints = w.repl.keepalive_checkpoints();
  out.processed_at = first(w.checkpoints, "alice/c")->processed_at_lsn;
  out.latest_lsn = w.storage.latest().lsn;
  out.latest_op = w.storage.latest().op_id;
  out.source_commits = w.source.log().size();
  return out;
}

TEST(Replication, AMysqlKeepaliveIsBlockedAtV1_24_0AndAnUnchangedCheckpointAtV1_25_0) {
  for (const MysqlKeepalive k : {MysqlKeepalive::V1_24_0, MysqlKeepalive::V1_25_0}) {
    const bool v125 = k == MysqlKeepalive::V1_25_0;
    SCOPED_TRACE(v125 ? "v1.25.0" : "v1.24.0");
    const MysqlKeepaliveRun r = mysql_heartbeat_after_one_commit(k);
    EXPECT_EQ(r.checkpoints_after_commit, 2u) << "the initial one and lsn 1's";
    EXPECT_EQ(r.hooks_after_commit, 1);
    EXPECT_EQ(r.source_commits, 1u) << "the heartbeat is not written to the binlog";
    EXPECT_EQ(r.processed_at, std::optional<Lsn>(1)) << "marked at the keepalive's position";
    EXPECT_EQ(r.checkpoints_after_heartbeat, 2u) << "no new op id or LSN for the streams";
    EXPECT_EQ(r.latest_lsn, 1);
    EXPECT_EQ(r.latest_op, 1);
    EXPECT_EQ(r.keepalive_checkpoints, v125 ? 1u : 0u) << "allowed only at the commit LSN";
    EXPECT_EQ(r.hooks_after_heartbeat, v125 ? 2 : 1) << "autoActivate runs when not blocked";
  }
}

}  // namespace
}  // namespace syncsim::model
