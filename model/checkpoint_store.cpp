#include "model/checkpoint_store.hpp"

#include <algorithm>
#include <cassert>

namespace syncsim::model {

std::string to_string(StorageFlavour f) {
  return f == StorageFlavour::Mongo ? "mongo" : "postgres";
}

std::vector<ManagedEntry> CheckpointStore::dedup(const std::vector<ManagedEntry>& requests) {
  std::map<std::string, ManagedEntry> by_key;
  for (const auto& r : requests) {
    auto [it, inserted] = by_key.emplace(r.key, r);
    if (inserted) continue;
    ManagedEntry& e = it->second;
    if (r.supplied && (!e.supplied || *r.supplied > *e.supplied)) e.supplied = r.supplied;
  }
  std::vector<ManagedEntry> out;
  out.reserve(by_key.size());
  for (auto& [key, e] : by_key) out.push_back(std::move(e));
  return out;
}

bool CheckpointStore::max_doc_pending(const std::vector<CheckpointRecord>& docs) const {
  // §1.7: the max-id document decides; on a tie of equal ids the pending one is preferred.
  const CheckpointRecord* best = nullptr;
  for (const auto& d : docs) {
    if (!best || d.id > best->id ||
        (d.id == best->id && !d.processed_at_lsn && best->processed_at_lsn)) {
      best = &d;
    }
  }
  return best && !best->processed_at_lsn;
}

bool CheckpointStore::insert_if_unmatched(std::vector<CheckpointRecord>& docs, bool existed,
                                          CheckpointRecord inserted) {
  // Upsert of an absent key.  On mongo a batch whose upsert matched nothing inserts even if
  // a concurrent batch inserted meanwhile (no unique index): a duplicate document.
  // Postgres' ON CONFLICT updates the row instead.
  if (!docs.empty() && (flavour_ != StorageFlavour::Mongo || existed)) return false;
  if (!docs.empty()) ++duplicates_created_;
  docs.push_back(inserted);
  return true;
}

int64_t CheckpointStore::write_generated(std::vector<CheckpointRecord>& docs, Lsn head,
                                         bool existed) {
  // Mongo findOneAndUpdate(upsert) / postgres ON CONFLICT: $inc the (first) record, reset
  // the head and processed state, clear requested_at: the record becomes permanent.
  if (insert_if_unmatched(docs, existed, CheckpointRecord{1, head, std::nullopt, std::nullopt})) {
    return 1;
  }
  CheckpointRecord& d = docs.front();
  d = CheckpointRecord{d.id + 1, head, std::nullopt, std::nullopt};
  return d.id;  // findOneAndUpdate returns the document it updated
}

void CheckpointStore::write_supplied(std::vector<CheckpointRecord>& docs, int64_t r, Lsn head,
                                     sim::Micros now, bool existed) {
  if (insert_if_unmatched(docs, existed, CheckpointRecord{r, head, std::nullopt, now})) return;
  // Mongo updateMany applies the $cond to every duplicate; postgres has one row.
  for (auto& d : docs) {
    if (d.id < r || (mutants_.lower_id_replaces && d.id > r)) {
      d = CheckpointRecord{r, head, std::nullopt, now};
    } else if (d.id == r && !mutants_.equal_retry_keeps_age) {
      d.requested_at = now;  // equal retry: retention refreshed, head and state kept
    }
    // d.id > r: a stale request changes nothing, not even requested_at.
  }
}

BatchWrite CheckpointStore::create_managed(const std::vector<ManagedEntry>& entries, Lsn head,
                                           sim::Micros now,
                                           const std::set<std::string>* existed_at_match) {
  ++version_;
  BatchWrite out;
  // The generated keys are written (and, with two or more, read back) before the supplied
  // ones: a separate statement in both WriteCheckpointAPIs (§3.1.3, §3.1.5).
  std::size_t generated = 0;
  for (const auto& e : entries) {
    if (e.supplied) continue;
    ++generated;
    auto& docs = records_[e.key];
    index_stale(e.key);
    const bool existed = existed_at_match ? existed_at_match->count(e.key) > 0 : !docs.empty();
    out.stored[e.key] = out.ids[e.key] = write_generated(docs, head, existed);
    out.should_advance = true;  // generated: always a marker (§1.7)
  }
  if (flavour_ == StorageFlavour::Mongo && generated > 1 &&
      read_back_ == GeneratedReadBack::Service) {
    // find({user_id: {$in}}) after the bulkWrite, folded with Map.set: the key's last
    // document in natural order (§3.1.5).
    for (const auto& e : entries) {
      if (e.supplied) continue;
      const int64_t last = records_.at(e.key).back().id;
      if (last != out.stored.at(e.key)) ++foreign_read_backs_;
      out.ids[e.key] = last;
    }
  }
  for (const auto& e : entries) {
    if (!e.supplied) continue;
    auto& docs = records_[e.key];
    index_stale(e.key);
    const bool existed = existed_at_match ? existed_at_match->count(e.key) > 0 : !docs.empty();
    write_supplied(docs, *e.supplied, head, now, existed);
    // Mongo re-reads every document of the key and answers the max (§1.7).
    out.stored[e.key] = out.ids[e.key] = *stored_id(e.key);
    if (max_doc_pending(docs)) out.should_advance = true;
  }
  // Postgres storage: a marker whenever the batch is non-empty ("wasteful but harmless").
  if (flavour_ == StorageFlavour::Postgres && !entries.empty()) out.should_advance = true;
  return out;
}

bool CheckpointStore::reads_back(const std::vector<ManagedEntry>& entries) const {
  if (flavour_ != StorageFlavour::Mongo) return false;
  const auto generated = std::count_if(entries.begin(), entries.end(),
                                       [](const ManagedEntry& e) { return !e.supplied; });
  const bool supplied = generated < static_cast<std::ptrdiff_t>(entries.size());
  return supplied || (generated > 1 && read_back_ == GeneratedReadBack::Service);
}

void CheckpointStore::read_back(const std::vector<ManagedEntry>& entries, BatchWrite& w) {
  if (!reads_back(entries)) return;
  const auto generated = std::count_if(entries.begin(), entries.end(),
                                       [](const ManagedEntry& e) { return !e.supplied; });
  bool supplied_pending = false;
  for (const auto& e : entries) {
    auto it = records_.find(e.key);
    if (it == records_.end() || it->second.empty()) continue;  // deleted meanwhile
    if (!e.supplied) {
      if (generated < 2 || read_back_ != GeneratedReadBack::Service) continue;
      w.ids[e.key] = it->second.back().id;  // find + Map.set: the last document
      continue;
    }
    w.ids[e.key] = *stored_id(e.key);  // the max, pending preferred on ties
    if (max_doc_pending(it->second)) supplied_pending = true;
  }
  // shouldAdvance = generated || some supplied key's max document is pending, as read.
  w.should_advance = generated > 0 || supplied_pending;
}

void CheckpointStore::on_commit(Lsn lsn) {
  if (flavour_ != StorageFlavour::Mongo) return;  // postgres computes it at read time (§1.6)
  // Every source commit would pass over every record of every key (O(clients) per write, issue
  // 20 (d)); while the records are unchanged since the last pass, only a commit at or past the
  // lowest head still pending can process anything.
  if (scanned_version_ == version_ && !mutants_.no_head_filter &&
      (!lowest_pending_head_ || lsn < *lowest_pending_head_)) {
    return;
  }
  bool changed = false;
  std::optional<Lsn> lowest;
  for (auto& [key, docs] : records_) {
    for (auto& d : docs) {
      if (d.processed_at_lsn) continue;
      if (d.head <= lsn || mutants_.no_head_filter) {
        d.processed_at_lsn = lsn;
        changed = true;
        index_stale_keys_.insert(&key);
      } else if (!lowest || d.head < *lowest) {
        lowest = d.head;
      }
    }
  }
  if (changed) ++version_;  // an unchanged store keeps its index of processed documents
  scanned_version_ = version_;
  lowest_pending_head_ = lowest;
}

std::optional<int64_t> CheckpointStore::lookup(const std::string& key, Lsn lsn) const {
  auto it = records_.find(key);
  if (it == records_.end()) return std::nullopt;
  for (const auto& d : it->second) {
    if (d.head <= lsn || mutants_.no_head_filter) return d.id;  // findOne: first match
  }
  return std::nullopt;
}

std::optional<int64_t> CheckpointStore::processed_between(const std::string& key, Lsn after,
                                                          Lsn up_to) const {
  auto it = records_.find(key);
  if (it == records_.end()) return std::nullopt;
  std::optional<int64_t> best;
  for (const auto& d : it->second) {
    if (d.processed_at_lsn && *d.processed_at_lsn > after && *d.processed_at_lsn <= up_to) {
      if (!best || d.id > *best) best = d.id;
    }
  }
  return best;
}

void CheckpointStore::index_processed() const {
  auto by_lsn = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (index_rebuild_) {
    index_rebuild_ = false;
    index_stale_keys_.clear();
    processed_index_.clear();
    for (const auto& [key, docs] : records_) {
      for (const auto& d : docs) {
        if (d.processed_at_lsn) processed_index_.emplace_back(*d.processed_at_lsn, &key);
      }
    }
    std::sort(processed_index_.begin(), processed_index_.end(), by_lsn);
    return;
  }
  if (index_stale_keys_.empty()) return;
  // Deletions rebuild, so every stale key is still in records_.
  std::erase_if(processed_index_,
                [this](const auto& e) { return index_stale_keys_.count(e.second) > 0; });
  std::vector<std::pair<Lsn, const std::string*>> fresh;
  for (const std::string* key : index_stale_keys_) {
    for (const auto& d : records_.find(*key)->second) {
      if (d.processed_at_lsn) fresh.emplace_back(*d.processed_at_lsn, key);
    }
  }
  index_stale_keys_.clear();
  // The set is ordered by address: order the new entries by key too, so the index is the same
  // in every run (its consumers would not notice, see the header).
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : *a.second < *b.second;
  });
  const auto old_size = static_cast<std::ptrdiff_t>(processed_index_.size());
  processed_index_.insert(processed_index_.end(), fresh.begin(), fresh.end());
  std::inplace_merge(processed_index_.begin(), processed_index_.begin() + old_size,
                     processed_index_.end(), by_lsn);
