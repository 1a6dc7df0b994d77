// Test support (tests/support/): helpers for tests that run catalog scenarios in-process: load a
// catalog file, run one seed keeping the trace tail, describe a result for a failure message, build
// a fault.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/explore/findings.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios::test_support {

inline Scenario catalog(const std::string& name) {
  return load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json",
      validation_context());
}

// A finding's repro or regression from scenarios/findings/ (docs/scenarios.md).
inline Scenario finding(const std::string& name) {
  return load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/findings/" + name + ".json",
      validation_context());
}

// The project's known-findings file, as hunt reads it.
inline std::vector<KnownFinding> project_known_findings() {
  const auto path = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/known-findings.json";
  std::ifstream in(path);
  return parse_known_findings(nlohmann::json::parse(in), path);
}

// One seed, keeping the trace tail for failure messages.
inline RunResult run(const Scenario& s, uint64_t seed = 1) {
  RunOptions o;
  o.seed = seed;
  o.keep_trace_lines = 30;
  return run_scenario(s, o);
}

// Why a run stopped, what was pending, the sometimes-counts (if any) and the trace tail.
inline std::string describe(const RunResult& r) {
  std::string out = r.stop.message + "\n" + r.pending;
  if (!r.sometimes.empty()) {
    out += "counts:";
    for (const auto& [id, n] : r.sometimes) out += " " + id + "=" + std::to_string(n);
    out += "\n";
  }
  for (const auto& l : r.trace_tail) out += "  | " + l + "\n";
  return out;
}

// Determinism (docs/architecture.md §2) on a run a test makes anyway: `first` is run(s, seed),
// and the same seed once more must repeat its trace.  A catalog scenario checked this way on
// seed 1 is left out of determinism_test's CatalogDeterminism, which would run it twice more
// (docs/performance-ci.md "Quick suite toward 60 s (perf12)").
inline ::testing::AssertionResult repeats_its_trace(const Scenario& s, const RunResult& first,
                                                    uint64_t seed) {
  const RunResult again = run(s, seed);
  if (again.trace_hash == first.trace_hash && again.trace_lines == first.trace_lines &&
      again.events == first.events && first.trace_lines > 40) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << s.name << " seed " << seed << " is not deterministic: trace " << first.trace_hash
         << " (" << first.trace_lines << " lines, " << first.events << " events) then "
         << again.trace_hash << " (" << again.trace_lines << " lines, " << again.events
         << " events); `syncsim run <file> --seed " << seed
         << " --check-determinism` names the first divergence";
}

inline Fault fault(int64_t at_ms, FaultKind kind, int client = 1) {
  Fault f;
  f.at_ms = at_ms;
  f.kind = kind;
  f.client = client;
  return f;
}

// A catalog file in its file form, for tests that edit the JSON.
inline nlohmann::json catalog_json(const std::string& name) {
  std::ifstream in(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json");
  return nlohmann::json::parse(in);
}

// A scenario from JSON, as `syncsim validate` would read it (source name "test").
inline Scenario load(const nlohmann::json& j) {
  return parse_scenario(j, validation_context(), "test");
}

// The loader's problems with `j`, "" when it loads.
inline std::string problems_of(const nlohmann::json& j) {
  try {
    load(j);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

// basic with slow writes, slow replication and a disconnect every 1.5 s: reconnects often
// find a concrete target that is not yet acknowledged (target > last_seen).
inline Scenario frequent_reconnects() {
  Scenario s = catalog("basic");
  s.workload.write_interval_min_ms = 4000;
  s.workload.write_interval_max_ms = 8000;
  s.service.replication_lag_ms = 2000;
  s.faults.clear();
  for (int i = 0; i < 36; ++i) {
    s.faults.push_back(fault(5000 + 1500 * i, FaultKind::Disconnect, 1 + i % 3));
  }
  return s;
}

// The same edits on a scenario's file form.
inline void add_frequent_reconnects(nlohmann::json& j) {
  j["workload"]["write_interval_min_ms"] = 4000;
  j["workload"]["write_interval_max_ms"] = 8000;
  j["service"]["replication_lag_ms"] = 2000;
  j["faults"] = nlohmann::json::array();
  for (int i = 0; i < 36; ++i) {
    j["faults"].push_back(
        {{"at_ms", 5000 + 1500 * i}, {"kind", "disconnect"}, {"client", 1 + i % 3}});
  }
}

// At one seed: `twin` with `mutants` fails `invariant` (its message containing `fragment`), and
// `twin` itself passes and checks `invariant` at least once: the checker fails on the bug, not
// on the scenario.
inline void expect_caught_twin_passes(const Scenario& twin, const std::vector<std::string>& mutants,
                                      uint64_t seed, const std::string& invariant,
                                      const std::string& fragment = "") {
  Scenario mutant = twin;
  mutant.mutants = mutants;
  const RunResult m = run(mutant, seed);
  ASSERT_TRUE(!m.passed && m.violation && m.violation->invariant == invariant)
      << "the mutant, seed " << seed << ": " << describe(m);
  EXPECT_NE(m.violation->message.find(fragment), std::string::npos) << m.violation->message;
  const RunResult t = run(twin, seed);
  EXPECT_TRUE(t.passed) << "the twin, seed " << seed << ": " << describe(t);
  EXPECT_GT(t.checks.count(invariant) ? t.checks.at(invariant) : 0u, 0u) << "never checked";
}

// A mutant that an invariant must catch: `scenario()` is the world without the mutants.
struct MutantCase {
  std::string name;
  std::vector<std::string> mutants;
  std::string invariant;
  Scenario (*scenario)();
  bool only = false;  // check only `invariant` (another checker catches the bug first)
};

// The mutants are caught by `m.invariant` within seeds 1..max_seeds; every seed before passes,
// and the catching seed passes without the mutants.
inline void expect_mutant_caught(const MutantCase& m, uint64_t max_seeds) {
  Scenario s = m.scenario();
  s.mutants = m.mutants;
  if (m.only) s.invariants = {m.invariant};
  int detected_at = 0;
  for (uint64_t seed = 1; seed <= max_seeds && detected_at == 0; ++seed) {
    RunResult r = run(s, seed);
    if (!r.violation) {
      ASSERT_TRUE(r.passed) << "seed " << seed << ": " << describe(r);
      continue;
    }
    ASSERT_EQ(r.violation->invariant, m.invariant)
        << "seed " << seed << ": " << r.violation->message;
    detected_at = static_cast<int>(seed);
    RunResult c = run(m.scenario(), seed);
    EXPECT_TRUE(c.passed) << "without the mutant, seed " << seed << ": " << describe(c);
  }
  EXPECT_GT(detected_at, 0) << m.name << " was never detected";
  std::cout << "[ detected ] " << m.name << " on seed " << detected_at << "\n";
}

}  // namespace syncsim::scenarios::test_support
