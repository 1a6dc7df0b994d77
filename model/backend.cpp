#include "model/backend.hpp"

#include <stdexcept>

#include "model/custom_checkpoints.hpp"

namespace syncsim::model {

Lsn Backend::apply(sim::Micros now, const std::string& user, const std::string& client_id,
                   const nlohmann::json& crud) {
  if (!crud.is_array() || crud.empty()) {
    throw std::invalid_argument("upload must be a non-empty array of crud entries");
  }
  // Validate everything first so a bad entry applies nothing.
  std::vector<RowChange> changes;
  std::map<RowKey, std::optional<Row>> staged;
  for (const auto& e : crud) {
    if (!e.is_object() || !e.contains("op") || !e.contains("id") || !e.contains("type") ||
        !e["op"].is_string() || !e["id"].is_string() || !e["type"].is_string()) {
      throw std::invalid_argument("crud entry needs string op, id and type: " + e.dump());
    }
    const std::string op = e["op"];
    RowKey key{e["type"], e["id"]};
    auto current = staged.count(key) ? staged[key] : source_.row(key);
    if (op == "PUT" || op == "PATCH") {
      nlohmann::json data = nlohmann::json::object();
      if (op == "PATCH" && current) data = nlohmann::json::parse(current->data);
      if (e.contains("data")) {
        if (!e["data"].is_object()) throw std::invalid_argument("crud data must be an object");
        for (const auto& [col, v] : e["data"].items()) data[col] = v;
      }
      staged[key] = Row{data.dump(), user};
    } else if (op == "DELETE") {
      staged[key] = std::nullopt;
    } else {
      throw std::invalid_argument("unknown crud op: " + op);
    }
    changes.push_back(RowChange{key, staged[key]});
  }
  std::vector<RowChange> committed = changes;
  last_custom_.reset();
  if (custom_) {
    const RowKey counter{kCustomCheckpointTable, user + "/" + client_id};
    int64_t n = 1;
    if (auto row = source_.row(counter)) {
      n = custom_checkpoint_of(row->data) + 1;
    }
    committed.push_back(RowChange{counter, Row{nlohmann::json{{"checkpoint", n}}.dump(), user}});
    last_custom_ = n;
  }
  Lsn lsn = source_.commit(now, CommitKind::Data, std::move(committed));
  log_.push_back(AppliedUpload{lsn, user, client_id, std::move(changes)});
  return lsn;
}

}  // namespace syncsim::model
