// Bucket storage (docs/protocol.md §3.3.3-3.3.4): one global op-id sequence, ops per bucket, and
// storage checkpoints (op id, LSN) that never go backwards (docs/protocol.md §3.4).
// Checksums: each op has an unsigned 32-bit checksum; a bucket's checksum is the sum of
// its ops' checksums mod 2^32, sent as a signed int32 (docs/protocol.md §3.3.2).
// Compaction (docs/protocol.md §3.3.4) turns superseded ops into MOVE and a leading run of
// REMOVE/MOVE/CLEAR into one CLEAR, keeping every checksum at checkpoints >= its horizon.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/source_db.hpp"
#include "sim/sync.hpp"

namespace syncsim::model {

using OpId = int64_t;

// docs/protocol.md §3.3.2: `op` is PUT|REMOVE|MOVE|CLEAR.
enum class OpType : uint8_t { Put, Remove, Move, Clear };
const char* op_type_name(OpType type);

struct Op {
  OpId op_id = 0;
  // PUT (true) or REMOVE (false), as replication writes ops ({id, put, type, id, data,
  // checksum}).  Storage keeps put == (type == OpType::Put).
  bool put = true;
  std::string object_type;
  std::string object_id;
  std::string data;  // PUT only; compaction drops it
  uint32_t checksum = 0;
  OpType type = OpType::Put;  // append() derives it from `put`; compaction sets MOVE/CLEAR
  // MOVE: the op that superseded this one; CLEAR: the greatest op id it stands for (its own
  // id or a replaced MOVE's target).  A data chunk whose target_op exceeds the checkpoint
  // being downloaded invalidates that checkpoint (docs/protocol.md §3.3.3 step 6).  0 otherwise.
  OpId target_op = 0;
};

class CheckpointStore;  // model/checkpoint_store.hpp (which includes this header)

struct StorageCheckpoint {
  OpId op_id = 0;
  Lsn lsn = 0;
};

struct BucketState {
  int32_t checksum = 0;  // signed, as on the wire
  int64_t count = 0;
  friend bool operator==(const BucketState&, const BucketState&) = default;
};

struct CompactionStats {
  uint64_t runs = 0;
  uint64_t ops_moved = 0;    // PUT/REMOVE ops turned into MOVE
  uint64_t clears = 0;       // leading runs replaced by one CLEAR
  uint64_t ops_removed = 0;  // ops gone from storage (a CLEAR of n ops removes n - 1)
};

uint32_t op_checksum(const Op& op);

// The two ops replication writes (append() assigns the id and checksum).
Op put_op(const std::string& object_type, const std::string& object_id, const std::string& data);
Op remove_op(const std::string& object_type, const std::string& object_id);

// A sync stream's view of new storage checkpoints (issue 20).  The service's watcher yields every
// checkpoint to every connection with the data buckets updated since the previous one
// (watchCheckpointChanges / getCheckpointChanges' updatedDataBuckets, docs/protocol.md §3.1.9,
// §3.3.3), and a connection builds a line only when one of its buckets, its bucket set or its
// write checkpoint changed.  The storage calls, in registration order, only the watchers a
// checkpoint can concern (WatchInterest), so that its cost follows the streams concerned.
class CheckpointWatcher {
 public:
  // `previous`: the storage checkpoint before `cp`.
  virtual void on_checkpoint(const StorageCheckpoint& cp, const StorageCheckpoint& previous,
                             const std::set<std::string>& updated_buckets) = 0;
  // Mongo managed write checkpoints (docs/protocol.md §3.1.9): after its initial lookup a
  // connection takes only documents processed after this LSN; none before that lookup, or
  // when the connection looks the record up at every checkpoint.
  [[nodiscard]] virtual std::optional<Lsn> write_checkpoint_window_start() const {
    return std::nullopt;
  }

