// Reading sync-stream lines the service sent, without parsing the JSON (observers run on
// every line a client receives).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/wire_numbers.hpp"

namespace syncsim::scenarios {

// The write_checkpoint of a checkpoint line.  Lines are the service's own compact JSON.
inline std::optional<int64_t> write_checkpoint_of(const std::string& line) {
  static const std::string kKey = "\"write_checkpoint\":";
  auto pos = line.find(kKey);
  if (pos == std::string::npos) return std::nullopt;
  return engine::leading_digits(std::string_view(line).substr(pos + kKey.size()), "\" ");
}

}  // namespace syncsim::scenarios
