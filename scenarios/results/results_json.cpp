#include "scenarios/results/results_json.hpp"

#include <algorithm>
#include <set>

#include "engine/core_registry.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/results/results.hpp"

namespace syncsim::scenarios {

nlohmann::json timeline_json(const Timeline& t) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : t.events) {
    events.push_back(
        {{"at_us", e.at}, {"from", e.from}, {"to", e.to}, {"kind", e.kind}, {"label", e.label}});
  }
  // Spans as compact rows [lane, kind, from_us, to_us, label]: the whole run's state.
  nlohmann::json spans = nlohmann::json::array();
  for (const auto& sp : t.spans) spans.push_back({sp.lane, sp.kind, sp.from, sp.to, sp.label});
  return {{"events", events},  {"end_us", t.end},  {"spans", spans},
          {"first", t.first},  {"total", t.total}, {"active_faults", t.active_faults},
          {"anchor", t.anchor}};
}

nlohmann::json result_json(const RunResult& r, const std::string& repro) {
  nlohmann::json j = {{"scenario", r.scenario},
                      {"seed", r.seed},
                      {"passed", r.passed},
                      {"expectation_met", r.expectation_met},
                      {"stop", r.stop.message},
                      {"stop_kind", stop_kind_name(r.stop.kind)},
                      {"events", r.events},
                      {"simulated_s", static_cast<double>(r.simulated) / 1e6},
                      {"wall_s", r.wall_seconds},
                      {"trace_hash", r.trace_hash},
                      {"trace_lines", r.trace_lines},
                      {"checks", r.checks},
                      {"metrics", r.metrics},
                      {"repro", repro},
                      {"timeline", timeline_json(r.timeline)}};
  if (r.violation) {
    j["violation"] = {{"invariant", r.violation->invariant},
                      {"at_s", static_cast<double>(r.violation->at) / 1e6},
                      {"subject", r.violation->subject},
                      {"message", r.violation->message}};
    // What the invariant compared and the events that led there (sim/invariants.hpp).
    if (!r.violation->inputs.empty()) {
      auto& inputs = j["violation"]["inputs"] = nlohmann::json::array();
      for (const auto& in : r.violation->inputs) {
        inputs.push_back(
            {{"name", in.name}, {"value", in.value}, {"source", in.source}, {"line", in.line}});
      }
    }
    if (!r.violation->chain.empty()) {
      auto& chain = j["violation"]["chain"] = nlohmann::json::array();
      for (const auto& c : r.violation->chain)
        chain.push_back({{"what", c.what}, {"line", c.line}});
    }
  }
  if (!r.pending.empty()) j["pending"] = r.pending;
  // Only for runs that have such faults or a swarm draw, so other results stay as they were.
  if (r.faults_triggered > 0) j["faults_unfired"] = r.faults_unfired;
  if (!r.swarm.is_null()) j["swarm"] = r.swarm;
  // Coverage cells for hunts; swarm runs only, so other results stay as they were.
  if (!r.swarm.is_null()) j["abstract_states"] = r.abstract_states;
  if (r.samples.is_object() && !r.samples.empty()) j["samples"] = r.samples;
  // Sometimes-properties: every condition's count, the scenario's list, and the listed
  // conditions that never happened in this run (scenarios/explore/sometimes.hpp).
  j["sometimes"] = r.sometimes;
  j["sometimes_listed"] = r.sometimes_listed;
  j["vacuous"] = r.vacuous();
  return j;
}

nlohmann::json scenario_header(const Scenario& s, const std::string& scenario_path,
                               const ExtraCores& extra) {
  nlohmann::json invariants = nlohmann::json::object();
  const auto& catalog = invariant_catalog();
  const auto enabled = s.invariants.empty() ? catalog.ids() : s.invariants;
  for (const auto& id : enabled) {
    if (const auto* info = catalog.find(id)) {
      invariants[id] = {{"statement", info->statement}, {"liveness", info->liveness}};
    }
  }
  std::set<std::string> names;
  if (s.clients.fleet.empty()) names.insert(s.clients.core);
  for (const auto& g : s.clients.fleet) names.insert(g.core);
  for (const auto& f : s.faults) {
    if (!f.core.empty()) names.insert(f.core);
  }
  nlohmann::json cores = nlohmann::json::object();
  for (const auto& name : names) {
    const engine::CoreVersion* core = engine::find_core(name);
    if (auto it = extra.find(name); it != extra.end()) core = &it->second;
    if (!core) continue;
    cores[core->name] = {{"sha256", core->sha256}, {"verified", core->verified}};
  }
  // The catalog of conditions a report shows beside the invariants.
  nlohmann::json conditions = nlohmann::json::object();
  for (const auto& c : sometimes_catalog()) {
    conditions[c.id] = {
        {"statement", c.statement},
        {"listed", std::find(s.sometimes.begin(), s.sometimes.end(), c.id) != s.sometimes.end()}};
  }
  return {{"sqlite_sha256", SYNCSIM_SQLITE_SHA256},
          {"scenario_path", scenario_path},
          {"scenario", to_json(s)},
          {"cores", cores},
          {"invariants", invariants},
          {"sometimes_conditions", std::move(conditions)}};
}

nlohmann::json results_document(const Scenario& s, const std::string& scenario_path,
                                nlohmann::json runs, const ExtraCores& extra) {
  uint64_t passed = 0, failed = 0;
  for (const auto& r : runs) r.value("expectation_met", false) ? ++passed : ++failed;
  // Per listed condition, in how many seeds it happened (vacuous: in none).
  nlohmann::json sometimes = sometimes_summary_json(summarize_sometimes(runs));
  nlohmann::json doc = scenario_header(s, scenario_path, extra);
  doc["build"] = build_id();
  doc["sometimes"] = std::move(sometimes);
  doc["runs"] = std::move(runs);
  doc["passed"] = passed;
  doc["failed"] = failed;
  return doc;
}

}  // namespace syncsim::scenarios
