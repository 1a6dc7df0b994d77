#include "model/replication.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace syncsim::model {

Replication::Replication(sim::Loop& loop, sim::Trace& trace, SourceDb& source,
                         BucketStorage& storage, CheckpointStore& checkpoints, BucketRouter router,
                         sim::Micros lag, sim::Micros heartbeat)
    : loop_(loop),
      trace_(trace),
      source_(source),
      storage_(storage),
      checkpoints_(checkpoints),
      router_(std::move(router)),
      lag_(lag),
      heartbeat_(heartbeat) {}

SourceFlavour Replication::source_flavour() const {
  if (!source_flavour_) {
    throw std::logic_error("Replication: set_source() must be called before the heartbeat starts");
  }
  return *source_flavour_;
}

void Replication::start() {
  static_cast<void>(source_flavour());  // fail here, not at the first heartbeat
  storage_.checkpoint(0);               // the empty initial checkpoint (op 0, lsn 0)
  loop_.after(heartbeat_, [this] { heartbeat(); });
}

void Replication::heartbeat() {
  if (stopped_) return;
  const SourceFlavour source = source_flavour();
  // MySQL's binlog heartbeat: a keepalive only after `heartbeat_` without source commits
  // (master_heartbeat_period, BinLogListener), not on a fixed schedule.
  if (source == SourceFlavour::Mysql && !source_.log().empty()) {
    const sim::Micros idle_until = source_.log().back().committed_at + heartbeat_;
    if (loop_.now() < idle_until) {
      loop_.at(idle_until, [this] { heartbeat(); });
      return;
    }
  }
  if (source == SourceFlavour::Mysql) {
    keepalive_at_last_commit();
  } else {
    // AbstractReplicator's job.keepAlive(): a source message without rows (docs/protocol.md
    // §3.3.5).
    source_.commit(loop_.now(), CommitKind::Keepalive, {});
    on_source_commit();
  }
  loop_.after(heartbeat_, [this] { heartbeat(); });
}

void Replication::keepalive_at_last_commit() {
  // The binlog heartbeat is not written to the binlog: the listener forwards keepalive() with
  // the last transaction's position, no new LSN (docs/protocol.md §3.1.4 "MySQL keepalives").
  // It first marks every pending write checkpoint with head <= that position processed there
  // (§3.1.8). A listener with a transaction not yet replicated sends none; nor does a stopped
  // or paused job.
  if (stopped_ || stalled_ || paused_ || next_commit_ < source_.log().size()) return;
  checkpoints_.on_commit(replicated_lsn_);
  if (mysql_keepalive_ == MysqlKeepalive::V1_24_0) {
    // v1.24.0: the position is the GTID event's, just below the commit's LSN, so the
    // checkpoint is blocked.
    trace_.log("repl", "binlog heartbeat: keepalive at the last transaction's position lsn={}",
               replicated_lsn_);
    return;
  }
  // v1.25.0: the commit LSN itself, so canCheckpointState allows it as it allows a commit
  // (wake()): a checkpoint at the same op id and LSN, which no stream sees (both storages'
  // watchers drop a checkpoint that advances neither, §3.1.4), and autoActivate runs.
  const Lsn lsn = replicated_lsn_;
  if (checkpoint_blocked_at(lsn)) {
    trace_.log("repl", "binlog heartbeat: keepalive at the commit lsn={}: checkpoint blocked", lsn);
    return;
  }
  const bool folded = storage_.last_op() > storage_.latest().op_id;
  if (folded) {  // ops of blocked commits (keepalive_op) become visible
    storage_.checkpoint(lsn);
    folded_ops_ = 0;
  }
  trace_.log("repl", "binlog heartbeat: keepalive at the commit lsn={}: checkpoint op={}{}", lsn,
             storage_.latest().op_id, folded ? "" : " (the last one's op and lsn)");
  if (folded) checkpoint_line_ = trace_.lines();
  ++keepalive_checkpoints_;
  if (checkpoint_hook_) checkpoint_hook_();
}

bool Replication::checkpoint_blocked_at(Lsn lsn) const {
  // canCheckpointState (docs/protocol.md §3.4): lsn < last_checkpoint_lsn, or <
  // no_checkpoint_before after a snapshot.
  return lsn < storage_.latest().lsn || lsn < no_checkpoint_before_;
}

void Replication::on_source_commit() { schedule(); }

