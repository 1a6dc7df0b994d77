// Swarm testing (TigerBeetle-style): a scenario's `swarm` section gives ranges for knobs and
// a recipe for extra faults; with --swarm each seed draws concrete values from a PRNG split
// from the run seed ("swarm"), giving an ordinary concrete Scenario that is then run.  The
// draw never reads the world's PRNG streams, so the simulation of a drawn scenario is the
// one its concrete file would give.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"

namespace syncsim::scenarios {

// One knob a swarm section may range over: its name in `swarm`, the values the scenario
// format allows for it, and how a drawn value is put into a scenario.
struct SwarmKnob {
  std::string key;  // e.g. "service.replication_lag_ms"
  int64_t lo = 0;   // the format's own range of the field(s)
  int64_t hi = 0;
  std::string what;  // one line for docs and errors
  std::function<void(Scenario&, int64_t)> apply;
};

// Every knob, in name order.
const std::vector<SwarmKnob>& swarm_knobs();
const SwarmKnob* find_swarm_knob(const std::string& key);
// The fault kinds swarm.faults.kinds may name (those drawable without more context:
// upgrade, downgrade and switch_mode need cores or modes the draw cannot know).
const std::vector<std::string>& swarm_fault_kinds();
// The protocol events a drawn trigger picks from (FaultTrigger::event).
const std::vector<std::string>& trigger_events();

struct SwarmDraw {
  Scenario scenario;      // concrete: no swarm section, drawn faults merged in time order
  nlohmann::json params;  // every drawn value: knob -> value, "faults" -> the added faults
};

// Draws the concrete scenario of `seed`; `base` must have a swarm section.  The result is
// revalidated through the loader (ScenarioError if the draw broke a cross-field rule).
SwarmDraw draw_swarm(const Scenario& base, uint64_t seed, const ValidationContext& ctx);

// One line naming every drawn value, e.g. "clients.count=2 service.replication_lag_ms=3100
// faults=2 [disconnect client 1 @1200ms on upload_in_flight of client 2; compact @5000ms]".
std::string swarm_params_text(const nlohmann::json& params);

}  // namespace syncsim::scenarios
