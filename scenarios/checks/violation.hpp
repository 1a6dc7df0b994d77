// The one way a checker reports a violation by a client (every checker's fail()): the
// verdict, a `VIOLATION` trace line followed by the explanation (the invariant's inputs and
// the causal chain, docs/reports.md), and the run stops with the invariant and the message.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::scenarios::checks {

void fail(sim::Loop& loop, sim::Trace& trace, sim::Verdicts& verdicts, const std::string& invariant,
          int client, const std::string& message, std::vector<sim::ViolationInput> inputs = {},
          std::vector<sim::CauseStep> chain = {});

// A causal chain from steps noted as (trace line, what happened) in any order: sorted by line
// (ties keep their order), ending in `now` at `now_line`.
std::vector<sim::CauseStep> chain_in_trace_order(
    std::vector<std::pair<uint64_t, std::string>> steps, std::string now, uint64_t now_line);

}  // namespace syncsim::scenarios::checks
