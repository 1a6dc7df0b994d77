// A line_binary sync line's write_checkpoint read from its BSON bytes, without its text (issue 20,
// docs/performance-framework-4.md): apart from engine/sync_line.hpp, which most of the project
// includes, so that only engine/sdk_shim.cpp (Client::bson_line_write_checkpoint, read by
// scenarios/explore/sometimes.cpp and scenarios/results/run_recorder.cpp) and its test depend on
// it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/wire_numbers.hpp"

namespace syncsim::engine {

namespace sync_line_detail {

// Walks a BSON document's elements from `at` (its int32 size), noting the value of `wanted` among
// its own elements into `found` (type and value bytes); false when unsure: a malformed document, a
// type not walked, `wanted` twice or in a nested document (where the line's text would show it
// too).
inline bool walk(std::string_view p, std::size_t at, std::string_view wanted, bool top,
                 std::optional<std::pair<char, std::string_view>>& found) {
  auto int32_at = [&](std::size_t i) {
    return static_cast<std::size_t>(little_endian_at<uint32_t>(p, i));
  };
  if (at + 5 > p.size()) return false;
  const std::size_t end = at + int32_at(at);
  if (end > p.size() || end < at + 5 || p[end - 1] != '\0') return false;
  std::size_t i = at + 4;
  while (i < end - 1) {
    const char type = p[i];
    const auto name_end = p.find('\0', i + 1);
    if (name_end == std::string_view::npos || name_end >= end - 1) return false;
    const std::string_view name = p.substr(i + 1, name_end - i - 1);
    const std::size_t value = name_end + 1;
    std::size_t size = 0;
    switch (type) {
      case 0x01:
      case 0x12:
        size = 8;
        break;  // double, int64
      case 0x10:
        size = 4;
        break;  // int32
      case 0x08:
        size = 1;
        break;  // boolean
      case 0x0A:
        size = 0;
        break;    // null
      case 0x02:  // string
        if (value + 4 > end) return false;
        size = 4 + int32_at(value);
        break;
      case 0x03:
      case 0x04:  // document, array
        if (!walk(p, value, wanted, false, found)) return false;
        size = int32_at(value);
        break;
      default:
        return false;
    }
    if (value + size > end - 1) return false;
    if (name == wanted) {
      if (!top || found) return false;
      found.emplace(type, p.substr(value, size));
    }
    i = value + size;
  }
  return i == end - 1;
}

}  // namespace sync_line_detail

// A line_binary checkpoint or checkpoint_diff line's write_checkpoint as the line's text would give
// it to scenarios/world/sync_lines.hpp's write_checkpoint_of (the digits after the key and its
// quote), without the text (issue 20): the inner nullopt when it has none or no digits; nullopt
// when unsure (a value that is not a string or an integer, the key nested, a malformed document),
// and the caller reads the text.  `payload` is one whose sync_line_key was given.
inline std::optional<std::optional<int64_t>> bson_line_write_checkpoint(std::string_view p) {
  const auto name_end = p.find('\0', 5);
  if (name_end == std::string_view::npos) return std::nullopt;
  std::optional<std::pair<char, std::string_view>> found;
  if (!sync_line_detail::walk(p, name_end + 1, "write_checkpoint", true, found)) {
    return std::nullopt;
  }
  if (!found) return std::optional<int64_t>();
  const auto [type, value] = *found;
  if (type == 0x02) {
    if (value.size() < 5) return std::nullopt;
    // The bytes before the string's 0; the text's quote is not among them, its spaces are.
    return leading_digits(value.substr(4, value.size() - 5), " ");
  }
  if (type == 0x10 || type == 0x12) {
    const int64_t v =
        type == 0x10 ? little_endian_at<int32_t>(value, 0) : little_endian_at<int64_t>(value, 0);
    return v < 0 ? std::nullopt : std::optional<int64_t>(v);  // "-..." has no digits first
  }
  if (type == 0x0A || type == 0x08 || type == 0x03 || type == 0x04) return std::optional<int64_t>();
  return std::nullopt;  // a double: dump()'s digits, left to the text
}

}  // namespace syncsim::engine
