#include "scenarios/explore/shrink.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace syncsim::scenarios {

uint64_t scenario_steps(const Scenario& s, const RunResult& r) {
  auto it = r.metrics.find("local_writes");
  return s.faults.size() + (it == r.metrics.end() ? 0 : it->second);
}

namespace {

using nlohmann::json;

struct Candidate {
  std::string what;
  json scenario;
};

// Every candidate is one change to `j`, biggest reductions first.
std::vector<Candidate> candidates(const json& j) {
  std::vector<Candidate> out;
  auto add = [&](std::string what, json c) {
    if (c != j) out.push_back({std::move(what), std::move(c)});
  };

  // Faults: all, then chunks of halving size (delta debugging), then one at a time.
  if (j.contains("faults") && j["faults"].is_array() && !j["faults"].empty()) {
    const std::size_t n = j["faults"].size();
    json none = j;
    none["faults"] = json::array();
    add("remove all faults", none);
    for (std::size_t chunk = n / 2; chunk >= 1; chunk /= 2) {
      for (std::size_t start = 0; start < n; start += chunk) {
        json c = j;
        auto& f = c["faults"];
        const std::size_t stop = std::min(n, start + chunk);
        f.erase(f.begin() + static_cast<std::ptrdiff_t>(start),
                f.begin() + static_cast<std::ptrdiff_t>(stop));
        add(chunk == 1 ? fmt::format("remove fault #{}", start + 1)
                       : fmt::format("remove faults #{}..#{}", start + 1, stop),
            c);
      }
      if (chunk == 1) break;
    }
  }

  // Clients: fewer groups, smaller groups, or a smaller uniform count.
  if (j.contains("clients") && j["clients"].is_object()) {
    const auto& cl = j["clients"];
    auto smaller = [](int64_t n) {
      std::vector<int64_t> v;
      for (int64_t m : {int64_t{1}, n / 2, n - 1}) {
        if (m >= 1 && m < n && std::find(v.begin(), v.end(), m) == v.end()) v.push_back(m);
      }
      return v;
    };
    if (cl.contains("fleet") && cl["fleet"].is_array() && !cl["fleet"].empty()) {
      const auto& fleet = cl["fleet"];
      for (std::size_t g = 0; fleet.size() > 1 && g < fleet.size(); ++g) {
        json c = j;
        c["clients"]["fleet"].erase(static_cast<std::size_t>(g));
        add(fmt::format("remove client group #{}", g + 1), c);
      }
      for (std::size_t g = 0; g < fleet.size(); ++g) {
        if (!fleet[g].contains("count") || !fleet[g]["count"].is_number_integer()) continue;
        for (int64_t m : smaller(fleet[g]["count"].get<int64_t>())) {
          json c = j;
          c["clients"]["fleet"][g]["count"] = m;
          add(fmt::format("client group #{} count {}", g + 1, m), c);
        }
      }
    } else if (cl.contains("count") && cl["count"].is_number_integer()) {
      const int64_t n = cl["count"].get<int64_t>();
      for (int64_t m : smaller(n)) {
        json c = j;
        c["clients"]["count"] = m;
        add(fmt::format("clients {}", m), c);
      }
      // Without client k: its faults go, later clients' faults are renumbered.
      for (int64_t k = 1; n > 1 && k <= n; ++k) {
        json c = j;
        c["clients"]["count"] = n - 1;
        if (c.contains("faults") && c["faults"].is_array()) {
          json kept = json::array();
          for (auto f : c["faults"]) {
            if (f.contains("client") && f["client"].is_number_integer()) {
              const int64_t who = f["client"].get<int64_t>();
              if (who == k) continue;
              if (who > k) f["client"] = who - 1;
            }
            // A trigger on client k's events goes with it; later clients' are renumbered.
            if (f.contains("on") && f["on"].is_object() && f["on"].contains("client") &&
                f["on"]["client"].is_number_integer()) {
              const int64_t who = f["on"]["client"].get<int64_t>();
              if (who == k) continue;
              if (who > k) f["on"]["client"] = who - 1;
            }
            kept.push_back(std::move(f));
          }
          c["faults"] = std::move(kept);
        }
        add(fmt::format("without client {}", k), c);
      }
    }
  }

  // Duration: as short as the faults allow, then fractions.
  if (j.contains("duration_s") && j["duration_s"].is_number_integer()) {
    const int64_t d = j["duration_s"].get<int64_t>();
    int64_t last_fault_s = 1;
    if (j.contains("faults") && j["faults"].is_array()) {
      for (const auto& f : j["faults"]) {
        if (f.contains("at_ms") && f["at_ms"].is_number_integer()) {
          last_fault_s = std::max(last_fault_s, (f["at_ms"].get<int64_t>() + 999) / 1000);
        }
      }
    }
    std::set<int64_t> tried;
    for (int64_t m : {last_fault_s, d / 4, d / 2, d * 3 / 4, d - 1}) {
      if (m >= 1 && m < d && tried.insert(m).second) {
        json c = j;
        c["duration_s"] = m;
        add(fmt::format("duration {}s", m), c);
      }
    }
  }

  // The fault schedule earlier as a whole (gaps kept), which lets the duration shrink.
  if (j.contains("faults") && j["faults"].is_array() && !j["faults"].empty()) {
    int64_t first = -1;
    for (const auto& f : j["faults"]) {
      if (f.contains("at_ms") && f["at_ms"].is_number_integer()) {
        const int64_t at = f["at_ms"].get<int64_t>();
        first = first < 0 ? at : std::min(first, at);
      }
    }
    for (int64_t shift : {first / 2, first / 4}) {
      if (shift <= 0) continue;
      json c = j;
      for (auto& f : c["faults"]) {
        if (f.contains("at_ms") && f["at_ms"].is_number_integer()) {
          f["at_ms"] = f["at_ms"].get<int64_t>() - shift;
        }
      }
      add(fmt::format("faults {}ms earlier", shift), c);
    }
  }

  // Workload: fewer writes (every *interval*_ms field scaled up together), then each
  // percentage to 0, then a smaller keyspace.
  if (j.contains("workload") && j["workload"].is_object()) {
    const auto& w = j["workload"];
    for (auto [num, den] : {std::pair{4, 1}, {2, 1}, {3, 2}, {5, 4}}) {
      json c = j;
      bool changed = false;
      for (const auto& [k, v] : w.items()) {
        if (k.find("interval") == std::string::npos || !v.is_number_integer()) continue;
        const int64_t scaled = std::min<int64_t>(v.get<int64_t>() * num / den, 3600000);
        changed |= scaled != v.get<int64_t>();
        c["workload"][k] = scaled;
      }
      if (changed) add(fmt::format("write intervals x{}/{}", num, den), c);
    }
    for (const auto& [k, v] : w.items()) {
      if (k.size() > 4 && k.ends_with("_pct") && v.is_number_integer() && v.get<int64_t>() > 0) {
        json c = j;
        c["workload"][k] = 0;
        add(fmt::format("workload.{} 0", k), c);
      }
    }
    if (w.contains("keyspace") && w["keyspace"].is_number_integer()) {
      const int64_t k = w["keyspace"].get<int64_t>();
      for (int64_t m : {int64_t{1}, k / 2}) {
        if (m >= 1 && m < k) {
          json c = j;
          c["workload"]["keyspace"] = m;
          add(fmt::format("keyspace {}", m), c);
        }
      }
    }
  }

  // Fault times: earlier, which lets the duration shrink further.
  if (j.contains("faults") && j["faults"].is_array()) {
    for (std::size_t i = 0; i < j["faults"].size(); ++i) {
      const auto& f = j["faults"][i];
      if (!f.contains("at_ms") || !f["at_ms"].is_number_integer()) continue;
      const int64_t at = f["at_ms"].get<int64_t>();
      if (at <= 0) continue;
      json c = j;
      c["faults"][i]["at_ms"] = at / 2;
      add(fmt::format("fault #{} at {}ms", i + 1, at / 2), c);
    }
  }
  return out;
}

RunResult run_once(const Scenario& s, uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return run_scenario(s, o);
}

bool fails_the_same_way(const RunResult& r, const std::string& invariant) {
  return r.stop.kind == sim::StopKind::Failure && r.violation &&
         r.violation->invariant == invariant;
}

}  // namespace