 protected:
  ~CheckpointWatcher() = default;
};

// Which checkpoints a watcher is called for: every one while watch_every_checkpoint() is on,
// otherwise those that updated one of `buckets` or whose window (previous LSN, LSN] holds a
// processed managed write-checkpoint document of `write_checkpoint_key` in `write_checkpoints`
// (every keyed watcher when there are more than CheckpointStore::kChangeLimit such documents).
struct WatchInterest {
  std::vector<std::string> buckets;
  std::string write_checkpoint_key;  // empty: none
  const CheckpointStore* write_checkpoints = nullptr;
};

class BucketStorage {
 public:
  // Assigns the op id; only PUT and REMOVE can be appended.
  OpId append(const std::string& bucket, Op op);
  void checkpoint(Lsn lsn);  // a new storage checkpoint at the current op id
  // opSeq.next() without a bucket op: a mongo custom write checkpoint's op id (§3.1.10).
  OpId allocate_op() {
    last_own_op_ = (*seq_)++;
    return last_own_op_;
  }
  // Sync-config reprocessing (docs/protocol.md §3.4 "Sync config reprocessing"): the op id
  // sequence is one per storage database (op_id_sequence), shared by every sync-rules
  // instance; this storage then draws its op ids from `owner`'s sequence.  Its checkpoints
  // still cover only its own ops (the batch's persisted_op).
  // It also takes the owner's wake mode (set_wake_every_stream).
  void share_op_sequence(BucketStorage& owner) {
    seq_ = owner.seq_;
    wake_every_stream_ = owner.wake_every_stream_;
  }
  // The storage checkpoint with this op id (the latest such), if one was made: the
  // source position a client's applied state stands for (monotonic-reads across a
  // reprocessing, docs/invariants.md §1).
  [[nodiscard]] std::optional<StorageCheckpoint> checkpoint_at(OpId op_id) const;
  [[nodiscard]] const StorageCheckpoint& latest() const { return latest_; }
  [[nodiscard]] BucketState state(const std::string& bucket, OpId up_to) const;
  // Ops with after < op_id <= up_to, at most `limit`.  The pointers are valid until the
  // next append() or compact().
  [[nodiscard]] std::vector<const Op*> ops(const std::string& bucket, OpId after, OpId up_to,
                                           std::size_t limit) const;
  // Compacts every bucket up to `horizon` (normally latest().op_id), docs/protocol.md §3.3.4:
  //  - MOVE: an op superseded by a later op (<= horizon) of the same (object_type,
  //    object_id) keeps its op id and checksum, loses its data, and points at the
  //    superseding op (the newest one for that row);
  //  - CLEAR: then the longest leading run (<= horizon, at least two ops) of
  //    REMOVE/MOVE/CLEAR ops becomes one CLEAR with the last replaced op id and the sum of
  //    the replaced checksums.
  // Each bucket's state at every checkpoint >= horizon keeps its checksum; its count may
  // shrink (I11).  Returns what this run did.
  // `mutant_clear_loses_checksum`: the CLEAR's sum leaves out the first replaced op (the
  // clear-loses-checksum mutant; checksums-agree must catch it).
  CompactionStats compact(OpId horizon, bool mutant_clear_loses_checksum = false);
  [[nodiscard]] const CompactionStats& compaction_stats() const { return compaction_; }
  // Torn reads (docs/protocol.md §3.3.4 "Compaction is not atomic with sync reads"): when kept,
  // each compaction that changes a bucket remembers the bucket's ops as they were before it,
  // so that a page read spanning the compaction can see both versions.
  void keep_pre_compaction_ops(bool keep) { keep_pre_compaction_ = keep; }
  // Compactions that changed `bucket` (counted only while pre-compaction ops are kept).
  [[nodiscard]] uint64_t compactions_of(const std::string& bucket) const;
  // ops(), over the bucket as it was before its latest compaction.
  [[nodiscard]] std::vector<const Op*> ops_before_compaction(const std::string& bucket, OpId after,
                                                             OpId up_to, std::size_t limit) const;
  // v3 storage (docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip"): a compaction
  // that changes a bucket rewrites its documents up to the horizon and merges them into one
  // (MongoCompactorV3 merges adjacent documents while they fit DEFAULT_MAX_DOC_SIZE_BYTES), so
  // that document's checksum covers ops [first, last].  The first of `buckets` whose latest
  // merged document straddles `end` (first <= end < last): a checkpoint there cannot be summed
  // from document metadata (MongoChecksumsV3 throws CheckpointChecksumInvalidatedError).
  struct MergedDocument {
    OpId first = 0;
    OpId last = 0;
  };
  [[nodiscard]] std::optional<std::pair<std::string, MergedDocument>> straddled(
      const std::vector<std::string>& buckets, OpId end) const;
  // Fires after every new storage checkpoint (the storage watcher), after the watchers.
  sim::Notifier& checkpoint_created() { return checkpoint_created_; }
  // Watchers get the later checkpoints that `interest` names (with the buckets whose ops changed,
  // appended or compacted, since the one before), initially every one.  Returns the watch's
  // id; unwatch() before the watcher dies.  watch_every_checkpoint() may be called from inside
  // on_checkpoint (it applies from the next checkpoint).
  uint64_t watch(CheckpointWatcher* watcher, WatchInterest interest);
  // The lowest write_checkpoint_window_start() of the watched connections of `key`: a document
  // processed at or below it reaches none of them (the liveness explanation).  None when no
  // connection of the key is watched or one of them has no window.
  [[nodiscard]] std::optional<Lsn> write_checkpoint_window_start(const std::string& key) const;
  void unwatch(uint64_t id);
  void watch_every_checkpoint(uint64_t id, bool every);
  // The model before issue 20, for comparison (tests/stream_wake_test.cpp): every checkpoint
  // resumes every idle stream, which then finds out itself whether anything changed (a
  // downloading or pausing stream is not resumed in either model: SyncConnection::wait).
  void set_wake_every_stream(bool on) { wake_every_stream_ = on; }
  [[nodiscard]] bool wakes_every_stream() const { return wake_every_stream_; }
  // Off: every watcher is called for every checkpoint (the model of perf8, before the watchers
  // were indexed), for comparison: the same trace (tests/stream_wake_test.cpp).
  void set_index_watchers(bool on) { index_watchers_ = on; }
  [[nodiscard]] bool indexes_watchers() const { return index_watchers_; }
  [[nodiscard]] OpId last_op() const { return last_own_op_; }
  [[nodiscard]] uint64_t checkpoints() const { return checkpoints_; }

