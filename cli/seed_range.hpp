// Seed ranges on the command line: `--seeds A..B` (A <= B) and `--shard i/n` (1 <= i <= n).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>

namespace syncsim::cli {

struct SeedRange {
  uint64_t first = 1;
  uint64_t last = 1;
};

inline std::optional<SeedRange> parse_seeds(const std::string& text) {
  static const std::regex kRange(R"(^([0-9]{1,18})\.\.([0-9]{1,18})$)");
  std::smatch m;
  if (!std::regex_match(text, m, kRange)) return std::nullopt;
  SeedRange r{std::stoull(m[1]), std::stoull(m[2])};
  if (r.last < r.first) return std::nullopt;
  return r;
}

struct Shard {
  uint64_t index = 1;  // 1-based
  uint64_t count = 1;
  // Shard i/n takes every n-th seed of a range, starting with its i-th.
  [[nodiscard]] bool takes(const SeedRange& r, uint64_t seed) const {
    return (seed - r.first) % count == index - 1;
  }
};

inline std::optional<Shard> parse_shard(const std::string& text) {
  static const std::regex kShard(R"(^([0-9]{1,6})/([0-9]{1,6})$)");
  std::smatch m;
  if (!std::regex_match(text, m, kShard)) return std::nullopt;
  Shard s{std::stoull(m[1]), std::stoull(m[2])};
  if (s.count == 0 || s.index == 0 || s.index > s.count) return std::nullopt;
  return s;
}

}  // namespace syncsim::cli
