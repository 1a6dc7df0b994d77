// A powersync_control reply (a JSON array of instructions) parsed into the trees
// nlohmann::json::parse() gives (issue 20, docs/performance-framework.md "(perf13)"): parse() was
// ~5 % of a basic.json run.  This parser takes only the subset the core writes -- strings without
// escapes or non-ASCII, integers -- and builds the same values (unsigned for integers >= 0,
// signed below, the last of duplicate keys); on anything else it gives up and the whole reply
// goes through parse(), so unusual replies and parse errors are parse()'s own.
//
// With RawStatus::Keep, an UpdateSyncStatus instruction whose status is canonical JSON (the bytes
// dump() writes back for it: no whitespace, escapes, non-ASCII, fractions or duplicate keys) keeps
// the status as its text, in a binary value -- {"UpdateSyncStatus":{"status":<binary>}} -- which no
// JSON text parses to; Client::handle_instruction reads three fields of it and the tree is built
// only when someone asks for it (engine/status_text.hpp; docs/performance-framework.md "(perf15)").
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::engine {

// The instruction's text around a kept status.
inline constexpr std::string_view kKeptStatusHead = R"({"UpdateSyncStatus":{"status":)";
inline constexpr std::string_view kKeptStatusTail = "}}";

// The members of a kept status that Client::handle_instruction reads, found by the scan that
// checks the status (a second pass over every status was 2.9 M instructions of a basic.json run,
// docs/performance-framework-6.md), carried in the kept binary's subtype: for `connected` and
// `connecting` whether each is absent, false, true or another value; for the applied request id
// whether it is there and where its value's text is in the status.  A status too large for the
// packing keeps no subtype, and the reader scans it (engine/status_text.hpp's raw_members).
struct KeptStatusMembers {
  enum class Flag : std::uint8_t { Absent, False, True, Other };
  Flag connected = Flag::Absent;
  Flag connecting = Flag::Absent;
  bool has_id = false;
  std::uint32_t id_offset = 0;  // in the status text
  std::uint32_t id_size = 0;

  static constexpr std::uint64_t kMaxIdOffset = (std::uint64_t{1} << 32) - 1;
  static constexpr std::uint64_t kMaxIdSize = (std::uint64_t{1} << 23) - 1;

  [[nodiscard]] std::uint64_t packed() const {
    return static_cast<std::uint64_t>(connected) | static_cast<std::uint64_t>(connecting) << 2 |
           static_cast<std::uint64_t>(has_id) << 4 | std::uint64_t{id_offset} << 8 |
           std::uint64_t{id_size} << 40;
  }
  static KeptStatusMembers unpacked(std::uint64_t v) {
    KeptStatusMembers m;
    m.connected = static_cast<Flag>(v & 3);
    m.connecting = static_cast<Flag>((v >> 2) & 3);
    m.has_id = ((v >> 4) & 1) != 0;
    m.id_offset = static_cast<std::uint32_t>(v >> 8);
    m.id_size = static_cast<std::uint32_t>((v >> 40) & kMaxIdSize);
    return m;
  }
};

namespace reply_detail {

struct GiveUp {};

// Skips one value of canonical JSON (see above) from `p`; the position after it, or null.  The
// caller first checks the text with plain_ascii(), so strings end at the next quote.
class CanonicalScan {
 public:
  explicit CanonicalScan(const char* end) : end_(end) {}
  // Also notes the KeptStatusMembers of the top-level object, which starts at `start`, into
  // `members`; members_fit() then says whether they can be packed.
  CanonicalScan(const char* start, const char* end, KeptStatusMembers* members)
      : end_(end), members_(members), status_start_(start) {}

  bool members_fit() {
    if (members_ == nullptr || !members_->has_id) return true;
    if (offset_ > KeptStatusMembers::kMaxIdOffset || size_ > KeptStatusMembers::kMaxIdSize) {
      return false;
    }
    members_->id_offset = static_cast<std::uint32_t>(offset_);
    members_->id_size = static_cast<std::uint32_t>(size_);
    return true;
  }

  // No control characters (whitespace other than ' ' included), escapes or non-ASCII bytes.
  static bool plain_ascii(const char* p, const char* end) {
    // Eight bytes at a time: a byte >= 0x80, a byte < 0x20, a zero byte of w ^ '\\'
    // (the "has less than" and "has zero" bit tricks; exact, no false positives).
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    uint64_t bad = 0;
    for (; end - p >= 8; p += 8) {
      uint64_t w = 0;
      std::memcpy(&w, p, 8);
      const uint64_t slash = w ^ (kOnes * '\\');
      bad |= (w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) | ((slash - kOnes) & ~slash & kHigh);
    }
    for (; p != end; ++p) {
      const auto u = static_cast<unsigned char>(*p);
      bad |= static_cast<uint64_t>(u < 0x20 || u >= 0x80 || u == '\\');
    }
    return bad == 0;
  }

  const char* value(const char* p, int depth) {
    if (p == end_ || depth > 64) return nullptr;
    switch (*p) {
      case '{':
        return object(p, depth);
      case '[':
        return array(p, depth);
      case '"':
        return string(p);
      case 't':
        return literal(p, "true");
      case 'f':
        return literal(p, "false");
      case 'n':
        return literal(p, "null");
      default:
        return number(p);
    }
  }

 private:
  static constexpr std::size_t kFewKeys = 24;

  const char* object(const char* p, int depth) {
    ++p;
    if (p != end_ && *p == '}') return p + 1;
    std::string_view keys[kFewKeys];
    std::size_t count = 0;
    while (true) {
      if (p == end_ || *p != '"') return nullptr;
      const char* key_end = string(p);
      if (key_end == nullptr || key_end == end_ || *key_end != ':') return nullptr;
      // A duplicate key would be one member in the tree: dump() would write fewer bytes.
      const std::string_view key(p + 1, static_cast<std::size_t>(key_end - p - 2));
      if (count == kFewKeys) return nullptr;  // a large object: parse() (not the core's status)
      for (std::size_t i = 0; i < count; ++i) {
        if (keys[i] == key) return nullptr;
      }
      keys[count++] = key;
      const char* start = key_end + 1;
      p = value(start, depth + 1);
      if (p == nullptr || p == end_) return nullptr;
      if (depth == 0 && members_ != nullptr) note_member(key, start, p);
      if (*p == '}') return p + 1;
      if (*p++ != ',') return nullptr;
    }
  }

  const char* array(const char* p, int depth) {
    ++p;
    if (p != end_ && *p == ']') return p + 1;
    while (true) {
      p = value(p, depth + 1);
      if (p == nullptr || p == end_) return nullptr;
      if (*p == ']') return p + 1;
      if (*p++ != ',') return nullptr;
    }
  }

  const char* string(const char* p) {
    const void* close = std::memchr(p + 1, '"', static_cast<std::size_t>(end_ - p - 1));
    return close == nullptr ? nullptr : static_cast<const char*>(close) + 1;
  }

  // Integers as dump() writes them: no leading zero, no "-0", in int64/uint64 range.
  const char* number(const char* p) {
    const char* start = p;
    const bool negative = *p == '-';
    if (negative) ++p;
    const char* digits = p;
    while (p != end_ && *p >= '0' && *p <= '9') ++p;
    if (p == digits || (*digits == '0' && (p - digits > 1 || negative))) return nullptr;
    if (p != end_ && (*p == '.' || *p == 'e' || *p == 'E')) return nullptr;
    std::from_chars_result r{};
    if (negative) {
      int64_t v = 0;
      r = std::from_chars(start, p, v);
    } else {
      uint64_t v = 0;
      r = std::from_chars(start, p, v);
    }
    return r.ec == std::errc() && r.ptr == p ? p : nullptr;
  }

  const char* literal(const char* p, std::string_view word) {
    if (static_cast<std::size_t>(end_ - p) < word.size() ||
        std::string_view(p, word.size()) != word) {
      return nullptr;
    }
    return p + word.size();
  }

  // A top-level member whose value runs from `start` to `stop`; keys are unique (checked above).
  void note_member(std::string_view key, const char* start, const char* stop) {
    using Flag = KeptStatusMembers::Flag;
    const std::string_view value(start, static_cast<std::size_t>(stop - start));
    auto flag = [&] {
      return value == "true" ? Flag::True : value == "false" ? Flag::False : Flag::Other;
    };
    if (key == "connected") {
      members_->connected = flag();
    } else if (key == "connecting") {
      members_->connecting = flag();
    } else if (key == "internal_last_applied_checkpoint_request_id") {
      members_->has_id = true;
      offset_ = static_cast<std::uint64_t>(start - status_start_);
      size_ = value.size();
    }
  }

  const char* end_;
  KeptStatusMembers* members_ = nullptr;
  const char* status_start_ = nullptr;
  std::uint64_t offset_ = 0;
  std::uint64_t size_ = 0;
};

class Parser {
 public:
  Parser(std::string_view s, bool keep_status)
      : p_(s.data()), end_(s.data() + s.size()), keep_status_(keep_status) {}

  std::vector<nlohmann::json> reply() {
    skip_ws();
    if (p_ == end_ || *p_ != '[') throw GiveUp{};
    nlohmann::json j = array(0);
    skip_ws();
    if (p_ != end_) throw GiveUp{};
    return std::move(j.get_ref<nlohmann::json::array_t&>());
  }

 private:
  static constexpr int kMaxDepth = 64;  // deeper: parse(), which does not recurse

  nlohmann::json value(int depth) {
    skip_ws();
    if (p_ == end_) throw GiveUp{};
    switch (*p_) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return nlohmann::json(string());
      case 't':
        literal("true");
        return true;
      case 'f':
        literal("false");
        return false;
      case 'n':
        literal("null");
        return nullptr;
      default:
        return number();
    }
  }

  nlohmann::json object(int depth) {
    if (depth > kMaxDepth) throw GiveUp{};
    ++p_;
    nlohmann::json j(nlohmann::json::value_t::object);
    auto& members = j.get_ref<nlohmann::json::object_t&>();
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return j;
    }
    while (true) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') throw GiveUp{};
      std::string key = string();
      skip_ws();
      if (p_ == end_ || *p_ != ':') throw GiveUp{};
      ++p_;
      members.insert_or_assign(std::move(key), value(depth + 1));  // parse(): the last wins
      if (end_of_member('}')) return j;
    }
  }

  nlohmann::json array(int depth) {
    if (depth > kMaxDepth) throw GiveUp{};
    ++p_;
    nlohmann::json j(nlohmann::json::value_t::array);
    auto& items = j.get_ref<nlohmann::json::array_t&>();
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return j;
    }
    while (true) {
      if (depth == 0 && keep_status_ && kept_status(items)) {
        if (end_of_member(']')) return j;
        continue;
      }
      items.push_back(value(depth + 1));
      if (end_of_member(']')) return j;
    }
  }

  // {"UpdateSyncStatus":{"status":<canonical object>}} at p_: appended with the status kept.
  bool kept_status(std::vector<nlohmann::json>& items) {
    if (static_cast<std::size_t>(end_ - p_) < kKeptStatusHead.size() ||
        std::string_view(p_, kKeptStatusHead.size()) != kKeptStatusHead) {
      return false;
    }
    const char* start = p_ + kKeptStatusHead.size();
    if (start == end_ || *start != '{') return false;
    if (!checked_ascii_) {
      if (!CanonicalScan::plain_ascii(p_, end_)) {
        keep_status_ = false;  // an escape or UTF-8 in the rest of the reply: trees
        return false;
      }
      checked_ascii_ = true;
    }
    KeptStatusMembers members;
    CanonicalScan scan(start, end_, &members);
    const char* stop = scan.value(start, 0);
    if (stop == nullptr || static_cast<std::size_t>(end_ - stop) < kKeptStatusTail.size() ||
        std::string_view(stop, kKeptStatusTail.size()) != kKeptStatusTail) {
      return false;
    }
    // Bytes from bytes: a char range into a uint8_t vector was a byte loop (1.8 M instructions
    // of a basic.json run, docs/performance-framework-6.md); one memcpy.
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(start);
    nlohmann::json inner(nlohmann::json::value_t::object);
    std::vector<std::uint8_t> status(bytes, bytes + (stop - start));
    inner.get_ref<nlohmann::json::object_t&>().emplace(
        "status", scan.members_fit() ? nlohmann::json::binary(std::move(status), members.packed())
                                     : nlohmann::json::binary(std::move(status)));
    nlohmann::json instruction(nlohmann::json::value_t::object);
    instruction.get_ref<nlohmann::json::object_t&>().emplace("UpdateSyncStatus", std::move(inner));
    items.push_back(std::move(instruction));
    p_ = stop + kKeptStatusTail.size();
    return true;
  }

  // After a member: true at the closing bracket, false after a comma.
  bool end_of_member(char close) {
    skip_ws();
    if (p_ == end_) throw GiveUp{};
    const char c = *p_++;
    if (c == close) return true;
    if (c != ',') throw GiveUp{};
    return false;
  }

  std::string string() {
    const char* start = ++p_;
    while (p_ != end_) {
      const auto u = static_cast<unsigned char>(*p_);
      if (u == '"') return std::string(start, p_++);
      if (u < 0x20 || u >= 0x80 || u == '\\') throw GiveUp{};  // escapes, UTF-8: parse()
      ++p_;
    }
    throw GiveUp{};
  }

  nlohmann::json number() {
    const char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    const char* digits = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    // No digits, a leading zero, a fraction or an exponent: parse().
    if (p_ == digits || (*digits == '0' && p_ - digits > 1)) throw GiveUp{};
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) throw GiveUp{};
    if (negative) {
      int64_t v = 0;
      auto r = std::from_chars(start, p_, v);
      if (r.ec != std::errc() || r.ptr != p_) throw GiveUp{};  // out of range: parse()'s double
      return nlohmann::json(v);
    }
    uint64_t v = 0;
    auto r = std::from_chars(start, p_, v);
    if (r.ec != std::errc() || r.ptr != p_) throw GiveUp{};
    return nlohmann::json(v);
  }

  void literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      throw GiveUp{};
    }
    p_ += word.size();
  }

  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  const char* p_;
  const char* end_;
  bool keep_status_;
  bool checked_ascii_ = false;  // the rest of the reply from the first status on is plain ASCII
};

}  // namespace reply_detail

enum class RawStatus { Parse, Keep };

// The elements of the JSON array `text`, as nlohmann::json::parse(text) gives them (its
// parse_error, type_error for a non-array, on bad input); with RawStatus::Keep, canonical
// UpdateSyncStatus statuses as their text (above).
inline std::vector<nlohmann::json> parse_control_reply(const std::string& text,
                                                       RawStatus status = RawStatus::Parse) {
  try {
    return reply_detail::Parser(text, status == RawStatus::Keep).reply();
  } catch (const reply_detail::GiveUp&) {
    std::vector<nlohmann::json> out;
    for (auto& i : nlohmann::json::parse(text)) out.push_back(std::move(i));
    return out;
  }
}

}  // namespace syncsim::engine