 private:
  struct Bucket {
    std::vector<Op> ops;                // ascending op ids
    std::vector<uint32_t> sums;         // sums[i] = checksum of ops[0..i] mod 2^32
    std::vector<Op> before_compaction;  // ops before the latest compaction (torn reads)
    uint64_t compactions = 0;
    std::optional<MergedDocument> merged;  // v3: the latest compaction's merged document
  };
  static std::vector<const Op*> range(const std::vector<Op>& v, OpId after, OpId up_to,
                                      std::size_t limit);
  bool keep_pre_compaction_ = false;
  static void recompute_sums(Bucket& b);
  static CompactionStats compact_bucket(Bucket& b, OpId horizon, bool mutant_clear_loses_checksum);
  // state() runs for every bucket of every connection on every checkpoint; running sums
  // keep it a binary search instead of a pass over the bucket's history.
  std::map<std::string, Bucket> buckets_;
  OpId next_op_ = 1;
  OpId* seq_ = &next_op_;  // next_op_, or a shared sequence (share_op_sequence)
  OpId last_own_op_ = 0;   // the last op id this storage appended or allocated
  StorageCheckpoint latest_;
  std::vector<StorageCheckpoint> history_;  // every checkpoint made, in order
  uint64_t checkpoints_ = 0;
  CompactionStats compaction_;
  sim::Notifier checkpoint_created_;
  // The watchers by id (= registration order) and the indexes naming which ones a checkpoint
  // concerns (issue 20).
  struct Watch {
    CheckpointWatcher* watcher = nullptr;
    WatchInterest interest;
  };
  std::map<uint64_t, Watch> watchers_;
  uint64_t next_watch_ = 1;
  std::set<uint64_t> every_checkpoint_;
  std::map<std::string, std::vector<uint64_t>> by_bucket_;
  std::map<std::string, std::vector<uint64_t>> by_write_checkpoint_key_;
  const CheckpointStore* write_checkpoints_ = nullptr;
  [[nodiscard]] std::vector<uint64_t> concerned(const StorageCheckpoint& previous) const;
  std::set<std::string> updated_since_checkpoint_;  // buckets appended to or compacted
  bool notifying_ = false;                          // watchers must not (un)register meanwhile
  bool wake_every_stream_ = false;
  bool index_watchers_ = true;
};

}  // namespace syncsim::model
