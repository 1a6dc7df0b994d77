// WriteCheckpointBatcher (docs/protocol.md §3.1.3): both managed routes enqueue here.  Dispatch is
// deferred by one turn (setTimeout 0), so requests that arrive at the same instant share a
// batch; up to 3 batches run at once, each reads ONE source head, writes the deduplicated
// mappings (§3.1.7), and only then forces a source marker if storage says so (§3.1.4, the #201
// fix).  Each step takes a seeded latency, so concurrent batches can complete out of order:
// that is how a generated id can be paired with an earlier head (§3.1.3 inference, §3.6.2.5).
// Any error fails every request of the batch; there is no retry (the client retries).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/checkpoint_store.hpp"
#include "model/source_db.hpp"
#include "sim/loop.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {

struct BatchOutcome {
  bool ok = false;
  int64_t id = 0;                 // the response id (stored id after the batch)
  int64_t stored = 0;             // what the batch stored for the key (generated: its increment)
  Lsn head = 0;                   // the head the batch read
  std::optional<int64_t> before;  // the key's stored id just before the batch wrote
  std::string error;              // when !ok
  uint64_t batch_line = 0;        // the trace line of the batch (a violation's causal chain)
  // A deletion of the key's records fell between the batch's write and its separate read-back
  // (mongo, service.read_back_step separate): the answer is whatever a later batch inserted,
  // possibly below the posted id (docs/protocol.md §3.1.5 "Read-back round trip").
  bool deleted_before_read_back = false;
};

// Where createReplicationHead reads the head (docs/protocol.md §3.1.4).
enum class HeadRead {
  // Strictly after the last commit: pg_current_wal_lsn() is at or past the end of WAL, the
  // mongo session clusterTime after `hello` (PostgresRouteAPIAdapter / MongoRouteAPIAdapter
  // .createReplicationHead, powersync-service v1.24.0).  A caught-up source therefore acks
  // a new mapping only once a later event (marker, keepalive, data) is replicated, as
  // docs/replication/06-checkpoints.md "Idle Sources" requires.
  AfterLastCommit,
  // The last commit's own position: MySQL's executed GTID (MySQLRouteAPIAdapter
  // .getReplicationHead, v1.24.0); also the model before issue 17, for comparison.
  AtLastCommit,
};

// When a mongo upsert decides "no document matched, insert" (docs/protocol.md §3.1.5
// "Duplicates"): two upserts of one key race only while both execute on the server.
enum class DuplicateWindow {
  // The match and the insert are the server-side execution of one bulkWrite: the batch
  // matches at the start of the write and inserts up to kUpsertExecutionMax later, so only
  // truly concurrent upserts (another process's, or this process's other in-flight batch)
  // duplicate (MongoWriteCheckpointAPI.createManagedWriteCheckpoints, v1.24.0).
  Write,
  // The model before issue 17, for comparison: the match is taken at the head read and the
  // write lands one storage round trip later (an inflated window, fidelity review item 7).
  HeadRead,
};
// The server-side execution of one upsert bulkWrite (the window of DuplicateWindow::Write).
inline constexpr sim::Micros kUpsertExecutionMax = sim::kMillis;

// A batch failure beyond a restart (docs/protocol.md §3.1.3 "Batch failures"), drawn per batch.
enum class BatchFailure {
  None,
  HeadRead,      // createReplicationHead's head query fails: nothing stored
  Marker,        // the mapping is stored, the marker query fails: the batch errors
  PartialWrite,  // postgres: the generated statement commits, the supplied one fails
  NoSyncConfig,  // no active sync config (PSYNC_S2302): nothing stored
};

struct BatcherConfig {
  int max_in_flight = 3;  // MAX_IN_FLIGHT_WRITE_CHECKPOINT_BATCHES
  sim::Micros step_latency_max = 20 * sim::kMillis;
  bool marker_before_mapping = false;  // the #201 bug, as a mutant
  HeadRead head_read = HeadRead::AfterLastCommit;
  // MySQL's createReplicationHead has no marker ("TODO: make sure another message is
  // replicated when shouldAdvance is true", v1.24.0): acks wait for the binlog heartbeat.
  bool writes_markers = true;
  DuplicateWindow duplicate_window = DuplicateWindow::Write;
  // docs/protocol.md §3.1.5 "Read-back round trip": mongo answers supplied keys (and two or
  // more generated ones) from a separate find one storage round trip after the write, so a
  // concurrent batch can interleave (fidelity review item 12).  false = the model before: the
  // answer is read atomically with the write.
  bool separate_read_back = false;
  // Names this batcher in traces ("api1", ...; empty with one process).
  std::string name;
  // Drawn once per batch after the head read (none by default): which failure this batch
  // meets.  Empty = no failures.
  std::function<BatchFailure(bool has_generated, bool has_supplied)> draw_failure;
};

// What the service does around a batch: write a source marker, observe each write (for
// invariants and metrics).
struct BatcherHooks {
  std::function<void()> write_marker;
  // Called once per batch after the storage write: the deduplicated entries, the stored
  // ids before the write, and the write's result.
  std::function<void(const std::vector<ManagedEntry>&,
                     const std::map<std::string, std::optional<int64_t>>&, const BatchWrite&)>
      on_write;
};

class CheckpointBatcher {
 public:
  using Callback = std::function<void(BatchOutcome)>;
  CheckpointBatcher(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, SourceDb& source,
                    CheckpointStore& store, BatcherConfig config, BatcherHooks hooks);

  void enqueue(const std::string& key, std::optional<int64_t> supplied, Callback done);
  // Service restart: queued and in-flight requests fail; in-flight markers are lost.
  void fail_all(const std::string& why);

  [[nodiscard]] int in_flight() const { return in_flight_; }
  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  [[nodiscard]] uint64_t batches() const { return batches_; }
  [[nodiscard]] uint64_t largest_batch() const { return largest_batch_; }
  [[nodiscard]] uint64_t failed_batches() const { return failed_batches_; }

 private:
  struct Pending {
    ManagedEntry entry;
    Callback done;
  };
  void schedule_dispatch();
  void dispatch();
  sim::Task<void> run_batch(std::shared_ptr<std::vector<Pending>> batch, uint64_t generation);
  sim::Micros step();

  sim::Loop& loop_;
  sim::Trace& trace_;
  sim::Prng rng_;
  SourceDb& source_;
  CheckpointStore& store_;
  BatcherConfig config_;
  BatcherHooks hooks_;
  std::vector<Pending> queue_;
  std::vector<std::shared_ptr<std::vector<Pending>>> running_;
  bool dispatch_scheduled_ = false;
  int in_flight_ = 0;
  uint64_t generation_ = 0;  // bumped by a restart: older batches are abandoned
  uint64_t batches_ = 0;
  uint64_t largest_batch_ = 0;
  uint64_t failed_batches_ = 0;
  void fail_batch(const std::shared_ptr<std::vector<Pending>>& batch, const std::string& why);
  void finish(const std::shared_ptr<std::vector<Pending>>& batch);
  [[nodiscard]] std::string prefix() const;
};

}  // namespace syncsim::model
