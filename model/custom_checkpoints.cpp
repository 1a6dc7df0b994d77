#include "model/custom_checkpoints.hpp"

#include <nlohmann/json.hpp>

namespace syncsim::model {

int64_t custom_checkpoint_of(const std::string& row_data) {
  return nlohmann::json::parse(row_data).at("checkpoint").get<int64_t>();
}

void CustomCheckpointStore::upsert(const std::string& key, int sync_rules_id, int64_t checkpoint,
                                   OpId op_id) {
  // updateOne({user_id, sync_rules_id}, {$set: {checkpoint, op_id}}, {upsert: true}).
  records_[{key, sync_rules_id}] = CustomCheckpointRecord{checkpoint, op_id, next_seq_++};
}

std::optional<int64_t> CustomCheckpointStore::last(const std::string& key,
                                                   int sync_rules_id) const {
  auto it = records_.find({key, sync_rules_id});
  if (it == records_.end()) return std::nullopt;
  return it->second.checkpoint;
}

CustomChanges CustomCheckpointStore::changes(const std::string& key, OpId after, OpId up_to,
                                             std::optional<int> only_config) const {
  CustomChanges out;
  std::size_t matched = 0;
  uint64_t best_seq = 0;
  for (const auto& [k, r] : records_) {
    if (r.op_id <= after || r.op_id > up_to) continue;
    if (only_config && k.second != *only_config) continue;
    ++matched;
    if (k.first == key && r.seq > best_seq) {
      best_seq = r.seq;
      out.value = r.checkpoint;
    }
  }
  if (matched > kChangeLimit) {
    out.invalidate = true;
    out.value.reset();
  }
  return out;
}

}  // namespace syncsim::model
