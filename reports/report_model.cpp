#include "reports/report_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace syncsim::reports {

namespace {

const nlohmann::json& field(const nlohmann::json& j, const std::string& key,
                            const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw ReportError(
        fmt::format("results document: {} has no field '{}' (write it with "
                    "`syncsim run FILE --results OUT.json` from this build)",
                    where, key));
  }
  return j.at(key);
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ", ") + value_text(e);
    return out.empty() ? "(none)" : out;
  }
  return v.dump();
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [key, value] : j.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (key == "faults" && prefix.empty()) continue;  // listed as the fault schedule
    if (value.is_object()) {
      flatten(value, name, out);
    } else if (value.is_array() && !value.empty() && value.front().is_object()) {
      // clients.fleet: one row per group member, clients.fleet[1].core and so on.
      for (std::size_t i = 0; i < value.size(); ++i) {
        flatten(value[i], fmt::format("{}[{}]", name, i), out);
      }
    } else {
      out.emplace_back(name, value_text(value));
    }
  }
}

std::string fault_text(const nlohmann::json& f) {
  std::string args;
  for (const auto& [key, value] : f.items()) {
    if (key == "at_ms" || key == "kind") continue;
    args += fmt::format("{}{}={}", args.empty() ? "" : ", ", key, value_text(value));
  }
  return fmt::format("t={} {}{}", seconds_text(f.value("at_ms", int64_t{0}) * 1000),
                     f.value("kind", std::string("?")), args.empty() ? "" : " (" + args + ")");
}

struct MetricSpec {
  const char* key;
  const char* title;
  const char* unit;
};

// The charts of DESIGN.md §8 / issue 6, in the order a reviewer reads them.
constexpr MetricSpec kCharted[] = {
    {"write_to_ack_p50_ms", "local write → visible with ack, median", "ms"},
    {"write_to_ack_max_ms", "local write → visible with ack, max", "ms"},
    {"ack_latency_p50_ms", "checkpoint request → ack, median", "ms"},
    {"ack_latency_max_ms", "checkpoint request → ack, max", "ms"},
    {"hidden_acks", "request acks hidden by a newer request", "count"},
    {"blocked_checkpoints", "checkpoints withheld by the barrier", "count"},
    {"markers_written", "source markers written", "count"},
    {"reconnects", "sync stream reconnects", "count"},
};

Diagram diagram_of(const nlohmann::json& run, int clients, const std::string& why) {
  Diagram d;
  d.seed = run.at("seed").get<uint64_t>();
  const auto& timeline = field(run, "timeline", "a run");
  d.why = fmt::format("{}; the window is cut around {}", why,
                      timeline.value("anchor", std::string("the start")));
  for (int i = 1; i <= clients; ++i) d.lanes.push_back(fmt::format("client {}", i));
  d.lanes.push_back("service");
  d.lanes.push_back("replication");
  const auto& t = field(run, "timeline", "a run");
  d.first = t.value("first", uint64_t{0});
  d.total = t.value("total", uint64_t{0});
  d.active_faults = t.value("active_faults", std::vector<std::string>{});
  for (const auto& e : t.at("events")) {
    d.events.push_back({e.at("at_us").get<int64_t>(), e.at("from").get<std::string>(),
                        e.at("to").get<std::string>(), e.at("kind").get<std::string>(),
                        e.at("label").get<std::string>()});
  }
  return d;
}

}  // namespace

std::string seconds_text(int64_t micros) {
  return fmt::format("{}.{:03}s", micros / 1'000'000, (micros / 1000) % 1000);
}

std::string optional_text(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "–"; }

