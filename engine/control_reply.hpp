// A powersync_control reply (a JSON array of instructions) parsed into the trees
// nlohmann::json::parse() gives (issue 20, docs/performance.md "(perf13)"): parse() was ~5 % of a
// basic.json run.  This parser takes only the subset the core writes -- strings without
// escapes or non-ASCII, integers -- and builds the same values (unsigned for integers >= 0,
// signed below, the last of duplicate keys); on anything else it gives up and the whole reply
// goes through parse(), so unusual replies and parse errors are parse()'s own.
#pragma once

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::engine {

namespace reply_detail {

struct GiveUp {};

class Parser {
 public:
  explicit Parser(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

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
      items.push_back(value(depth + 1));
      if (end_of_member(']')) return j;
    }
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
};

}  // namespace reply_detail

// The elements of the JSON array `text`, as nlohmann::json::parse(text) gives them (its
// parse_error, type_error for a non-array, on bad input).
inline std::vector<nlohmann::json> parse_control_reply(const std::string& text) {
  try {
    return reply_detail::Parser(text).reply();
  } catch (const reply_detail::GiveUp&) {
    std::vector<nlohmann::json> out;
    for (auto& i : nlohmann::json::parse(text)) out.push_back(std::move(i));
    return out;
  }
}

}  // namespace syncsim::engine
