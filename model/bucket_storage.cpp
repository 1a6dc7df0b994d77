#include "model/bucket_storage.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "model/checkpoint_store.hpp"

namespace syncsim::model {

const char* op_type_name(OpType type) {
  switch (type) {
    case OpType::Put:
      return "PUT";
    case OpType::Remove:
      return "REMOVE";
    case OpType::Move:
      return "MOVE";
    case OpType::Clear:
      return "CLEAR";
  }
  return "?";
}

Op put_op(const std::string& object_type, const std::string& object_id, const std::string& data) {
  Op op;
  op.put = true;
  op.object_type = object_type;
  op.object_id = object_id;
  op.data = data;
  return op;
}

Op remove_op(const std::string& object_type, const std::string& object_id) {
  Op op;
  op.put = false;
  op.object_type = object_type;
  op.object_id = object_id;
  return op;
}

uint32_t op_checksum(const Op& op) {
  // Any deterministic 32-bit hash of the op's content works: the client only sums them.
  uint32_t h = 2166136261u;
  auto mix = [&h](const std::string& s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 16777619u;
    }
    h ^= 0xff;
    h *= 16777619u;
  };
  mix(op.put ? "PUT" : "REMOVE");
  mix(op.object_type);
  mix(op.object_id);
  mix(op.data);
  return h;
}

OpId BucketStorage::append(const std::string& bucket, Op op) {
  if (op.type == OpType::Move || op.type == OpType::Clear) {
    throw std::logic_error("only compaction creates MOVE and CLEAR ops");
  }
  if (!op.put || op.type == OpType::Remove) {
    op.put = false;
    op.type = OpType::Remove;
    op.data.clear();
  }
  op.target_op = 0;
  op.op_id = (*seq_)++;
  last_own_op_ = op.op_id;
  op.checksum = op_checksum(op);
  Bucket& b = buckets_[bucket];
  updated_since_checkpoint_.insert(bucket);
  b.sums.push_back((b.sums.empty() ? 0u : b.sums.back()) + op.checksum);  // mod 2^32
  b.ops.push_back(std::move(op));
  return last_own_op_;
}

void BucketStorage::checkpoint(Lsn lsn) {
  // docs/protocol.md §3.4: the checkpoint LSN and op id never go backwards.
  assert(lsn >= latest_.lsn && "checkpoint LSN went backwards");
  const StorageCheckpoint previous = latest_;
  latest_ = StorageCheckpoint{last_op(), lsn};
  history_.push_back(latest_);
  ++checkpoints_;
  notifying_ = true;
  for (uint64_t id : concerned(previous)) {
    watchers_.at(id).watcher->on_checkpoint(latest_, previous, updated_since_checkpoint_);
  }
  notifying_ = false;
  updated_since_checkpoint_.clear();
  checkpoint_created_.notify();
}