void Replication::snapshot() {
  // snapshotTable: every current row, read after the slot was created (its changes since
  // then replay again from the slot, harmlessly).
  std::size_t ops = 0;
  for (const auto& [key, row] : source_.rows()) {
    if (key.table == kCustomCheckpointTable) {
      // The `checkpoints` table is an event table: every snapshot row passes the batch's save(),
      // which fires its write_checkpoints event as a live insert does, so the new sync config's
      // custom records start at the rows' values (docs/protocol.md §3.1.10).
      if (custom_hook_) {
        custom_hook_(key.id, custom_checkpoint_of(row.data));
      }
      continue;
    }
    std::vector<std::string> in = router_(key, row);
    for (const auto& b : in) {
      Op op = put_op(key.table, key.id, row.data);
      op.op_id = storage_.append(b, op);
      record(b, op);
      ++ops;
    }
    row_buckets_[key] = std::move(in);
  }
  folded_ops_ += ops;
  trace_.log("repl", "snapshot: {} rows, {} ops", source_.rows().size(), ops);
  stamp_recorded();
}

void Replication::stream_from(std::size_t slot_commit, Lsn no_checkpoint_before) {
  next_commit_ = confirmed_commit_ = previous_chunk_ = slot_commit;
  no_checkpoint_before_ = no_checkpoint_before;
  schedule();
}

void Replication::start_heartbeat() {
  static_cast<void>(source_flavour());  // fail here, not at the first heartbeat
  loop_.after(heartbeat_, [this] { heartbeat(); });
}

void Replication::stop() {
  stopped_ = true;
  stall_forever();
}

void Replication::set_lag(sim::Micros lag) {
  lag_ = lag;
  schedule();
}

void Replication::stall_forever() {
  stalled_ = true;
  if (wake_timer_) loop_.cancel(*wake_timer_);
  wake_timer_.reset();
}

void Replication::stall() {
  paused_ = true;
  if (wake_timer_) loop_.cancel(*wake_timer_);
  wake_timer_.reset();
  trace_.log("repl", "stalled at lsn {}", replicated_lsn_);
}

void Replication::resume() {
  if (!paused_) return;
  paused_ = false;
  trace_.log("repl", "resumed at lsn {}", replicated_lsn_);
  schedule();
}

void Replication::restart(sim::Micros down) {
  stall();
  if (source_flavour() == SourceFlavour::Postgres) {
    // The slot's confirmed LSN trails the last checkpoint by one chunk: replay from there.
    next_commit_ = confirmed_commit_;
    replaying_ = true;
  }
  // mysql resumes at last_checkpoint_lsn's binlog position and mongodb after the last
  // processed change: both are where this job stopped (next_commit_), nothing is replayed.
  loop_.after(down, [this] {
    resume();
    if (source_flavour() != SourceFlavour::Mongodb || stopped_) return;
    // ChangeStream: "Always start with a checkpoint": a marker write to the source.
    trace_.log("repl", "change stream resumed: a fresh checkpoint marker");
    source_.commit(loop_.now(), CommitKind::Marker, {});
    on_source_commit();
  });
}

void Replication::schedule() {
  if (stalled_ || paused_ || next_commit_ >= source_.log().size()) return;
  sim::Micros due = source_.commit_at(next_commit_).committed_at + lag_;
  if (wake_timer_) {
    if (wake_timer_->deadline == std::max(due, loop_.now())) return;
    loop_.cancel(*wake_timer_);
  }
  wake_timer_ = loop_.at(due, [this] {
    wake_timer_.reset();
    wake();
  });
}

