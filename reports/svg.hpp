// Inline SVG drawn by our own writer (no scripts, no network): the sequence diagram, the
// timeline of faults and client states, and bar charts of per-seed metrics.  Coordinates
// are integers so the output is byte-identical across runs.
#pragma once

#include <string>

#include "reports/report_model.hpp"

namespace syncsim::reports {

std::string xml_escape(const std::string& s);

std::string svg_sequence(const Diagram& d);
std::string svg_state_timeline(const Diagram& d);
std::string svg_bar_chart(const MetricSeries& s);
// Two variants over the same seeds: paired bars, A then B.
std::string svg_paired_bar_chart(const MetricSeries& a, const MetricSeries& b);

}  // namespace syncsim::reports
