// `syncsim report`, `syncsim run --report` and `syncsim sweep --report`: turn results (or a
// scenario, run over a seed range first) into a Markdown, HTML or JSON report, or compare two
// variants.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace syncsim::cli {

struct ReportRequest {
  std::vector<std::string> inputs;  // one, or two with compare
  bool compare = false;
  std::string format;                       // md | html | json; empty = from the output's extension
  std::string output;                       // empty = stdout
  uint64_t first_seed = 1, last_seed = 10;  // when an input is a scenario
};

// Returns an exit code (docs/cli.md §1); errors go to stderr naming the input and field.
int report_command(const ReportRequest& request);

// For `run --report FILE`: the format comes from FILE's extension (.md, .html, .json).
// Returns an empty string on success, else the error message.
std::string write_report_for_run(const nlohmann::json& results_document, const std::string& path);

// sweep.html -> sweep.<scenario>.html (characters other than [A-Za-z0-9._-] of the name
// become '_'): the report of one scenario of a multi-scenario sweep.
std::string report_path_for(const std::string& file, const std::string& scenario);

// For `sweep --report FILE`, checked before any seed runs: an empty string if FILE's
// extension names a format (.md, .html, .json), else the error message.
std::string report_path_error(const std::string& path);

}  // namespace syncsim::cli
