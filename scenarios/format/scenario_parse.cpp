// Parsing a scenario: text to JSON (duplicate keys reported, depth bounded), the format
// version, the top level and its cross-field checks, and the public entry points.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/js/js_host.hpp"
#include "scenarios/format/metric_names.hpp"
#include "scenarios/format/scenario_reader.hpp"
#include "util/bounded_input.hpp"

namespace syncsim::scenarios {
namespace {

using namespace reader;  // NOLINT(google-build-using-namespace): the loader's own primitives

// False when the file is from another format version: its other fields may mean something
// else there, so checking them would only bury the one real problem.
bool check_format(const Fields& top) {
  Problems& p = top.problems();
  const json* v = top.find("format");
  if (v == nullptr) {
    p.add_line("format",
               "missing required field `format` (current: " + std::to_string(kFormat) + ")");
    return true;
  }
  if (!v->is_number_integer()) {
    p.add("format", show(*v) + " must be an integer; allowed: " + std::to_string(kFormat));
    return true;
  }
  if (*v != kFormat) {
    p.add("format", show(*v) + " is not supported; allowed: " + std::to_string(kFormat) +
                        " (the only format this build reads)");
    return false;
  }
  return true;
}

void parse_top_level(const Fields& top, const ValidationContext& ctx, Scenario& s) {
  Problems& p = top.problems();
  top.reject_unknown({"format", "name", "description", "clients", "service", "network", "workload",
                      "duration_s", "quiesce_s", "faults", "invariants", "mutants", "expect",
                      "swarm", "sometimes", "headline", "exempt_invariants"});
  top.string("name", s.name);
  if (s.name.empty() && !p.bad("name")) p.add("name", "\"\" is not allowed; must not be empty");
  top.string("description", s.description);
  if (auto f = section(top, "clients")) s.clients = parse_clients(*f, ctx);
  if (auto f = section(top, "service")) s.service = parse_service(*f);
  if (auto f = section(top, "network")) s.network = parse_network(*f);
  if (auto f = section(top, "workload")) s.workload = parse_workload(*f);
  // Sync streams need an SDK with the subscription API (issue 7): the port's js-1.3.0, or
  // js-real running @powersync/common 2.x (its syncStream(), engine/js/sdk_client.mjs).
  if (!s.service.streams.empty()) {
    for (const auto& g : client_groups(s.clients)) {
      const std::string sdk = resolved_sdk(g.sdk, g.core, ctx.core_sdks);
      const std::string package = !g.sdk_package.empty()
                                      ? g.sdk_package
                                      : engine::js::js_real_project_for_core(g.core).value_or("");
      const bool real_2x =
          sdk == "js-real" && !package.empty() && !engine::js::js_real_package_is_1x(package);
      if (sdk != "js-1.3.0" && !real_2x) {
        p.add("service.streams",
              "needs js-1.3.0 or js-real on core 0.5.2+ (@powersync/common 2.x), the SDKs with "
              "the sync-streams API; core " +
                  g.core + " runs as " + sdk +
                  (sdk == "js-real" && !package.empty() ? " (" + package + ")" : ""));
        break;
      }
    }
  }
  top.integer("duration_s", {1, kMaxDurationS, ""}, s.duration_s);
  top.nullable_integer("quiesce_s", {0, kMaxDurationS, "or null: derived by the runner"},
                       s.quiesce_s);
  s.faults = parse_faults(top, fault_limits(s, p, ctx));
  // switch_mode needs an SDK with two modes (js-1.3.0): judged with the core the client runs
  // at that time (its group's, or the last upgrade/downgrade before it).
  if (!p.bad("clients") && !p.bad("faults")) {
    std::map<int, std::string> core_now;
    std::set<int> updated;  // clients an up/downgrade reached (their sdk_package ended)
    for (const Fault& f : s.faults) {
      if (f.client < 1 || f.client > s.clients.count) continue;
      const ClientGroup g = group_of(s.clients, f.client);
      if (!core_now.contains(f.client)) core_now[f.client] = g.core;
      if (f.kind == FaultKind::Upgrade || f.kind == FaultKind::Downgrade) {
        core_now[f.client] = f.core;
        updated.insert(f.client);
      } else if (f.kind == FaultKind::SwitchMode) {
        const std::string& core = core_now[f.client];
        std::string sdk = core == g.core ? resolved_sdk(g.sdk, core, ctx.core_sdks)
                                         : resolved_sdk("auto", core, ctx.core_sdks);
        // A 1.x sdk_package has one mode too (until an up/downgrade ends the override).
        if (!updated.contains(f.client) && engine::js::js_real_package_is_1x(g.sdk_package)) {
          sdk = "js-legacy";
        }
        if (sdk == "js-legacy") {
          p.add("faults", "switch_mode of client " + std::to_string(f.client) + " at " +
                              std::to_string(f.at_ms) + " ms (core " + core +
                              ", js-legacy SDK) is not allowed; allowed: clients driven by "
                              "js-1.3.0 then (old SDKs have one checkpoint mode)");
        }
      }
    }
  }
  s.invariants = parse_id_list(top, "invariants", ctx.invariants, "invariant");
  s.mutants = parse_id_list(top, "mutants", ctx.mutants, "mutant");
  s.expect =
      parse_expect(top, ctx, p.bad("invariants") ? std::vector<std::string>{} : s.invariants);
  s.exempt_invariants = parse_id_list(top, "exempt_invariants", ctx.invariants, "invariant");
  // An exempt invariant is never checked, so it can never be reported violated either.
  if (!s.expect.pass && contains(s.exempt_invariants, s.expect.violates)) {
    p.add("expect.violates", "\"" + s.expect.violates +
                                 "\" is exempt (exempt_invariants); allowed: a checked invariant");
  }
  s.swarm = parse_swarm(top, s, ctx);
  s.sometimes = parse_id_list(top, "sometimes", ctx.sometimes, "sometimes condition");
  static const std::vector<std::string> metric_keys = [] {
    std::vector<std::string> keys;
    for (const auto& m : kMetricNames) keys.emplace_back(m.key);
    return keys;
  }();
  s.headline = parse_id_list(top, "headline", metric_keys, "metric");
}

// `p` may already hold problems found while reading the text (duplicate keys).
Scenario parse_checked(const json& j, const ValidationContext& ctx, const std::string& source,
                       const std::string& default_name, Problems p) {
  Scenario s;
  s.name = default_name;
  if (!j.is_object()) {
    p.add("", "the top level must be a JSON object; got " + show(j));
  } else {
    const Fields top(j, "", p);
    if (check_format(top)) parse_top_level(top, ctx, s);
  }
  if (!p.empty()) throw ScenarioError(p.prefixed(source));
  return s;
}

// nlohmann keeps the last of duplicate keys silently, so a file could mean something other
// than it reads; this parser callback reports them with their JSON path.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(Problems& p) : p_(p) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        enter_value();
        frames_.push_back({event == E::object_start, {}, {}, 0});
        break;
      case E::key:
        on_key(parsed.get<std::string>());
        break;
      case E::value:
        enter_value();
        break;
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        break;
    }
    return true;  // keep everything
  }

 private:
  // A frame keeps only its own step (key or index), not its whole path: storing the path in
  // every frame made depth d cost O(d^2) time and memory (issue 19).
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string key;    // objects: the key of the value being read
    size_t next_index;  // arrays: the index of the next element
  };

  // Advances the innermost array to its next element (the value that starts now).
  void enter_value() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().next_index;
  }

  // The path of the innermost frame's current value; built only to report a duplicate.
  [[nodiscard]] std::string current_path() const {
    std::string path;
    for (const Frame& f : frames_) {
      path = f.is_object ? child_path(path, f.key) : element_path(path, f.next_index - 1);
    }
    return path;
  }

  void on_key(const std::string& key) {
    Frame& f = frames_.back();
    f.key = key;
    if (!f.keys.insert(key).second) {
      const std::string path = current_path();
      p_.add_line(path, "duplicate field `" + path + "`; allowed: each field once per object");
    }
  }

  Problems& p_;
  std::vector<Frame> frames_;
};

