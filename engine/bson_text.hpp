// One BSON document as the JSON text `from_bson(bytes).dump()` gives, without the tree (issue 20,
// docs/performance-framework.md "(perf14)").  Only what is certain to match: documents whose keys
// are strictly increasing (dump() writes std::map order), ASCII strings and keys without control
// characters (a quote or backslash escaped as dump() does), int32, int64, booleans 0/1, null,
// nested documents and arrays, no trailing bytes.  Anything else (a double, a control character,
// UTF-8, unsorted keys, a malformed document) answers false, and the caller takes from_bson() and
// dump() themselves.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/wire_numbers.hpp"

namespace syncsim::engine {

namespace bson_text_detail {

class Reader {
 public:
  Reader(std::string_view in, std::string& out) : in_(in), out_(out) {}

  bool top() { return document(false) && pos_ == in_.size(); }

 private:
  // Appends s quoted as dump() writes it; false for what this does not write (control
  // characters, which dump() writes as \n or \u00xx; UTF-8, which dump() validates).
  bool quoted(std::string_view s) {
    out_ += '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x80) return false;
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
    return true;
  }
  template <class T>
  bool number(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    v = little_endian_at<T>(in_, pos_);
    pos_ += sizeof(T);
    return true;
  }
  bool cstr(std::string_view& s) {
    const std::size_t end = in_.find('\0', pos_);
    if (end == std::string_view::npos) return false;
    s = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  void integer(int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  bool document(bool is_array) {
    int32_t size = 0;  // from_bson ignores it too: the terminating 0 ends the list
    if (!number(size)) return false;
    out_ += is_array ? '[' : '{';
    std::string_view previous;
    bool first = true;
    for (;;) {
      if (pos_ >= in_.size()) return false;
      const char type = in_[pos_++];
      if (type == '\0') break;
      std::string_view key;
      if (!cstr(key)) return false;
      if (!first) out_ += ',';
      if (!is_array) {
        if ((!first && !(previous < key)) || !quoted(key)) return false;
        out_ += ':';
        previous = key;
      }
      first = false;
      if (!value(type)) return false;
    }
    out_ += is_array ? ']' : '}';
    return true;
  }
  bool value(char type) {
    switch (type) {
      case '\x02': {
        int32_t len = 0;
        if (!number(len) || len < 1 || in_.size() - pos_ < static_cast<std::size_t>(len)) {
          return false;
        }
        const auto n = static_cast<std::size_t>(len);
        const std::string_view s = in_.substr(pos_, n - 1);
        if (in_[pos_ + n - 1] != '\0') return false;
        pos_ += n;
        return quoted(s);
      }
      case '\x10': {
        int32_t v = 0;
        if (!number(v)) return false;
        integer(v);
        return true;
      }
      case '\x12': {
        int64_t v = 0;
        if (!number(v)) return false;
        integer(v);
        return true;
      }
      case '\x08': {
        if (pos_ >= in_.size()) return false;
        const char b = in_[pos_++];
        if (b != '\0' && b != '\x01') return false;
        out_ += b == '\x01' ? "true" : "false";
        return true;
      }
      case '\x0a':
        out_ += "null";
        return true;
      case '\x03':
        return document(false);
      case '\x04':
        return document(true);
      default:
        return false;  // doubles, binary, ...: from_bson() and dump()
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string& out_;
};

}  // namespace bson_text_detail

// Appends nothing useful on false: the caller discards `out`.
inline bool bson_to_json_text(std::string_view bytes, std::string& out) {
  out.clear();
  return bson_text_detail::Reader(bytes, out).top();
}

}  // namespace syncsim::engine
