// Managed write checkpoints / checkpoint requests: one record per key
// "<user>/<client_id>" (service.md §1.1), with the transitions of service.md §1.7 and the
// visibility rule of §1.9: the stored id is visible at a storage checkpoint iff the
// record's head <= the checkpoint's LSN.  Mongo flavour bookkeeping (processed_at_lsn,
// shouldAdvance) follows §1.7-1.8.  Batching (§1.3) and the postgres flavour come with the
// model-service issue; each request is its own batch here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "model/source_db.hpp"

namespace syncsim::model {

struct CheckpointRecord {
  int64_t id = 0;
  Lsn head = 0;                             // the source head read when the id was stored
  std::optional<Lsn> processed_at_lsn;      // mongo: first commit/keepalive with lsn >= head
  std::optional<sim::Micros> requested_at;  // supplied ids only (retention)
};

struct SupplyResult {
  int64_t stored_id = 0;        // the response: max(record, supplied) after the update
  bool should_advance = false;  // whether a source marker must follow (mongo rule)
};

class CheckpointStore {
 public:
  // POST /sync/checkpoint-request with a validated id r, head h read by the batch.
  SupplyResult supply(const std::string& key, int64_t r, Lsn head, sim::Micros now);
  // Replication committed at `lsn`: mark pending records with head <= lsn processed.
  void on_commit(Lsn lsn);
  // lastWriteCheckpoint(key, lsn) of service.md §1.9.
  [[nodiscard]] std::optional<int64_t> visible_at(const std::string& key, Lsn lsn) const;
  // The ack-before-replication mutant only: make the stored id visible at any LSN.
  void force_visible(const std::string& key) { records_.at(key).head = 0; }
  [[nodiscard]] const CheckpointRecord* find(const std::string& key) const;
  [[nodiscard]] const std::map<std::string, CheckpointRecord>& records() const { return records_; }

 private:
  std::map<std::string, CheckpointRecord> records_;
};

}  // namespace syncsim::model
