// One sync-stream connection (POST /sync/stream, docs/protocol.md §3.3): the first line is a
// full `checkpoint`, later ones `checkpoint_diff` only on a real change (I10: bucket
// checksum or count, a bucket added or removed, or the write checkpoint).  Each line is
// followed by `data` for the buckets to fetch, grouped by priority, each group but the
// last ending in `partial_checkpoint_complete` and the last in `checkpoint_complete`
// (docs/protocol.md §3.3.3 step 5, I8).  A download takes time (one delay per data batch); a newer
// line can supersede it (§3.1.9 Timing), a compaction can invalidate it (§3.3.3 step 6).
// `token_expires_in` every 20 s ±10 %, at exp − 20 s, and 0 at expiry, which ends the
// stream (docs/protocol.md §3.3.5, I13).  Lines are JSON text or, on request, BSON (§3.3.1).
#pragma once

#include <nlohmann/json.hpp>

#include "model/line_fault.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {

struct StreamStats {
  uint64_t checkpoint_lines = 0;  // `checkpoint` and `checkpoint_diff`
  uint64_t data_lines = 0;
  uint64_t ops_sent =
      0;  // ops in data lines, over all streams (bench/scale_bench: per delivered op)
  uint64_t partial_completes = 0;
  uint64_t checkpoint_completes = 0;
  uint64_t invalidated_checkpoints = 0;  // complete withheld: compacted (§3.3.3 step 6)
  // A storage page held a MOVE/CLEAR beyond the checkpoint but a later page of the same
  // download did not, so the service forgot it (sync.ts's per-call flag, §3.3.3 step 6).
  uint64_t forgotten_invalidations = 0;
  // Page reads that spanned a compaction of their bucket and saw ops from before and after
  // it (ConnectionContext::torn_reads, §3.3.4).
  uint64_t torn_reads = 0;
  uint64_t superseded_downloads = 0;  // aborted by a newer line (§3.1.9 Timing)
  uint64_t write_checkpoint_only_diffs = 0;
  // Mongo change windows with more than 1000 processed records: the connection fell back to
  // the head-based lookup (getManagedWriteCheckpointChanges' invalidateWriteCheckpoints).
  uint64_t change_feed_fallbacks = 0;
  // v3: candidates dropped because a compaction's merged document straddled their end
  // (CheckpointChecksumInvalidatedError, §3.3.4).
  uint64_t checksum_invalidated_candidates = 0;
  uint64_t token_lines = 0;      // `token_expires_in`
  uint64_t expired_streams = 0;  // ended by `{"token_expires_in": 0}`
  // docs/protocol.md §3.3.1: streams negotiated to BSON and the BSON documents served on them.
  uint64_t bson_streams = 0;
  uint64_t bson_lines = 0;
};

// docs/protocol.md §3.3.1: application/x-ndjson, or concatenated BSON documents when the client
// accepts application/vnd.powersync.bson-stream.
enum class StreamEncoding { Json, Bson };
inline constexpr const char* kBsonStreamType = "application/vnd.powersync.bson-stream";

