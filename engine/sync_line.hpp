// A sync line as JSON text, whichever way it reached the core: powersync_control('line_text')
// carries it as text (NDJSON), 'line_binary' as one BSON document (the content type the real
// SDK negotiates first, engine/js/).  Checkers that read lines use this so they see both.
#pragma once

#include <cassert>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/bson_text.hpp"

namespace syncsim::engine {

// The sync stream's two content types, and the accept header the SDKs that negotiate BSON send
// (docs/protocol.md §2.1.6: BSON with q=0.9, NDJSON with q=0.8).
inline constexpr const char* kBsonStreamContentType = "application/vnd.powersync.bson-stream";
inline constexpr const char* kNdjsonContentType = "application/x-ndjson";
inline constexpr const char* kBsonFirstAccept =
    "application/vnd.powersync.bson-stream;q=0.9,application/x-ndjson;q=0.8";

inline std::optional<std::string> sync_line_text(const std::string& op,
                                                 const std::optional<std::string>& payload) {
  if (!payload) return std::nullopt;
  if (op == "line_text") return payload;
  if (op != "line_binary") return std::nullopt;
  // Straight to text when that is certain to be dump()'s (engine/bson_text.hpp).
  std::string text;
  if (bson_to_json_text(*payload, text)) {
    assert(text == nlohmann::json::from_bson(payload->begin(), payload->end()).dump());
    return text;
  }
  auto line = nlohmann::json::from_bson(payload->begin(), payload->end(), true, false);
  if (line.is_discarded()) return std::nullopt;
  return line.dump();
}

}  // namespace syncsim::engine
