#include "model/sync_stream.hpp"

#include <algorithm>
#include <cassert>
#include <nlohmann/json.hpp>
#include <utility>

#include "model/line_bson.hpp"
#include "model/line_text.hpp"

namespace syncsim::model {

namespace {
constexpr std::size_t kOpsPerDataLine =
    1000;                            // docs/protocol.md §3.3.3 step 5: batches of <= 1000 ops
constexpr int kDefaultPriority = 3;  // docs/protocol.md §3.3.3 step 2
constexpr sim::Micros kKeepaliveInterval = 20 * sim::kSeconds;  // docs/protocol.md §3.3.5
constexpr sim::Micros kExpireWarning = 20 * sim::kSeconds;      // docs/protocol.md §3.3.5
// tokenStream wakes 3 ms after the expiry (warning) instant: `exp - Date.now() + 3`.
constexpr sim::Micros kTokenTimerMargin = 3 * sim::kMillis;       // docs/protocol.md §3.3.5
constexpr sim::Micros kPauseAfterCheckpoint = 10 * sim::kMillis;  // docs/protocol.md §3.1.9 timing

bool same_checkpoint(const StorageCheckpoint& a, const StorageCheckpoint& b) {
  return a.op_id == b.op_id && a.lsn == b.lsn;
}

std::string bson_bytes(const nlohmann::json& line) {
  const std::vector<std::uint8_t> bytes = nlohmann::json::to_bson(line);
  return {bytes.begin(), bytes.end()};
}
}  // namespace

SyncConnection::SyncConnection(ConnectionContext ctx, ConnectionRequest request,
                               std::shared_ptr<sim::ServerStream> stream, sim::Prng rng)
    : ctx_(std::move(ctx)),
      req_(std::move(request)),
      stream_(std::move(stream)),
      rng_(rng),
      fetch_rng_(rng.split("fetch")) {}

int SyncConnection::priority_of(const std::string& bucket) const {
  auto it = req_.priorities.find(bucket);
  return it == req_.priorities.end() ? kDefaultPriority : it->second;
}

std::vector<std::string> SyncConnection::current_buckets() const {
  return req_.resolve_buckets ? req_.resolve_buckets() : req_.buckets;
}

void SyncConnection::emit(const nlohmann::json& line) {
  if (ctx_.line_fault && ctx_.line_fault->intercepts(req_.key, line)) {
    // A line fault may rewrite, hold or repeat the line (model/line_fault.hpp).
    LineFaultInjector* faults = std::exchange(ctx_.line_fault, nullptr);
    const uint64_t fired = faults->fired();
    for (const auto& l : faults->rewrite(req_.key, line)) emit(l);
    if (faults->fired() != fired) ctx_.trace.log("svc", "line fault fired on {}", req_.key);
    ctx_.line_fault = faults;
    return;
  }
  if (req_.encoding == StreamEncoding::Bson) {
    // docs/protocol.md §3.3.1: concatenated BSON documents, one per line object.
    ++ctx_.stats.bson_lines;
    stream_->send(bson_bytes(line));
  } else {
    stream_->send(line.dump());
  }
}

template <class Tree, class Write>
void SyncConnection::emit_line(const Tree& tree, const Write& write, bool checkpoint,
                               std::optional<int64_t> write_checkpoint) {
  // The bytes are written without the tree (model/line_text.hpp, model/line_bson.hpp) unless a
  // line fault armed for this key needs the tree; debug builds compare them with the tree's
  // dump() or to_bson().
  if (ctx_.line_fault && ctx_.line_fault->armed_for(req_.key)) {
    emit(tree());
    return;
  }
  std::string line;
  if (req_.encoding == StreamEncoding::Bson) {
    LineBson w;
    write(w);
    line = w.take();
    assert(line == bson_bytes(tree()) && "a sync line's BSON differs from its tree's to_bson()");
    ++ctx_.stats.bson_lines;
  } else {
    LineText w;
    write(w);
    line = w.take();
    assert(line == tree().dump() && "a sync line's text differs from its tree's dump()");
  }
  if (checkpoint && ctx_.line_fault) ctx_.line_fault->sent_unchanged(req_.key, write_checkpoint);
  stream_->send(std::move(line));
}

void SyncConnection::send_checkpoint(const StorageCheckpoint& cp,
                                     const std::vector<std::string>& changed,
                                     const std::vector<std::string>& removed, bool full) {
  const std::string last_op_id = std::to_string(cp.op_id);
  // docs/protocol.md §3.1.9: write_checkpoint is repeated on every line while truthy and left out
  // otherwise, in BSON too: syncLineToBson (sync/util.ts, powersync-service v1.24.0) uses
  // bson@6.10.4 serialize(), whose ignoreUndefined defaults to true, so an undefined field is
  // omitted, never an explicit null.
  const std::optional<std::string> write_checkpoint =
      write_checkpoint_ && *write_checkpoint_ != 0
          ? std::optional<std::string>(std::to_string(*write_checkpoint_))
          : std::nullopt;
  // docs/protocol.md §3.3.2: each bucket's `subscriptions` say why it is synced ({"default": i}
  // into `streams`, {"sub": i} into request.subscriptions).
  auto subscriptions = [&](const std::string& b) -> const nlohmann::json& {
    static const nlohmann::json kNone = nlohmann::json::array();
    auto it = req_.bucket_subscriptions.find(b);
    return it == req_.bucket_subscriptions.end() ? kNone : it->second;
  };
  auto tree = [&] {
    nlohmann::json buckets = nlohmann::json::array();
    for (const auto& b : changed) {
      const BucketState& s = sent_states_.at(b);
      // docs/protocol.md §3.3.2: every bucket entry carries its priority (§3.3.3 step 2).
      nlohmann::json entry = {{"bucket", b},
                              {"checksum", s.checksum},
                              {"count", s.count},
                              {"priority", priority_of(b)}};
      if (req_.streams) entry["subscriptions"] = subscriptions(b);
      buckets.push_back(std::move(entry));
    }
    nlohmann::json body = {{"last_op_id", last_op_id}};
    if (write_checkpoint) body["write_checkpoint"] = *write_checkpoint;
    if (full) {
      body["buckets"] = std::move(buckets);
      // docs/protocol.md §3.3.2: `streams` appears only on full checkpoint lines.
      if (req_.streams) body["streams"] = *req_.streams;
      return nlohmann::json{{"checkpoint", body}};
    }
    body["updated_buckets"] = std::move(buckets);
    body["removed_buckets"] = removed;  // docs/protocol.md §3.3.3 step 4
    return nlohmann::json{{"checkpoint_diff", body}};
  };
  auto write = [&](auto& w) {
    // The tree's keys in sorted order.
    auto bucket_list = [&] {
      w.array();
      for (const auto& b : changed) {
        const BucketState& s = sent_states_.at(b);
        w.object().key("bucket").str(b).key("checksum").num(s.checksum);
        w.key("count").num(s.count).key("priority").num(priority_of(b));
        if (req_.streams) w.key("subscriptions").tree(subscriptions(b));
        w.end_object();
      }
      w.end_array();
    };
    w.object().key(full ? "checkpoint" : "checkpoint_diff").object();
    if (full) {
      w.key("buckets");
      bucket_list();
      w.key("last_op_id").str(last_op_id);
      if (req_.streams) w.key("streams").tree(*req_.streams);
    } else {
      w.key("last_op_id").str(last_op_id).key("removed_buckets").array();
      for (const auto& b : removed) w.str(b);
      w.end_array().key("updated_buckets");
      bucket_list();
    }
    if (write_checkpoint) w.key("write_checkpoint").str(*write_checkpoint);
    w.end_object().end_object();
  };
  emit_line(tree, write, true,
            write_checkpoint ? std::optional<int64_t>(*write_checkpoint_) : std::nullopt);
  ++ctx_.stats.checkpoint_lines;
  if (write_checkpoint_ && write_checkpoint_ != sent_write_checkpoint_ && ctx_.on_emit) {
    ctx_.on_emit(req_.key, *write_checkpoint_, cp.lsn);
  }
  sent_write_checkpoint_ = write_checkpoint_;
}

void SyncConnection::start_download(const StorageCheckpoint& cp,
                                    const std::vector<std::string>& fetch,
                                    bool write_checkpoint_only) {
  // docs/protocol.md §3.3.3 step 5: buckets to fetch grouped by priority, highest (lowest number)
  // first.  No bucket to fetch still runs one empty batch that ends in checkpoint_complete
  // (§3.1.9 Emission, fix 9b1868d).
  std::map<int, std::vector<std::string>> by_priority;
  for (const auto& b : fetch) by_priority[priority_of(b)].push_back(b);
  Download d;
  d.cp = cp;
  d.write_checkpoint_only = write_checkpoint_only;
  for (auto& [priority, buckets] : by_priority) d.groups.emplace_back(priority, std::move(buckets));
  if (d.groups.empty()) d.groups.emplace_back(kDefaultPriority, std::vector<std::string>{});
  download_ = std::move(d);
}

SyncConnection::WriteCheckpointStep SyncConnection::write_checkpoint_step(
    const StorageCheckpoint& cp) const {
  // watchCheckpointChanges (docs/protocol.md §3.1.9), per storage flavour.
  if (ctx_.custom_write_checkpoints) return custom_write_checkpoint_step(cp);
  WriteCheckpointStep step{write_checkpoint_, queried_initial_, seen_lsn_, seen_op_, false, {}, {}};
  if (ctx_.checkpoints.flavour() == StorageFlavour::Postgres) {
    // Every notification re-runs lastWriteCheckpoint: the value may drop to null or lower.
    // The empty checkpoint has a null LSN, which is no position: no heads filter, so
    // lastManagedWriteCheckpoint answers null (PostgresSyncRulesStorage.watchCheckpointChanges,
    // v1.24.0).
    step.value = cp.lsn == 0 ? std::nullopt : ctx_.checkpoints.lookup(req_.key, cp.lsn);
    return step;
  }
  // Mongo: one initial lookup on the first checkpoint with an LSN, then only documents
  // processed in (previous LSN, LSN]; the value is replaced only when greater (I7).
  if (cp.lsn == 0) return step;  // the empty checkpoint has no LSN
  std::optional<int64_t> v;
  if (!queried_initial_) {
    step.queried_initial = true;
    v = ctx_.checkpoints.lookup(req_.key, cp.lsn);
    if (v && *v > 1 && ctx_.mutant_stale_write_checkpoint_on_connect) {
      step.stale_initial = v;
      v = *v - 1;
    }
  } else if (cp.lsn != seen_lsn_ && ctx_.change_feed_takes_max) {
    v = ctx_.checkpoints.processed_between(req_.key, seen_lsn_, cp.lsn);
  } else if (cp.lsn != seen_lsn_) {
    // getManagedWriteCheckpointChanges: over 1000 changes, lastWriteCheckpoint at the new LSN.
    const auto changes = ctx_.checkpoints.managed_changes(req_.key, seen_lsn_, cp.lsn);
    step.fallback = changes.invalidate;
    v = changes.invalidate ? ctx_.checkpoints.lookup(req_.key, cp.lsn) : changes.value;
    if (changes.invalidate) step.fallback_lookup = v;
  }
  step.seen_lsn = cp.lsn;
  const bool lower_allowed = ctx_.mutant_write_checkpoint_may_drop;
  if (v && (!step.value || *v > *step.value || lower_allowed)) step.value = v;
  return step;
}

SyncConnection::WriteCheckpointStep SyncConnection::custom_write_checkpoint_step(
    const StorageCheckpoint& cp) const {
  // Custom mode (docs/protocol.md §3.1.10): lastCustomWriteCheckpoint has no LSN filter.
  WriteCheckpointStep step{write_checkpoint_, queried_initial_, seen_lsn_, seen_op_, false, {}, {}};
  const auto& custom = ctx_.checkpoints.custom();
  if (ctx_.checkpoints.flavour() == StorageFlavour::Postgres) {
    // Every notification re-runs the lookup and yields on any difference.
    step.value = custom.last(req_.key, ctx_.sync_rules_id);
    return step;
  }
  // Mongo: the initial lookup on the first checkpoint with an LSN, then the records whose
  // op id is in (previous checkpoint op, this checkpoint op]; over 1000 of them fall back to
  // the lookup.  The connection's value is replaced only when greater.
  if (cp.lsn == 0) return step;
  std::optional<int64_t> v;
  if (!queried_initial_) {
    step.queried_initial = true;
    v = custom.last(req_.key, ctx_.sync_rules_id);
  } else if (cp.op_id != seen_op_ || cp.lsn != seen_lsn_) {
    const CustomChanges changes = custom.changes(
        req_.key, seen_op_, cp.op_id,
        ctx_.custom_changes_own_config ? std::optional<int>(ctx_.sync_rules_id) : std::nullopt);
    v = changes.invalidate ? custom.last(req_.key, ctx_.sync_rules_id) : changes.value;
  }
  step.seen_lsn = cp.lsn;
  step.seen_op = cp.op_id;
  if (v && (!step.value || *v > *step.value)) step.value = v;
  return step;
}

void SyncConnection::take(const WriteCheckpointStep& step) {
  if (step.fallback) {
    ++ctx_.stats.change_feed_fallbacks;
    ctx_.trace.log("svc", "stream {} change feed over 1000 records in lsn ({}, {}]: lookup {}",
                   req_.key, seen_lsn_, step.seen_lsn,
                   step.fallback_lookup ? std::to_string(*step.fallback_lookup) : "none");
  }
  if (step.stale_initial) {
    ctx_.trace.log("svc", "MUTANT stream {} initial write_checkpoint {} instead of {}", req_.key,
                   *step.stale_initial - 1, *step.stale_initial);
  }
  write_checkpoint_ = step.value;
  queried_initial_ = step.queried_initial;
  seen_lsn_ = step.seen_lsn;
  seen_op_ = step.seen_op;
}

bool SyncConnection::checkpoint_matters(const std::set<std::string>& updated_buckets,
                                        const WriteCheckpointStep& step) const {
  // docs/protocol.md §3.3.3 step 2: a dynamic bucket set is re-evaluated on every checkpoint;
  // so is every bucket after a dropped v3 candidate (§3.3.4).
  if (req_.resolve_buckets || baseline_invalidated_) return true;
  // §3.1.9 Emission: a line only if a bucket's checksum or count changed (updatedDataBuckets)...
  if (updated_buckets.size() <= sent_states_.size()) {
    for (const auto& b : updated_buckets) {
      if (sent_states_.contains(b)) return true;
    }
  } else {
    for (const auto& [b, state] : sent_states_) {
      if (updated_buckets.contains(b)) return true;
    }
  }
  // ... or the write checkpoint (for its user, §3.1.9/§3.1.10); a fallback or a mutant's trace
  // line is left to the stream's own evaluation.
  return step.value != write_checkpoint_ || step.fallback || step.stale_initial.has_value();
}

bool SyncConnection::may_skip_checkpoints() const {
  return ctx_.storage.indexes_watchers() && !ctx_.custom_write_checkpoints &&
         ctx_.checkpoints.flavour() == StorageFlavour::Mongo && !req_.resolve_buckets &&
         !baseline_invalidated_ && queried_initial_ && seen_lsn_ == ctx_.storage.latest().lsn;
}

std::optional<Lsn> SyncConnection::write_checkpoint_window_start() const {
  if (ctx_.custom_write_checkpoints || ctx_.checkpoints.flavour() != StorageFlavour::Mongo ||
      !queried_initial_) {
    return std::nullopt;
  }
  // A skipping wait moves its window to the checkpoint before the next one it looks at, or to
  // the latest (catch_up_skipped): the window starts there already.
  return skipping_ ? std::max(seen_lsn_, ctx_.storage.latest().lsn) : seen_lsn_;
}

void SyncConnection::catch_up_skipped(const StorageCheckpoint& last_skipped) {
  // What take(write_checkpoint_step(last_skipped)) does when nothing changed (mongo, queried).
  if (last_skipped.lsn != 0) seen_lsn_ = last_skipped.lsn;
}

void SyncConnection::on_checkpoint(const StorageCheckpoint& cp, const StorageCheckpoint& previous,
                                   const std::set<std::string>& updated_buckets) {
  // A stream sees a checkpoint only while its wait() is armed; one whose wait another source
  // already won reads the latest checkpoint when it resumes, as before.
  if (!checkpoint_wake_.has_waiters()) return;
  if (!idle_wait_) {
    dirty_ = true;  // downloading or pausing: wait() only marks it (the supersede rule reads it)
    return;
  }
  if (skipping_) catch_up_skipped(previous);
  const WriteCheckpointStep step = write_checkpoint_step(cp);
  if (checkpoint_matters(updated_buckets, step)) {
    skipping_ = false;
    checkpoint_wake_.notify();
    return;
  }
  // The evaluation would find no line: it would only move the mongo change window.
  take(step);
  if (!skipping_ && may_skip_checkpoints()) {
    skipping_ = true;
    ctx_.storage.watch_every_checkpoint(watch_id_, false);
  }
}

std::vector<const Op*> SyncConnection::torn_page(const std::string& bucket, OpId after, OpId up_to,
                                                 std::size_t limit) {
  // docs/protocol.md §3.3.4: the page's find (no snapshot, readSingleBatch) yields after a
  // seeded number of documents; the compaction (the CLEAR's transaction, the MOVE bulkWrites)
  // commits meanwhile, and the scan resumes past its position over the compacted bucket.
  std::vector<const Op*> before = ctx_.storage.ops_before_compaction(bucket, after, up_to, limit);
  if (before.empty()) return ctx_.storage.ops(bucket, after, up_to, limit);
  const std::size_t seen = 1 + static_cast<std::size_t>(fetch_rng_.uniform(before.size()));
  before.resize(seen);
  const OpId resumed_after = before.back()->op_id;
  std::vector<const Op*> after_compaction =
      ctx_.storage.ops(bucket, resumed_after, up_to, limit - seen + 1);
  if (ctx_.mutant_torn_read_skips_op && !after_compaction.empty()) {
    ctx_.trace.log("svc", "stream {} mutant: torn read of {} skips op {}", req_.key, bucket,
                   after_compaction.front()->op_id);
    after_compaction.erase(after_compaction.begin());
  }
  if (after_compaction.size() > limit - seen) after_compaction.resize(limit - seen);
  for (const Op* op : after_compaction) before.push_back(op);
  ++ctx_.stats.torn_reads;
  ctx_.trace.log("svc",
                 "stream {} torn read of {}: ops up to {} from before a compaction, the "
                 "rest after it",
                 req_.key, bucket, resumed_after);
  return before;
}

bool SyncConnection::send_data_batch(const std::string& bucket, bool torn) {
  Download& d = *download_;
  OpId& after = req_.after[bucket];
  // A chunk never crosses a storage page (the page's limit is over all its buckets).
  const std::size_t limit =
      ctx_.sticky_invalidation ? kOpsPerDataLine : kStoragePageOps - d.page_ops;
  auto ops = torn ? torn_page(bucket, after, d.cp.op_id, limit + 1)
                  : ctx_.storage.ops(bucket, after, d.cp.op_id, limit + 1);
  const bool has_more = ops.size() > limit;
  if (has_more) ops.pop_back();
  if (ops.empty()) return false;  // nothing left: an empty chunk is not sent (sync.ts)
  for (const Op* op : ops) {
    // docs/protocol.md §3.3.3 step 6: a MOVE/CLEAR pointing past the checkpoint being downloaded
    // means a compaction overtook it; the complete is withheld when this is the last page.
    if ((op->type == OpType::Move || op->type == OpType::Clear) && op->target_op > d.cp.op_id &&
        !ctx_.mutant_complete_despite_invalidation) {
      d.invalidated = true;
    }
  }
  const OpId next_after = ops.back()->op_id;
  const std::string after_text = std::to_string(after);
  const std::string next_after_text = std::to_string(next_after);
  auto tree = [&] {
    nlohmann::json data = nlohmann::json::array();
    for (const Op* op : ops) {
      // docs/protocol.md §3.3.2 op entries: object_type/object_id/subkey for PUT and REMOVE,
      // data for PUT only; MOVE and CLEAR carry just op_id, op and checksum.
      nlohmann::json o = {{"op_id", std::to_string(op->op_id)},
                          {"op", op_type_name(op->type)},
                          {"checksum", op->checksum}};
      if (op->type == OpType::Put || op->type == OpType::Remove) {
        o["object_type"] = op->object_type;
        o["object_id"] = op->object_id;
        // The service always sends a subkey, stable per source row; without it a 1.x JS client
        // stores keys the SDK's subkey migration turns into NULL (docs/protocol.md §3.3.2).
        o["subkey"] = op->object_type + "/" + op->object_id;
      }
      if (op->type == OpType::Put) o["data"] = op->data;
      data.push_back(std::move(o));
    }
    return nlohmann::json{{"data",
                           {{"bucket", bucket},
                            {"after", after_text},
                            {"next_after", next_after_text},
                            {"has_more", has_more},
                            {"data", std::move(data)}}}};
  };
  auto write = [&](auto& w) {
    // The tree's keys in sorted order.
    w.object().key("data").object().key("after").str(after_text).key("bucket").str(bucket);
    w.key("data").array();
    for (const Op* op : ops) {
      const bool keyed = op->type == OpType::Put || op->type == OpType::Remove;
      w.object().key("checksum").num(op->checksum);
      if (op->type == OpType::Put) w.key("data").str(op->data);
      if (keyed) w.key("object_id").str(op->object_id).key("object_type").str(op->object_type);
      w.key("op").str(op_type_name(op->type)).key("op_id").str(std::to_string(op->op_id));
      if (keyed) w.key("subkey").str(op->object_type + "/" + op->object_id);
      w.end_object();
    }
    w.end_array().key("has_more").boolean(has_more).key("next_after").str(next_after_text);
    w.end_object().end_object();
  };
  emit_line(tree, write);
  ++ctx_.stats.data_lines;
  ctx_.stats.ops_sent += ops.size();
  d.ops_sent += ops.size();
  after = next_after;
  d.page_ops += ops.size();
  if (!ctx_.sticky_invalidation && d.page_ops >= kStoragePageOps) next_page(d);
  return has_more;
}

void SyncConnection::next_page(Download& d) {
  // bucketDataInBatches calls bucketDataBatch again: a fresh `checkpointInvalidated`
  // (sync.ts, powersync-service v1.24.0; docs/protocol.md §3.3.3 step 6).
  if (d.invalidated) {
    ++ctx_.stats.forgotten_invalidations;
    ctx_.trace.log("svc", "stream {} page invalidation of {} forgotten at the page end", req_.key,
                   d.cp.op_id);
  }
  d.invalidated = false;
  d.page_ops = 0;
  d.page_fetched = false;
}

sim::Task<void> SyncConnection::download_step() {
  {
    Download& d = *download_;
    const auto& group = d.groups[d.group].second;
    if (d.bucket < group.size()) {
      const std::string bucket = group[d.bucket];
      // fetch_per_page: the later chunks of a page come from the same read (no further delay).
      const bool fetch =
          !ctx_.fetch_per_page || ctx_.sticky_invalidation || !download_->page_fetched;
      const sim::Micros delay =
          ctx_.batch_delay > 0 && fetch ? fetch_rng_.jitter(ctx_.batch_delay) : 0;
      download_->page_fetched = true;
      // The fetch runs during the delay: a compaction of the bucket in it can tear the page.
      const uint64_t compactions = ctx_.storage.compactions_of(bucket);
      if (delay > 0) {
        const std::optional<sim::Micros> until = ctx_.loop.now() + delay;
        co_await wait(until, false);
        if (stream_->closed()) co_return;
      }
      const bool torn = ctx_.torn_reads && ctx_.storage.compactions_of(bucket) != compactions;
      if (!send_data_batch(bucket, torn)) {
        ++download_->bucket;
        pending_.erase(bucket);  // BucketChecksumState.updateBucketPosition(hasMore false)
      }
      co_return;
    }
  }
  Download& d = *download_;
  const std::string last_op_id = std::to_string(d.cp.op_id);
  const bool last_group = d.group + 1 == d.groups.size();
  if (d.invalidated) {
    // docs/protocol.md §3.3.3 step 6, I8: no complete (and no later partial complete); the
    // remaining groups stay pending and the next checkpoint follows.
    ++ctx_.stats.invalidated_checkpoints;
    ctx_.trace.log("svc", "stream {} checkpoint_invalidated: compacted {}", req_.key, last_op_id);
  } else if (!last_group) {
    const int priority = d.groups[d.group].first;
    emit_line(
        [&] {
          return nlohmann::json{{"partial_checkpoint_complete",
                                 {{"last_op_id", last_op_id}, {"priority", priority}}}};
        },
        [&](auto& w) {
          w.object().key("partial_checkpoint_complete").object().key("last_op_id").str(last_op_id);
          w.key("priority").num(priority).end_object().end_object();
        });
    ++ctx_.stats.partial_completes;
    ++d.group;
    d.bucket = 0;
    d.page_ops = 0;  // the next priority is a new bucketDataInBatches call
    d.page_fetched = false;
    co_return;
  } else if (d.write_checkpoint_only && ctx_.mutant_no_complete_for_wc_only) {
    ctx_.trace.log("svc", "stream {} mutant: no complete for write-checkpoint-only diff {}",
                   req_.key, last_op_id);
  } else {
    emit_line(
        [&] {
          return nlohmann::json{{"checkpoint_complete", {{"last_op_id", last_op_id}}}};
        },
        [&](auto& w) {
          w.object().key("checkpoint_complete").object().key("last_op_id").str(last_op_id);
          w.end_object().end_object();
        });
    ++ctx_.stats.checkpoint_completes;
  }
  // v3: a race still reading its candidate goes on; sync.ts awaits it after the complete.
  if (d.candidate && d.line_ready_at) pending_race_ = RaceCandidate{*d.candidate, *d.line_ready_at};
  download_.reset();
  // docs/protocol.md §3.1.9 timing: the next checkpoint is read 10 ms after this one finished.
  const std::optional<sim::Micros> until = ctx_.loop.now() + kPauseAfterCheckpoint;
  co_await wait(until, false);
}

sim::Micros SyncConnection::next_token_event() const {
  sim::Micros t = std::min(next_keepalive_, req_.token_expires_at + kTokenTimerMargin);
  if (warning_at_) t = std::min(t, *warning_at_);
  return t;
}

void SyncConnection::on_token_timer() {
  const sim::Micros now = ctx_.loop.now();
  // token_expires_in = max(0, ceil(exp - now)) in seconds (sync/util.ts tokenStream).
  const int64_t expires_in =
      now >= req_.token_expires_at
          ? 0
          : (req_.token_expires_at - now + sim::kSeconds - 1) / sim::kSeconds;
  if (expires_in == 0) {
    // docs/protocol.md §3.3.5, §3.6.2.11: a final 0, then the stream ends.
    emit(nlohmann::json{{"token_expires_in", 0}});
    ++ctx_.stats.token_lines;
    ++ctx_.stats.expired_streams;
    ctx_.trace.log("svc", "stream {} token expired", req_.key);
    stream_->end();
    return;
  }
  bool due = false;
  if (warning_at_ && now >= *warning_at_) {  // the expire warning at exp − 20 s
    warning_at_.reset();
    due = true;
  }
  if (now >= next_keepalive_) {  // KEEPALIVE_INTERVAL × U(0.9, 1.1), integer jitter
    next_keepalive_ = now + rng_.jitter(kKeepaliveInterval);
    due = true;
  }
  if (!due) return;
  emit(nlohmann::json{{"token_expires_in", expires_in}});
  ++ctx_.stats.token_lines;
}

sim::Task<void> SyncConnection::wait(std::optional<sim::Micros> until, bool stop_on_change) {
  // A non-idle wait (a fetch, the pause after a complete, a checksum read) is a sleep or a
  // storage read in the service, which no checkpoint interrupts (docs/protocol.md §3.1.9
  // Timing): it only learns at its end whether one came.  Also in the model before issue 20
  // (wakes_every_stream), which resumes every *idle* stream on every checkpoint.
  sim::Notifier* checkpoints = !ctx_.storage.wakes_every_stream() ? &checkpoint_wake_
                               : stop_on_change ? &ctx_.storage.checkpoint_created()
                                                : nullptr;
  while (!stream_->closed()) {
    const sim::Micros token_at = next_token_event();
    std::optional<sim::Micros> deadline = token_at;
    if (until && *until < token_at) deadline = until;
    idle_wait_ = stop_on_change;
    checkpoints_at_wait_ = ctx_.storage.checkpoints();
    if (watch_id_ != 0) {
      // Issue 20: the storage calls this stream for the checkpoints that concern it.
      skipping_ = stop_on_change && may_skip_checkpoints();
      ctx_.storage.watch_every_checkpoint(watch_id_, stop_on_change && !skipping_);
    }
    const int which =
        co_await sim::wait_for(ctx_.loop, deadline, checkpoints, &stream_->closed_signal());
    idle_wait_ = false;
    // A timed-out wait resumes before any other handler runs (sim::Loop posts a timer only when
    // nothing else is ready), so every checkpoint since the wait was armed came while it was.
    if (which == sim::kTimedOut && ctx_.storage.checkpoints() > checkpoints_at_wait_) {
      if (skipping_) catch_up_skipped(ctx_.storage.latest());
      if (!stop_on_change) dirty_ = true;
    }
    if (watch_id_ != 0) {
      skipping_ = false;
      ctx_.storage.watch_every_checkpoint(watch_id_, false);
    }
    if (which == 0) {
      dirty_ = true;
      if (stop_on_change) co_return;
      continue;
    }
    if (which != sim::kTimedOut) co_return;  // closed
    if (ctx_.loop.now() >= token_at) on_token_timer();
    if (until && ctx_.loop.now() >= *until) co_return;
  }
}

sim::Micros SyncConnection::superseding_read_time() {
  // v3: the race's buildNextCheckpointLine reads the candidate's checksums (a storage round
  // trip, as v3_checksum_read's); otherwise the line's storage reads take a fetch's time.
  if (ctx_.v3_checksum_documents && ctx_.v3_superseding_skip && ctx_.v3_checksum_read_max > 0) {
    return static_cast<sim::Micros>(
        fetch_rng_.uniform(static_cast<uint64_t>(ctx_.v3_checksum_read_max) + 1));
  }
  return fetch_rng_.jitter(ctx_.batch_delay);
}

sim::Task<SyncConnection::CandidateRead> SyncConnection::v3_checksum_read(
    const StorageCheckpoint& cp, const std::vector<std::string>& changed,
    std::map<std::string, BucketState>& states, bool raced,
    const std::vector<std::string>& buckets) {
  // docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip": with v3 documents the
  // candidate's checksums are a storage read of their own (buildNextCheckpointLine's
  // getChecksums over the updated buckets), during which a compaction can land.  Only the
  // changed buckets are read, so a candidate that changes none is not read and the read's
  // delay and draw follow the lines, not how often the stream is woken.  After a dropped
  // candidate every bucket is read (forceFullChecksum in buildNextCheckpointLine).  A raced
  // candidate was read while the download went on (until line_ready_at): `states` are read now.
  const bool full_recheck = baseline_invalidated_ && ctx_.v3_superseding_skip;
  const std::vector<std::string>& checked = full_recheck ? buckets : changed;
  const bool v3_read = ctx_.v3_checksum_documents && !raced && !download_ && ctx_.batch_delay > 0 &&
                       !checked.empty();
  bool arrived_meanwhile = raced && !same_checkpoint(ctx_.storage.latest(), cp);
  if (v3_read) {
    const sim::Micros read = ctx_.v3_checksum_read_max > 0
                                 ? static_cast<sim::Micros>(fetch_rng_.uniform(
                                       static_cast<uint64_t>(ctx_.v3_checksum_read_max) + 1))
                                 : fetch_rng_.jitter(ctx_.batch_delay);
    co_await wait(ctx_.loop.now() + read, false);  // token lines still fall due meanwhile
    if (stream_->closed()) co_return CandidateRead::Closed;
    const StorageCheckpoint& now = ctx_.storage.latest();
    arrived_meanwhile = now.op_id != cp.op_id || now.lsn != cp.lsn;
    for (const auto& b : changed) states[b] = ctx_.storage.state(b, cp.op_id);  // read now
  }
  dirty_ = arrived_meanwhile;  // a checkpoint during the v3 read is still to be looked at
  baseline_invalidated_ = false;
  // A full re-check throws on a straddled bucket even when the candidate would give no line.
  if (!(v3_read || (raced && !checked.empty()))) co_return CandidateRead::Served;
  // MongoChecksumsV3 throws CheckpointChecksumInvalidatedError for a changed bucket whose
  // merged document ends past the candidate; sync.ts drops the candidate (no line, the
  // connection state not advanced) and waits for the next checkpoint, rechecking every
  // bucket then (invalidateChecksumBaseline; the model always diffs against sent_states_).
  const auto straddle = ctx_.storage.straddled(checked, cp.op_id);
  if (!straddle) co_return CandidateRead::Served;
  const auto& [bucket, doc] = *straddle;
  if (ctx_.mutant_straddled_checksum_served) {
    ctx_.trace.log("svc", "MUTANT stream {} serves {} with {}'s checksum up to {}", req_.key,
                   cp.op_id, bucket, doc.last);
    states[bucket] = ctx_.storage.state(bucket, doc.last);
    co_return CandidateRead::Served;
  }
  ++ctx_.stats.checksum_invalidated_candidates;
  baseline_invalidated_ = true;
  ctx_.trace.log("svc",
                 "stream {} checkpoint_invalidated {}: compacted_before_checkpoint_line "
                 "({} document {}..{})",
                 req_.key, cp.op_id, bucket, doc.first, doc.last);
  if (raced) {
    // sync.ts maybeRaceForNewCheckpoint: a null line is "a new checkpoint that doesn't affect
    // this sync stream": the race keeps listening for a newer one, the download goes on.
    dropped_candidate_ = cp;
    co_return CandidateRead::Skipped;
  }
  if (!arrived_meanwhile) co_await wait(std::nullopt, true);
  co_return CandidateRead::Skipped;
}

sim::Task<void> SyncConnection::run() {
  // Registered for the stream's life (the frame is destroyed before the storage, also at the
  // loop's shutdown).  Issue 20: called for the checkpoints that update one of its buckets or
  // process a write-checkpoint document of its key, and for every one while it cannot skip.
  struct Watching {
    BucketStorage& storage;
    uint64_t id;
    Watching(BucketStorage& s, CheckpointWatcher* w, WatchInterest interest)
        : storage(s), id(s.watch(w, std::move(interest))) {}
    Watching(const Watching&) = delete;
    Watching& operator=(const Watching&) = delete;
    ~Watching() { storage.unwatch(id); }
  };
  std::optional<Watching> watching;
  if (!ctx_.storage.wakes_every_stream()) {
    WatchInterest interest;
    if (!req_.resolve_buckets) interest.buckets = req_.buckets;
    interest.write_checkpoint_key = req_.key;
    interest.write_checkpoints = &ctx_.checkpoints;
    watching.emplace(ctx_.storage, this, std::move(interest));
    watch_id_ = watching->id;
    ctx_.storage.watch_every_checkpoint(watch_id_, false);
  }
  bool first = true;
  next_keepalive_ = ctx_.loop.now() + rng_.jitter(kKeepaliveInterval);
  // docs/protocol.md §3.3.5: no token line at the start while the token is valid; one at exp − 20 s
  // if that is still ahead; an already-expired token gets a single 0 and the stream ends.
  if (req_.token_expires_at - kExpireWarning > ctx_.loop.now()) {
    warning_at_ = req_.token_expires_at - kExpireWarning + kTokenTimerMargin;
  }
  if (ctx_.loop.now() >= req_.token_expires_at) on_token_timer();
  while (!stream_->closed()) {
    // While downloading, only look for a new line once kSupersedeAfterOps ops of this
    // checkpoint were sent and something arrived (docs/protocol.md §3.1.9 Timing).
    if (download_) {
      bool supersede = dirty_ && download_->ops_sent >= kSupersedeAfterOps;
      if (supersede && !ctx_.sticky_invalidation && ctx_.batch_delay > 0) {
        // sync.ts only now starts waitForNewCheckpointLine, concurrent with the download:
        // the line's own storage reads take a fetch's time, meanwhile pages keep coming
        // (so a clean last page can complete a checkpoint an earlier page invalidated).
        if (!download_->line_ready_at) {
          download_->line_ready_at = ctx_.loop.now() + superseding_read_time();
          // v3: the race takes its candidate now and reads its checksums until line_ready_at
          // (docs/protocol.md §3.3.4), so a compaction meanwhile can straddle it.
          if (ctx_.v3_checksum_documents && ctx_.v3_superseding_skip) {
            download_->candidate = ctx_.storage.latest();
          }
        }
        supersede = ctx_.loop.now() >= *download_->line_ready_at;
      }
      if (!supersede) {
        co_await download_step();
        continue;
      }
    }
    // v3: the candidate of a race (still running, or finished after its download completed).
    std::optional<StorageCheckpoint> raced;
    if (download_ && download_->candidate) {
      raced = download_->candidate;
      download_->candidate.reset();
      download_->line_ready_at.reset();  // the next race starts afresh
    } else if (!download_ && pending_race_) {
      const RaceCandidate race = *pending_race_;
      pending_race_.reset();
      if (ctx_.loop.now() < race.ready_at) co_await wait(race.ready_at, false);
      if (stream_->closed()) break;
      raced = race.cp;
    } else if (!download_ && dropped_candidate_ &&
               same_checkpoint(*dropped_candidate_, ctx_.storage.latest())) {
      // The race dropped this candidate and listens for a newer checkpoint (sync.ts).
      co_await wait(std::nullopt, true);
      continue;
    }
    if (!raced) dropped_candidate_.reset();
    const StorageCheckpoint cp = raced ? *raced : ctx_.storage.latest();
    update_write_checkpoint(cp);
    std::vector<std::string> changed;
    std::map<std::string, BucketState> states;
    const std::vector<std::string> buckets = current_buckets();
    for (const auto& b : buckets) {
      BucketState s = ctx_.storage.state(b, cp.op_id);
      auto it = sent_states_.find(b);
      if (first || it == sent_states_.end() || !(it->second == s)) changed.push_back(b);
      states[b] = s;
    }
    std::vector<std::string> removed;
    for (const auto& [b, s] : sent_states_) {
      if (!states.contains(b)) removed.push_back(b);
    }
    // docs/protocol.md §3.1.9 Emission, I10: a line only on a real change.
    const bool wc_changed = write_checkpoint_ != sent_write_checkpoint_;
    const bool line = first || !changed.empty() || !removed.empty() || wc_changed;
    const CandidateRead read =
        co_await v3_checksum_read(cp, changed, states, raced.has_value(), buckets);
    if (read == CandidateRead::Closed) break;
    if (read == CandidateRead::Skipped) continue;
    if (download_) {
      // A checkpoint that changes nothing for this connection does not interrupt (sync.ts).
      if (!line) continue;
      // docs/protocol.md §3.1.9 Timing, §3.6.2.12: the running download is superseded: no complete
      // for it; its unfinished buckets stay in pending_ and join the next fetch set.
      ++ctx_.stats.superseded_downloads;
      ctx_.trace.log("svc", "stream {} checkpoint_superseded {} by {}", req_.key,
                     download_->cp.op_id, cp.op_id);
      download_.reset();
    }
    if (line) {
      const bool wc_only = !first && changed.empty() && removed.empty();
      if (wc_only) ++ctx_.stats.write_checkpoint_only_diffs;
      for (const auto& b : removed) {
        sent_states_.erase(b);
        req_.after.erase(b);
        pending_.erase(b);
      }
      for (const auto& b : changed) sent_states_[b] = states[b];
      send_checkpoint(cp, changed, removed, first);
      // docs/protocol.md §3.3.3 step 5: fetch the changed buckets plus those still pending from an
      // interrupted earlier line (BucketChecksumState.pendingBucketDownloads).
      std::vector<std::string> fetch;
      for (const auto& b : buckets) {
        if (std::find(changed.begin(), changed.end(), b) != changed.end() || pending_.contains(b)) {
          fetch.push_back(b);
        }
      }
      pending_ = std::set<std::string>(fetch.begin(), fetch.end());
      start_download(cp, fetch, wc_only);
      first = false;
      continue;
    }
    co_await wait(std::nullopt, true);
  }
}

}  // namespace syncsim::model
