// Custom write checkpoints (WriteCheckpointMode.CUSTOM), docs/protocol.md §3.1.10.
//
// The app backend writes a per-key counter into a source `checkpoints` table in the same
// transaction as an upload and hands it to the SDK's complete(writeCheckpoint).  Replication
// maps those rows (the sync config's write_checkpoints event) into storage records keyed by
// (key, sync_rules_id); they are upserted unconditionally (the value may go down on a replay)
// and, on mongo storage, stamped with a fresh op id at flush (batchCreateCustomWriteCheckpoints).
// Reads: lastCustomWriteCheckpoint looks up (key, sync_rules_id) with no LSN or op filter;
// mongo change detection (getCustomWriteCheckpointChanges) takes records whose op id is in
// (previous checkpoint op, next checkpoint op], across every sync_rules_id, limit 1000.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "model/bucket_storage.hpp"

namespace syncsim::model {

// The source table the backend writes custom checkpoints to (row id = the key).
inline constexpr const char* kCustomCheckpointTable = "checkpoints";
// The counter a `checkpoints` row holds (`{"checkpoint": n}`, as model/backend.cpp writes it).
[[nodiscard]] int64_t custom_checkpoint_of(const std::string& row_data);

struct CustomCheckpointRecord {
  int64_t checkpoint = 0;
  OpId op_id = 0;    // mongo: the op id of its flush; postgres: 0 (no op id)
  uint64_t seq = 0;  // upsert order, for "the last document in cursor order"
};

struct CustomChanges {
  bool invalidate = false;  // more than 1000 changes: fall back to the lookup
  std::optional<int64_t> value;
};

class CustomCheckpointStore {
 public:
  // getCustomWriteCheckpointChanges' page size (MongoSyncBucketStorage, v1.24.0).
  static constexpr std::size_t kChangeLimit = 1000;

  void upsert(const std::string& key, int sync_rules_id, int64_t checkpoint, OpId op_id);
  // lastCustomWriteCheckpoint: no LSN or op filter.
  [[nodiscard]] std::optional<int64_t> last(const std::string& key, int sync_rules_id) const;
  // Mongo change detection for one key: records with op id in (after, up_to] of any
  // sync_rules_id (the query has no sync_rules_id filter), or of `only_config`'s when given (the
  // fix of findings-world.md W42); the last one in upsert order wins.
  [[nodiscard]] CustomChanges changes(const std::string& key, OpId after, OpId up_to,
                                      std::optional<int> only_config = std::nullopt) const;
  [[nodiscard]] std::size_t size() const { return records_.size(); }

 private:
  std::map<std::pair<std::string, int>, CustomCheckpointRecord> records_;
  uint64_t next_seq_ = 1;
};

}  // namespace syncsim::model
