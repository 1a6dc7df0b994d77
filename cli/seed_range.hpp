// Seed ranges on the command line: `--seed N`, `--seeds A..B` (A <= B) and `--shard i/n`
// (1 <= i <= n).  Seeds are checked unsigned 64-bit numbers (no sign, no wrap, no clamp), and
// a range is walked without ever stepping past its last seed (issue 19: `--seed -1` wrapped
// to 2^64-1 and `s <= last; ++s` then never ended).
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>

#include <fmt/format.h>

namespace syncsim::cli {

// How many seeds one command may run; a bigger range is refused (split it, or --shard).
constexpr uint64_t kMaxSeedsPerCommand = 1'000'000;

struct SeedRange {
  uint64_t first = 1;
  uint64_t last = 1;
  // last - first + 1, saturated at UINT64_MAX (0..2^64-1 has 2^64 seeds).
  [[nodiscard]] uint64_t count() const {
    const uint64_t span = last - first;
    return span == std::numeric_limits<uint64_t>::max() ? span : span + 1;
  }
};

// Calls f(seed) for first..last in order; never wraps past UINT64_MAX.
template <typename F>
void for_each_seed(const SeedRange& r, F&& f) {
  for (uint64_t s = r.first;; ++s) {
    f(s);
    if (s == r.last) break;
  }
}

// A decimal 0..2^64-1 with no sign, no spaces, at most 20 digits.
inline std::optional<uint64_t> parse_seed_number(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

inline std::optional<SeedRange> parse_seeds(const std::string& text) {
  const auto dots = text.find("..");
  if (dots == std::string::npos) return std::nullopt;
  const auto first = parse_seed_number(text.substr(0, dots));
  const auto last = parse_seed_number(text.substr(dots + 2));
  if (!first || !last || *last < *first) return std::nullopt;
  return SeedRange{*first, *last};
}

// "" or the message for a bad `--seed` value.
inline std::string seed_error(const std::string& flag, const std::string& text, SeedRange& out) {
  const auto v = parse_seed_number(text);
  if (!v) {
    return fmt::format("{}: '{}' is not a seed; allowed: an integer 0..{}", flag, text,
                       std::numeric_limits<uint64_t>::max());
  }
  out = {*v, *v};
  return "";
}

// "" or the message for a bad `--seeds` value (including a range of more than `max_seeds`).
inline std::string seeds_error(const std::string& flag, const std::string& text, SeedRange& out,
                               uint64_t max_seeds = kMaxSeedsPerCommand) {
  const auto r = parse_seeds(text);
  if (!r) {
    return fmt::format("{}: '{}' is not a range; expected A..B with 0 <= A <= B <= {}", flag, text,
                       std::numeric_limits<uint64_t>::max());
  }
  if (r->count() > max_seeds) {
    return fmt::format(
        "{}: '{}' has {} seeds; allowed: at most {} per command (split the range or use "
        "--shard)",
        flag, text, r->count(), max_seeds);
  }
  out = *r;
  return "";
}

struct Shard {
  uint64_t index = 1;  // 1-based
  uint64_t count = 1;
  // Shard i/n takes every n-th seed of a range, starting with its i-th.
  [[nodiscard]] bool takes(const SeedRange& r, uint64_t seed) const {
    return (seed - r.first) % count == index - 1;
  }
  // How many seeds of `r` this shard takes.
  [[nodiscard]] uint64_t seeds_in(const SeedRange& r) const {
    const uint64_t n = r.count();
    return n / count + (n % count >= index ? 1 : 0);
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