struct ConnectionContext {
  sim::Loop& loop;
  sim::Trace& trace;
  BucketStorage& storage;
  CheckpointStore& checkpoints;
  StreamStats& stats;
  // Each data-batch fetch takes this long, jittered ±10 % from the connection's "fetch"
  // PRNG stream; 0 makes downloads instantaneous (nothing can happen mid-download).
  sim::Micros batch_delay = sim::kMillis;
  // Injected service bug: a write-checkpoint-only diff gets no checkpoint_complete.
  bool mutant_no_complete_for_wc_only = false;
  // Injected service bug: mongo emission takes lower values too (no I7 guard).
  bool mutant_write_checkpoint_may_drop = false;
  // Injected service bug: the initial mongo lookup answers one below the stored id.
  bool mutant_stale_write_checkpoint_on_connect = false;
  // The model before issue 17: a compaction-invalidated page withholds the complete of the
  // whole download, not only when it is the download's last page (§3.3.3 step 6).
  bool sticky_invalidation = false;
  // Called when a line carries a write_checkpoint different from the previous line's
  // (key, id, the checkpoint's LSN): service-ack-after-replication and ack latency.
  std::function<void(const std::string&, int64_t, Lsn)> on_emit;
  // Service-side line faults (model/line_fault.hpp): every line passes through it.
  LineFaultInjector* line_fault = nullptr;
  // Custom write-checkpoint mode (docs/protocol.md §3.1.10): write_checkpoint comes from the
  // custom records of the connection's sync config, not from managed checkpoints.
  bool custom_write_checkpoints = false;
  int sync_rules_id = 1;
  // The model before issue 17: mongo change detection takes the greatest id processed in the
  // window, with no 1000-record limit (ServiceConfig::change_feed_takes_max).
  bool change_feed_takes_max = false;
  // docs/protocol.md §3.3.4 "Compaction is not atomic with sync reads": a page read whose
  // fetch spans a compaction of its bucket sees the ops up to a seeded point as they were
  // before it and the rest as they are after it.  Off: reads are atomic (the model before).
  // Needs BucketStorage::keep_pre_compaction_ops.
  bool torn_reads = false;
  // Mutant torn-read-skips-op: a torn page's resumed scan starts one op past where it
  // stopped, so that op never reaches the client (checksums-agree must catch it).
  bool mutant_torn_read_skips_op = false;
  // docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip" (storage v3): the line's
  // checksums are a storage read one fetch after the candidate checkpoint was taken; if a
  // compaction meanwhile merged a changed bucket's documents across the candidate's end, the
  // candidate is dropped without a line (sync.ts waitForNewCheckpointLine).  Off: checksums
  // are read with the checkpoint (the model before).
  bool v3_checksum_documents = false;
  // Mutant straddled-checksum-served: the straddled candidate is served with the merged
  // document's checksum (ops past the checkpoint), not skipped.
  bool mutant_straddled_checksum_served = false;
  // The candidate's checksum read is a storage round trip: uniform 0..this (the service's
  // batch_latency_max, as a write-checkpoint batch's steps); 0 = one fetch (batch_delay).
  sim::Micros v3_checksum_read_max = 0;
  // v3 only: the candidate that supersedes a download is taken when the race for it starts and
  // dropped if a compaction straddles it meanwhile; the download then goes on (sync.ts
  // maybeRaceForNewCheckpoint), and after a drop every bucket is re-checked (forceFullChecksum;
  // docs/protocol.md §3.3.4).  Off: the model before, where the superseding line takes the
  // latest checkpoint when it falls due, which nothing straddles, and only changed buckets are
  // checked.
  bool v3_superseding_skip = true;
  // Mutant complete-despite-invalidation: a chunk's MOVE/CLEAR past the checkpoint never
  // withholds checkpoint_complete (docs/protocol.md §3.3.3 step 6 undone; consistent-checkpoint
  // must catch it).
  bool mutant_complete_despite_invalidation = false;
  // docs/protocol.md §3.3.3 step 5: one page is one storage read over all the group's buckets
  // (getBucketDataBatch), so batch_delay is paid when a page starts, not per bucket chunk.
  bool fetch_per_page = false;
  // docs/protocol.md §3.1.10: mongo's custom change query of v1.24.0 takes records of every sync
  // config (no sync_rules_id filter); on, only the connection's own (findings-world.md W42's fix).
  bool custom_changes_own_config = false;
};

struct ConnectionRequest {
  std::string user;
  std::string client_id;
  bool has_client_id = false;
  std::string key;                    // "<user>/<client_id>" (docs/protocol.md §3.1.1)
  std::vector<std::string> buckets;   // resolved from the sync config
  std::map<std::string, OpId> after;  // client positions from the request
  sim::Micros token_expires_at = 0;
  // Bucket priority 0..3, lower = sooner; a bucket not listed has 3 (docs/protocol.md §3.3.3 step
  // 2).
  std::map<std::string, int> priorities;
  // Dynamic buckets (docs/protocol.md §3.3.3 step 2): when set, called for every checkpoint instead
  // of using `buckets`, so buckets can be added and removed.
  std::function<std::vector<std::string>()> resolve_buckets;
  StreamEncoding encoding = StreamEncoding::Json;
  // Sync streams (docs/protocol.md §3.3.2): when set, full `checkpoint` lines carry this `streams`
  // array and every bucket entry (also in `checkpoint_diff`) its `subscriptions` from
  // bucket_subscriptions (a bucket not listed gets an empty list).  Unset: neither field.
  std::optional<nlohmann::json> streams;
  std::map<std::string, nlohmann::json> bucket_subscriptions;
};

class SyncConnection final : public CheckpointWatcher {
 public:
  // docs/protocol.md §3.1.9 Timing: a newer line may interrupt a download once this many ops of
  // the current checkpoint have been sent.
  static constexpr uint64_t kSupersedeAfterOps = 1000;
  // DEFAULT_DOCUMENT_BATCH_LIMIT: one getBucketDataBatch call (one bucketDataBatch, one
  // `checkpointInvalidated` flag) reads at most this many ops over the group's buckets.
  static constexpr uint64_t kStoragePageOps = 1000;

