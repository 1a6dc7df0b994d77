#include "engine/js/host_message.hpp"

#include <charconv>
#include <cstring>

#include "engine/js/bridge.hpp"

namespace syncsim::engine::js {
namespace {

struct GiveUp {};

// The first byte from `p` that is '"', '\\', below 0x20 or from 0x80 on (or `end`): eight bytes
// at a time while none is (the "has zero" and "has less than" bit tricks, exact).
const char* plain_run(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  for (; end - p >= 8; p += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t slash = w ^ (kOnes * '\\');
    const uint64_t flagged = (w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) |
                             ((quote - kOnes) & ~quote & kHigh) |
                             ((slash - kOnes) & ~slash & kHigh);
    if (flagged != 0) break;
  }
  for (; p != end; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if (u == '"' || u == '\\' || u < 0x20 || u >= 0x80) break;
  }
  return p;
}

class Scanner {
 public:
  explicit Scanner(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {}

  bool at_end() const { return p_ == end_; }
  char peek() const {
    if (p_ == end_) throw GiveUp{};
    return *p_;
  }
  void expect(char c) {
    if (p_ == end_ || *p_ != c) throw GiveUp{};
    ++p_;
  }
  bool accept(char c) {
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // [item, ...]: `item` reads one element each time.
  template <typename Item>
  void array(Item item) {
    expect('[');
    if (accept(']')) return;
    do item();
    while (accept(','));
    expect(']');
  }
  void literal(std::string_view word) {
    if (std::size_t(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
      throw GiveUp{};
    }
    p_ += word.size();
  }

  // A string (the opening quote next): ASCII, escapes decoded.
  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      const char* q = plain_run(p_, end_);
      if (q != end_ && *q != '"' && *q != '\\') throw GiveUp{};  // control or non-ASCII
      out.append(p_, q);
      p_ = q;
      if (p_ == end_) throw GiveUp{};
      if (*p_++ == '"') return out;
      if (p_ == end_) throw GiveUp{};
      switch (*p_++) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          utf8(out, escaped_code_point());
          break;
        default:
          throw GiveUp{};
      }
    }
  }

  // A number as parse() gives it: unsigned for integers >= 0, signed below, double otherwise.
  // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  nlohmann::json number() {
    const char* start = p_;
    accept('-');
    if (accept('0')) {
      if (p_ != end_ && digit(*p_)) throw GiveUp{};
    } else {
      digits();
    }
    bool integer = true;
    if (accept('.')) {
      integer = false;
      digits();
    }
    if (accept('e') || accept('E')) {
      integer = false;
      if (!accept('+')) accept('-');
      digits();
    }
    if (integer && *start == '-') {
      int64_t v = 0;
      const auto [next, ec] = std::from_chars(start, p_, v);
      if (ec != std::errc() || next != p_) throw GiveUp{};  // beyond int64: parse()'s double
      return v;
    }
    if (integer) {
      uint64_t v = 0;
      const auto [next, ec] = std::from_chars(start, p_, v);
      if (ec != std::errc() || next != p_) throw GiveUp{};
      return v;
    }
    double v = 0;
    const auto [next, ec] = std::from_chars(start, p_, v);
    if (ec != std::errc() || next != p_) throw GiveUp{};
    return v;
  }

  // A scalar or {"b64": "..."} (bytes, as binary).
  nlohmann::json value() {
    switch (peek()) {
      case '"':
        return string();
      case 'n':
        literal("null");
        return nullptr;
      case 't':
        literal("true");
        return true;
      case 'f':
        literal("false");
        return false;
      case '{': {
        ++p_;
        if (string() != "b64") throw GiveUp{};
        expect(':');
        const std::string text = string();
        expect('}');
        const std::string bytes = base64_decode(text);
        return nlohmann::json::binary(std::vector<uint8_t>(bytes.begin(), bytes.end()));
      }
      default:
        return number();
    }
  }

