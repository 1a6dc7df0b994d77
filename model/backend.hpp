// The app backend that receives the SDK's uploads (the connector's uploadData target).
// It applies each upload as one source transaction, last-writer-wins in arrival order
// (docs/scenarios.md §1), and logs every apply (checked by no-lost-writes / read-your-writes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/source_db.hpp"

namespace syncsim::model {

struct AppliedUpload {
  Lsn lsn = 0;
  std::string user;
  std::string client_id;
  std::vector<RowChange> changes;
};

class Backend {
 public:
  explicit Backend(SourceDb& source) : source_(source) {}
  // Applies a batch of ps_crud entries ({"op","id","type","data"}, other fields such as
  // tx_id ignored; any type, including insert-only tables); returns the commit's
  // LSN.  Throws std::invalid_argument on a malformed entry (nothing is applied then).
  Lsn apply(sim::Micros now, const std::string& user, const std::string& client_id,
            const nlohmann::json& crud);
  [[nodiscard]] const std::vector<AppliedUpload>& log() const { return log_; }
  // Custom write-checkpoint mode (docs/protocol.md §3.1.10, the documented setup): every
  // upload also increments the key's ("<user>/<client_id>") counter in the source table
  // `checkpoints`, in the same transaction; the new value is the upload's answer, which the
  // connector passes to complete(writeCheckpoint).  The row is not part of the log.
  void set_custom_write_checkpoints(bool on) { custom_ = on; }
  [[nodiscard]] std::optional<int64_t> last_custom_checkpoint() const { return last_custom_; }

 private:
  SourceDb& source_;
  std::vector<AppliedUpload> log_;
  bool custom_ = false;
  std::optional<int64_t> last_custom_;
};

}  // namespace syncsim::model