// "[json.exception.parse_error.101] parse error at line 2, ..." -> "parse error at line 2, ...".
std::string without_exception_id(const std::string& what) {
  const auto end = what.find("] ");
  return what.starts_with("[json.exception.") && end != std::string::npos ? what.substr(end + 2)
                                                                          : what;
}

Scenario parse_text(const std::string& text, const ValidationContext& ctx,
                    const std::string& source, const std::string& default_name) {
  // Bounded before any parser walks it: nlohmann and the finder recurse per level.
  if (const auto error = util::json_depth_error(text); !error.empty()) {
    throw ScenarioError({source + ": " + error});
  }
  Problems p;
  DuplicateKeyFinder finder(p);
  json j;
  try {
    j = json::parse(text, [&finder](int /*depth*/, json::parse_event_t event, json& parsed) {
      return finder.on_event(event, parsed);
    });
  } catch (const json::exception& e) {
    throw ScenarioError({source + ": invalid JSON: " + without_exception_id(e.what())});
  }
  return parse_checked(j, ctx, source, default_name, std::move(p));
}

std::string read_file(const std::string& path) {
  try {
    return util::read_bounded_file(path);
  } catch (const util::InputError& e) {
    throw ScenarioError({e.what()});
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

ScenarioError::ScenarioError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Scenario parse_scenario(const json& j, const ValidationContext& ctx,
                        const std::string& source_name) {
  return parse_checked(j, ctx, source_name, "scenario", Problems{});
}

Scenario parse_scenario_text(const std::string& text, const ValidationContext& ctx,
                             const std::string& source_name) {
  return parse_text(text, ctx, source_name, "scenario");
}

Scenario load_scenario_file(const std::string& path, const ValidationContext& ctx) {
  return parse_text(read_file(path), ctx, path, std::filesystem::path(path).stem().string());
}

}  // namespace syncsim::scenarios
