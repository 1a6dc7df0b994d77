// Internal to the scenario loader (scenario_*.cpp): the validation primitives every section
// parser uses -- Problems (every problem of a source, one line each), Range, Fields (reads
// one JSON object's fields, reporting wrong types and out-of-range values) -- and the
// section parsers the top level calls.  Not for use outside scenarios/format/.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"

namespace syncsim::scenarios::reader {

using nlohmann::json;

constexpr int kFormat = 1;
constexpr int kMaxClients = 1000;  // issue 20: one simulation scales to 1000 clients
constexpr int64_t kMaxDurationS = 86400;

std::string join(const std::vector<std::string>& items);
bool contains(const std::vector<std::string>& items, const std::string& item);
// A value as it appears in the file; long values are cut so that a problem stays one line.
std::string show(const json& v);
std::string child_path(const std::string& parent, const std::string& key);
std::string element_path(const std::string& parent, size_t index);

// Collects every problem of one source.  Also remembers which fields were bad, so that a check
// depending on another field (fault client vs clients.count) can fall back to the static limit
// instead of piling follow-on errors onto the real one.
class Problems {
 public:
  // `path` names the field; "" for the top level.
  void add(const std::string& path, const std::string& message) {
    add_line(path, path.empty() ? message : path + ": " + message);
  }
  // For messages that name the field themselves ("unknown field `x`").
  void add_line(const std::string& path, const std::string& line) {
    lines_.push_back(line);
    bad_.insert(path);
  }
  // True if `path` or an object enclosing it was reported.
  [[nodiscard]] bool bad(const std::string& path) const {
    return std::any_of(bad_.begin(), bad_.end(), [&](const std::string& b) {
      return path == b || path.starts_with(b + ".") || path.starts_with(b + "[");
    });
  }
  [[nodiscard]] bool empty() const { return lines_.empty(); }
  [[nodiscard]] std::vector<std::string> prefixed(const std::string& source) const {
    std::vector<std::string> out;
    for (const std::string& line : lines_) out.push_back(source + ": " + line);
    return out;
  }

 private:
  std::vector<std::string> lines_;
  std::set<std::string> bad_;
};

// An inclusive integer range; `why` says where a bound comes from, e.g. "clients.count".
struct Range {
  int64_t lo;
  int64_t hi;
  std::string why;

  [[nodiscard]] std::string text() const {
    std::string t = std::to_string(lo) + ".." + std::to_string(hi);
    return why.empty() ? t : t + " (" + why + ")";
  }
};

std::optional<int64_t> to_int(const json& v, const std::string& path, const Range& r, Problems& p);
std::optional<std::string> to_choice(const json& v, const std::string& path,
                                     const std::vector<std::string>& allowed, Problems& p);

// Reads the fields of one JSON object.  Absent fields keep their defaults; bad fields are
// reported and also keep their defaults (the scenario is thrown away anyway).
class Fields {
 public:
  Fields(const json& obj, std::string path, Problems& p)
      : obj_(obj), path_(std::move(path)), p_(p) {}

  [[nodiscard]] const json* find(const std::string& key) const {
    const auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  [[nodiscard]] std::string path(const std::string& key) const { return child_path(path_, key); }
  [[nodiscard]] Problems& problems() const { return p_; }

  // `qualifier` narrows the allowed list, e.g. "for kind lag".  `misplaced` says why a field
  // that is known elsewhere is not allowed here, e.g. "is not used by kind lag (only by
  // disconnect)"; it returns "" for a field that is simply unknown.
  void reject_unknown(const std::vector<std::string>& allowed, const std::string& qualifier = "",
                      const std::function<std::string(const std::string&)>& misplaced = {}) const {
    const std::string allowed_text =
        "; allowed" + (qualifier.empty() ? "" : " " + qualifier) + ": " + join(allowed);
    for (const auto& [key, value] : obj_.items()) {
      if (contains(allowed, key)) continue;
      const std::string why = misplaced ? misplaced(key) : "";
      std::string line = why.empty() ? "unknown field `" : "field `";
      line += path(key);
      line += why.empty() ? "`" : "` " + why;
      p_.add_line(path(key), line + allowed_text);
    }
  }

  template <typename T>
  void integer(const std::string& key, const Range& r, T& out) const {
    if (const json* v = find(key)) set(to_int(*v, path(key), r, p_), out);
  }
  template <typename T>
  void required_integer(const std::string& key, const Range& r, T& out) const {
    if (find(key) == nullptr) missing(key, r.text());
    integer(key, r, out);
  }
  // Absent or JSON null leaves `out` empty; `r.why` should say what null means.
  void nullable_integer(const std::string& key, const Range& r, std::optional<int64_t>& out) const {
    const json* v = find(key);
    if (v == nullptr || v->is_null()) return;
    out = to_int(*v, path(key), r, p_);
  }

  void string(const std::string& key, std::string& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (v->is_string()) {
      out = v->get<std::string>();
    } else {
      p_.add(path(key), show(*v) + " must be a string");
    }
  }

  void choice(const std::string& key, const std::vector<std::string>& allowed,
              std::string& out) const {
    if (const json* v = find(key)) set(to_choice(*v, path(key), allowed, p_), out);
  }
  void required_choice(const std::string& key, const std::vector<std::string>& allowed,
                       std::string& out) const {
    if (find(key) == nullptr) missing(key, join(allowed));
    choice(key, allowed, out);
  }

  void missing(const std::string& key, const std::string& allowed) const {
    p_.add_line(path(key), "missing required field `" + path(key) + "`; allowed: " + allowed);
  }

 private:
  template <typename T, typename U>
  static void set(const std::optional<U>& value, T& out) {
    if (value) out = static_cast<T>(*value);
  }

  const json& obj_;
  std::string path_;
  Problems& p_;
};

// A nested object such as `clients`; nullopt when absent (defaults) or not an object.
std::optional<Fields> section(const Fields& top, const std::string& key);

// `what` names an element in messages, e.g. "invariant".
std::vector<std::string> parse_id_list(const Fields& top, const std::string& key,
                                       const std::vector<std::string>& known,
                                       const std::string& what);

// Sections (scenario_sections.cpp).
ClientsSpec parse_clients(const Fields& f, const ValidationContext& ctx);
ServiceSpec parse_service(const Fields& f);
NetworkSpec parse_network(const Fields& f);
WorkloadSpec parse_workload(const Fields& f);
// `checked` is the scenario's invariant list (empty = all).
Expectation parse_expect(const Fields& top, const ValidationContext& ctx,
                         const std::vector<std::string>& checked);

// Faults and swarm (scenario_faults.cpp).
// Bounds of fault fields that depend on other fields of the scenario.
struct FaultLimits {
  Range at_ms;
  Range client;
  std::vector<std::string> cores;
};

FaultLimits fault_limits(const Scenario& s, const Problems& p, const ValidationContext& ctx);
std::vector<Fault> parse_faults(const Fields& top, const FaultLimits& lim);
// The `swarm` section; `s` is the rest of the scenario (clients, faults already read).
std::optional<SwarmSpec> parse_swarm(const Fields& top, const Scenario& s,
                                     const ValidationContext& ctx);
// A fault in the full form to_json() writes: at_ms, kind, the kind's fields, `on`.
json fault_to_json(const Fault& f);

}  // namespace syncsim::scenarios::reader
