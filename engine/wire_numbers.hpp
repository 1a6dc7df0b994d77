// Numbers read from the sync protocol's bytes and texts, in one place (issue 20, D3 of
// docs/performance-framework-6.md): a BSON document's little-endian integers
// (engine/bson_text.hpp, engine/sync_line.hpp, engine/sync_line_peek.hpp) and a line's leading
// digits (engine/sync_line_peek.hpp, scenarios/world/sync_lines.hpp), which must agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace syncsim::engine {

// The integer T whose little-endian bytes start at `at` (the caller checked they are there).
template <class T>
T little_endian_at(std::string_view bytes, std::size_t at) {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    u |= static_cast<U>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return static_cast<T>(u);
}

// The decimal digits `text` starts with once any of the characters `skipped` are passed over;
// nullopt when there are none.  More digits than int64 holds wrap, as they always did here.
inline std::optional<int64_t> leading_digits(std::string_view text, std::string_view skipped) {
  std::size_t i = 0;
  while (i < text.size() && skipped.find(text[i]) != std::string_view::npos) ++i;
  uint64_t v = 0;
  const std::size_t first = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') v = v * 10 + (text[i++] - '0');
  return i == first ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(v));
}

}  // namespace syncsim::engine
