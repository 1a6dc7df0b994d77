#include "reports/report_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "scenarios/format/metric_names.hpp"

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
    } else if (name == "invariants" && value.is_array() && value.empty()) {
      out.emplace_back(name, "(all)");  // an empty list checks every invariant
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
  // at_ms is at most 2^50 here (results_shape_error), so the microseconds cannot overflow.
  const int64_t at_ms = f.value("at_ms", int64_t{0});
  return fmt::format("t={} {}{}", seconds_text(at_ms * 1000), f.value("kind", std::string("?")),
                     args.empty() ? "" : " (" + args + ")");
}

struct MetricSpec {
  const char* key;
  const char* title;
  const char* unit;
};

// The per-seed charts of docs/reports.md §1 / issue 6, in the order a reviewer reads them.
constexpr const char* kCharted[] = {
    "write_to_ack_p50_ms", "write_to_ack_max_ms", "ack_latency_p50_ms", "ack_latency_max_ms",
    "hidden_acks",         "blocked_checkpoints", "markers_written",    "reconnects",
};

// A scenario that names no headline: the request/ack numbers (those with data are shown).
constexpr const char* kDefaultHeadline[] = {
    "hidden_ack_share_pct", "direct_ack_latency_p50_ms", "hidden_ack_latency_p50_ms",
    "write_to_ack_p50_ms",  "applied_checkpoints",
};

// The recorder's sample kinds, titled (scenarios/results/run_recorder.hpp RunRecorder::samples).
constexpr std::pair<const char*, const char*> kDistributions[] = {
    {"ack_direct_ms", "request → ack by its own id"},
    {"ack_hidden_ms", "request → ack only by a later id (hidden)"},
    {"write_to_ack_ms", "local write → visible with its ack"},
    {"barrier_closed_ms", "barrier closed: target set → checkpoint applied"},
};

// "at_ms,client,ms;..." (samples_json) of one run.
void parse_samples(const std::string& text, uint64_t seed, const std::string& kind,
                   std::vector<Sample>& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = std::min(text.find(';', pos), text.size());
    Sample s{seed, 0, 0, 0};
    long long at = 0, ms = 0;
    int client = 0, used = 0;
    const std::string item = text.substr(pos, end - pos);
    if (std::sscanf(item.c_str(), "%lld,%d,%lld%n", &at, &client, &ms, &used) != 3 ||
        used != static_cast<int>(item.size())) {
      throw ReportError(fmt::format(
          "results document: seed {} samples.{}: \"{}\" is not at_ms,client,ms", seed, kind, item));
    }
    // The same bound as results_shape_error's times, so that no plot arithmetic overflows.
    constexpr long long kMax = 1LL << 50;
    if (at < 0 || at > kMax || ms < 0 || ms > kMax || client < 0) {
      throw ReportError(fmt::format(
          "results document: seed {} samples.{}: \"{}\": at_ms and ms must be integers from 0 to "
          "2^50 (1125899906842624) and client >= 0",
          seed, kind, item));
    }
    s.at_ms = at;
    s.client = client;
    s.ms = ms;
    out.push_back(s);
    pos = end + 1;
  }
}

MetricSeries series_of(const nlohmann::json& runs, const std::string& key) {
  const auto* name = scenarios::find_metric_name(key);
  MetricSeries series{key, name ? name->title : key, name ? name->unit : "", {}};
  for (const auto& r : runs) {
    const auto& metrics = r.value("metrics", nlohmann::json::object());
    std::optional<uint64_t> v;
    if (metrics.contains(key) && metrics[key].is_number_unsigned()) {
      v = metrics[key].get<uint64_t>();
    }
    series.by_seed.emplace_back(r.at("seed").get<uint64_t>(), v);
  }
  return series;
}

std::string verdict_of(const ReportModel& m) {
  const auto n = m.seeds.size();
  if (m.failed > 0) {
    const auto first = std::find_if(m.seeds.begin(), m.seeds.end(),
                                    [](const SeedRow& s) { return !s.expectation_met; });
    return fmt::format("FAIL: {} of {} seeds did not meet the expectation ({}); first, seed {}: {}",
                       m.failed, n, m.expect, first->seed,
                       first->violation.empty() ? "(no violation recorded)" : first->violation);
  }
  if (m.expect != "pass") return fmt::format("PASS: all {} seeds {} as expected", n, m.expect);
  std::string vacuous;
  for (const auto& r : m.sometimes) {
    if (r.status == "VACUOUS") vacuous += (vacuous.empty() ? "" : ", ") + r.id;
  }
  return fmt::format(
      "PASS: {} of {} seeds, no invariant violated{}", n, n,
      vacuous.empty() ? "" : "; VACUOUS for " + vacuous + " (listed, happened in no seed)");
}

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
  d.end_us = t.value("end_us", int64_t{0});
  for (const auto& sp : t.value("spans", nlohmann::json::array())) {
    if (!sp.is_array() || sp.size() != 5) throw ReportError("results document: a malformed span");
    d.spans.push_back({sp[0].get<std::string>(), sp[1].get<std::string>(), sp[2].get<int64_t>(),
                       sp[3].get<int64_t>(), sp[4].get<std::string>()});
  }
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

