#include "model/checkpoint_batcher.hpp"

#include <algorithm>
#include <cassert>
#include <functional>
#include <limits>
#include <set>
#include <utility>

namespace syncsim::model {

CheckpointBatcher::CheckpointBatcher(sim::Loop& loop, sim::Trace& trace, sim::Prng rng,
                                     SourceDb& source, CheckpointStore& store, BatcherConfig config,
                                     BatcherHooks hooks)
    : loop_(loop),
      trace_(trace),
      rng_(rng),
      source_(source),
      store_(store),
      config_(std::move(config)),
      hooks_(std::move(hooks)) {
  assert(config_.max_in_flight >= 1);
}

namespace {
bool is_supplied(const std::vector<ManagedEntry>& entries, const std::string& key) {
  for (const auto& e : entries) {
    if (e.key == key) return e.supplied.has_value();
  }
  return false;
}
}  // namespace

sim::Micros CheckpointBatcher::step() {
  if (config_.step_latency_max <= 0) return 0;
  return static_cast<sim::Micros>(
      rng_.uniform(static_cast<uint64_t>(config_.step_latency_max) + 1));
}

void CheckpointBatcher::enqueue(const std::string& key, std::optional<int64_t> supplied,
                                Callback done) {
  queue_.push_back(Pending{ManagedEntry{key, supplied}, std::move(done)});
  schedule_dispatch();
}

void CheckpointBatcher::schedule_dispatch() {
  if (dispatch_scheduled_) return;
  dispatch_scheduled_ = true;
  // setTimeout(0): runs after everything already due at this instant.
  loop_.after(0, [this] {
    dispatch_scheduled_ = false;
    dispatch();
  });
}

void CheckpointBatcher::dispatch() {
  if (queue_.empty() || in_flight_ >= config_.max_in_flight) return;
  auto batch = std::make_shared<std::vector<Pending>>(std::move(queue_));
  queue_.clear();
  ++in_flight_;
  ++batches_;
  largest_batch_ = std::max<uint64_t>(largest_batch_, batch->size());
  running_.push_back(batch);
  loop_.spawn(run_batch(batch, generation_), "checkpoint-batch");
}

sim::Task<void> CheckpointBatcher::run_batch(std::shared_ptr<std::vector<Pending>> batch,
                                             uint64_t generation) {
  std::vector<ManagedEntry> requests;
  for (const auto& p : *batch) requests.push_back(p.entry);
  const std::vector<ManagedEntry> entries = CheckpointStore::dedup(requests);
  const auto is_generated = [](const ManagedEntry& e) { return !e.supplied; };
  const bool has_generated = std::any_of(entries.begin(), entries.end(), is_generated);
  const bool has_supplied = !std::all_of(entries.begin(), entries.end(), is_generated);
  const BatchFailure failure =
      config_.draw_failure ? config_.draw_failure(has_generated, has_supplied) : BatchFailure::None;

  co_await loop_.sleep_for(step());  // load the active sync-config storage
  if (generation != generation_) co_return;
  // docs/protocol.md §3.1.3 "Batch failures": executeBatch throws PSYNC_S2302 before the head.
  if (failure == BatchFailure::NoSyncConfig) {
    fail_batch(batch, "PSYNC_S2302 Cannot create Write Checkpoint since no sync config is active");
    co_return;
  }
  // createReplicationHead: one head for the whole batch (HeadRead says where).
  const Lsn head = source_.head() + (config_.head_read == HeadRead::AfterLastCommit ? 1 : 0);
  if (failure == BatchFailure::HeadRead) {
    fail_batch(batch, "createReplicationHead: the source head query failed");
    co_return;
  }
  // The upsert's match: where DuplicateWindow says (docs/protocol.md §3.1.5 "Duplicates").
  std::set<std::string> existed;
  const auto match = [&] {
    existed.clear();
    for (const auto& e : entries) {
      if (store_.find(e.key)) existed.insert(e.key);
    }
  };
  if (config_.duplicate_window == DuplicateWindow::HeadRead) match();
  if (config_.marker_before_mapping) hooks_.write_marker();  // mutant: the pre-#201 order
  co_await loop_.sleep_for(step());                          // the storage round trip
  if (generation != generation_) co_return;
  if (config_.duplicate_window == DuplicateWindow::Write) {
    match();  // the server executes the upsert: matched now, inserted up to 1 ms later
    co_await loop_.sleep_for(
        static_cast<sim::Micros>(rng_.uniform(static_cast<uint64_t>(kUpsertExecutionMax) + 1)));
    if (generation != generation_) co_return;
  }
  // PartialWrite: the generated statement commits, then the supplied one fails (two separate,
  // non-transactional statements in both WriteCheckpointAPIs).
  std::vector<ManagedEntry> written = entries;
  if (failure == BatchFailure::PartialWrite) std::erase_if(written, std::not_fn(is_generated));
  std::map<std::string, std::optional<int64_t>> before;
  for (const auto& e : written) before[e.key] = store_.stored_id(e.key);
  // A generated id is stored + 1: at 2^63-1 (a foreign installation's near-max id) mongo's
  // $inc and postgres' bigint + 1 fail with an overflow error, so the batch fails and
  // nothing is stored (never a wrapped id; world hunt seed 241).
  for (const auto& e : written) {
    if (!e.supplied && before.at(e.key) == std::numeric_limits<int64_t>::max()) {
      fail_batch(batch,
                 "storage error: the generated write checkpoint of " + e.key + " overflows 2^63-1");
      co_return;
    }
  }
  BatchWrite w = store_.create_managed(written, head, loop_.now(), &existed);
  if (!written.empty() && hooks_.on_write) hooks_.on_write(written, before, w);
  if (generation != generation_) co_return;  // an observer restarted the service: answered
  std::set<std::string> deleted_before_read_back;
  if (config_.separate_read_back && failure != BatchFailure::PartialWrite &&
      store_.reads_back(written)) {
    // The find({user_id: {$in}}) after the bulkWrite: another storage round trip, during
    // which a concurrent batch (this process's or another's) can write the same keys, and a
    // deletion can remove what this batch wrote.
    std::map<std::string, uint64_t> deletions_at_write;
    for (const auto& e : written) deletions_at_write[e.key] = store_.deletions(e.key);
    co_await loop_.sleep_for(step());
    if (generation != generation_) co_return;
    store_.read_back(written, w);
    for (const auto& [key, count] : deletions_at_write) {
      if (store_.deletions(key) != count) deleted_before_read_back.insert(key);
    }
  }
  if (failure == BatchFailure::PartialWrite) {
    trace_.log("svc", "{}batch of {}: {} generated mapping(s) stored, supplied statement failed",
               prefix(), batch->size(), written.size());
    fail_batch(batch, "storage error after the generated statement");
    co_return;
  }
  const bool marker = w.should_advance && config_.writes_markers && !config_.marker_before_mapping;
  trace_.log("svc", "{}batch of {} ({} keys) head={}{}", prefix(), batch->size(), entries.size(),
             head, marker ? " +marker" : "");
  const uint64_t batch_line = trace_.lines();
  for (const auto& e : written) {
    const int64_t id = w.ids.at(e.key);
    if (id == w.stored.at(e.key) || !e.supplied) continue;
    if (deleted_before_read_back.count(e.key)) {
      trace_.log("svc",
                 "{}read-back of {} answers {}: its records were deleted after this batch "
                 "wrote {}, and a later batch wrote {}",
                 prefix(), e.key, id, w.stored.at(e.key), id);
      continue;
    }
    trace_.log("svc", "{}read-back of {} answers {}: a concurrent batch wrote after this one's {}",
               prefix(), e.key, id, w.stored.at(e.key));
  }
  for (const auto& [key, id] : w.ids) {
    if (id != w.stored.at(key) && w.stored.count(key) && !is_supplied(written, key)) {
      trace_.log("svc",
                 "{}read-back of {} answers {}: another duplicate than the one this batch "
                 "incremented to {}",
                 prefix(), key, id, w.stored.at(key));
    }
  }
  if (marker) {
    co_await loop_.sleep_for(step());          // the marker, strictly after the mapping (§1.4)
    if (generation != generation_) co_return;  // a restart lost the marker (§6.2.7)
    if (failure == BatchFailure::Marker) {
      // The mapping is stored, the marker query fails: every request errors, and the
      // mapping waits for a later event (the mongo pending-duplicate re-marker's reason).
      fail_batch(batch, "createReplicationHead: the marker query failed");
      co_return;
    }
    hooks_.write_marker();
  }
  for (auto& p : *batch) {
    // The answer is the store's read-back; `stored` what this batch itself wrote (they differ
    // for a mongo read-back of another duplicate, docs/protocol.md §3.1.5).
    const std::string& key = p.entry.key;
    p.done(BatchOutcome{true, w.ids.at(key), w.stored.at(key), head, before.at(key), "", batch_line,
                        deleted_before_read_back.count(key) > 0});
  }
  finish(batch);
}

void CheckpointBatcher::finish(const std::shared_ptr<std::vector<Pending>>& batch) {
  std::erase(running_, batch);
  --in_flight_;
  // executeBatch(...).finally(() => { inFlight--; schedulePump(); }): requests arriving in
  // this turn join the next batch (write-checkpoint-batcher.ts, v1.24.0).
  schedule_dispatch();
}

void CheckpointBatcher::fail_batch(const std::shared_ptr<std::vector<Pending>>& batch,
                                   const std::string& why) {
  ++failed_batches_;
  trace_.log("svc", "{}batch of {} failed: {}", prefix(), batch->size(), why);
  for (auto& p : *batch) p.done(BatchOutcome{false, 0, 0, 0, std::nullopt, why, 0});
  finish(batch);
}

std::string CheckpointBatcher::prefix() const {
  return config_.name.empty() ? std::string() : config_.name + " ";
}

void CheckpointBatcher::fail_all(const std::string& why) {
  ++generation_;
  auto running = std::move(running_);
  running_.clear();
  auto queued = std::move(queue_);
  queue_.clear();
  in_flight_ = 0;
  for (auto& b : running) {
    for (auto& p : *b) p.done(BatchOutcome{false, 0, 0, 0, std::nullopt, why, 0});
  }
  for (auto& p : queued) p.done(BatchOutcome{false, 0, 0, 0, std::nullopt, why, 0});
}

}  // namespace syncsim::model
