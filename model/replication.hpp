// Replication from the source into bucket storage (docs/protocol.md §3.4): source commits are
// processed in LSN order once they are `lag` old; all commits ready at one wake-up are
// batched into one storage checkpoint at the last LSN (like WalStream chunks).  A
// heartbeat keepalive (docs/protocol.md §3.3.5, default 60 s) writes a source commit without rows
// so idle sources still produce checkpoints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/source_db.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {

// Which buckets a row belongs to (the sync config); the default world's rules live in
// service.cpp.
using BucketRouter = std::function<std::vector<std::string>(const RowKey&, const Row&)>;

// What one replication wake-up did (reports draw it on the replication lane).
struct ReplicationStep {
  Lsn lsn = 0;   // the last LSN processed
  Lsn head = 0;  // the source's head at that moment
  std::size_t commits = 0, markers = 0, ops = 0;
  sim::Micros newest_age = 0;       // now - the last processed commit's commit time (the lag)
  bool checkpoint_blocked = false;  // replay below the last checkpoint: no checkpoint made
};

// Which service release's MySQL binlog keepalive to model (docs/protocol.md §3.1.4 "MySQL
// keepalives"): v1.24.0 forwards the last transaction's GTID-event position, below its commit
// LSN, so the keepalive's checkpoint is blocked; v1.25.0 (PR #706) forwards the commit LSN
// itself, so the checkpoint is allowed, at the same op id and LSN as the last one.
enum class MysqlKeepalive { V1_24_0, V1_25_0 };

class Replication {
 public:
  // Call set_source() before start() or start_heartbeat(): the heartbeat depends on it.
  Replication(sim::Loop& loop, sim::Trace& trace, SourceDb& source, BucketStorage& storage,
              CheckpointStore& checkpoints, BucketRouter router, sim::Micros lag,
              sim::Micros heartbeat);

  // The source database this job reads, where sources differ (docs/protocol.md §3.4
  // "Where a restarted replication job resumes", §3.1.4 "MySQL keepalives"): where a restart
  // resumes, when the heartbeat fires (mysql: only after `heartbeat` without source commits,
  // master_heartbeat_period) and whether its keepalive moves the position (postgres, mongodb: a
  // new LSN) or repeats the last transaction's (mysql, as `mysql_keepalive`'s release does).
  void set_source(SourceFlavour flavour, MysqlKeepalive mysql_keepalive = MysqlKeepalive::V1_24_0) {
    source_flavour_ = flavour;
    mysql_keepalive_ = mysql_keepalive;
  }

  void start();
  // New source commits call this so replication can schedule itself.
  void on_source_commit();
  void set_lag(sim::Micros lag);
  // Stops replication for good (the `replication-stall` mutant: a stall that never heals).
  void stall_forever();
  // A stall fault: replication stops until resume() (or for good if never resumed).
  void stall();
  void resume();
  // The service process restarts: replication is down for `down`, then resumes where its
  // source does (docs/protocol.md §3.4 "Where a restarted replication job resumes"): postgres
  // replays from the slot's confirmed position, which lags one chunk behind the last
  // checkpoint (commits below last_checkpoint_lsn are processed and mark write checkpoints,
  // §3.1.8, but create no checkpoint until replay catches up); mongodb resumes after the last
  // processed change and starts with a fresh checkpoint marker; mysql resumes at the last
  // checkpoint's binlog position (its first idle keepalive repeats that position).
  void restart(sim::Micros down);

  // Sync-config reprocessing (docs/protocol.md §3.4 "Sync config reprocessing"), a new
  // sync-rules instance's replication job (WalStream.initialReplication, v1.24.0):
  //  - snapshot(): the initial snapshot writes a PUT for every current source row;
  //  - stream_from(slot, no_checkpoint_before): streaming starts at the slot's commit index
  //    (created before the snapshot), and no checkpoint is made below the LSN read after the
  //    snapshot (markSnapshotDone(noCommitBefore), canCheckpointState).
  // Such a job writes no initial empty checkpoint and no keepalives of its own until
  // start_heartbeat() (its source's keepalives are the active job's, which it replicates too).
  void snapshot();
  void stream_from(std::size_t slot_commit, Lsn no_checkpoint_before);
  void start_heartbeat();
  // The job of a replaced sync-rules instance stops for good (state STOP): no more
  // commits, checkpoints or keepalives.
  void stop();
  // Told after every storage checkpoint this job makes (autoActivate); empty = none.
  void set_checkpoint_hook(std::function<void()> hook) { checkpoint_hook_ = std::move(hook); }

  // Custom write-checkpoint mode (docs/protocol.md §3.1.10): told of every processed row of the
  // source `checkpoints` table (the sync config's write_checkpoints event), in commit order,
  // before the commit's checkpoint; empty = managed mode (the rows are ignored).
  void set_custom_checkpoint_hook(std::function<void(const std::string& key, int64_t)> hook) {
    custom_hook_ = std::move(hook);
  }

