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

 private:
  SourceDb& source_;
  std::vector<AppliedUpload> log_;
};

}  // namespace syncsim::model
