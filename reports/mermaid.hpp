// Mermaid `sequenceDiagram` text for a report's diagram (renders on GitHub).
#pragma once

#include <string>

#include "reports/report_model.hpp"

namespace syncsim::reports {

std::string mermaid_sequence(const Diagram& d);

}  // namespace syncsim::reports