std::vector<uint64_t> BucketStorage::concerned(const StorageCheckpoint& previous) const {
  if (!index_watchers_) {
    std::vector<uint64_t> all;
    all.reserve(watchers_.size());
    for (const auto& [id, watch] : watchers_) all.push_back(id);
    return all;
  }
  std::vector<uint64_t> ids(every_checkpoint_.begin(), every_checkpoint_.end());
  for (const auto& bucket : updated_since_checkpoint_) {
    auto it = by_bucket_.find(bucket);
    if (it != by_bucket_.end()) ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  if (write_checkpoints_ != nullptr && !by_write_checkpoint_key_.empty()) {
    const auto processed = write_checkpoints_->processed_keys(previous.lsn, latest_.lsn);
    if (processed.documents > CheckpointStore::kChangeLimit) {
      for (const auto& [key, watching] : by_write_checkpoint_key_) {
        ids.insert(ids.end(), watching.begin(), watching.end());
      }
    } else {
      for (const std::string* key : processed.keys) {
        auto it = by_write_checkpoint_key_.find(*key);
        if (it != by_write_checkpoint_key_.end()) {
          ids.insert(ids.end(), it->second.begin(), it->second.end());
        }
      }
    }
  }
  std::sort(ids.begin(), ids.end());  // registration order, as the service yields to them
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

uint64_t BucketStorage::watch(CheckpointWatcher* watcher, WatchInterest interest) {
  assert(!notifying_ && "a watcher registered from inside on_checkpoint");
  const uint64_t id = next_watch_++;
  for (const auto& bucket : interest.buckets) by_bucket_[bucket].push_back(id);
  if (!interest.write_checkpoint_key.empty()) {
    assert(interest.write_checkpoints != nullptr);
    assert((write_checkpoints_ == nullptr || write_checkpoints_ == interest.write_checkpoints) &&
           "one checkpoint store per bucket storage");
    write_checkpoints_ = interest.write_checkpoints;
    by_write_checkpoint_key_[interest.write_checkpoint_key].push_back(id);
  }
  every_checkpoint_.insert(id);
  watchers_.emplace(id, Watch{watcher, std::move(interest)});
  return id;
}

std::optional<Lsn> BucketStorage::write_checkpoint_window_start(const std::string& key) const {
  const auto ids = by_write_checkpoint_key_.find(key);
  if (ids == by_write_checkpoint_key_.end()) return std::nullopt;
  std::optional<Lsn> lowest;
  for (const uint64_t id : ids->second) {
    const auto w = watchers_.find(id);
    assert(w != watchers_.end() && "unwatch() drops the id from the index");
    const auto start = w->second.watcher->write_checkpoint_window_start();
    if (!start) return std::nullopt;
    lowest = lowest ? std::min(*lowest, *start) : *start;
  }
  return lowest;
}

void BucketStorage::unwatch(uint64_t id) {
  assert(!notifying_ && "a watcher unregistered from inside on_checkpoint");
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  auto drop = [id](std::map<std::string, std::vector<uint64_t>>& index, const std::string& name) {
    auto entry = index.find(name);
    if (entry == index.end()) return;
    std::erase(entry->second, id);
    if (entry->second.empty()) index.erase(entry);
  };
  for (const auto& bucket : it->second.interest.buckets) drop(by_bucket_, bucket);
  if (!it->second.interest.write_checkpoint_key.empty()) {
    drop(by_write_checkpoint_key_, it->second.interest.write_checkpoint_key);
  }
  every_checkpoint_.erase(id);
  watchers_.erase(it);
}

void BucketStorage::watch_every_checkpoint(uint64_t id, bool every) {
  if (every) {
    every_checkpoint_.insert(id);
  } else {
    every_checkpoint_.erase(id);
  }
}

std::optional<StorageCheckpoint> BucketStorage::checkpoint_at(OpId op_id) const {
  auto it = std::upper_bound(history_.begin(), history_.end(), op_id,
                             [](OpId op, const StorageCheckpoint& c) { return op < c.op_id; });
  if (it == history_.begin() || std::prev(it)->op_id != op_id) return std::nullopt;
  return *std::prev(it);
}

BucketState BucketStorage::state(const std::string& bucket, OpId up_to) const {
  BucketState s;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return s;
  const auto& ops = it->second.ops;
  auto end = std::upper_bound(ops.begin(), ops.end(), up_to,
                              [](OpId limit, const Op& op) { return limit < op.op_id; });
  s.count = end - ops.begin();
  if (s.count > 0) s.checksum = static_cast<int32_t>(it->second.sums[s.count - 1]);
  return s;
}

std::vector<const Op*> BucketStorage::range(const std::vector<Op>& v, OpId after, OpId up_to,
                                            std::size_t limit) {
  std::vector<const Op*> out;
  auto first = std::upper_bound(v.begin(), v.end(), after,
                                [](OpId a, const Op& op) { return a < op.op_id; });
  for (; first != v.end() && first->op_id <= up_to && out.size() < limit; ++first) {
    out.push_back(&*first);
  }
  return out;
}

std::vector<const Op*> BucketStorage::ops(const std::string& bucket, OpId after, OpId up_to,
                                          std::size_t limit) const {
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return {};
  return range(it->second.ops, after, up_to, limit);
}

uint64_t BucketStorage::compactions_of(const std::string& bucket) const {
  auto it = buckets_.find(bucket);
  return it == buckets_.end() ? 0 : it->second.compactions;
}

std::vector<const Op*> BucketStorage::ops_before_compaction(const std::string& bucket, OpId after,
                                                            OpId up_to, std::size_t limit) const {
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return {};
  return range(it->second.before_compaction, after, up_to, limit);
}

void BucketStorage::recompute_sums(Bucket& b) {
  b.sums.resize(b.ops.size());
  uint32_t sum = 0;
  for (std::size_t i = 0; i < b.ops.size(); ++i) {
    sum += b.ops[i].checksum;  // mod 2^32
    b.sums[i] = sum;
  }
}

CompactionStats BucketStorage::compact_bucket(Bucket& b, OpId horizon,
                                              bool mutant_clear_loses_checksum) {
  CompactionStats done;
  auto& ops = b.ops;
  const auto end = static_cast<std::size_t>(
      std::upper_bound(ops.begin(), ops.end(), horizon,
                       [](OpId limit, const Op& op) { return limit < op.op_id; }) -
      ops.begin());

  // docs/protocol.md §3.3.4 MOVE: walk back from the horizon; the first op seen for a row is its
  // newest (<= horizon) and survives, every earlier PUT/REMOVE of that row becomes a MOVE
  // with the same op id and checksum, no data, and target_op = the surviving op.
  std::map<std::pair<std::string, std::string>, OpId> newest;
  for (std::size_t i = end; i-- > 0;) {
    Op& op = ops[i];
    if (op.type == OpType::Clear) continue;
    // A MOVE stands for its target (only seen first under a horizon lower than before).
    const OpId survivor = op.type == OpType::Move ? op.target_op : op.op_id;
    auto [it, inserted] = newest.try_emplace({op.object_type, op.object_id}, survivor);
    if (inserted || op.type == OpType::Move) continue;
    op.type = OpType::Move;
    op.put = false;
    op.data.clear();
    op.target_op = it->second;
    ++done.ops_moved;
  }

  // docs/protocol.md §3.3.4 CLEAR: the longest leading run of REMOVE/MOVE/CLEAR ops (<= horizon)
  // becomes one CLEAR: op id = the last replaced op id, checksum = the sum of the replaced
  // checksums mod 2^32.  A run of one op is left alone (nothing to merge).
  std::size_t run = 0;
  while (run < end && ops[run].type != OpType::Put) ++run;
  if (run >= 2) {
    Op clear;
    clear.op_id = ops[run - 1].op_id;
    clear.put = false;
    clear.type = OpType::Clear;
    clear.target_op = clear.op_id;
    for (std::size_t i = mutant_clear_loses_checksum ? 1 : 0; i < run; ++i) {
      clear.checksum += ops[i].checksum;  // mod 2^32
      clear.target_op = std::max(clear.target_op, ops[i].target_op);
    }
    ops.erase(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(run - 1));
    ops.front() = std::move(clear);
    ++done.clears;
    done.ops_removed += run - 1;
  }
  if (done.ops_moved > 0 || done.clears > 0) recompute_sums(b);
  return done;
}

CompactionStats BucketStorage::compact(OpId horizon, bool mutant_clear_loses_checksum) {
  CompactionStats run;
  run.runs = 1;
  for (auto& [name, bucket] : buckets_) {
    std::vector<Op> before;
    if (keep_pre_compaction_) before = bucket.ops;
    const CompactionStats b = compact_bucket(bucket, horizon, mutant_clear_loses_checksum);
    if (b.ops_moved > 0 || b.clears > 0) updated_since_checkpoint_.insert(name);
    if (keep_pre_compaction_ && (b.ops_moved > 0 || b.clears > 0)) {
      bucket.before_compaction = std::move(before);
      ++bucket.compactions;
    }
    if ((b.ops_moved > 0 || b.clears > 0) && !bucket.ops.empty()) {
      // v3: the rewritten documents up to the horizon become one (straddled()).
      const auto past = std::upper_bound(bucket.ops.begin(), bucket.ops.end(), horizon,
                                         [](OpId h, const Op& op) { return h < op.op_id; });
      if (past != bucket.ops.begin()) {
        bucket.merged = MergedDocument{bucket.ops.front().op_id, std::prev(past)->op_id};
      }
    }
    run.ops_moved += b.ops_moved;
    run.clears += b.clears;
    run.ops_removed += b.ops_removed;
  }
  compaction_.runs += run.runs;
  compaction_.ops_moved += run.ops_moved;
  compaction_.clears += run.clears;
  compaction_.ops_removed += run.ops_removed;
  return run;
}

std::optional<std::pair<std::string, BucketStorage::MergedDocument>> BucketStorage::straddled(
    const std::vector<std::string>& buckets, OpId end) const {
  for (const auto& name : buckets) {
    auto it = buckets_.find(name);
    if (it == buckets_.end() || !it->second.merged) continue;
    const MergedDocument& d = *it->second.merged;
    if (d.first <= end && end < d.last) return std::make_pair(name, d);
  }
  return std::nullopt;
}

}  // namespace syncsim::model
