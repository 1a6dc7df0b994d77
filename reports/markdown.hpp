// Markdown reports for protocol design reviews on GitHub (docs/reports.md §1).
#pragma once

#include <string>

#include "reports/report_model.hpp"

namespace syncsim::reports {

std::string markdown_report(const ReportModel& m);
std::string markdown_comparison(const ReportModel& a, const ReportModel& b);

// Shared by the markdown and HTML writers: the comparison's verdict per metric/invariant.
std::string metric_delta(const std::optional<uint64_t>& a, const std::optional<uint64_t>& b);

}  // namespace syncsim::reports
