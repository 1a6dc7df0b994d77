// Every results document syncsim writes, as the single-scenario documents a report is made
// from: `run --results` (one scenario at top level), `sweep --results` and `merge` (runs of
// any scenarios, their headers under "scenarios").  Pure JSON: nothing here runs or loads
// a scenario.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace syncsim::reports {

enum class DocumentKind {
  Run,    // `run --results`: "scenario", "runs"
  Sweep,  // `sweep --results`, `merge`: "runs" of any scenarios, "scenarios" headers
  // A findings document (hunt/sweep --findings) has no runs: `syncsim report` replays each
  // finding into a Run document first (cli/findings_replay.hpp), since nothing here runs.
};

// Throws ReportError naming what the document lacks.
DocumentKind document_kind(const nlohmann::json& doc);

// One single-scenario document (the `run --results` shape) per scenario of `doc`, in name
// order.  Throws ReportError for a sweep document without the header of a scenario it has
// runs of (written before sweeps carried headers).
std::vector<nlohmann::json> scenario_documents(const nlohmann::json& doc);

}  // namespace syncsim::reports
