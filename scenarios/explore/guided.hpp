// The coverage-guided world swarm (issue 14 §5, `syncsim hunt --guided`): seeds run in
// fixed-size batches; the weights of batch k are computed only from the runs of batches
// before k (sorted by seed), so the result is the same whatever --jobs.  Each batch's
// weights are written as a concrete swarm file, so a guided seed's repro names the file
// that redraws its scenario.
//
// The bias: every earlier run gets a novelty score, the sum over the abstract-state cells
// it reached (scenarios/explore/abstract_state.hpp) of 1 / (runs that reached the cell)^2.
// Each class of each dimension is weighed by the mean novelty of the runs that picked it
// against the dimension's mean (factor clamped to 1/5..5); a class no earlier run picked
// gets factor 2 (explore it).  A class the file weighs 0 stays 0, so a focus is kept.
//
// Weights alone spread their credit over ~40 dimensions; a rare cell usually needs a
// combination.  So most seeds of a batch are *children* (AFL-style): a child keeps an earlier
// run's picks (classes per dimension in draw order, fault counts) except 1..3 dimensions
// drawn afresh, and redraws every number (times, lengths, ids) from its own seed.  Parents
// are chosen by energy: the run's rarity (per cell reached, (1 + unreached cells one
// component away) / runs that reached it; failing runs count with the cells they reached
// before stopping), times (1 + cells it reached first), divided by (1 + its children that
// reached nothing new).  The pins are written into the batch file (`swarm.world.pins`), so
// a child's repro redraws it from that file and its seed alone.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/explore/world_swarm.hpp"

namespace syncsim::scenarios {

struct GuidedRun {
  uint64_t seed = 0;
  uint64_t parent = 0;             // the seed it is a child of (0: drawn freely)
  WorldPicks picks;                // the (dimension, class) picks of its draw
  std::vector<std::string> cells;  // abstract-state cells it reached
};

// Of every 4 seeds of a guided batch, this many are children (the rest draw freely).
inline constexpr uint64_t kChildrenPerFour = 3;

// Weights (the `swarm.world.weights` format, every dimension and class) for the next batch,
// from the base `world` section and the runs of earlier batches in seed order.  Without runs,
// the base weights.
nlohmann::json guided_weights(const nlohmann::json& world, const std::vector<GuidedRun>& runs,
                              const ValidationContext& ctx);

// The `swarm.world.pins` of the next batch (batch number `batch`, its `seeds`), from the runs of
// earlier batches in batch and seed order: {"<seed>": {key: [class or count, ...]}} for each
// child; `parents` receives child seed -> parent seed.  Empty without runs.
nlohmann::json guided_pins(const std::vector<GuidedRun>& runs, const std::vector<uint64_t>& seeds,
                           uint64_t batch, std::map<uint64_t, uint64_t>& parents);

}  // namespace syncsim::scenarios
