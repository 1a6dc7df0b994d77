// Distribution plots as inline SVG (deterministic integer coordinates, no script): an
// empirical CDF with one curve per series, and latency over simulated time as a scatter.
// Comparisons overlay two variants' series on one plot.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reports/report_model.hpp"

namespace syncsim::reports {

struct PlotSeries {
  std::string label;  // legend text; the sample count is appended
  int style = 0;      // colour index 0..5; styles >= 3 are dashed (the B variant)
  std::vector<std::pair<int64_t, int64_t>> points;  // CDF: (value, 0); scatter: (at_ms, ms)
};

// Share of samples at or below each latency; x in ms (labelled in s when large).
std::string svg_cdf(const std::string& title, const std::vector<PlotSeries>& series);
// Each sample at the simulated time its interval began (x, s) against its latency (y).
// `end_ms` is the x-axis end: the run's end, so the plot ends where the run ended.
std::string svg_over_time(const std::string& title, const std::vector<PlotSeries>& series,
                          int64_t end_ms);

// The whole run of the diagram's seed, 0 to where it ended: fault windows (only faults that
// fired), armed kills, each client's barrier-closed stretches, app reopens, the heal phase,
// the violation, and the stretch the sequence diagram shows.  Needs Diagram::end_us.
std::string svg_run_timeline(const Diagram& d);

}  // namespace syncsim::reports
