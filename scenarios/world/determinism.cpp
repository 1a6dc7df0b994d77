#include "scenarios/world/determinism.hpp"

#include <fmt/format.h>

#include <sstream>
#include <string_view>

namespace syncsim::scenarios {

namespace {
// Splits off the next line of `text` at `pos` (without its '\n'); false at the end.
bool next_line(std::string_view text, std::size_t& pos, std::string_view& line) {
  if (pos >= text.size()) return false;
  const std::size_t end = text.find('\n', pos);
  const std::size_t stop = end == std::string_view::npos ? text.size() : end;
  line = text.substr(pos, stop - pos);
  pos = stop + 1;
  return true;
}
}  // namespace

std::optional<TraceDivergence> first_divergence(const std::string& a, const std::string& b) {
  if (a == b) return std::nullopt;
  std::size_t pa = 0;
  std::size_t pb = 0;
  std::vector<std::string> context;
  for (uint64_t n = 1;; ++n) {
    std::string_view la;
    std::string_view lb;
    const bool more_a = next_line(a, pa, la);
    const bool more_b = next_line(b, pb, lb);
    if (!more_a && !more_b) return std::nullopt;  // equal up to a trailing newline
    if (more_a && more_b && la == lb) {
      context.emplace_back(la);
      if (context.size() > 5) context.erase(context.begin());
      continue;
    }
    return TraceDivergence{n, more_a ? std::string(la) : "<end of trace>",
                           more_b ? std::string(lb) : "<end of trace>", context};
  }
}

DeterminismReport check_determinism(const Scenario& scenario, uint64_t seed,
                                    const sim::Bounds& bounds) {
  RunOptions o;
  o.seed = seed;
  o.bounds = bounds;
  return check_determinism(scenario, o);
}

DeterminismReport check_determinism(const Scenario& scenario, const RunOptions& options) {
  DeterminismReport report;
  report.seed = options.seed;
  std::ostringstream traces[2];
  std::string hashes[2];
  for (int i = 0; i < 2; ++i) {
    RunOptions o = options;
    o.trace_sink = &traces[i];
    RunResult r = run_scenario(scenario, o);
    hashes[i] = r.trace_hash;
    report.lines = r.trace_lines;
    if (i == 0) report.first_run = std::move(r);
  }
  report.hash_first = hashes[0];
  report.hash_second = hashes[1];
  report.first_trace = traces[0].str();
  report.divergence = first_divergence(report.first_trace, traces[1].str());
  if (!report.divergence && hashes[0] != hashes[1]) {
    // Identical text but different hashes would mean the hash reads something else.
    report.divergence = TraceDivergence{0, "hash " + hashes[0], "hash " + hashes[1], {}};
  }
  return report;
}

std::string describe(const DeterminismReport& r) {
  if (!r.divergence) {
    return fmt::format("seed {}: deterministic ({} trace lines, hash {})", r.seed, r.lines,
                       r.hash_first);
  }
  std::string out = fmt::format("seed {}: NOT deterministic: first divergence at trace line {}\n",
                                r.seed, r.divergence->line);
  for (const auto& l : r.divergence->context) out += "    " + l + "\n";
  out += "  1st run: " + r.divergence->first + "\n";
  out += "  2nd run: " + r.divergence->second + "\n";
  return out;
}

}  // namespace syncsim::scenarios
