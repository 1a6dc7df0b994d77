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
// dump was ~2 % of a basic.json run).  A walk that counts what dump() writes; strings with
// anything to escape or non-ASCII, and floats, are counted by the serializer itself.
inline std::size_t serialized_size(const nlohmann::json& j) {
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

inline std::size_t quoted_size(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') return serialized_size(nlohmann::json(s));
  }
  return s.size() + 2;
}

inline std::size_t dumped_size(const nlohmann::json& j) {
  auto digits = [](uint64_t v) {
    std::size_t n = 1;
    while (v >= 10) {
      v /= 10;
      ++n;
    }
    return n;
  };
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      const auto& members = j.get_ref<const nlohmann::json::object_t&>();
      std::size_t n = members.empty() ? 2 : 2 * members.size() + 1;  // braces, colons, commas
      for (const auto& [k, v] : members) n += quoted_size(k) + dumped_size(v);
      return n;
    }
    case nlohmann::json::value_t::array: {
      const auto& items = j.get_ref<const nlohmann::json::array_t&>();
      std::size_t n = items.empty() ? 2 : items.size() + 1;  // brackets and commas
      for (const auto& v : items) n += dumped_size(v);
      return n;
    }
    case nlohmann::json::value_t::string:
      return quoted_size(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? 4 : 5;
    case nlohmann::json::value_t::null:
      return 4;
    case nlohmann::json::value_t::number_unsigned:
      return digits(j.get<uint64_t>());
    case nlohmann::json::value_t::number_integer: {
      const int64_t v = j.get<int64_t>();
      return v < 0 ? 1 + digits(0 - static_cast<uint64_t>(v)) : digits(static_cast<uint64_t>(v));
    }
    default:
      return serialized_size(j);
  }
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
