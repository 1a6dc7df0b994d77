#include "model/sync_stream.hpp"

#include <nlohmann/json.hpp>

namespace syncsim::model {

namespace {
constexpr std::size_t kOpsPerDataLine = 1000;  // service.md §3.3: batches of up to 1000 ops
constexpr sim::Micros kKeepaliveInterval = 20 * sim::kSeconds;
constexpr sim::Micros kPauseAfterCheckpoint = 10 * sim::kMillis;  // service.md §1.9 timing
}  // namespace

SyncConnection::SyncConnection(ConnectionContext ctx, ConnectionRequest request,
                               std::shared_ptr<sim::ServerStream> stream, sim::Prng rng)
    : ctx_(ctx), req_(std::move(request)), stream_(std::move(stream)), rng_(rng) {}

void SyncConnection::send_checkpoint(const StorageCheckpoint& cp,
                                     const std::vector<std::string>& changed, bool full) {
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& b : changed) {
    const BucketState& s = sent_states_[b];
    buckets.push_back(
        {{"bucket", b}, {"checksum", s.checksum}, {"count", s.count}, {"priority", 3}});
  }
  nlohmann::json body = {{"last_op_id", std::to_string(cp.op_id)}};
  // service.md §1.9: write_checkpoint is repeated on every line while truthy.
  if (write_checkpoint_ && *write_checkpoint_ != 0) {
    body["write_checkpoint"] = std::to_string(*write_checkpoint_);
  }
  if (full) {
    body["buckets"] = std::move(buckets);
    stream_->send(nlohmann::json{{"checkpoint", body}}.dump());
  } else {
    body["updated_buckets"] = std::move(buckets);
    body["removed_buckets"] = nlohmann::json::array();
    stream_->send(nlohmann::json{{"checkpoint_diff", body}}.dump());
  }
  ++ctx_.stats.checkpoint_lines;
  if (write_checkpoint_ && write_checkpoint_ != sent_write_checkpoint_ && ctx_.on_emit) {
    ctx_.on_emit(req_.key, *write_checkpoint_, cp.lsn);
  }
  sent_write_checkpoint_ = write_checkpoint_;
}

void SyncConnection::send_data(const std::string& bucket, OpId up_to) {
  OpId& after = req_.after[bucket];
  while (true) {
    auto ops = ctx_.storage.ops(bucket, after, up_to, kOpsPerDataLine);
    if (ops.empty()) return;
    nlohmann::json data = nlohmann::json::array();
    for (const Op* op : ops) {
      nlohmann::json o = {{"op_id", std::to_string(op->op_id)},
                          {"op", op->put ? "PUT" : "REMOVE"},
                          {"object_type", op->object_type},
                          {"object_id", op->object_id},
                          {"checksum", op->checksum}};
      if (op->put) o["data"] = op->data;
      data.push_back(std::move(o));
    }
    OpId next_after = ops.back()->op_id;
    bool has_more = ops.size() == kOpsPerDataLine;
    stream_->send(nlohmann::json{{"data",
                                  {{"bucket", bucket},
                                   {"after", std::to_string(after)},
                                   {"next_after", std::to_string(next_after)},
                                   {"has_more", has_more},
                                   {"data", std::move(data)}}}}
                      .dump());
    ++ctx_.stats.data_lines;
    after = next_after;
    if (!has_more) return;
  }
}

void SyncConnection::update_write_checkpoint(const StorageCheckpoint& cp) {
  // watchCheckpointChanges (service.md §1.9), per storage flavour.
  if (ctx_.checkpoints.flavour() == StorageFlavour::Postgres) {
    // Every notification re-runs lastWriteCheckpoint: the value may drop to null or lower.
    write_checkpoint_ = ctx_.checkpoints.lookup(req_.key, cp.lsn);
    return;
  }
  // Mongo: one initial lookup on the first checkpoint with an LSN, then only documents
  // processed in (previous LSN, LSN]; the value is replaced only when greater (I7).
  if (cp.lsn == 0) return;  // the empty checkpoint has no LSN
  std::optional<int64_t> v;
  if (!queried_initial_) {
    queried_initial_ = true;
    v = ctx_.checkpoints.lookup(req_.key, cp.lsn);
  } else if (cp.lsn != seen_lsn_) {
    v = ctx_.checkpoints.processed_between(req_.key, seen_lsn_, cp.lsn);
  }
  seen_lsn_ = cp.lsn;
  if (v && (!write_checkpoint_ || *v > *write_checkpoint_)) write_checkpoint_ = v;
}

void SyncConnection::send_keepalive() {
  sim::Micros left = req_.token_expires_at - ctx_.loop.now();
  stream_->send(nlohmann::json{{"token_expires_in", left / sim::kSeconds}}.dump());
}

sim::Task<void> SyncConnection::run() {
  bool first = true;
  sim::Micros next_keepalive = ctx_.loop.now() + rng_.jitter(kKeepaliveInterval);
  while (!stream_->closed()) {
    const StorageCheckpoint cp = ctx_.storage.latest();
    update_write_checkpoint(cp);
    std::vector<std::string> changed;
    for (const auto& b : req_.buckets) {
      BucketState s = ctx_.storage.state(b, cp.op_id);
      auto it = sent_states_.find(b);
      if (first || it == sent_states_.end() || !(it->second == s)) {
        sent_states_[b] = s;
        changed.push_back(b);
      }
    }
    bool wc_changed = write_checkpoint_ != sent_write_checkpoint_;
    if (first || !changed.empty() || wc_changed) {
      if (!first && changed.empty()) ++ctx_.stats.write_checkpoint_only_diffs;
      send_checkpoint(cp, changed, first);
      for (const auto& b : changed) send_data(b, cp.op_id);
      stream_->send(
          nlohmann::json{{"checkpoint_complete", {{"last_op_id", std::to_string(cp.op_id)}}}}
              .dump());
      first = false;
      co_await ctx_.loop.sleep_for(kPauseAfterCheckpoint);
      continue;
    }
    int which =
        co_await sim::wait_for(ctx_.loop, next_keepalive, &ctx_.storage.checkpoint_created(),
                               &ctx_.write_checkpoints_poked, &stream_->closed_signal());
    if (which == sim::kTimedOut && !stream_->closed()) {
      send_keepalive();
      next_keepalive = ctx_.loop.now() + rng_.jitter(kKeepaliveInterval);
    }
  }
}

}  // namespace syncsim::model
