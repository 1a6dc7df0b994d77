#include "scenarios/results/results_shape.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>

namespace syncsim::scenarios {

namespace {

using json = nlohmann::json;

enum class Kind { String, Unsigned, Bounded, Integer, Number, Bool, Object, Array };

// Times (us or ms) and plotted metrics are refused above 2^50 (35 years in us), so that no
// reader's arithmetic on them (ms -> us, value x plot width, tick steps) can overflow.
constexpr int64_t kBoundedMax = int64_t{1} << 50;

const char* allowed_text(Kind k) {
  switch (k) {
    case Kind::String:
      return "a string";
    case Kind::Unsigned:
      return "an integer >= 0";
    case Kind::Bounded:
      return "an integer from 0 to 2^50 (1125899906842624)";
    case Kind::Integer:
      return "an integer";
    case Kind::Number:
      return "a number";
    case Kind::Bool:
      return "true or false";
    case Kind::Object:
      return "an object";
    case Kind::Array:
      return "an array";
  }
  return "?";
}

bool is(const json& v, Kind k) {
  switch (k) {
    case Kind::String:
      return v.is_string();
    case Kind::Unsigned:
      return v.is_number_unsigned();
    case Kind::Bounded:
      return v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(kBoundedMax);
    case Kind::Integer:
      return v.is_number_integer();
    case Kind::Number:
      return v.is_number();
    case Kind::Bool:
      return v.is_boolean();
    case Kind::Object:
      return v.is_object();
    case Kind::Array:
      return v.is_array();
  }
  return false;
}

struct ShapeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string shown(const json& v) {
  auto text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  const char* type = v.is_string()    ? "a string"
                     : v.is_number()  ? "a number"
                     : v.is_boolean() ? "a boolean"
                     : v.is_null()    ? "null"
                     : v.is_array()   ? "an array"
                                      : "an object";
  return fmt::format("{} is {}", text, type);
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void expect_kind(const json& v, const std::string& path, Kind k) {
  if (!is(v, k))
    throw ShapeError(fmt::format("{}: {}; allowed: {}", path, shown(v), allowed_text(k)));
}

// The field `key` of object `j` (at `path`): absent is fine unless `required`; present must
// be of kind `k`.  Returns it, or nullptr when absent.
const json* field(const json& j, const std::string& path, const char* key, Kind k,
                  bool required = false) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (required) {
      throw ShapeError(fmt::format("{}: missing; allowed: {} (a syncsim results document field)",
                                   child(path, key), allowed_text(k)));
    }
    return nullptr;
  }
  expect_kind(*it, child(path, key), k);
  return &*it;
}

// Every member of object `j` (if present) is of kind `k`.
void members(const json* j, const std::string& path, Kind k) {
  if (!j) return;
  for (const auto& [key, v] : j->items()) expect_kind(v, child(path, key), k);
}

void check_timeline(const json& t, const std::string& path) {
  field(t, path, "anchor", Kind::String);
  field(t, path, "first", Kind::Unsigned);
  field(t, path, "total", Kind::Unsigned);
  if (const auto* faults = field(t, path, "active_faults", Kind::Array)) {
    for (std::size_t i = 0; i < faults->size(); ++i) {
      expect_kind((*faults)[i], fmt::format("{}.active_faults[{}]", path, i), Kind::String);
    }
  }
  field(t, path, "end_us", Kind::Bounded);
  // [lane, kind, from_us, to_us, label] (scenarios/results/run_recorder.hpp's timeline).
  if (const auto* spans = field(t, path, "spans", Kind::Array)) {
    constexpr Kind kSpan[] = {Kind::String, Kind::String, Kind::Bounded, Kind::Bounded,
                              Kind::String};
    for (std::size_t i = 0; i < spans->size(); ++i) {
      const auto p = fmt::format("{}.spans[{}]", path, i);
      const auto& sp = (*spans)[i];
      expect_kind(sp, p, Kind::Array);
      if (sp.size() != std::size(kSpan)) {
        throw ShapeError(fmt::format(
            "{}: {} items; allowed: 5 ([lane, kind, from_us, to_us, label])", p, sp.size()));
      }
      for (std::size_t k = 0; k < sp.size(); ++k) {
        expect_kind(sp[k], fmt::format("{}[{}]", p, k), kSpan[k]);
      }
    }
  }
  const auto* events = field(t, path, "events", Kind::Array, true);
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto p = fmt::format("{}.events[{}]", path, i);
    const auto& e = (*events)[i];
    expect_kind(e, p, Kind::Object);
    field(e, p, "at_us", Kind::Bounded, true);
    for (const char* key : {"from", "to", "kind", "label"}) field(e, p, key, Kind::String, true);
  }
}

