// Reading sync-stream lines the service sent, without parsing the JSON (observers run on
// every line a client receives).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace syncsim::scenarios {

// The write_checkpoint of a checkpoint line.  Lines are the service's own compact JSON.
inline std::optional<int64_t> write_checkpoint_of(const std::string& line) {
  static const std::string kKey = "\"write_checkpoint\":";
  auto pos = line.find(kKey);
  if (pos == std::string::npos) return std::nullopt;
  pos += kKey.size();
  while (pos < line.size() && (line[pos] == '"' || line[pos] == ' ')) ++pos;
  int64_t v = 0;
  bool any = false;
  while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') {
    v = v * 10 + (line[pos++] - '0');
    any = true;
  }
  return any ? std::optional<int64_t>(v) : std::nullopt;
}

}  // namespace syncsim::scenarios