std::optional<uint64_t> MetricSeries::median() const {
  std::vector<uint64_t> v;
  for (const auto& [seed, value] : by_seed)
    if (value) v.push_back(*value);
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::optional<uint64_t> MetricSeries::max() const {
  std::optional<uint64_t> m;
  for (const auto& [seed, value] : by_seed)
    if (value && (!m || *value > *m)) m = value;
  return m;
}

ReportModel build_report_model(const nlohmann::json& results) {
  ReportModel m;
  const auto& scenario = field(results, "scenario", "the document");
  const auto& runs = field(results, "runs", "the document");
  if (!runs.is_array() || runs.empty()) {
    throw ReportError("results document: 'runs' is empty; a report needs at least one seed");
  }
  m.scenario = scenario.value("name", std::string("?"));
  m.description = scenario.value("description", std::string());
  m.scenario_path = field(results, "scenario_path", "the document").get<std::string>();
  m.build = field(results, "build", "the document").get<std::string>();
  m.sqlite_sha256 = results.value("sqlite_sha256", std::string());
  const auto& expect = scenario.value("expect", nlohmann::json("pass"));
  m.expect = expect.is_string() ? expect.get<std::string>()
                                : "violates " + expect.value("violates", std::string("?"));
  flatten(scenario, "", m.parameters);
  for (const auto& [name, core] : field(results, "cores", "the document").items()) {
    m.cores.emplace_back(name, core.value("sha256", std::string()) +
                                   (core.value("verified", true) ? "" : " (unverified build)"));
  }
  // A --core-path build: replaying needs the same file.
  std::string core_path;
  if (const auto it = results.find("unverified_core"); it != results.end() && it->is_object()) {
    core_path = " --core-path " + it->value("path", std::string("?"));
  }
  std::set<std::string> classes;
  for (const auto& f : scenario.value("faults", nlohmann::json::array())) {
    m.faults.push_back(fault_text(f));
    classes.insert(f.value("kind", std::string("?")));
  }
  m.fault_classes.assign(classes.begin(), classes.end());
  if (m.fault_classes.empty()) m.fault_classes.push_back("(no faults)");

  // Seeds, verdicts and the invariant table.
  std::map<std::string, InvariantRow> rows;
  for (const auto& [id, info] : field(results, "invariants", "the document").items()) {
    rows[id] = InvariantRow{id, info.value("statement", std::string()), 0, 0, 0, ""};
  }
  const nlohmann::json* diagram_run = nullptr;
  for (const auto& r : runs) {
    SeedRow s;
    s.seed = field(r, "seed", "a run").get<uint64_t>();
    s.expectation_met = r.value("expectation_met", false);
    s.verdict = s.expectation_met ? "PASS" : "FAIL";
    s.events = r.value("events", uint64_t{0});
    s.trace_hash = r.value("trace_hash", std::string());
    s.repro = r.value("repro", std::string());
    std::string violated;
    if (r.contains("violation")) {
      const auto& v = r["violation"];
      violated = v.value("invariant", std::string());
      s.violation =
          fmt::format("{} at {} ({}): {}", violated,
                      seconds_text(static_cast<int64_t>(v.value("at_s", 0.0) * 1e6 + 0.5)),
                      v.value("subject", std::string()), v.value("message", std::string()));
      if (!diagram_run) diagram_run = &r;
    } else if (!r.value("passed", true)) {
      s.violation = r.value("stop", std::string());
    }
    for (auto& [id, row] : rows) {
      const auto checks = r.value("checks", nlohmann::json::object()).value(id, uint64_t{0});
      row.checks += checks;
      if (checks > 0) ++row.seeds_checked;
      if (violated == id) ++row.seeds_violated;
      for (const auto& c : m.fault_classes) {
        auto& cell = m.coverage[id][c];
        if (checks > 0) ++cell.seeds_checked;
        if (violated == id) ++cell.seeds_violated;
      }
    }
    s.expectation_met ? ++m.passed : ++m.failed;
    m.seeds.push_back(std::move(s));
  }
  for (auto& [id, row] : rows) {
    if (row.seeds_violated > 0) {
      row.status = m.expect == "violates " + id ? "expected violation" : "violated";
    } else {
      row.status = row.checks == 0 ? "vacuous" : "held";
    }
    m.invariants.push_back(row);
  }
  // Sometimes-conditions: how often each happened, and in how many seeds; a listed one that
  // happened in no seed makes the pass vacuous for it.
  const auto conditions = results.value("sometimes_conditions", nlohmann::json::object());
  for (const auto& [id, info] : conditions.items()) {
    SometimesRow row{id, info.value("statement", std::string()), info.value("listed", false), 0, 0,
                     ""};
    for (const auto& r : runs) {
      const auto n = r.value("sometimes", nlohmann::json::object()).value(id, uint64_t{0});
      row.count += n;
      if (n > 0) ++row.seeds_happened;
    }
    row.status = !row.listed ? "not listed" : row.seeds_happened == 0 ? "VACUOUS" : "happened";
    m.sometimes.push_back(std::move(row));
  }
  const auto first_seed = m.seeds.front().seed, last_seed = m.seeds.back().seed;
  m.seed_range = first_seed == last_seed ? std::to_string(first_seed)
                                         : fmt::format("{}..{}", first_seed, last_seed);
  m.run_command = (first_seed == last_seed
                       ? fmt::format("syncsim run {} --seed {}", m.scenario_path, first_seed)
                       : fmt::format("syncsim run {} --seeds {}", m.scenario_path, m.seed_range)) +
                  core_path;

  for (const auto& spec : kCharted) {
    MetricSeries series{spec.key, spec.title, spec.unit, {}};
    for (const auto& r : runs) {
      const auto& metrics = r.value("metrics", nlohmann::json::object());
      std::optional<uint64_t> v;
      if (metrics.contains(spec.key)) v = metrics[spec.key].get<uint64_t>();
      series.by_seed.emplace_back(r.at("seed").get<uint64_t>(), v);
    }
    m.metrics.push_back(std::move(series));
  }

  // A fleet's clients.count is the sum of its groups' (the scenario file leaves it out).
  const auto& clients_spec = scenario.value("clients", nlohmann::json::object());
  int clients = clients_spec.value("count", 0);
  for (const auto& g : clients_spec.value("fleet", nlohmann::json::array())) {
    clients += g.value("count", 0);
  }
  if (diagram_run) {
    m.diagram = diagram_of(*diagram_run, clients, "the first seed with a violation");
  } else {
    m.diagram = diagram_of(runs.front(), clients, "no seed violated an invariant: the first seed");
  }
  for (const auto& r : runs) {
    if (r.value("seed", uint64_t{0}) != m.diagram.seed) continue;
    m.repro = r.value("repro", std::string());
    // A swarm run (scenarios/explore/swarm.hpp): every drawn value, by name (faults as scenario JSON).
    if (r.contains("swarm")) {
      for (const auto& [key, value] : r["swarm"].items()) {
        m.swarm += fmt::format("{}{}={}", m.swarm.empty() ? "" : " ", key, value.dump());
      }
    }
  }
  return m;
}

nlohmann::json to_json(const ReportModel& m) {
  nlohmann::json invariants = nlohmann::json::array();
  for (const auto& r : m.invariants) {
    invariants.push_back({{"id", r.id},
                          {"status", r.status},
                          {"checks", r.checks},
                          {"seeds_checked", r.seeds_checked},
                          {"seeds_violated", r.seeds_violated}});
  }
  nlohmann::json sometimes = nlohmann::json::array();
  for (const auto& r : m.sometimes) {
    sometimes.push_back({{"id", r.id},
                         {"listed", r.listed},
                         {"status", r.status},
                         {"count", r.count},
                         {"seeds_happened", r.seeds_happened}});
  }
  nlohmann::json seeds = nlohmann::json::array();
  for (const auto& s : m.seeds) {
    seeds.push_back({{"seed", s.seed},
                     {"verdict", s.verdict},
                     {"violation", s.violation},
                     {"events", s.events},
                     {"trace_hash", s.trace_hash},
                     {"repro", s.repro}});
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& s : m.metrics) {
    nlohmann::json by_seed = nlohmann::json::object();
    for (const auto& [seed, v] : s.by_seed) {
      by_seed[std::to_string(seed)] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    }
    metrics[s.key] = {{"title", s.title},
                      {"unit", s.unit},
                      {"by_seed", by_seed},
                      {"median", s.median() ? nlohmann::json(*s.median()) : nlohmann::json()},
                      {"max", s.max() ? nlohmann::json(*s.max()) : nlohmann::json()}};
  }
  nlohmann::json coverage = nlohmann::json::object();
  for (const auto& [inv, cells] : m.coverage) {
    for (const auto& [cls, cell] : cells) {
      coverage[inv][cls] = {{"seeds_checked", cell.seeds_checked},
                            {"seeds_violated", cell.seeds_violated}};
    }
  }
  nlohmann::json parameters = nlohmann::json::object();
  for (const auto& [k, v] : m.parameters) parameters[k] = v;
  nlohmann::json cores = nlohmann::json::object();
  for (const auto& [k, v] : m.cores) cores[k] = v;
  return {{"scenario", m.scenario},
          {"description", m.description},
          {"scenario_path", m.scenario_path},
          {"build", m.build},
          {"sqlite_sha256", m.sqlite_sha256},
          {"cores", cores},
          {"parameters", parameters},
          {"faults", m.faults},
          {"expect", m.expect},
          {"seeds", seeds},
          {"passed", m.passed},
          {"failed", m.failed},
          {"run_command", m.run_command},
          {"repro", m.repro},
          {"invariants", invariants},
          {"sometimes", sometimes},
          {"coverage", coverage},
          {"metrics", metrics},
          {"diagram",
           {{"seed", m.diagram.seed},
            {"why", m.diagram.why},
            {"events", m.diagram.events.size()},
            {"first", m.diagram.first},
            {"total", m.diagram.total}}}};
}

}  // namespace syncsim::reports