void Replication::wake() {
  const auto& log = source_.log();
  Lsn last = next_commit_ > 0 ? log[next_commit_ - 1].lsn : 0;
  std::size_t ops = 0;
  const std::size_t chunk_start = next_commit_;
  while (next_commit_ < log.size() && log[next_commit_].committed_at + lag_ <= loop_.now()) {
    if (replaying_ && next_commit_ > chunk_start) break;  // replay: a chunk per commit
    const Commit& c = log[next_commit_++];
    for (const auto& change : c.changes) {
      if (change.key.table == kCustomCheckpointTable) {
        if (custom_hook_ && change.after) {
          custom_hook_(change.key.id, custom_checkpoint_of(change.after->data));
        }
        continue;
      }
      std::vector<std::string> now_in;
      if (change.after) now_in = router_(change.key, *change.after);
      auto& before = row_buckets_[change.key];
      // A REMOVE in every bucket the row leaves, a PUT in every bucket it is in.
      for (const auto& b : before) {
        if (std::find(now_in.begin(), now_in.end(), b) == now_in.end()) {
          Op op = remove_op(change.key.table, change.key.id);
          op.op_id = storage_.append(b, op);
          record(b, op);
          ++ops;
        }
      }
      for (const auto& b : now_in) {
        Op op = put_op(change.key.table, change.key.id, change.after->data);
        op.op_id = storage_.append(b, op);
        record(b, op);
        ++ops;
      }
      before = std::move(now_in);
    }
    assert(c.lsn > last && "replication processes commits in LSN order");
    last = c.lsn;
  }
  if (next_commit_ != chunk_start) {
    replicated_lsn_ = last;
    // Mongo marks pending write checkpoints processed on every commit, before the
    // checkpoint itself and even when the checkpoint is blocked (docs/protocol.md §3.1.8).
    checkpoints_.on_commit(last);
    if (checkpoint_blocked_at(last)) {  // the ops fold into the next allowed checkpoint
      ++blocked_commits_;
      folded_ops_ += ops;
      trace_.log("repl", "replay lsn={} ops={}: checkpoint blocked (last checkpoint lsn {})", last,
                 ops, storage_.latest().lsn);
      stamp_recorded();
    } else {
      if (last > storage_.latest().lsn || storage_.last_op() > storage_.latest().op_id) {
        storage_.checkpoint(last);
        if (ops + folded_ops_ == 0) ++empty_checkpoints_;
        folded_ops_ = 0;
      }
      replaying_ = false;
      trace_.log("repl", "checkpoint op={} lsn={} ops={}", storage_.latest().op_id, last, ops);
      checkpoint_line_ = trace_.lines();
      stamp_recorded();
      if (checkpoint_hook_) checkpoint_hook_();
    }
    confirmed_commit_ = previous_chunk_;  // the slot ack trails one chunk
    previous_chunk_ = chunk_start;
    if (step_hook_) {
      ReplicationStep step{last,
                           source_.head(),
                           next_commit_ - chunk_start,
                           0,
                           ops,
                           loop_.now() - log[next_commit_ - 1].committed_at,
                           last < storage_.latest().lsn};
      for (std::size_t i = chunk_start; i < next_commit_; ++i) {
        if (log[i].kind == CommitKind::Marker) ++step.markers;
      }
      step_hook_(step);
    }
  }
  schedule();
}

void Replication::record(const std::string& bucket, const Op& op) {
  auto& h = checksum_history_[bucket];
  h.emplace_back(op.op_id, (h.empty() ? 0u : h.back().second) + op_checksum(op));
  auto& ledger = ledger_[bucket];
  ledger.push_back(LedgerOp{op.op_id, RowKey{op.object_type, op.object_id},
                            op.put ? std::optional<std::string>(op.data) : std::nullopt});
  unstamped_.emplace_back(bucket, ledger.size() - 1);
}

void Replication::stamp_recorded() {
  for (const auto& [bucket, index] : unstamped_) ledger_[bucket][index].line = trace_.lines();
  unstamped_.clear();
}

const std::vector<Replication::LedgerOp>& Replication::ledger(const std::string& bucket) const {
  static const std::vector<LedgerOp> kNone;
  auto it = ledger_.find(bucket);
  return it == ledger_.end() ? kNone : it->second;
}

int32_t Replication::checksum_at(const std::string& bucket, OpId op) const {
  auto it = checksum_history_.find(bucket);
  if (it == checksum_history_.end()) return 0;
  const auto& h = it->second;
  auto end = std::upper_bound(h.begin(), h.end(), op,
                              [](OpId limit, const auto& e) { return limit < e.first; });
  return end == h.begin() ? 0 : static_cast<int32_t>(std::prev(end)->second);
}

std::string Replication::pending() const {
  if (stalled_ || paused_)
    return fmt::format("STALLED at lsn {} (source head {})", replicated_lsn_, source_.head());
  if (next_commit_ >= source_.log().size()) {
    return fmt::format("caught up at lsn {}", replicated_lsn_);
  }
  return fmt::format(
      "lsn {} of {}; next commit due at t={} us (lag {} ms)", replicated_lsn_, source_.head(),
      source_.commit_at(next_commit_).committed_at + lag_ - sim::kEpoch, lag_ / sim::kMillis);
}

}  // namespace syncsim::model