std::optional<uint64_t> MetricSeries::min() const {
  std::optional<uint64_t> m;
  for (const auto& [seed, value] : by_seed)
    if (value && (!m || *value < *m)) m = value;
  return m;
}

std::vector<int64_t> Distribution::sorted_values() const {
  std::vector<int64_t> v;
  v.reserve(samples.size());
  for (const auto& s : samples) v.push_back(s.ms);
  std::sort(v.begin(), v.end());
  return v;
}

std::optional<int64_t> Distribution::quantile(double q) const {
  if (samples.empty()) return std::nullopt;
  const auto v = sorted_values();
  auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

const Distribution* ReportModel::distribution(const std::string& key) const {
  for (const auto& d : distributions)
    if (d.key == key) return &d;
  return nullptr;
}

const MetricSeries* ReportModel::metric(const std::string& key) const {
  for (const auto& s : metrics)
    if (s.key == key) return &s;
  return nullptr;
}

Difference difference(const MetricSeries& a, const MetricSeries& b) {
  Difference d;
  std::map<uint64_t, uint64_t> in_a;
  for (const auto& [seed, v] : a.by_seed)
    if (v) in_a[seed] = *v;
  std::vector<int64_t> diffs;
  for (const auto& [seed, v] : b.by_seed) {
    auto it = in_a.find(seed);
    if (v && it != in_a.end()) {
      diffs.push_back(static_cast<int64_t>(*v) - static_cast<int64_t>(it->second));
    }
  }
  if (!diffs.empty()) {
    std::sort(diffs.begin(), diffs.end());
    d.paired = true;
    d.seeds = diffs.size();
    d.median = diffs[diffs.size() / 2];
    d.lo = diffs.front();
    d.hi = diffs.back();
    return d;
  }
  if (a.median() && b.median()) {
    d.median = static_cast<int64_t>(*b.median()) - static_cast<int64_t>(*a.median());
    d.lo = static_cast<int64_t>(*b.min()) - static_cast<int64_t>(*a.max());
    d.hi = static_cast<int64_t>(*b.max()) - static_cast<int64_t>(*a.min());
  }
  return d;
}

namespace {
std::string grouped(int64_t v) {  // 29098 -> "29 098"
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}
std::string signed_text(int64_t v) { return (v > 0 ? "+" : "") + grouped(v); }
}  // namespace

std::string difference_text(const Difference& d, const std::string& unit) {
  if (!d.median) return "–";
  const std::string u = unit == "count" ? "" : " " + unit;
  return fmt::format("{}{} [{}, {}] {}", signed_text(*d.median), u, signed_text(*d.lo),
                     signed_text(*d.hi),
                     d.paired ? fmt::format("over {} paired seeds", d.seeds)
                              : std::string("(unpaired: medians, spread of both)"));
}

std::string difference_reading(const Difference& d) {
  if (!d.median) return "–";
  if (!d.differs()) return "no clear difference (the interval includes 0)";
  return *d.lo > 0 ? "B higher" : "B lower";
}

std::vector<std::string> comparison_headline(const ReportModel& a, const ReportModel& b) {
  std::vector<std::string> keys = a.headline;
  for (const auto& k : b.headline) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  return keys;
}

MetricSeries metric_or_empty(const ReportModel& m, const std::string& key) {
  if (const auto* s = m.metric(key)) return *s;
  const auto* name = scenarios::find_metric_name(key);
  return {key, name ? name->title : key, name ? name->unit : "", {}};
}

std::string spread_text(const MetricSeries& s) {
  if (!s.median()) return "–";
  const std::string u = s.unit == "count" ? "" : " " + s.unit;
  if (*s.min() == *s.max())
    return fmt::format("{}{}", grouped(static_cast<int64_t>(*s.median())), u);
  return fmt::format("{}{} (seeds {}–{})", grouped(static_cast<int64_t>(*s.median())), u,
                     grouped(static_cast<int64_t>(*s.min())),
                     grouped(static_cast<int64_t>(*s.max())));
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
                      seconds_text(static_cast<int64_t>(std::llround(v.value("at_s", 0.0) * 1e6))),
                      v.value("subject", std::string()), v.value("message", std::string()));
      // Sweeps keep timelines only for failures and the range's first seed (an expected
      // violation may have none): draw the first violation that has one.
      if (!diagram_run && r.contains("timeline")) diagram_run = &r;
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

  // The headline: the scenario's named metrics, else the request/ack numbers with data.
  std::vector<std::string> keys = scenario.value("headline", std::vector<std::string>{});
  if (keys.empty()) {
    for (const char* key : kDefaultHeadline) {
      if (series_of(runs, key).median()) keys.emplace_back(key);
    }
  }
  m.headline = keys;
  for (const char* key : kCharted) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
  }
  m.shown = keys;
  // Every named metric, so a comparison finds each variant's headline in the other.
  for (const auto& name : scenarios::kMetricNames) {
    if (std::find(keys.begin(), keys.end(), name.key) == keys.end()) keys.emplace_back(name.key);
  }
  for (const auto& key : keys) m.metrics.push_back(series_of(runs, key));
  for (const auto& [key, title] : kDistributions) {
    Distribution d{key, title, {}};
    for (const auto& r : runs) {
      const auto& samples = r.value("samples", nlohmann::json::object());
      if (samples.contains(key) && samples[key].is_string()) {
        parse_samples(samples[key].get<std::string>(), r.at("seed").get<uint64_t>(), key,
                      d.samples);
      }
    }
    m.distributions.push_back(std::move(d));
  }
  for (const auto& r : runs) {
    m.run_end_ms = std::max(
        m.run_end_ms, static_cast<int64_t>(std::llround(r.value("simulated_s", 0.0) * 1000.0)));
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
    const auto first_drawn = std::find_if(runs.begin(), runs.end(),
                                          [](const auto& r) { return r.contains("timeline"); });
    if (first_drawn == runs.end()) {
      // A sweep shard keeps the timeline of the range's first seed and failures only.
      m.diagram.seed = runs.front().at("seed").get<uint64_t>();
      m.diagram.why =
          "no run of these results kept its timeline (a sweep keeps the first "
          "seed's and failures')";
      for (int i = 1; i <= clients; ++i) m.diagram.lanes.push_back(fmt::format("client {}", i));
      m.diagram.lanes.push_back("service");
      m.diagram.lanes.push_back("replication");
    } else {
      m.diagram = diagram_of(*first_drawn, clients,
                             "no seed violated an invariant: the first seed recorded");
    }
  }
  for (const auto& r : runs) {
    if (r.value("seed", uint64_t{0}) != m.diagram.seed) continue;
    m.repro = r.value("repro", std::string());
    // A swarm run (scenarios/explore/swarm.hpp): every drawn value, by name (faults as scenario
    // JSON).
    if (r.contains("swarm")) {
      for (const auto& [key, value] : r["swarm"].items()) {
        m.swarm += fmt::format("{}{}={}", m.swarm.empty() ? "" : " ", key, value.dump());
      }
    }
  }
  for (const auto& r : runs) {
    if (r.value("seed", uint64_t{0}) != m.diagram.seed || r.value("expectation_met", true))
      continue;
    Explanation x;
    x.seed = m.diagram.seed;
    for (const auto& row : m.seeds)
      if (row.seed == x.seed) x.violation = row.violation;
    if (const auto v = r.find("violation"); v != r.end() && v->is_object()) {
      for (const auto& in : v->value("inputs", nlohmann::json::array())) {
        x.inputs.push_back({in.value("name", std::string()), in.value("value", std::string()),
                            in.value("source", std::string()), in.value("line", uint64_t{0})});
      }
      for (const auto& c : v->value("chain", nlohmann::json::array())) {
        x.chain.emplace_back(c.value("what", std::string()), c.value("line", uint64_t{0}));
      }
    }
    if (const auto t = r.find("twin"); t != r.end() && t->is_object()) {
      x.twin_removed = t->value("removed", std::string());
      x.twin_verdict =
          t->value("twin_passed", false) ? "PASS" : "FAIL: " + t->value("twin_stop", std::string());
      x.line = t->value("line", uint64_t{0});
      x.run_line = t->value("run_line", std::string());
      x.twin_line = t->value("twin_line", std::string());
      x.context = t->value("context", std::vector<std::string>{});
    }
    m.explanation = std::move(x);
  }
  m.verdict = verdict_of(m);
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
                      {"min", s.min() ? nlohmann::json(*s.min()) : nlohmann::json()},
                      {"max", s.max() ? nlohmann::json(*s.max()) : nlohmann::json()}};
  }
  nlohmann::json distributions = nlohmann::json::object();
  for (const auto& d : m.distributions) {
    auto q = [&](double x) {
      const auto v = d.quantile(x);
      return v ? nlohmann::json(*v) : nlohmann::json();
    };
    distributions[d.key] = {{"title", d.title}, {"samples", d.samples.size()},
                            {"p50", q(0.5)},    {"p90", q(0.9)},
                            {"p99", q(0.99)},   {"max", q(1.0)}};
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
          {"verdict", m.verdict},
          {"headline", m.headline},
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
          {"distributions", distributions},
          {"diagram",
           {{"seed", m.diagram.seed},
            {"why", m.diagram.why},
            {"events", m.diagram.events.size()},
            {"first", m.diagram.first},
            {"total", m.diagram.total}}}};
}

}  // namespace syncsim::reports
