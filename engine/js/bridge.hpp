// The C++ side of the js-real bridge (issue 16).  Its JavaScript twin, engine/js/bridge.mjs,
// documents every message; both carry kProtocolVersion and a host that answers `init` with
// another version is refused.  Transport: the host's stdin/stdout, one JSON object per line;
// bytes travel as {"b64": "..."}.
//
// Events (C++ -> host) are message-based: each is followed by a drain in which the host may
// make synchronous calls (sql, touched, credentials, draw: C++ answers at once, the host blocks),
// reply-less calls C++ runs in order (a `noreply` sql whose result the host knows, uploaded,
// log) and asynchronous requests (fetch, abort, notice: C++ acts after the drain), and which
// ends with {op:"idle", next_timer}.  The sim delivers the next event only after `idle`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/sync_line.hpp"

namespace syncsim::engine::js {

inline constexpr int kProtocolVersion = 5;

// The content types the sync service negotiates (AbstractRemote.fetchStreamRaw asks for
// BSON with q=0.9, NDJSON with q=0.8).
inline constexpr const char* kBsonStream = kBsonStreamContentType;  // engine/sync_line.hpp
inline constexpr const char* kNdjson = kNdjsonContentType;

std::string base64_encode(const std::string& bytes);
std::string base64_decode(const std::string& text);  // throws std::invalid_argument

// {"b64": ...} for bytes.
inline nlohmann::json bytes_value(const std::string& bytes) {
  return nlohmann::json{{"b64", base64_encode(bytes)}};
}
// A wire value that is bytes (nullopt for anything else): {"b64": ...}, or a binary value
// (engine/js/host_message.hpp decodes it while parsing).
inline std::optional<std::string> as_bytes(const nlohmann::json& v) {
  if (v.is_binary()) return std::string(v.get_binary().begin(), v.get_binary().end());
  if (v.is_object() && v.contains("b64") && v["b64"].is_string()) {
    return base64_decode(v["b64"].get<std::string>());
  }
  return std::nullopt;
}
// A wire value that is text or bytes, as its bytes (nullopt for anything else).
inline std::optional<std::string> text_or_bytes(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return as_bytes(v);
}

}  // namespace syncsim::engine::js
