// Sync-config reprocessing (docs/protocol.md §3.4 "Sync config reprocessing"): Service members
// kept apart from service.cpp.  A new config becomes a new sync-rules instance (replication
// stream) in state PROCESSING: its job creates a slot, snapshots every row into its own
// buckets, named "<id>#<name>" (versionedHydrationState; new streams use
// CURRENT_STORAGE_VERSION = 2, which versions bucket names), then streams from the slot with
// no checkpoint below the LSN read after the snapshot.  Its first checkpoint activates it
// (autoActivate): the old instance goes to STOP, its job stops and its sync streams end
// (watchActiveCheckpoint sees no active checkpoint); clients reconnect onto the new buckets
// and download everything again.  Managed write checkpoints are one collection for all
// instances and survive; custom ones are per sync_rules_id and start over.
#include <fmt/format.h>

#include <cassert>

#include "model/service.hpp"

namespace syncsim::model {

int Service::bucket_version(const std::string& bucket) {
  const auto hash = bucket.find('#');
  const auto bracket = bucket.find('[');
  if (hash == std::string::npos || hash == 0 || hash > bracket) return 1;
  int id = 0;
  for (std::size_t i = 0; i < hash; ++i) {
    if (bucket[i] < '0' || bucket[i] > '9') return 1;
    id = id * 10 + (bucket[i] - '0');
  }
  return id;
}

std::string Service::versioned(const std::string& bucket) const {
  // Only a reprocessed instance versions its names (EndStreams keeps instance 1's storage).
  return active_storage_ != &storage_ ? fmt::format("{}#{}", sync_rules_id_, bucket) : bucket;
}

void Service::version_buckets(ConnectionRequest& req) const {
  for (auto& b : req.buckets) {
    const std::string name = versioned(b);
    if (auto p = req.priorities.find(b); p != req.priorities.end()) {
      const int priority = p->second;
      req.priorities.erase(p);
      req.priorities[name] = priority;
    }
    if (auto s = req.bucket_subscriptions.find(b); s != req.bucket_subscriptions.end()) {
      nlohmann::json subs = std::move(s->second);
      req.bucket_subscriptions.erase(s);
      req.bucket_subscriptions[name] = std::move(subs);
    }
    b = name;
  }
}

const Replication& Service::replication_of(int sync_rules_id) const {
  for (const auto& r : reprocessed_) {
    if (r->id == sync_rules_id) return *r->replication;
  }
  return replication_;
}

int32_t Service::checksum_at(const std::string& bucket, OpId op) const {
  return replication_of(bucket_version(bucket)).checksum_at(bucket, op);
}

const std::vector<Replication::LedgerOp>& Service::ledger(const std::string& bucket) const {
  return replication_of(bucket_version(bucket)).ledger(bucket);
}

int Service::active_sync_rules_id() const {
  for (const auto& r : reprocessed_) {
    if (r->storage.get() == active_storage_) return r->id;
  }
  return 1;
}

std::optional<Service::CheckpointOf> Service::checkpoint_of(OpId op) const {
  if (auto c = storage_.checkpoint_at(op)) return CheckpointOf{1, c->lsn};
  for (const auto& r : reprocessed_) {
    if (auto c = r->storage->checkpoint_at(op)) return CheckpointOf{r->id, c->lsn};
  }
  return std::nullopt;
}

void Service::notify_replications() {
  replication_.on_source_commit();
  for (auto& r : reprocessed_) {
    // A job still snapshotting does not stream yet: it starts at its slot (stream_from).
    if (r->state != SyncRulesInstance::State::Snapshot) r->replication->on_source_commit();
  }
}

void Service::set_replication_lag(sim::Micros lag) {
  replication_.set_lag(lag);
  for (auto& r : reprocessed_) {
    // A job still snapshotting does not stream yet (finish_snapshot gives it the lag).
    if (r->state != SyncRulesInstance::State::Snapshot) r->replication->set_lag(lag);
  }
}

void Service::stall_replication() {
  active_replication_->stall();
  for (auto& r : reprocessed_) {
    if (r->state == SyncRulesInstance::State::Processing) r->replication->stall();
  }
}

void Service::resume_replication() {
  if (active_replication_ == &replication_) replication_.resume();  // not once stopped
  for (auto& r : reprocessed_) r->replication->resume();
}

void Service::end_streams() {
  for (auto& open : streams_) {
    if (auto s = open.stream.lock()) s->end();
  }
  streams_.clear();
}

void Service::change_sync_config() {
  ++metrics_.sync_config_changes;
  if (config_.sync_config_change == SyncConfigChange::EndStreams) {
    // The model before issue 17: same storage and bucket names, every stream ends at once.
    end_streams();
    ++sync_rules_id_;  // custom write checkpoints are per sync config: they reset
    trace_.log("svc", "sync config changed: all streams ended");
    return;
  }
  start_reprocessing();
}

void Service::start_reprocessing() {
  // Only one instance is kept in PROCESSING: a newer config replaces an unfinished one
  // (SyncRuleState.PROCESSING, BucketStorage.ts).
  for (auto& r : reprocessed_) {
    if (r->state == SyncRulesInstance::State::Snapshot ||
        r->state == SyncRulesInstance::State::Processing) {
      r->state = SyncRulesInstance::State::Stopped;
      r->replication->stop();
      trace_.log("svc", "sync rules {} replaced before activation: stopped", r->id);
    }
  }
  const int id = reprocessed_.empty() ? 2 : reprocessed_.back()->id + 1;
  auto next = std::make_unique<SyncRulesInstance>();
  next->id = id;
  next->storage = std::make_unique<BucketStorage>();
  next->storage->share_op_sequence(storage_);  // one op_id_sequence per storage database
  const bool mysql = config_.source == SourceFlavour::Mysql;
  next->replication = std::make_unique<Replication>(
      loop_, trace_, source_, *next->storage, checkpoints_,
      [this, id](const RowKey& key, const Row& row) {
        std::vector<std::string> buckets = route(key, row);
        for (auto& b : buckets) b = fmt::format("{}#{}", id, b);  // versionedHydrationState
        return buckets;
      },
      active_replication_->lag(), mysql ? kMysqlBinlogHeartbeat : config_.heartbeat);
  next->replication->set_source(config_.source, config_.mysql_keepalive);
  SyncRulesInstance& instance = *next;
  if (config_.write_checkpoint_mode == WriteCheckpointMode::Custom &&
      !has_mutant(ServiceMutant::CustomCheckpointBeforeReplication)) {
    instance.replication->set_custom_checkpoint_hook(
        [this, &instance](const std::string& key, int64_t n) {
          on_custom_checkpoint(key, n, instance.id, *instance.storage);
        });
  }
  instance.replication->set_checkpoint_hook([this, &instance] {
    if (instance.state == SyncRulesInstance::State::Processing) activate(instance);
  });
  reprocessed_.push_back(std::move(next));
  // CREATE_REPLICATION_SLOT before the snapshot: streaming later starts at this commit.
  const std::size_t slot_commit = source_.log().size();
  trace_.log("svc", "sync config changed: sync rules {} PROCESSING (slot at lsn {}), {} serves", id,
             source_.head(), sync_rules_id_);
  loop_.after(config_.snapshot_duration, [this, &instance, slot_commit] {
    if (instance.state != SyncRulesInstance::State::Snapshot) return;  // replaced meanwhile
    finish_snapshot(instance, slot_commit);
  });
}

void Service::finish_snapshot(SyncRulesInstance& next, std::size_t slot_commit) {
  // WalStream.initialReplication: the tables' rows, then noCommitBefore =
  // pg_current_wal_lsn() and markSnapshotDone, then sendKeepAlive (a WAL message past it).
  next.replication->snapshot();
  // pg_current_wal_lsn() is past the last commit, like a batch's head (§3.1.4): only a later
  // event -- the keepalive below at the latest -- lets the job checkpoint.  MySQL's binlog
  // position is at the last commit.
  const Lsn no_checkpoint_before =
      source_.head() + (config_.source == SourceFlavour::Mysql ? 0 : 1);
  next.state = SyncRulesInstance::State::Processing;
  next.replication->set_lag(active_replication_->lag());
  next.replication->stream_from(slot_commit, no_checkpoint_before);
  trace_.log("svc", "sync rules {} snapshot done: no checkpoint before lsn {}", next.id,
             no_checkpoint_before);
  source_.commit(loop_.now(), CommitKind::Keepalive, {});
  notify_replications();
}

void Service::activate(SyncRulesInstance& next) {
  // autoActivate: PROCESSING with snapshot_done and a checkpoint -> ACTIVE; the previous
  // ACTIVE -> STOP in the same transaction.
  const int old_id = sync_rules_id_;
  active_replication_->stop();
  for (auto& r : reprocessed_) {
    if (r->state == SyncRulesInstance::State::Active) r->state = SyncRulesInstance::State::Stopped;
  }
  next.state = SyncRulesInstance::State::Active;
  active_storage_ = next.storage.get();
  active_replication_ = next.replication.get();
  sync_rules_id_ = next.id;
  active_replication_->start_heartbeat();
  ++metrics_.sync_config_activations;
  const std::size_t open = streams_.size();
  trace_.log("svc", "sync rules {} ACTIVE at checkpoint op {} lsn {}; sync rules {} STOP", next.id,
             active_storage_->latest().op_id, active_storage_->latest().lsn, old_id);
  if (has_mutant(ServiceMutant::StoppedConfigKeepsStreams)) {
    trace_.log("svc", "MUTANT {} stream(s) of stopped sync rules {} keep serving", open, old_id);
    return;
  }
  // watchActiveCheckpoint: the stopped instance has no active checkpoint, the iteration
  // ends and so does every stream on it (sync-stream.ts "switch to new sync config").
  end_streams();
  trace_.log("svc", "{} stream(s) of sync rules {} ended", open, old_id);
}

}  // namespace syncsim::model