 private:
  uint32_t hex4() {
    if (end_ - p_ < 4) throw GiveUp{};
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= uint32_t(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= uint32_t(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= uint32_t(c - 'A' + 10);
      } else {
        throw GiveUp{};
      }
    }
    return v;
  }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  // One or more digits.
  void digits() {
    if (p_ == end_ || !digit(*p_)) throw GiveUp{};
    while (p_ != end_ && digit(*p_)) ++p_;
  }
  // After "\u": a code point; a surrogate pair is one, a lone surrogate gives up.
  uint32_t escaped_code_point() {
    const uint32_t hi = hex4();
    if (hi >= 0xDC00 && hi <= 0xDFFF) throw GiveUp{};
    if (hi < 0xD800 || hi > 0xDBFF) return hi;
    literal("\\u");
    const uint32_t lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) throw GiveUp{};
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  const char* p_;
  const char* end_;
};

int64_t as_int64(const nlohmann::json& v) {
  if (!v.is_number_integer()) throw GiveUp{};
  return v.get<int64_t>();
}

// {"client":...,"at":...,"by":...} in any order, each once; value() as parse() would take
// them: a missing field is JsHost's default.
HostTimer timer(Scanner& s) {
  HostTimer t;
  uint32_t seen = 0;
  s.expect('{');
  if (s.accept('}')) return t;
  do {
    const std::string key = s.string();
    s.expect(':');
    const int bit = key == "client" ? 0 : key == "at" ? 1 : key == "by" ? 2 : -1;
    if (bit < 0 || (seen & (1u << bit))) throw GiveUp{};
    seen |= 1u << bit;
    if (bit == 0) t.client = s.string();
    if (bit == 1) t.at = as_int64(s.number());
    if (bit == 2) t.by = s.string();
  } while (s.accept(','));
  s.expect('}');
  return t;
}

// The fields of a message the fast path knows; a key it does not know gives up.
HostMessage fast(std::string_view line) {
  Scanner s(line);
  HostMessage m;
  uint32_t seen = 0;
  auto once = [&seen](int bit) {
    if (seen & (1u << bit)) throw GiveUp{};  // a duplicate key: parse() keeps the last
    seen |= 1u << bit;
  };
  s.expect('{');
  if (!s.accept('}')) {
    do {
      const std::string key = s.string();
      s.expect(':');
      if (key == "op") {
        once(0);
        m.op = s.string();
      } else if (key == "client") {
        once(1);
        m.client = s.string();
      } else if (key == "sql") {
        once(2);
        m.sql = s.string();
      } else if (key == "params") {
        once(3);
        s.array([&] { m.params.push_back(s.value()); });
      } else if (key == "before") {
        once(4);
        s.array([&] { m.before.push_back(s.string()); });
      } else if (key == "read") {
        once(5);
        m.read = as_int64(s.number());
      } else if (key == "noreply") {
        once(6);
        if (s.peek() != 't' && s.peek() != 'f') throw GiveUp{};
        m.noreply = s.value().get<bool>();
      } else if (key == "what") {
        once(7);
        m.what = s.string();
      } else if (key == "level") {
        once(8);
        m.level = as_int64(s.number());
      } else if (key == "message") {
        once(9);
        m.message = s.string();
      } else if (key == "next_timer") {
        once(10);
        if (s.peek() == 'n') {
          s.literal("null");
        } else {
          m.next_timer = as_int64(s.number());
        }
      } else if (key == "timers") {
        once(11);
        m.timers.emplace();
        s.array([&] { m.timers->push_back(timer(s)); });
      } else {
        throw GiveUp{};
      }
    } while (s.accept(','));
    s.expect('}');
  }
  if (!s.at_end()) throw GiveUp{};
  return m;
}

// The same fields from parse()'s tree (the message keeps it).
HostMessage from_tree(nlohmann::json tree) {
  HostMessage m;
  m.op = tree.value("op", "");
  m.client = tree.value("client", "");
  if (m.op == "sql") {
    m.sql = tree.at("sql").get<std::string>();
    m.params = tree.at("params");
    for (const auto& b : tree.value("before", nlohmann::json::array())) {
      m.before.push_back(b.get<std::string>());
    }
    m.read = tree.value("read", int64_t{0});
  }
  m.noreply = tree.value("noreply", false);
  m.what = tree.value("what", "");
  m.level = tree.value("level", int64_t{0});
  m.message = tree.value("message", "");
  if (auto t = tree.find("next_timer"); t != tree.end() && t->is_number_integer()) {
    m.next_timer = t->get<int64_t>();
  }
  if (auto timers = tree.find("timers"); timers != tree.end()) {
    m.timers.emplace();
    for (const auto& t : *timers) {
      m.timers->push_back({t.value("client", ""), t.value("at", int64_t{0}), t.value("by", "")});
    }
  }
  m.tree = std::move(tree);
  return m;
}

}  // namespace

std::optional<HostMessage> parse_host_message_fast(std::string_view line) {
  try {
    return fast(line);
  } catch (const GiveUp&) {
    return std::nullopt;
  } catch (const std::invalid_argument&) {  // bad base64: parse()'s tree keeps the text
    return std::nullopt;
  }
}

HostMessage parse_host_message(std::string_view line) {
  if (auto m = parse_host_message_fast(line)) return std::move(*m);
  return from_tree(nlohmann::json::parse(line));
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  const char* p = text.data();
  const char* end = p + text.size();
  while (p != end) {
    const char* q = plain_run(p, end);
    out.append(p, q);
    if (q == end) break;
    const auto u = static_cast<unsigned char>(*q);
    if (u >= 0x80) {  // dump() checks the UTF-8 (and throws on bad bytes); rare here
      const std::string rest = nlohmann::json(std::string(q, end)).dump();
      out.append(rest, 1, rest.size() - 2);
      out += '"';
      return;
    }
    switch (u) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
    }
    p = q + 1;
  }
  out += '"';
}

}  // namespace syncsim::engine::js