  SyncConnection(ConnectionContext ctx, ConnectionRequest request,
                 std::shared_ptr<sim::ServerStream> stream, sim::Prng rng);
  sim::Task<void> run();
  // BucketStorage calls it on the storage checkpoints its WatchInterest names, every one while
  // the stream cannot skip (may_skip_checkpoints; issue 20): a stream waiting for a
  // change is resumed only if the checkpoint can give it a line (one of its buckets updated,
  // a dynamic bucket set, a write checkpoint that would change); otherwise it takes what the
  // evaluation would have taken (the mongo change window) without being resumed.  A stream
  // downloading or pausing is only marked dirty, as its wait() did.
  void on_checkpoint(const StorageCheckpoint& cp, const StorageCheckpoint& previous,
                     const std::set<std::string>& updated_buckets) override;
  [[nodiscard]] std::optional<Lsn> write_checkpoint_window_start() const override;

 private:
  // What update_write_checkpoint() does for one checkpoint, computed without doing it, so that
  // on_checkpoint() can tell whether it changes anything the stream would send.
  struct WriteCheckpointStep {
    std::optional<int64_t> value;  // write_checkpoint_ afterwards
    bool queried_initial = false;
    Lsn seen_lsn = 0;
    OpId seen_op = 0;
    bool fallback = false;                   // a change window of > 1000 records (a stat)
    std::optional<int64_t> stale_initial;    // mutant: the true initial answer (traced)
    std::optional<int64_t> fallback_lookup;  // the lookup a fallback answered (traced)
  };
  [[nodiscard]] WriteCheckpointStep write_checkpoint_step(const StorageCheckpoint& cp) const;
  [[nodiscard]] WriteCheckpointStep custom_write_checkpoint_step(const StorageCheckpoint& cp) const;
  void take(const WriteCheckpointStep& step);
  // Issue 20: whether an idle wait may skip the checkpoints its WatchInterest does not name.
  // Each skipped one would only have moved the mongo change window to its LSN (nothing else
  // changes when no bucket of the stream was updated and no document of its key was processed
  // in the window), so the window is moved when the stream next looks: to `previous` when a
  // checkpoint visits it, to the latest one when its timer ends the wait (the loop resumes the
  // timed-out wait before anything else runs).  Mongo managed write checkpoints only, caught
  // up with the latest checkpoint; anything else is called for every checkpoint, as before.
  [[nodiscard]] bool may_skip_checkpoints() const;
  void catch_up_skipped(const StorageCheckpoint& last_skipped);
  // Whether evaluating a checkpoint (whose write-checkpoint step is `step`) could give a line
  // or a traced or counted effect.
  [[nodiscard]] bool checkpoint_matters(const std::set<std::string>& updated_buckets,
                                        const WriteCheckpointStep& step) const;

  // The data download for one checkpoint line.
  struct Download {
    StorageCheckpoint cp;
    std::vector<std::pair<int, std::vector<std::string>>> groups;  // by priority, ascending
    std::size_t group = 0;                                         // current group
    std::size_t bucket = 0;                                        // next bucket within the group
    uint64_t ops_sent = 0;
    bool invalidated = false;   // a chunk of this storage page had target_op > cp.op_id
    uint64_t page_ops = 0;      // ops of the current storage page so far
    bool page_fetched = false;  // fetch_per_page: the current page's read was paid for
    std::optional<sim::Micros> line_ready_at;  // when the superseding line is computed
    // v3 (ConnectionContext::v3_superseding_skip): the race's candidate, taken when
    // line_ready_at was set; its checksums are read until line_ready_at.
    std::optional<StorageCheckpoint> candidate;
    bool write_checkpoint_only = false;  // the line changed nothing but write_checkpoint
  };

