// The one way a checker reports a violation by a client (every checker's fail()): the
// verdict, a `VIOLATION` trace line, and the run stops with the invariant and the message.
#pragma once

#include <string>

#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::scenarios::checks {

void fail(sim::Loop& loop, sim::Trace& trace, sim::Verdicts& verdicts, const std::string& invariant,
          int client, const std::string& message);

}  // namespace syncsim::scenarios::checks
