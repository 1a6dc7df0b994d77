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
  Bucket& b = buckets_[bucket];
  b.sums.push_back((b.sums.empty() ? 0u : b.sums.back()) + op.checksum);  // mod 2^32
  b.ops.push_back(std::move(op));
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
  const auto& ops = it->second.ops;
  auto end = std::upper_bound(ops.begin(), ops.end(), up_to,
                              [](OpId limit, const Op& op) { return limit < op.op_id; });
  s.count = end - ops.begin();
  if (s.count > 0) s.checksum = static_cast<int32_t>(it->second.sums[s.count - 1]);
  return s;
}

std::vector<const Op*> BucketStorage::ops(const std::string& bucket, OpId after, OpId up_to,
                                          std::size_t limit) const {
  std::vector<const Op*> out;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return out;
  const auto& v = it->second.ops;
  auto first = std::upper_bound(v.begin(), v.end(), after,
                                [](OpId a, const Op& op) { return a < op.op_id; });
  for (; first != v.end() && first->op_id <= up_to && out.size() < limit; ++first) {
    out.push_back(&*first);
  }
  return out;
}

}  // namespace syncsim::model
