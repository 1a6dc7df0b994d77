// The core's last sync status (UpdateSyncStatus, powersync_offline_sync_status()): a tree, or the
// canonical text parse_control_reply kept for it (engine/control_reply.hpp), parsed only when
// someone reads the tree -- a run reads three of its fields per update and the tree rarely
// (docs/performance-framework.md "(perf15)").
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncsim::engine {

class StatusTree {
 public:
  StatusTree& operator=(nlohmann::json tree) {
    tree_ = std::move(tree);
    raw_.clear();
    has_raw_ = false;
    return *this;
  }
  // `raw`: a canonical JSON object (reply_detail::CanonicalScan accepted it), as the bytes the
  // reply's binary value held (moved in, not copied).
  void set_raw(std::vector<std::uint8_t>&& raw) {
    raw_ = std::move(raw);
    has_raw_ = true;
  }
  void set_raw(std::string_view raw) { set_raw(std::vector<std::uint8_t>(raw.begin(), raw.end())); }
  [[nodiscard]] const nlohmann::json& tree() const {
    if (has_raw_) {
      tree_ = nlohmann::json::parse(raw_.begin(), raw_.end());
      raw_.clear();
      has_raw_ = false;
    }
    return tree_;
  }
  operator const nlohmann::json&() const { return tree(); }  // NOLINT: reads as the tree it was

 private:
  mutable nlohmann::json tree_;
  mutable std::vector<std::uint8_t> raw_;
  mutable bool has_raw_ = false;
};

// The texts of members `keys` of the canonical JSON object `object` (top level only), in one pass
// over it (handle_instruction reads three per status update; a pass per key was ~3 M instructions
// of a basic.json run, perf21); nullopt for an absent one.  Canonical: strings hold no escapes, so
// a quote always ends one, and keys are unique.
template <std::size_t N>
std::array<std::optional<std::string_view>, N> raw_members(
    std::string_view object, const std::array<std::string_view, N>& keys) {
  std::array<std::optional<std::string_view>, N> out{};
  std::size_t found = 0;
  int depth = 0;
  std::size_t i = 0;
  const std::size_t n = object.size();
  while (i < n) {
    const char c = object[i];
    if (c == '"') {
      const std::size_t close = object.find('"', i + 1);
      if (close == std::string_view::npos) return out;
      const bool is_key = depth == 1 && close + 1 < n && object[close + 1] == ':';
      const std::string_view name = object.substr(i + 1, close - i - 1);
      std::size_t k = 0;
      while (is_key && k < N && (out[k] || keys[k] != name)) ++k;
      if (is_key && k < N) {
        // The value runs to the comma or brace that ends this member at depth 1.
        const std::size_t start = close + 2;
        std::size_t j = start;
        int inner = 0;
        while (j < n) {
          const char d = object[j];
          if (d == '"') {
            j = object.find('"', j + 1);
            if (j == std::string_view::npos) return out;
          } else if (d == '{' || d == '[') {
            ++inner;
          } else if (d == '}' || d == ']') {
            if (inner == 0) break;
            --inner;
          } else if (d == ',' && inner == 0) {
            break;
          }
          ++j;
        }
        out[k] = object.substr(start, j - start);
        if (++found == N) return out;
        i = j;
        continue;
      }
      i = close + 1;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ++i;
  }
  return out;
}

// The text of member `key` of the canonical JSON object `object` (top level only); nullopt when
// absent.
inline std::optional<std::string_view> raw_member(std::string_view object, std::string_view key) {
  return raw_members<1>(object, {key})[0];
}

// What engine/sdk_shim_internal.hpp's parse_id() gives for the canonical JSON value `text`,
// without its tree, for the forms the core writes: null, an integer, a string of digits (stoll's
// value).  nullopt when unsure (a float, an integer out of int64's range, any other string): the
// caller parses (a parse per status was 1.8 M instructions of a basic.json run,
// docs/performance-framework-6.md).
inline std::optional<std::optional<int64_t>> raw_request_id(std::string_view text) {
  if (text == "null") return std::optional<int64_t>();
  const bool quoted = text.size() >= 2 && text.front() == '"' && text.back() == '"';
  const std::string_view digits = quoted ? text.substr(1, text.size() - 2) : text;
  const std::size_t first = !quoted && !digits.empty() && digits[0] == '-' ? 1 : 0;
  // Up to 18 digits cannot overflow; a string's leading zeros are stoll's too.
  if (digits.size() <= first || digits.size() - first > 18) return std::nullopt;
  for (std::size_t i = first; i < digits.size(); ++i) {
    if (digits[i] < '0' || digits[i] > '9') return std::nullopt;
  }
  int64_t v = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), v);
  return std::optional<int64_t>(v);
}

}  // namespace syncsim::engine
