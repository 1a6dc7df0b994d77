// Bucket storage (service.md §3.3-3.4): one global op-id sequence, ops per bucket, and
// storage checkpoints (op id, LSN) that never go backwards (service.md §4).
// Checksums: each op has an unsigned 32-bit checksum; a bucket's checksum is the sum of
// its ops' checksums mod 2^32, sent as a signed int32 (service.md §3.2).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/source_db.hpp"
#include "sim/sync.hpp"

namespace syncsim::model {

using OpId = int64_t;

struct Op {
  OpId op_id = 0;
  bool put = true;  // PUT or REMOVE (MOVE/CLEAR come with compaction, a later issue)
  std::string object_type;
  std::string object_id;
  std::string data;  // PUT only
  uint32_t checksum = 0;
};

struct StorageCheckpoint {
  OpId op_id = 0;
  Lsn lsn = 0;
};

struct BucketState {
  int32_t checksum = 0;  // signed, as on the wire
  int64_t count = 0;
  friend bool operator==(const BucketState&, const BucketState&) = default;
};

uint32_t op_checksum(const Op& op);

class BucketStorage {
 public:
  OpId append(const std::string& bucket, Op op);  // assigns the op id
  void checkpoint(Lsn lsn);                       // a new storage checkpoint at the current op id
  [[nodiscard]] const StorageCheckpoint& latest() const { return latest_; }
  [[nodiscard]] BucketState state(const std::string& bucket, OpId up_to) const;
  // Ops with after < op_id <= up_to, at most `limit`.
  [[nodiscard]] std::vector<const Op*> ops(const std::string& bucket, OpId after, OpId up_to,
                                           std::size_t limit) const;
  // Fires after every new storage checkpoint (the storage watcher).
  sim::Notifier& checkpoint_created() { return checkpoint_created_; }
  [[nodiscard]] OpId last_op() const { return next_op_ - 1; }
  [[nodiscard]] uint64_t checkpoints() const { return checkpoints_; }

 private:
  struct Bucket {
    std::vector<Op> ops;         // ascending op ids
    std::vector<uint32_t> sums;  // sums[i] = checksum of ops[0..i] mod 2^32
  };
  // state() runs for every bucket of every connection on every checkpoint; running sums
  // keep it a binary search instead of a pass over the bucket's history.
  std::map<std::string, Bucket> buckets_;
  OpId next_op_ = 1;
  StorageCheckpoint latest_;
  uint64_t checkpoints_ = 0;
  sim::Notifier checkpoint_created_;
};

}  // namespace syncsim::model
