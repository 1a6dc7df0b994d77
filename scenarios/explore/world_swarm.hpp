// The world swarm (issue 14): a swarm section `"world": {...}` draws a whole scenario per
// seed: the fleet (groups of core x SDK x checkpoint mode), the service (flavour, lag,
// retention, compact interval, batch latency, token lifetime, streams), the network, the
// workload and faults of every kind, lifecycle ones included, with protocol-event triggers.
// Each dimension is a weighted choice among named classes; the file's `weights` override the
// defaults (weight 0 excludes a class), so a team can focus a hunt.
//
// Valid by construction: impossible combinations (world_exclusions()) are never drawn, and
// the draw is revalidated by the loader.  Never drawn: mutants, `expect`, comparison-only
// switches (clients.fixed_quirks, service.write_checkpoint_mode "custom").  The invariant
// exemptions of a draw are the runner's, computed from the drawn settings exactly as for a
// hand-written scenario with the same settings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/format/scenario.hpp"
#include "sim/prng.hpp"

namespace syncsim::scenarios {

struct WorldDimension {
  std::string key;                                   // e.g. "fleet.core"
  std::vector<std::pair<std::string, int>> classes;  // class -> default weight, draw order
  std::string what;
};

// Every dimension, in draw order.  fleet.core's classes are the registered cores (ctx).
std::vector<WorldDimension> world_dimensions(const ValidationContext& ctx);
// The fault classes whose counts `fault_counts` sets, and the kinds of each.
const std::vector<std::pair<std::string, std::vector<std::string>>>& world_fault_classes();
// Impossible combinations the draw excludes by construction, one sentence each.
const std::vector<std::string>& world_exclusions();

// Problems of a `swarm.world` value, each {json path below swarm.world, message}.
std::vector<std::pair<std::string, std::string>> world_spec_problems(const nlohmann::json& world,
                                                                     const ValidationContext& ctx);

// Draws the world of one seed into `s` (clients, service, network, workload, duration and
// faults as JSON) and records every drawn value in `params`.  `faults` receives the drawn
// faults in the file format.
// `picks`, when given, receives every (dimension, class) the draw picked, in draw order, and
// each fault class's count as ("count.<class>", n).
using WorldPicks = std::vector<std::pair<std::string, std::string>>;
// `seed`'s pins in `world["pins"]` (a guided child, guided.hpp) fix the classes of the picks
// they list (in draw order per dimension) and the fault counts; every other value is drawn.
void draw_world(Scenario& s, nlohmann::json& faults, nlohmann::json& params,
                const nlohmann::json& world, uint64_t seed, sim::Prng& rng,
                const ValidationContext& ctx, WorldPicks* picks = nullptr);
// The picks of `seed`'s draw of `base` (a world swarm), redrawn exactly as draw_swarm does.
WorldPicks world_picks(const Scenario& base, uint64_t seed, const ValidationContext& ctx);
// The effective weights of a `swarm.world` value: every dimension, every class (defaults
// filled in), in the file format of `weights`.
nlohmann::json world_weights(const nlohmann::json& world, const ValidationContext& ctx);

}  // namespace syncsim::scenarios
