#include "model/bucket_storage.hpp"

#include <algorithm>
#include <cassert>

namespace syncsim::model {

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
  op.op_id = next_op_++;
  op.checksum = op_checksum(op);
  buckets_[bucket].push_back(std::move(op));
  return next_op_ - 1;
}

void BucketStorage::checkpoint(Lsn lsn) {
  // service.md §4: the checkpoint LSN and op id never go backwards.
  assert(lsn >= latest_.lsn && "checkpoint LSN went backwards");
  latest_ = StorageCheckpoint{last_op(), lsn};
  ++checkpoints_;
  checkpoint_created_.notify();
}

BucketState BucketStorage::state(const std::string& bucket, OpId up_to) const {
  BucketState s;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return s;
  uint32_t sum = 0;
  for (const auto& op : it->second) {
    if (op.op_id > up_to) break;
    sum += op.checksum;  // mod 2^32
    ++s.count;
  }
  s.checksum = static_cast<int32_t>(sum);
  return s;
}

std::vector<const Op*> BucketStorage::ops(const std::string& bucket, OpId after, OpId up_to,
                                          std::size_t limit) const {
  std::vector<const Op*> out;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return out;
  const auto& v = it->second;
  auto first = std::upper_bound(v.begin(), v.end(), after,
                                [](OpId a, const Op& op) { return a < op.op_id; });
  for (; first != v.end() && first->op_id <= up_to && out.size() < limit; ++first) {
    out.push_back(&*first);
  }
  return out;
}

}  // namespace syncsim::model
