// Runs one scenario with one seed: build the world (sim + model + engines), run the
// workload and faults, heal and quiesce, judge, and summarise.  A seed fully determines
// the run: the same seed and build give a byte-identical trace (docs/architecture.md §2).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "engine/core_registry.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/results/run_recorder.hpp"
#include "sim/cost_region.hpp"
#include "sim/invariants.hpp"

namespace syncsim::engine::js {
class HostProcesses;
}
#include "sim/loop.hpp"

namespace syncsim::scenarios {

class World;

// Cores beyond the pinned registry, by the name a scenario's clients.core uses for them
// (--core-path registers its build as "path"; docs/architecture.md §3).
using ExtraCores = std::map<std::string, engine::CoreVersion>;

// Every invariant and mutant the program knows; the scenario validator checks against it.
const sim::InvariantCatalog& invariant_catalog();
std::vector<std::string> mutant_names();
ValidationContext validation_context();
// Also accepts the extra cores' names (those the shim can drive).
ValidationContext validation_context(const ExtraCores& extra);
// Whether the SDK shim can drive this core (the validator offers only those).
bool shim_drives(const engine::CoreVersion& core);

std::string build_id();
std::string repro_string(const Scenario& s, const std::string& scenario_path, uint64_t seed);

struct RunOptions {
  uint64_t seed = 1;
  std::ostream* trace_sink = nullptr;  // full trace, one line per event
  std::size_t keep_trace_lines = 0;    // keep the tail in memory (failure context)
  sim::Bounds bounds;
  ExtraCores extra_cores;
  // Called once the world is built, before it starts (e.g. to add an observer).
  std::function<void(World&)> attach;
  // Swarm run (scenarios/explore/swarm.hpp): a scenario with a swarm section runs the concrete
  // scenario drawn for this seed; without a swarm section this changes nothing.
  bool swarm = false;
  // js-real host processes kept across runs (engine/js/js_host.hpp); null: one per run.
  std::shared_ptr<engine::js::HostProcesses> js_processes;
  // The profiler's region tag (bench/cost_bench, sim/cost_region.hpp); null: not measured.
  sim::CostMeter* cost_meter = nullptr;
};

struct RunResult {
  std::string scenario;
  uint64_t seed = 0;
  bool passed = false;           // no invariant violated and no bound tripped
  bool expectation_met = false;  // `expect` of the scenario held
  std::optional<sim::Violation> violation;
  sim::StopReason stop;  // Finished, Failure, Bound or Crash
  uint64_t events = 0;
  sim::Micros simulated = 0;
  double wall_seconds = 0;
  std::string trace_hash;
  uint64_t trace_lines = 0;
  std::string pending;                     // filled when something is stuck or a bound tripped
  std::map<std::string, uint64_t> checks;  // invariant -> times checked
  std::map<std::string, uint64_t> metrics;
  // Sometimes-properties (scenarios/explore/sometimes.hpp): every condition -> how often it
  // happened, and the scenario's list; vacuous() = the listed conditions that never happened.
  std::map<std::string, uint64_t> sometimes;
  std::vector<std::string> sometimes_listed;
  [[nodiscard]] std::vector<std::string> vacuous() const;
  std::vector<std::string> trace_tail;
  Timeline timeline;       // what the report's sequence diagram shows (a bounded window)
  nlohmann::json samples;  // latency samples per kind (samples_json, run_recorder.hpp)
  // Faults with an `on` trigger, and those of them that never fired (described).
  std::size_t faults_triggered = 0;
  std::vector<std::string> faults_unfired;
  // A swarm run's drawn parameters (swarm_params), null otherwise.
  nlohmann::json swarm;
  // Abstract protocol-state cells reached (scenarios/explore/abstract_state.hpp), sorted.
  std::vector<std::string> abstract_states;
};

RunResult run_scenario(const Scenario& scenario, const RunOptions& options);

// Quiesce length when the scenario does not set one: heartbeat + lag + 2 x repost delay +
// retry delay, plus slack (docs/invariants.md §1).
sim::Micros quiesce_duration(const Scenario& s);

}  // namespace syncsim::scenarios