ShrinkResult shrink(const Scenario& original, const ShrinkOptions& options) {
  ShrinkResult best;
  best.parsed = original;
  best.scenario = to_json(original);
  best.run = run_once(original, options.seed);
  if (!fails_the_same_way(best.run, options.invariant)) {
    throw std::invalid_argument(fmt::format(
        "seed {} of {} does not violate {} (it {})", options.seed, original.name, options.invariant,
        best.run.violation ? "violates " + best.run.violation->invariant
                           : "stops with: " + best.run.stop.message));
  }
  best.steps = best.initial_steps = scenario_steps(original, best.run);
  bool improved = true;
  while (improved) {
    improved = false;
    for (auto& cand : candidates(best.scenario)) {
      if (best.attempts >= options.max_attempts) {
        best.exhausted = true;
        return best;
      }
      Scenario s;
      try {
        s = parse_scenario(cand.scenario, options.ctx, "candidate");
      } catch (const ScenarioError&) {
        continue;  // not a valid scenario: no run, no attempt
      }
      ++best.attempts;
      RunResult r = run_once(s, options.seed);
      const uint64_t steps = scenario_steps(s, r);
      const bool accept =
          fails_the_same_way(r, options.invariant) &&
          (steps < best.steps || (steps == best.steps && r.trace_lines <= best.run.trace_lines));
      if (accept) {
        best.scenario = std::move(cand.scenario);
        best.parsed = std::move(s);
        best.run = std::move(r);
        best.steps = steps;
        ++best.accepted;
        improved = true;
      }
      if (options.progress) {
        options.progress({best.attempts, options.max_attempts, cand.what, accept, best.steps});
      }
      if (accept) break;  // regenerate the candidates from the smaller scenario
    }
  }
  return best;
}

}  // namespace syncsim::scenarios
