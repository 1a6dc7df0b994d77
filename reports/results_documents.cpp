#include "reports/results_documents.hpp"

#include <fmt/format.h>

#include <map>

#include "reports/report_model.hpp"

namespace syncsim::reports {

DocumentKind document_kind(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("runs")) {
    throw ReportError(
        "results document: no 'runs' field (write it with `syncsim run --results`, `syncsim "
        "sweep --results` or `syncsim merge --results`)");
  }
  return doc.contains("scenario") ? DocumentKind::Run : DocumentKind::Sweep;
}

std::vector<nlohmann::json> scenario_documents(const nlohmann::json& doc) {
  if (document_kind(doc) == DocumentKind::Run) return {doc};
  const auto& runs = doc.at("runs");
  if (!runs.is_array() || runs.empty()) {
    throw ReportError("results document: 'runs' is empty; a report needs at least one seed");
  }
  std::map<std::string, nlohmann::json> by_scenario;
  for (const auto& r : runs) {
    if (!r.is_object() || !r.contains("scenario") || !r["scenario"].is_string()) {
      throw ReportError("results document: a run without a 'scenario' name");
    }
    auto& list = by_scenario[r["scenario"].get<std::string>()];
    if (list.is_null()) list = nlohmann::json::array();
    list.push_back(r);
  }
  const auto headers = doc.value("scenarios", nlohmann::json::object());
  std::vector<nlohmann::json> out;
  for (auto& [name, scenario_runs] : by_scenario) {
    if (!headers.contains(name) || !headers[name].is_object()) {
      throw ReportError(fmt::format(
          "results document: runs of scenario '{}' but no header for it under 'scenarios' "
          "(a sweep or merge from an older build; rerun the sweep with this build)",
          name));
    }
    nlohmann::json single = headers[name];
    uint64_t passed = 0, failed = 0;
    for (const auto& r : scenario_runs) r.value("expectation_met", false) ? ++passed : ++failed;
    single["build"] = doc.value("build", std::string());
    single["runs"] = std::move(scenario_runs);
    single["passed"] = passed;
    single["failed"] = failed;
    out.push_back(std::move(single));
  }
  return out;
}

}  // namespace syncsim::reports