void check_run(const json& r, const std::string& path) {
  expect_kind(r, path, Kind::Object);
  field(r, path, "scenario", Kind::String, true);
  field(r, path, "seed", Kind::Unsigned, true);
  field(r, path, "expectation_met", Kind::Bool, true);
  field(r, path, "passed", Kind::Bool);
  for (const char* key : {"stop", "stop_kind", "trace_hash", "repro"}) {
    field(r, path, key, Kind::String);
  }
  field(r, path, "events", Kind::Unsigned);
  field(r, path, "wall_s", Kind::Number);
  if (const auto* v = field(r, path, "violation", Kind::Object)) {
    const auto p = child(path, "violation");
    for (const char* key : {"invariant", "subject", "message"}) field(*v, p, key, Kind::String);
    field(*v, p, "at_s", Kind::Number);
    if (const auto* inputs = field(*v, p, "inputs", Kind::Array)) {
      for (std::size_t i = 0; i < inputs->size(); ++i) {
        const auto q = fmt::format("{}.inputs[{}]", p, i);
        expect_kind((*inputs)[i], q, Kind::Object);
        for (const char* key : {"name", "value", "source"})
          field((*inputs)[i], q, key, Kind::String);
        field((*inputs)[i], q, "line", Kind::Unsigned);
      }
    }
    if (const auto* chain = field(*v, p, "chain", Kind::Array)) {
      for (std::size_t i = 0; i < chain->size(); ++i) {
        const auto q = fmt::format("{}.chain[{}]", p, i);
        expect_kind((*chain)[i], q, Kind::Object);
        field((*chain)[i], q, "what", Kind::String);
        field((*chain)[i], q, "line", Kind::Unsigned);
      }
    }
  }
  if (const auto* t = field(r, path, "twin", Kind::Object)) {
    const auto p = child(path, "twin");
    for (const char* key : {"removed", "twin_stop", "run_line", "twin_line"}) {
      field(*t, p, key, Kind::String);
    }
    field(*t, p, "twin_passed", Kind::Bool);
    field(*t, p, "line", Kind::Unsigned);
    if (const auto* context = field(*t, p, "context", Kind::Array)) {
      for (std::size_t i = 0; i < context->size(); ++i) {
        expect_kind((*context)[i], fmt::format("{}.context[{}]", p, i), Kind::String);
      }
    }
  }
  members(field(r, path, "checks", Kind::Object), child(path, "checks"), Kind::Unsigned);
  members(field(r, path, "metrics", Kind::Object), child(path, "metrics"), Kind::Bounded);
  members(field(r, path, "sometimes", Kind::Object), child(path, "sometimes"), Kind::Unsigned);
  if (const auto* listed = field(r, path, "sometimes_listed", Kind::Array)) {
    for (std::size_t i = 0; i < listed->size(); ++i) {
      expect_kind((*listed)[i], fmt::format("{}.sometimes_listed[{}]", path, i), Kind::String);
    }
  }
  if (const auto* t = field(r, path, "timeline", Kind::Object)) {
    check_timeline(*t, child(path, "timeline"));
  }
  field(r, path, "swarm", Kind::Object);
  if (const auto* d = field(r, path, "determinism", Kind::Object)) {
    const auto p = child(path, "determinism");
    field(*d, p, "deterministic", Kind::Bool, true);
    field(*d, p, "line", Kind::Unsigned);
    field(*d, p, "first", Kind::String);
    field(*d, p, "second", Kind::String);
  }
}