#ifndef NDEBUG
  // Debug builds compare the index with a rebuild (as multisets: equal LSNs may differ in order).
  std::vector<std::pair<Lsn, std::string>> want, have;
  for (const auto& [key, docs] : records_) {
    for (const auto& d : docs) {
      if (d.processed_at_lsn) want.emplace_back(*d.processed_at_lsn, key);
    }
  }
  for (const auto& [lsn, key] : processed_index_) have.emplace_back(lsn, *key);
  std::sort(want.begin(), want.end());
  assert(std::is_sorted(have.begin(), have.end(), by_lsn) && "the processed index is unsorted");
  std::sort(have.begin(), have.end());
  assert(want == have && "the processed index differs from its rebuild");
#endif
}

std::pair<std::vector<std::pair<Lsn, const std::string*>>::const_iterator,
          std::vector<std::pair<Lsn, const std::string*>>::const_iterator>
CheckpointStore::processed_range(Lsn after, Lsn up_to) const {
  index_processed();
  auto lsn_greater = [](Lsn lsn, const auto& entry) { return lsn < entry.first; };
  auto first =
      std::upper_bound(processed_index_.cbegin(), processed_index_.cend(), after, lsn_greater);
  auto last = std::upper_bound(first, processed_index_.cend(), up_to, lsn_greater);
  return {first, last};
}

