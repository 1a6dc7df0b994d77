#include "scenarios/world/twin.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "scenarios/world/determinism.hpp"

namespace syncsim::scenarios {

namespace {
// The header names the mutants and faults (world.cpp); without them the twins' headers are
// equal.
std::string without_injection_header(std::string trace) {
  const auto end = trace.find('\n');
  const auto at = std::min(trace.find(" MUTANTS "), trace.find(" FAULTS "));
  if (at < end) trace.erase(at, end - at);
  return trace;
}
}  // namespace

std::optional<TwinReport> twin_run(const Scenario& scenario, const RunOptions& options) {
  if (scenario.mutants.empty() && scenario.faults.empty()) return std::nullopt;
  Scenario twin = scenario;
  TwinReport report;
  if (!scenario.mutants.empty()) {
    twin.mutants.clear();
    report.removed = fmt::format("mutants {}", fmt::join(scenario.mutants, ", "));
  } else {
    twin.faults.clear();
    report.removed = fmt::format("faults ({})", scenario.faults.size());
  }
  // A twin of a mutant run is expected to pass; judge it as a plain run.
  twin.expect = Expectation{};
  std::ostringstream run_trace, twin_trace;
  RunOptions a = options, b = options;
  a.trace_sink = &run_trace;
  b.trace_sink = &twin_trace;
  run_scenario(scenario, a);
  const auto t = run_scenario(twin, b);
  report.twin_passed = t.passed;
  if (t.violation) {
    report.twin_stop = fmt::format("violated {}: {}", t.violation->invariant, t.violation->message);
  } else if (!t.passed) {
    report.twin_stop = t.stop.message;
  }
  if (auto d = first_divergence(without_injection_header(run_trace.str()),
                                without_injection_header(twin_trace.str()))) {
    report.line = d->line;
    report.run_line = d->first;
    report.twin_line = d->second;
    report.context = d->context;
  }
  return report;
}

nlohmann::json to_json(const TwinReport& t) {
  return {{"removed", t.removed}, {"twin_passed", t.twin_passed}, {"twin_stop", t.twin_stop},
          {"line", t.line},       {"run_line", t.run_line},       {"twin_line", t.twin_line},
          {"context", t.context}};
}

}  // namespace syncsim::scenarios