void check_scenario(const json& s, const std::string& path) {
  field(s, path, "name", Kind::String);
  field(s, path, "description", Kind::String);
  if (const auto it = s.find("expect"); it != s.end() && !it->is_string()) {
    expect_kind(*it, child(path, "expect"), Kind::Object);
    field(*it, child(path, "expect"), "violates", Kind::String);
  }
  if (const auto* faults = field(s, path, "faults", Kind::Array)) {
    for (std::size_t i = 0; i < faults->size(); ++i) {
      const auto p = fmt::format("{}.faults[{}]", path, i);
      expect_kind((*faults)[i], p, Kind::Object);
      field((*faults)[i], p, "kind", Kind::String);
      field((*faults)[i], p, "at_ms", Kind::Bounded);
    }
  }
  if (const auto* clients = field(s, path, "clients", Kind::Object)) {
    const auto c = child(path, "clients");
    field(*clients, c, "count", Kind::Integer);
    if (const auto* fleet = field(*clients, c, "fleet", Kind::Array)) {
      for (std::size_t i = 0; i < fleet->size(); ++i) {
        const auto p = fmt::format("{}.fleet[{}]", c, i);
        expect_kind((*fleet)[i], p, Kind::Object);
        field((*fleet)[i], p, "count", Kind::Integer);
      }
    }
  }
}

// What describes one scenario's runs: at the top of a run's or one scenario's document, or
// per scenario under `scenarios` in a sweep's or merge's (reports/results_documents.hpp).
void check_header(const json& h, const std::string& path) {
  field(h, path, "scenario_path", Kind::String);
  field(h, path, "sqlite_sha256", Kind::String);
  field(h, path, "partial", Kind::Bool);
  if (const auto* not_run = field(h, path, "seeds_not_run", Kind::Object)) {
    for (const auto& [name, ranges] : not_run->items()) {
      const auto p = child(child(path, "seeds_not_run"), name);
      expect_kind(ranges, p, Kind::Array);
      for (std::size_t i = 0; i < ranges.size(); ++i) {
        expect_kind(ranges[i], fmt::format("{}[{}]", p, i), Kind::String);
      }
    }
  }
  if (const auto* s = field(h, path, "scenario", Kind::Object))
    check_scenario(*s, child(path, "scenario"));
  for (const char* key : {"cores", "invariants", "sometimes_conditions"}) {
    const auto* table = field(h, path, key, Kind::Object);
    members(table, child(path, key), Kind::Object);
    if (!table) continue;
    for (const auto& [id, info] : table->items()) {
      const auto p = child(child(path, key), id);
      field(info, p, "statement", Kind::String);
      field(info, p, "sha256", Kind::String);
      field(info, p, "verified", Kind::Bool);
      field(info, p, "listed", Kind::Bool);
    }
  }
  if (const auto it = h.find("unverified_core"); it != h.end() && !it->is_null()) {
    expect_kind(*it, child(path, "unverified_core"), Kind::Object);
    field(*it, child(path, "unverified_core"), "path", Kind::String);
  }
}

void check_document(const json& doc) {
  if (!doc.is_object()) throw ShapeError("the top level: " + shown(doc) + "; allowed: an object");
  field(doc, "", "build", Kind::String, true);
  const auto* runs = field(doc, "", "runs", Kind::Array, true);
  field(doc, "", "passed", Kind::Unsigned);
  field(doc, "", "failed", Kind::Unsigned);
  check_header(doc, "");
  if (const auto* headers = field(doc, "", "scenarios", Kind::Object)) {
    for (const auto& [name, h] : headers->items()) {
      expect_kind(h, child("scenarios", name), Kind::Object);
      check_header(h, child("scenarios", name));
    }
  }
  for (std::size_t i = 0; i < runs->size(); ++i) check_run((*runs)[i], fmt::format("runs[{}]", i));
}

}  // namespace

std::string results_shape_error(const json& doc) {
  try {
    check_document(doc);
    return "";
  } catch (const ShapeError& e) {
    return e.what();
  }
}

}  // namespace syncsim::scenarios