std::size_t CheckpointStore::processed_in_window(Lsn after, Lsn up_to) const {
  if (up_to <= after) return 0;
  const auto [first, last] = processed_range(after, up_to);
  return static_cast<std::size_t>(last - first);
}

CheckpointStore::ProcessedKeys CheckpointStore::processed_keys(Lsn after, Lsn up_to) const {
  ProcessedKeys out;
  if (up_to <= after) return out;
  const auto [first, last] = processed_range(after, up_to);
  out.documents = static_cast<std::size_t>(last - first);
  if (out.documents > kChangeLimit) return out;
  out.keys.reserve(out.documents);
  for (auto it = first; it != last; ++it) out.keys.push_back(it->second);
  return out;
}

CheckpointStore::ManagedChanges CheckpointStore::managed_changes(const std::string& key, Lsn after,
                                                                 Lsn up_to) const {
  ManagedChanges out;
  if (processed_in_window(after, up_to) > kChangeLimit) {
    out.invalidate = true;
    return out;
  }
  auto it = records_.find(key);
  if (it == records_.end()) return out;
  for (const auto& d : it->second) {
    if (d.processed_at_lsn && *d.processed_at_lsn > after && *d.processed_at_lsn <= up_to) {
      out.value = d.id;  // docs are in natural order: the last one stays
    }
  }
  return out;
}

int CheckpointStore::delete_expired(sim::Micros cutoff) {
  ++version_;
  index_rebuild_ = true;
  int deleted = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    auto& docs = it->second;
    auto gone = std::remove_if(docs.begin(), docs.end(), [&](const CheckpointRecord& d) {
      if (!d.requested_at || *d.requested_at >= cutoff) return false;  // generated: never
      if (flavour_ == StorageFlavour::Mongo && !d.processed_at_lsn &&
          !mutants_.cleanup_deletes_pending) {
        return false;  // mongo keeps pending requests during replication lag (§2.1)
      }
      return true;
    });
    deleted += static_cast<int>(docs.end() - gone);
    if (gone != docs.end()) ++deletions_[it->first];
    docs.erase(gone, docs.end());
    it = docs.empty() ? records_.erase(it) : std::next(it);
  }
  return deleted;
}

int CheckpointStore::erase(const std::string& key) {
  ++version_;
  index_rebuild_ = true;
  auto it = records_.find(key);
  if (it == records_.end()) return 0;
  int n = static_cast<int>(it->second.size());
  ++deletions_[key];
  records_.erase(it);
  return n;
}

int CheckpointStore::erase_requested(const std::string& key) {
  ++version_;
  index_rebuild_ = true;
  auto it = records_.find(key);
  if (it == records_.end()) return 0;
  auto& docs = it->second;
  auto gone = std::remove_if(docs.begin(), docs.end(),
                             [](const CheckpointRecord& d) { return d.requested_at.has_value(); });
  const int n = static_cast<int>(docs.end() - gone);
  if (n == 0) return 0;
  ++deletions_[key];
  docs.erase(gone, docs.end());
  if (docs.empty()) records_.erase(it);
  return n;
}

uint64_t CheckpointStore::deletions(const std::string& key) const {
  auto it = deletions_.find(key);
  return it == deletions_.end() ? 0 : it->second;
}

std::optional<int64_t> CheckpointStore::stored_id(const std::string& key) const {
  auto it = records_.find(key);
  if (it == records_.end() || it->second.empty()) return std::nullopt;
  int64_t best = it->second.front().id;
  for (const auto& d : it->second) best = std::max(best, d.id);
  return best;
}

const std::vector<CheckpointRecord>* CheckpointStore::find(const std::string& key) const {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

}  // namespace syncsim::model
