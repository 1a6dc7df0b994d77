// Sync lines written straight to JSON text (issue 20, docs/performance-framework.md "(perf13)"):
// the bytes nlohmann::json::dump() gives for the same tree, without building the tree.  dump()
// writes an object's keys in std::map order, so callers write keys sorted; strings with control
// characters (or non-ASCII, which dump() validates) go through dump() itself.
#pragma once

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace syncsim::model {

class LineText {
 public:
  LineText& object() {
    separate();
    out_ += '{';
    first_ = true;
    return *this;
  }
  LineText& end_object() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  LineText& array() {
    separate();
    out_ += '[';
    first_ = true;
    return *this;
  }
  LineText& end_array() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  LineText& key(std::string_view k) {
    separate();
    quoted(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  LineText& str(std::string_view s) {
    separate();
    quoted(s);
    return *this;
  }
  LineText& num(int64_t v) {
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
  }
  LineText& boolean(bool v) {
    separate();
    out_ += v ? "true" : "false";
    return *this;
  }
  // A value kept as a tree (sync-stream `streams`, `subscriptions`).
  LineText& tree(const nlohmann::json& j) {
    separate();
    out_ += j.dump();
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  void separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  void quoted(std::string_view s) {
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x80) {
        out_ += nlohmann::json(std::string(s)).dump();  // dump()'s escapes and UTF-8 checks
        return;
      }
    }
    out_ += '"';
    for (const char c : s) {
      if (c == '"' || c == '\\') out_ += '\\';  // as dump() escapes them
      out_ += c;
    }
    out_ += '"';
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace syncsim::model
