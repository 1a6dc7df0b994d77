#include "scenarios/differential/observation.hpp"

#include <fmt/format.h>

namespace syncsim::scenarios {

namespace {
std::string show(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "none"; }
}  // namespace

void ObservationRecorder::add(int client, const char* field, std::string value) {
  streams_[client].push_back(Observation{clock_.elapsed(), field, std::move(value)});
}

void ObservationRecorder::on_local_write(engine::Client& c, const engine::LocalWrite& w) {
  add(c.index(), "write",
      fmt::format("{}/{}={}{}", w.table, w.id, w.description.value_or("<deleted>"),
                  w.with_event ? " +event" : ""));
}

void ObservationRecorder::on_uploaded(engine::Client& c, const nlohmann::json& crud) {
  for (const auto& entry : crud) add(c.index(), "upload", entry.dump());
}

void ObservationRecorder::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  add(c.index(), "applied", show(applied_id));
}

void ObservationRecorder::on_published(engine::Client& c) {
  std::string rows;
  for (const char* table : {"todos", "notes"}) {
    rows += table;
    rows += '{';
    bool first = true;
    for (const auto& [id, v] : c.read_table(table)) {  // std::map: ordered by id
      rows += fmt::format("{}{}={}", first ? "" : ",", id, v.value_or("<null>"));
      first = false;
    }
    rows += "} ";
  }
  rows.pop_back();
  add(c.index(), "rows", std::move(rows));
}

void ObservationRecorder::on_control(engine::Client& c, const std::string& op,
                                     const std::optional<std::string>& payload,
                                     const std::optional<std::string>& result) {
  // Checkpoint-request commands (docs/protocol.md §1.5.3); other ops only matter for the status
  // they return.  A substring test keeps the common case (data lines) free of JSON parsing.
  if (op == "next_checkpoint_request_id") {
    add(c.index(), "request.next", result.value_or("none"));
  } else if (op == "seed_checkpoint_request_id") {
    add(c.index(), "request.seed", payload.value_or("none"));
  } else if (op == "current_checkpoint_request_id") {
    std::string current = result.value_or("none");
    auto& last = last_current_[c.index()];
    if (current != last) add(c.index(), "request.current", current);
    last = std::move(current);
  } else if (op == "target_checkpoint_request_id") {
    if (payload) add(c.index(), "target", *payload);  // without a payload it is a read
  } else if (result && result->find("UpdateSyncStatus") != std::string::npos) {
    record_status(c.index(), *result);
  }
}

void ObservationRecorder::record_status(int client, const std::string& control_result) {
  auto instructions = nlohmann::json::parse(control_result, nullptr, false);
  if (!instructions.is_array()) return;
  for (const auto& i : instructions) {
    if (!i.is_object() || !i.contains("UpdateSyncStatus")) continue;
    std::string status = canonical_status(i["UpdateSyncStatus"].value("status", nlohmann::json()));
    auto& last = last_status_[client];
    if (status != last) add(client, "status", status);
    last = std::move(status);
  }
}

std::string canonical_status(const nlohmann::json& status) {
  if (!status.is_object()) return "none";
  auto flag = [&](const char* key) {
    return status.contains(key) && status[key].is_boolean() && status[key].get<bool>() ? 1 : 0;
  };
  std::string priorities;
  if (status.contains("priority_status") && status["priority_status"].is_array()) {
    for (const auto& p :
         status["priority_status"]) {  // sorted by the core (docs/protocol.md §1.2.5)
      const bool synced =
          p.contains("has_synced") && p["has_synced"].is_boolean() && p["has_synced"].get<bool>();
      priorities += fmt::format("{}{}:{}", priorities.empty() ? "" : ",",
                                p.value("priority", int64_t{-1}), synced ? "synced" : "not-synced");
    }
  }
  const bool downloading = status.contains("downloading") && !status["downloading"].is_null();
  return fmt::format("connected={} connecting={} downloading={} priorities={}", flag("connected"),
                     flag("connecting"), downloading ? 1 : 0, priorities);
}

}  // namespace syncsim::scenarios
