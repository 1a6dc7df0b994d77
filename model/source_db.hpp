// The source database the service replicates from (docs/protocol.md §3.4): rows per table, a
// monotonic LSN per commit, and a log of commits for replication to consume.  A marker
// (docs/protocol.md §3.1.4) and a replication keepalive are commits without row changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/clock.hpp"

namespace syncsim::model {

using Lsn = int64_t;

struct RowKey {
  std::string table;
  std::string id;
  friend auto operator<=>(const RowKey&, const RowKey&) = default;
};

struct Row {
  std::string data;   // JSON object text of the row's columns
  std::string owner;  // the user who last wrote it (decides private buckets)
  friend bool operator==(const Row&, const Row&) = default;
};

struct RowChange {
  RowKey key;
  std::optional<Row> after;  // nullopt = deleted
};

enum class CommitKind { Data, Marker, Keepalive };

// The replicated source database (docs/protocol.md §3.1.4 table, issue 17), each with its own head
// read, marker and keepalive (checkpoint_batcher.hpp HeadRead, replication.hpp):
//   postgres - head pg_current_wal_lsn(), marker pg_logical_emit_message, keepalive every
//              heartbeat (PostgresRouteAPIAdapter.createReplicationHead, WalStream);
//   mongodb  - head the session clusterTime, marker a _powersync_checkpoints bump, keepalive
//              every heartbeat (MongoRouteAPIAdapter.createReplicationHead);
//   mysql    - head the executed GTID (the last transaction), no marker at all, keepalive
//              only from the binlog heartbeat after 30 s without binlog events
//              (MySQLRouteAPIAdapter.createReplicationHead, BinLogListener
//              KEEPALIVE_INACTIVITY_THRESHOLD; BinLogReplicationJob.keepAlive is a no-op).
// All at powersync-service v1.24.0.
enum class SourceFlavour { Postgres, Mongodb, Mysql };
std::string to_string(SourceFlavour f);

struct Commit {
  Lsn lsn = 0;
  sim::Micros committed_at = 0;
  CommitKind kind = CommitKind::Data;
  std::vector<RowChange> changes;
};

class SourceDb {
 public:
  // Commits `changes` atomically; returns the commit's LSN.
  Lsn commit(sim::Micros now, CommitKind kind, std::vector<RowChange> changes);
  [[nodiscard]] Lsn head() const { return head_; }
  [[nodiscard]] const std::vector<Commit>& log() const { return log_; }
  [[nodiscard]] const Commit& commit_at(std::size_t index) const { return log_.at(index); }
  [[nodiscard]] const std::map<RowKey, Row>& rows() const { return rows_; }
  [[nodiscard]] std::optional<Row> row(const RowKey& key) const;

 private:
  Lsn head_ = 0;
  std::vector<Commit> log_;
  std::map<RowKey, Row> rows_;
};

}  // namespace syncsim::model
