// Self-contained HTML reports (docs/reports.md §1): inline CSS and SVG drawn by reports/svg,
// no scripts at all, nothing fetched.
#pragma once

#include <string>

#include "reports/report_model.hpp"

namespace syncsim::reports {

std::string html_report(const ReportModel& m);
std::string html_comparison(const ReportModel& a, const ReportModel& b);

}  // namespace syncsim::reports