  // Told after every wake-up that processed commits; empty = none.
  void set_step_hook(std::function<void(const ReplicationStep&)> hook) {
    step_hook_ = std::move(hook);
  }

  [[nodiscard]] Lsn replicated_lsn() const { return replicated_lsn_; }
  // The trace line of the latest storage checkpoint (a violation's causal chain).
  [[nodiscard]] uint64_t checkpoint_line() const { return checkpoint_line_; }
  [[nodiscard]] sim::Micros lag() const { return lag_; }
  [[nodiscard]] bool stalled() const { return stalled_ || paused_; }
  // Stopped for good (the replication-stall mutant): nothing heals it.
  [[nodiscard]] bool stalled_forever() const { return stalled_; }
  [[nodiscard]] uint64_t blocked_commits() const { return blocked_commits_; }
  // Storage checkpoints without row ops (markers and keepalives only).
  [[nodiscard]] uint64_t empty_checkpoints() const { return empty_checkpoints_; }
  // MySQL binlog keepalives whose checkpoint was allowed (v1.25.0; never at v1.24.0).
  [[nodiscard]] uint64_t keepalive_checkpoints() const { return keepalive_checkpoints_; }
  // checksums-agree (docs/invariants.md §1): a bucket's checksum at `op`, recomputed from every op
  // replication ever wrote, independent of bucket storage and its compaction (docs/architecture.md
  // §2).
  [[nodiscard]] int32_t checksum_at(const std::string& bucket, OpId op) const;
  // consistent-checkpoint (docs/invariants.md §1): every PUT/REMOVE replication wrote to
  // `bucket`, in op-id order, never compacted -- the rows a checkpoint stands for.
  struct LedgerOp {
    OpId op_id = 0;
    RowKey key;
    std::optional<std::string> data;  // nullopt: REMOVE
    uint64_t line = 0;                // the trace line of the replay that wrote it
  };
  [[nodiscard]] const std::vector<LedgerOp>& ledger(const std::string& bucket) const;
  [[nodiscard]] std::string pending() const;

 private:
  void schedule();
  void wake();
  void heartbeat();
  // MySQL's idle-binlog keepalive: no new position (docs/protocol.md §3.1.4 "MySQL keepalives").
  void keepalive_at_last_commit();
  // Whether a commit or keepalive at `lsn` may not make a storage checkpoint (canCheckpointState).
  [[nodiscard]] bool checkpoint_blocked_at(Lsn lsn) const;
  // The source set_source() named; throws std::logic_error if it was never called.
  [[nodiscard]] SourceFlavour source_flavour() const;

  sim::Loop& loop_;
  sim::Trace& trace_;
  SourceDb& source_;
  BucketStorage& storage_;
  CheckpointStore& checkpoints_;
  BucketRouter router_;
  sim::Micros lag_;
  sim::Micros heartbeat_;
  std::optional<SourceFlavour> source_flavour_;  // set_source()
  MysqlKeepalive mysql_keepalive_ = MysqlKeepalive::V1_24_0;
  std::size_t next_commit_ = 0;  // index into source_.log()
  Lsn replicated_lsn_ = 0;
  uint64_t checkpoint_line_ = 0;
  std::optional<sim::TimerId> wake_timer_;
  bool stalled_ = false;              // for good (mutant)
  bool paused_ = false;               // a stall fault or a restart, until resumed
  std::size_t confirmed_commit_ = 0;  // slot ack: replay restarts here
  std::size_t previous_chunk_ = 0;    // where the last chunk started (acked one chunk late)
  bool replaying_ = false;            // one commit per chunk until caught up
  uint64_t blocked_commits_ = 0;
  uint64_t empty_checkpoints_ = 0;
  uint64_t keepalive_checkpoints_ = 0;
  std::function<void(const ReplicationStep&)> step_hook_;
  std::function<void(const std::string&, int64_t)> custom_hook_;
  std::function<void()> checkpoint_hook_;
  Lsn no_checkpoint_before_ = 0;  // a reprocessing job's snapshot LSN (stream_from)
  bool stopped_ = false;          // stop(): a replaced instance's job
  std::size_t folded_ops_ = 0;    // ops of blocked commits, folded into the next checkpoint
  // Per-bucket owner of each row already in a private bucket, so a row that moves to
  // another owner is removed from the old bucket.
  std::map<RowKey, std::vector<std::string>> row_buckets_;
  // Per bucket: (op id, running u32 checksum sum) of every op written, never compacted.
  std::map<std::string, std::vector<std::pair<OpId, uint32_t>>> checksum_history_;
  std::map<std::string, std::vector<LedgerOp>> ledger_;
  void record(const std::string& bucket, const Op& op);
  // Gives the ops recorded since the last call the trace line just logged for their chunk.
  void stamp_recorded();
  std::vector<std::pair<std::string, std::size_t>> unstamped_;  // (bucket, ledger index)
};

}  // namespace syncsim::model
