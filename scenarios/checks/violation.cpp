#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

namespace syncsim::scenarios::checks {

void fail(sim::Loop& loop, sim::Trace& trace, sim::Verdicts& verdicts, const std::string& invariant,
          int client, const std::string& message) {
  verdicts.violate(
      sim::Violation{invariant, loop.clock().elapsed(), fmt::format("client {}", client), message});
  trace.log("check", "VIOLATION {} client {}: {}", invariant, client, message);
  loop.stop(sim::StopKind::Failure, invariant + ": " + message);
}

}  // namespace syncsim::scenarios::checks
