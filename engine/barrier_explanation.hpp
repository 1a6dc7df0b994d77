// barrier-holds explains itself (issue 18): the gate's inputs read before a publishing call
// and the causal chain, shared by the shim (Client::control_text) and the real-SDK host
// (js::JsRealClient::after_control). Defined in engine/sdk_shim.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::engine {

// The violation of barrier-holds by client `client`: `op` published rows although the gate
// read before it (at trace line `before_line`) was closed; `who` is appended to the message.
sim::Violation barrier_violation(int client, sim::Micros at, const std::string& op,
                                 bool crud_before, std::optional<int64_t> target_before,
                                 std::optional<int64_t> last_seen, uint64_t before_line,
                                 uint64_t now_line, const std::string& who);

// Records `v` (when its invariant is enabled): the verdict, `<trace_name> VIOLATION ...`, the
// explanation's `why` lines, and the run stops.
void report_violation(sim::Loop& loop, sim::Trace& trace, sim::Verdicts* verdicts,
                      const std::string& trace_name, sim::Violation v);

}  // namespace syncsim::engine
