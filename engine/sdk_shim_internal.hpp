// Internal to the SDK shim (engine/sdk_shim*.cpp): the SDK's fixed texts and small helpers
// shared by the shim's parts (lifecycle, download loop, upload loop, checkpoint requests,
// credentials, streams).  Not for use outside engine/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/sdk_shim.hpp"

namespace syncsim::engine::shim_detail {

inline constexpr const char* kMaxOpIdText = "9223372036854775807";
inline constexpr const char* kDisconnectedError =
    "Cannot request checkpoints, sync client is disconnected.";
inline constexpr const char* kLegacyError =
    "Connected with legacy checkpoint mode, cannot request checkpoints.";
inline constexpr const char* kSyncWaitError = "Sync error while waiting for checkpoint request";
inline constexpr const char* kBlockedLog =
    "Could not apply checkpoint due to local data. Will retry at completed upload or next "
    "checkpoint.";

// The minimal schema of the default world (docs/scenarios.md §1), plus the insert-only `events`
// table (docs/protocol.md §2.1.1 schema JSON `insert_only`; docs/protocol.md §1.1.1 "manual" CRUD
// vtab): its writes only go to ps_crud, it never holds rows locally and no bucket syncs it. The
// stream world (issue 7) adds `items`, the table stream buckets sync.
inline std::string schema_json(bool stream_tables) {
  return std::string(
             R"({"tables":[{"name":"todos","columns":[{"name":"description","type":"text"}]},)"
             R"({"name":"notes","columns":[{"name":"description","type":"text"}]},)") +
         (stream_tables ? R"({"name":"items","columns":[{"name":"description","type":"text"}]},)"
                        : "") +
         R"({"name":"events","columns":[{"name":"description","type":"text"}],)"
         R"("insert_only":true}]})";
}

// The length of j.dump() without building the string (UpdateSyncStatus sizes, issue 20: the
// dump was ~2 % of a basic.json run): the same serializer, into a counter.
inline std::size_t dumped_size(const nlohmann::json& j) {
  struct Counter : nlohmann::detail::output_adapter_protocol<char> {
    std::size_t n = 0;
    void write_character(char /*c*/) override { ++n; }
    void write_characters(const char* /*s*/, std::size_t length) override { n += length; }
  };
  auto counter = std::make_shared<Counter>();
  nlohmann::detail::serializer<nlohmann::json> serializer(counter, ' ');
  serializer.dump(j, false, false, 0);
  return counter->n;
}

inline bool is_priority0_partial(const std::string& line) {
  if (line.find("partial_checkpoint_complete") == std::string::npos) return false;
  auto j = nlohmann::json::parse(line, nullptr, false);
  return !j.is_discarded() && j.contains("partial_checkpoint_complete") &&
         j["partial_checkpoint_complete"].value("priority", -1) == 0;
}

inline std::optional<int64_t> optional_int(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return std::nullopt;
  return j[key].get<int64_t>();
}

// The start payload's checkpoint_mode (docs/protocol.md §2.1.4): "requests" for both requests
// forms.
inline const char* checkpoint_mode_name(CheckpointMode mode) {
  return mode == CheckpointMode::Legacy ? "legacy" : "requests";
}

// Counts a checkpoint request on the wire until its coroutine leaves the await (answered,
// failed, aborted or destroyed).
struct InFlight {
  int& count;
  ~InFlight() { --count; }
};

inline std::optional<int64_t> parse_id(const nlohmann::json& j) {
  if (j.is_string()) return std::stoll(j.get<std::string>());
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}

}  // namespace syncsim::engine::shim_detail
