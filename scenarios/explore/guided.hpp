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
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/explore/world_swarm.hpp"

namespace syncsim::scenarios {

struct GuidedRun {
  WorldPicks picks;                // the (dimension, class) picks of its draw
  std::vector<std::string> cells;  // abstract-state cells it reached
};

// Weights (the `swarm.world.weights` format, every dimension and class) for the next batch,
// from the base `world` section and the runs of earlier batches in seed order.  Without runs,
// the base weights.
nlohmann::json guided_weights(const nlohmann::json& world, const std::vector<GuidedRun>& runs,
                              const ValidationContext& ctx);

}  // namespace syncsim::scenarios
