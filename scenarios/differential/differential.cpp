#include "scenarios/differential/differential.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <utility>

#include "scenarios/world/world.hpp"

namespace syncsim::scenarios {

const std::vector<EngineKey>& engine_keys() {
  static const std::vector<EngineKey> keys = {
      {"core", "core", false, "core version (a registry name, or \"path\" with --core-path)"},
      {"checkpoint_mode", "checkpoint_mode", false, "legacy | requests"},
      {"sdk", "sdk", false, "auto | shim (the C++ port) | js-real (the published JS SDK)"},
  };
  return keys;
}

namespace {

const EngineKey* engine_key_named(const std::string& name) {
  for (const auto& k : engine_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// "fleet[N].KEY" or "fleet.N.KEY" (the --set spelling) -> N and KEY; nullopt if `key` has
// neither form.  N stays text: a bad one is reported with the group count.
std::optional<std::pair<std::string, std::string>> fleet_key(const std::string& key) {
  std::string rest;
  if (key.rfind("fleet[", 0) == 0) {
    const auto close = key.find("].");
    if (close == std::string::npos) return std::nullopt;
    return std::make_pair(key.substr(6, close - 6), key.substr(close + 2));
  }
  if (key.rfind("fleet.", 0) == 0) {
    const auto dot = key.find('.', 6);
    if (dot == std::string::npos) return std::nullopt;
    return std::make_pair(key.substr(6, dot - 6), key.substr(dot + 1));
  }
  return std::nullopt;
}

nlohmann::json value_of(const EngineKey& k, std::string value) {
  // "shim": the C++ port with the SDK behaviour the registry pairs with the core ("auto").
  if (k.name == "sdk" && value == "shim") value = "auto";
  if (!k.list) return value;
  nlohmann::json items = nlohmann::json::array();
  for (std::size_t from = 0; !value.empty() && from <= value.size();) {
    const auto comma = std::min(value.find(',', from), value.size());
    items.push_back(value.substr(from, comma - from));
    from = comma + 1;
  }
  return items;
}

}  // namespace

Scenario configure_side(const Scenario& base, const std::vector<std::string>& settings,
                        const ValidationContext& ctx, const std::string& side) {
  nlohmann::json j = to_json(base);
  nlohmann::json& clients = j["clients"];
  const bool fleet = clients.contains("fleet");
  const std::size_t groups = fleet ? clients["fleet"].size() : 0;
  std::set<std::string> seen;
  // Plain keys first (on a fleet: every group), then per-group keys, whatever the order given.
  std::vector<std::pair<std::string, nlohmann::json>> per_group;
  for (const auto& s : settings) {
    const auto eq = s.find('=');
    const std::string key = s.substr(0, eq);
    const auto group = eq == std::string::npos ? std::nullopt : fleet_key(key);
    const EngineKey* k = engine_key_named(group ? group->second : key);
    if (eq == std::string::npos || eq == 0 || !k) {
      std::string names;
      for (const auto& candidate : engine_keys()) {
        names += (names.empty() ? "" : ", ") + candidate.name;
      }
      throw DiffInputError(fmt::format(
          "{}: '{}' is not KEY=VALUE with KEY one of: {} (or fleet[N].KEY=VALUE: group N of "
          "clients.fleet)",
          side, s, names));
    }
    if (!seen.insert(group ? "fleet[" + group->first + "]." + k->name : key).second) {
      throw DiffInputError(fmt::format("{}: {} is given twice", side, key));
    }
    const nlohmann::json value = value_of(*k, s.substr(eq + 1));
    if (!group) {
      if (!fleet) clients[k->field] = value;
      for (std::size_t g = 0; g < groups; ++g) clients["fleet"][g][k->field] = value;
      continue;
    }
    const std::string& n = group->first;
    const bool digits =
        !n.empty() && n.size() < 4 && n.find_first_not_of("0123456789") == std::string::npos;
    if (!fleet) {
      throw DiffInputError(fmt::format(
          "{}: '{}' names a fleet group, but the scenario has no clients.fleet; use {}=VALUE", side,
          s, k->name));
    }
    if (!digits || std::stoul(n) >= groups) {
      throw DiffInputError(
          fmt::format("{}: '{}': no fleet group '{}'; allowed: 0..{} (clients.fleet has {} groups)",
                      side, s, n, groups - 1, groups));
    }
    per_group.emplace_back("/" + n + "/" + k->field, value);
  }
  for (const auto& [where, value] : per_group) {
    clients["fleet"][nlohmann::json::json_pointer(where)] = value;
  }
  try {
    return parse_scenario(j, ctx, side);
  } catch (const ScenarioError& e) {
    throw DiffInputError(e.what());
  }
}

std::string settings_text(const Scenario& s) {
  const auto clients = to_json(s)["clients"];
  auto keys_of = [](const nlohmann::json& c) {
    std::string out;
    for (const auto& k : engine_keys()) {
      const auto& v = c[k.field];
      out += fmt::format("{}{}={}", out.empty() ? "" : " ", k.name,
                         v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
  };
  if (!clients.contains("fleet")) return keys_of(clients);
  std::string out;
  for (std::size_t g = 0; g < clients["fleet"].size(); ++g) {
    out += fmt::format("{}fleet[{}]: {}", g == 0 ? "" : "; ", g, keys_of(clients["fleet"][g]));
  }
  return out;
}

std::set<std::string> parse_allow_list(const std::vector<std::string>& names) {
  const auto& allowed = allowable_divergence_classes();
  std::set<std::string> out;
  for (const auto& n : names) {
    if (std::find(allowed.begin(), allowed.end(), n) == allowed.end()) {
      throw DiffInputError(fmt::format("--allow: '{}' is not a divergence class; allowed: {}", n,
                                       fmt::join(allowed, ", ")));
    }
    out.insert(n);
  }
  return out;
}

bool SeedDiff::internal_error() const {
  auto bad = [](const RunResult& r) {
    return r.stop.kind == sim::StopKind::Crash || r.stop.kind == sim::StopKind::Bound;
  };
  return bad(a) || bad(b);
}

namespace {

std::string verdict(const RunResult& r) {
  if (r.violation) return "violates " + r.violation->invariant;
  return r.passed ? "passed" : "stopped: " + r.stop.message;
}

nlohmann::json observation_json(const std::optional<Observation>& o) {
  if (!o) return nullptr;
  return {{"at_s", static_cast<double>(o->at) / 1e6}, {"field", o->field}, {"value", o->value}};
}

nlohmann::json observations_json(const std::vector<Observation>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& o : v) out.push_back(observation_json(o));
  return out;
}

nlohmann::json run_json(const RunResult& r) {
  return {{"verdict", verdict(r)},
          {"expectation_met", r.expectation_met},
          {"events", r.events},
          {"trace_hash", r.trace_hash}};
}

}  // namespace

RecordedRun record_run(const Scenario& s, RunOptions opts) {
  std::unique_ptr<ObservationRecorder> recorder;
  opts.attach = [&recorder, before = std::move(opts.attach)](World& world) {
    if (before) before(world);
    recorder = std::make_unique<ObservationRecorder>(world.loop().clock());
    world.observers().add(recorder.get());
  };
  RecordedRun out;
  out.result = run_scenario(s, opts);
  if (recorder) out.streams = recorder->take_streams();
  return out;
}

RecordedRun record_run(const Scenario& s, uint64_t seed, const ExtraCores& cores) {
  RunOptions opts;
  opts.seed = seed;
  opts.extra_cores = cores;
  return record_run(s, std::move(opts));
}

SeedDiff diff_seed(const Scenario& a, const Scenario& b, uint64_t seed,
                   const std::set<std::string>& allow, const ExtraCores& cores, bool per_field) {
  // A first, then B (argument evaluation order is unspecified).
  RecordedRun run_a = record_run(a, seed, cores);
  RecordedRun run_b = record_run(b, seed, cores);
  return compare_runs(seed, std::move(run_a), std::move(run_b), allow, per_field);
}

SeedDiff compare_runs(uint64_t seed, RecordedRun a, RecordedRun b,
                      const std::set<std::string>& allow, bool per_field) {
  SeedDiff d;
  d.seed = seed;
  d.comparison = compare_streams(a.streams, b.streams, allow, per_field);
  d.a = std::move(a.result);
  d.b = std::move(b.result);
  if (!d.comparison.first && verdict(d.a) != verdict(d.b)) {
    d.verdict_divergence = fmt::format("A {}, B {}", verdict(d.a), verdict(d.b));
  }
  return d;
}

std::string describe(const Observation& o) {
  return fmt::format("t={:.6f}s {} {}", static_cast<double>(o.at) / 1e6, o.field, o.value);
}

nlohmann::json to_json(const SeedDiff& d) {
  nlohmann::json j = {{"seed", d.seed},
                      {"diverged", d.diverged()},
                      {"allowed", d.comparison.allowed},
                      {"compared", d.comparison.compared},
                      {"a", run_json(d.a)},
                      {"b", run_json(d.b)}};
  if (const auto& f = d.comparison.first) {
    j["divergence"] = {{"class", f->klass},
                       {"client", f->client},
                       {"group", f->group},
                       {"index", f->index},
                       {"a", observation_json(f->a)},
                       {"b", observation_json(f->b)},
                       {"before", observations_json(f->before)},
                       {"after_a", observations_json(f->after_a)},
                       {"after_b", observations_json(f->after_b)}};
  } else if (d.verdict_divergence) {
    j["divergence"] = {{"class", "verdict"}, {"message", *d.verdict_divergence}};
  }
  return j;
}

}  // namespace syncsim::scenarios
