#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <utility>

namespace syncsim::scenarios::checks {

void fail(sim::Loop& loop, sim::Trace& trace, sim::Verdicts& verdicts, const std::string& invariant,
          int client, const std::string& message, std::vector<sim::ViolationInput> inputs,
          std::vector<sim::CauseStep> chain) {
  sim::Violation v{invariant, loop.clock().elapsed(), fmt::format("client {}", client),
                   message,   std::move(inputs),      std::move(chain)};
  trace.log("check", "VIOLATION {} client {}: {}", invariant, client, message);
  sim::log_explanation(trace, v);
  verdicts.violate(std::move(v));
  loop.stop(sim::StopKind::Failure, invariant + ": " + message);
}

}  // namespace syncsim::scenarios::checks
