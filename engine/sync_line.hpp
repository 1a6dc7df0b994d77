// A sync line as JSON text, whichever way it reached the core: powersync_control('line_text')
// carries it as text (NDJSON), 'line_binary' as one BSON document (the content type the real
// SDK negotiates first, engine/js/).  Checkers that read lines use this so they see both.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/bson_text.hpp"
#include "engine/wire_numbers.hpp"

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

// A sync line's key without decoding it (issue 20): observers that want only some line types skip
// the others (data lines, most of a stream) before paying for their text.  A line_text payload's
// first key (the text after `{"`); a line_binary document's name of its one element, when that
// element spans the document and its value is a document, array, string or integer.  nullopt when
// not a line or unsure (several elements, a key other than [a-z0-9_], a malformed document): the
// caller then reads the text.  The service's lines are one-key objects (docs/protocol.md §1.3.2),
// so either key is what the line's text starts with.
inline std::optional<std::string_view> sync_line_key(const std::string& op,
                                                     const std::optional<std::string>& payload) {
  if (!payload) return std::nullopt;
  const std::string_view p = *payload;
  auto plain = [](std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
  };
  if (op == "line_text") {
    if (p.size() < 2 || p[0] != '{' || p[1] != '"') return std::nullopt;
    const auto end = p.find('"', 2);
    if (end == std::string_view::npos || !plain(p.substr(2, end - 2))) return std::nullopt;
    return p.substr(2, end - 2);
  }
  if (op != "line_binary") return std::nullopt;
  auto int32_at = [&](std::size_t at) {
    return static_cast<std::size_t>(little_endian_at<uint32_t>(p, at));
  };
  // int32 size, one element (type, name, value), the terminating 0.
  if (p.size() < 7 || int32_at(0) != p.size() || p.back() != '\0') return std::nullopt;
  const auto name_end = p.find('\0', 5);
  if (name_end == std::string_view::npos || !plain(p.substr(5, name_end - 5))) return std::nullopt;
  const std::size_t value = name_end + 1;
  std::size_t value_size = 0;
  switch (p[4]) {
    case 0x03:  // document
    case 0x04:  // array
      if (value + 4 > p.size()) return std::nullopt;
      value_size = int32_at(value);
      break;
    case 0x02:  // string: int32 length (with its 0), the bytes
      if (value + 4 > p.size()) return std::nullopt;
      value_size = 4 + int32_at(value);
      break;
    case 0x10:  // int32
      value_size = 4;
      break;
    case 0x12:  // int64
      value_size = 8;
      break;
    default:
      return std::nullopt;
  }
  if (value + value_size != p.size() - 1) return std::nullopt;
  return p.substr(5, name_end - 5);
}
// The key is a view into the payload: a temporary payload (a plain std::string converted) would
// leave it dangling, so that call does not compile.
std::optional<std::string_view> sync_line_key(const std::string& op,
                                              std::optional<std::string>&& payload) = delete;

}  // namespace syncsim::engine
