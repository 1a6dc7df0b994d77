#include "model/checkpoint_store.hpp"

namespace syncsim::model {

SupplyResult CheckpointStore::supply(const std::string& key, int64_t r, Lsn head, sim::Micros now) {
  auto it = records_.find(key);
  if (it == records_.end()) {
    // service.md §1.7, "S absent": create id=r, head=h, pending, requested_at=now.
    records_[key] = CheckpointRecord{r, head, std::nullopt, now};
    return {r, true};
  }
  CheckpointRecord& s = it->second;
  if (s.id < r) {
    s = CheckpointRecord{r, head, std::nullopt, now};
  } else if (s.id == r) {
    s.requested_at = now;  // refreshes retention only; id, head, processed unchanged
  }
  // S.id > r: no change at all.  Mongo forces a marker iff the max-id record is still
  // pending (a duplicate of a pending request must re-force it, §1.7).
  return {s.id, !s.processed_at_lsn.has_value()};
}

void CheckpointStore::on_commit(Lsn lsn) {
  // service.md §1.8: updateMany({processed_at_lsn: null, head <= lsn}).
  for (auto& [key, rec] : records_) {
    if (!rec.processed_at_lsn && rec.head <= lsn) rec.processed_at_lsn = lsn;
  }
}

std::optional<int64_t> CheckpointStore::visible_at(const std::string& key, Lsn lsn) const {
  auto it = records_.find(key);
  if (it == records_.end() || it->second.head > lsn) return std::nullopt;
  return it->second.id;
}

const CheckpointRecord* CheckpointStore::find(const std::string& key) const {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

}  // namespace syncsim::model
