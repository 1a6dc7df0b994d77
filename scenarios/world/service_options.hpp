// The service fields of issue 17 (API processes, duplicate window, connection limit, batch
// failures, compaction invalidation per page) from a scenario's ServiceSpec into the model's
// ServiceConfig; kept out of world.cpp so the mapping stays in one small place.
#pragma once

#include "model/service.hpp"
#include "scenarios/format/scenario.hpp"

namespace syncsim::scenarios {

void apply_service_options(const ServiceSpec& spec, model::ServiceConfig& cfg);

}  // namespace syncsim::scenarios
