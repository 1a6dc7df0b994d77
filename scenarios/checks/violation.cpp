#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <algorithm>
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

std::vector<sim::CauseStep> chain_in_trace_order(
    std::vector<std::pair<uint64_t, std::string>> steps, std::string now, uint64_t now_line) {
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<sim::CauseStep> chain;
  chain.reserve(steps.size() + 1);
  for (auto& [line, what] : steps) chain.push_back({std::move(what), line});
  chain.push_back({std::move(now), now_line});
  return chain;
}

}  // namespace syncsim::scenarios::checks
