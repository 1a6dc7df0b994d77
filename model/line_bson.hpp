// Sync lines written straight to BSON (issue 20, docs/performance-framework.md "(perf14)"): the
// bytes nlohmann::json::to_bson() gives for the same tree, without building the tree.  LineText's
// interface (model/line_text.hpp), so one writer function serves both encodings; callers write
// keys sorted, as to_bson() walks an object in std::map order.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::model {

class LineBson {
 public:
  LineBson& object() {
    begin('\x03');
    return *this;
  }
  LineBson& end_object() {
    end();
    return *this;
  }
  LineBson& array() {
    begin('\x04');
    return *this;
  }
  LineBson& end_array() {
    end();
    return *this;
  }
  LineBson& key(std::string_view k) {
    key_.assign(k);
    return *this;
  }
  LineBson& str(std::string_view s) {
    element('\x02');
    put_le(static_cast<int32_t>(s.size() + 1));
    out_.append(s);
    out_ += '\0';
    return *this;
  }
  // to_bson: int32 when the value fits, int64 otherwise (signed and unsigned alike).
  LineBson& num(int64_t v) {
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      element('\x10');
      put_le(static_cast<int32_t>(v));
    } else {
      element('\x12');
      put_le(v);
    }
    return *this;
  }
  LineBson& boolean(bool v) {
    element('\x08');
    out_ += v ? '\x01' : '\x00';
    return *this;
  }
  // A value kept as a tree: to_bson() of a one-member document, its element copied out.
  LineBson& tree(const nlohmann::json& j) {
    const std::vector<std::uint8_t> doc = nlohmann::json::to_bson(nlohmann::json{{"", j}});
    // doc = size(4) type(1) ""(1) value... 0(1)
    element(static_cast<char>(doc.at(4)));
    out_.append(doc.begin() + 6, doc.end() - 1);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  struct Open {
    std::size_t start;
    bool is_array;
    int next_index;
  };
  void element(char type) {
    out_ += type;
    Open& o = open_.back();
    if (o.is_array) {
      out_ += std::to_string(o.next_index++);
    } else {
      out_ += key_;
    }
    out_ += '\0';
  }
  void begin(char type) {
    if (!open_.empty()) element(type);
    open_.push_back({out_.size(), type == '\x04', 0});
    out_.append(4, '\0');
  }
  void end() {
    out_ += '\0';
    const std::size_t start = open_.back().start;
    open_.pop_back();
    const auto size = static_cast<int32_t>(out_.size() - start);
    for (int i = 0; i < 4; ++i) {
      out_[start + i] = static_cast<char>((static_cast<uint32_t>(size) >> (8 * i)) & 0xff);
    }
  }
  template <class T>
  void put_le(T v) {
    const auto u = static_cast<std::make_unsigned_t<T>>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) out_ += static_cast<char>((u >> (8 * i)) & 0xff);
  }

  std::string out_;
  std::string key_;
  std::vector<Open> open_;
};

}  // namespace syncsim::model