  void emit(const nlohmann::json& line);
  // Sends the line `write(w)` writes to a LineText or LineBson (the stream's encoding), or
  // emit(tree()) when a line fault armed for the stream needs the tree; `checkpoint`: a
  // checkpoint line carrying `write_checkpoint` (the line fault tracks it).
  template <class Tree, class Write>
  void emit_line(const Tree& tree, const Write& write, bool checkpoint = false,
                 std::optional<int64_t> write_checkpoint = std::nullopt);
  void send_checkpoint(const StorageCheckpoint& cp, const std::vector<std::string>& changed,
                       const std::vector<std::string>& removed, bool full);
  void update_write_checkpoint(const StorageCheckpoint& cp) { take(write_checkpoint_step(cp)); }
  void start_download(const StorageCheckpoint& cp, const std::vector<std::string>& fetch,
                      bool write_checkpoint_only);
  sim::Task<void> download_step();
  // The candidate's checksum read under v3 documents (docs/protocol.md §3.3.4): Served (a
  // line may carry `states`), Skipped (the candidate was dropped; its wait is done) or
  // Closed (the stream closed during the read).
  enum class CandidateRead { Served, Skipped, Closed };
  // `raced`: the candidate's checksums were read by the race for a new line that started
  // during a download (its read time has passed); a dropped one lets the download go on.
  sim::Task<CandidateRead> v3_checksum_read(const StorageCheckpoint& cp,
                                            const std::vector<std::string>& changed,
                                            std::map<std::string, BucketState>& states, bool raced,
                                            const std::vector<std::string>& buckets);
  // The race's read time for a superseding line (v3: the checksum read's round trip).
  [[nodiscard]] sim::Micros superseding_read_time();
  // A race's candidate checkpoint and when its checksum read ends.
  struct RaceCandidate {
    StorageCheckpoint cp;
    sim::Micros ready_at = 0;
  };
  // Returns has_more; `torn`: the fetch spanned a compaction of the bucket (§3.3.4).
  bool send_data_batch(const std::string& bucket, bool torn = false);
  [[nodiscard]] std::vector<const Op*> torn_page(const std::string& bucket, OpId after, OpId up_to,
                                                 std::size_t limit);
  void next_page(Download& d);
  // Waits until `until` (none: forever) or, with `stop_on_change`, a new storage
  // checkpoint; sends token lines that fall due meanwhile.
  sim::Task<void> wait(std::optional<sim::Micros> until, bool stop_on_change);
  [[nodiscard]] sim::Micros next_token_event() const;
  void on_token_timer();
  [[nodiscard]] int priority_of(const std::string& bucket) const;
  [[nodiscard]] std::vector<std::string> current_buckets() const;

  ConnectionContext ctx_;
  ConnectionRequest req_;
  std::shared_ptr<sim::ServerStream> stream_;
  sim::Prng rng_;        // keepalive jitter
  sim::Prng fetch_rng_;  // batch delays (a separate stream, docs/architecture.md §2)
  std::map<std::string, BucketState> sent_states_;
  std::optional<int64_t> write_checkpoint_;  // mongo: only ever increases per connection
  std::optional<int64_t>
      sent_write_checkpoint_;      // lastWriteCheckpoint of docs/protocol.md §0.1 emission
  bool queried_initial_ = false;   // mongo: the initial lookup happened
  Lsn seen_lsn_ = 0;               // mongo: last checkpoint LSN looked at
  OpId seen_op_ = 0;               // mongo custom mode: last checkpoint op id looked at
  std::set<std::string> pending_;  // fetch set of the last line not yet fully downloaded
  std::optional<Download> download_;
  bool dirty_ = false;  // a checkpoint arrived since the last evaluation
  // A v3 candidate was dropped (invalidateChecksumBaseline): the next checkpoint of any kind is
  // evaluated, as the service rechecks every bucket then (docs/protocol.md §3.3.4).
  bool baseline_invalidated_ = false;
  // v3: a race that was still reading when its download completed; the loop takes its
  // candidate at ready_at, as sync.ts awaits the race's promise after the complete.
  std::optional<RaceCandidate> pending_race_;
  // v3: the last candidate a race dropped; the race keeps listening for a newer checkpoint,
  // so this one is never evaluated again.
  std::optional<StorageCheckpoint> dropped_candidate_;
  // Fired by on_checkpoint() (the storage's checkpoint_created() when it wakes every stream).
  sim::Notifier checkpoint_wake_;
  bool idle_wait_ = false;            // in wait(..., stop_on_change = true)
  uint64_t watch_id_ = 0;             // BucketStorage::watch (0: the storage wakes every stream)
  bool skipping_ = false;             // this idle wait skips checkpoints (may_skip_checkpoints)
  uint64_t checkpoints_at_wait_ = 0;  // BucketStorage::checkpoints() when the wait was armed
  sim::Micros next_keepalive_ = 0;
  std::optional<sim::Micros> warning_at_;  // exp − 20 s, until sent
};

}  // namespace syncsim::model
