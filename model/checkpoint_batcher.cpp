#include "model/checkpoint_batcher.hpp"

#include <algorithm>
#include <cassert>
#include <set>

namespace syncsim::model {

CheckpointBatcher::CheckpointBatcher(sim::Loop& loop, sim::Trace& trace, sim::Prng rng,
                                     SourceDb& source, CheckpointStore& store, BatcherConfig config,
                                     BatcherHooks hooks)
    : loop_(loop),
      trace_(trace),
      rng_(rng),
      source_(source),
      store_(store),
      config_(config),
      hooks_(std::move(hooks)) {
  assert(config_.max_in_flight >= 1);
}

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

  co_await loop_.sleep_for(step());  // load the active sync-config storage
  if (generation != generation_) co_return;
  // createReplicationHead: one head for the whole batch (HeadRead says where).
  const Lsn head = source_.head() + (config_.head_read == HeadRead::AfterLastCommit ? 1 : 0);
  // The upsert matches against the records as they are now; the write lands later.
  std::set<std::string> existed;
  std::map<std::string, std::optional<int64_t>> before;
  for (const auto& e : entries) {
    if (store_.find(e.key)) existed.insert(e.key);
  }
  if (config_.marker_before_mapping) hooks_.write_marker();  // mutant: the pre-#201 order
  co_await loop_.sleep_for(step());                          // the storage write
  if (generation != generation_) co_return;
  for (const auto& e : entries) before[e.key] = store_.stored_id(e.key);
  const BatchWrite w = store_.create_managed(entries, head, loop_.now(), &existed);
  if (hooks_.on_write) hooks_.on_write(entries, before, w);
  if (generation != generation_) co_return;  // an observer restarted the service: answered
  const bool marker = w.should_advance && config_.writes_markers && !config_.marker_before_mapping;
  trace_.log("svc", "batch of {} ({} keys) head={}{}", batch->size(), entries.size(), head,
             marker ? " +marker" : "");
  const uint64_t batch_line = trace_.lines();
  if (marker) {
    co_await loop_.sleep_for(step());          // the marker, strictly after the mapping (§1.4)
    if (generation != generation_) co_return;  // a restart lost the marker (§6.2.7)
    hooks_.write_marker();
  }
  for (auto& p : *batch) {
    const int64_t stored = w.ids.at(p.entry.key);
    p.done(BatchOutcome{true, stored, stored, head, before.at(p.entry.key), "", batch_line});
  }
  std::erase(running_, batch);
  --in_flight_;
  dispatch();
}

void CheckpointBatcher::fail_all(const std::string& why) {
  ++generation_;
  auto running = std::move(running_);
  running_.clear();
  auto queued = std::move(queue_);
  queue_.clear();
  in_flight_ = 0;
  for (auto& b : running) {
    for (auto& p : *b) p.done(BatchOutcome{false, 0, 0, 0, std::nullopt, why});
  }
  for (auto& p : queued) p.done(BatchOutcome{false, 0, 0, 0, std::nullopt, why});
}

}  // namespace syncsim::model
