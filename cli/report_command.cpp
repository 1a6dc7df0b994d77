#include "cli/report_command.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/exit_codes.hpp"
#include "cli/findings_replay.hpp"
#include "cli/output.hpp"
#include "cli/seed_range.hpp"
#include "reports/html.hpp"
#include "reports/markdown.hpp"
#include "reports/report_model.hpp"
#include "reports/results_documents.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/results/results_shape.hpp"
#include "scenarios/world/runner.hpp"
#include "util/bounded_input.hpp"

namespace syncsim::cli {

namespace {

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string format_of(const std::string& format, const std::string& path) {
  if (!format.empty()) return format;
  for (const auto& [ext, f] : {std::pair{".md", "md"}, {".html", "html"}, {".json", "json"}}) {
    if (path.size() > std::string(ext).size() &&
        path.compare(path.size() - std::string(ext).size(), std::string::npos, ext) == 0) {
      return f;
    }
  }
  if (path.empty()) return "md";
  throw BadInput(
      fmt::format("report file '{}': cannot tell the format from its extension; "
                  "use .md, .html or .json (or --format md|html|json)",
                  path));
}

// The single-scenario documents of a results file (run, sweep or merge results), or of a
// scenario run over the requested seeds.
std::vector<nlohmann::json> load_results(const std::string& input, const ReportRequest& request) {
  // A findings directory (hunt --findings, sweep --findings) stands for its findings.json.
  const std::string path = std::filesystem::is_directory(input)
                               ? (std::filesystem::path(input) / "findings.json").string()
                               : input;
  std::string text;
  try {
    text = util::read_bounded_file(path);
  } catch (const util::InputError& e) {
    throw BadInput(e.what());
  }
  if (auto error = util::json_depth_error(text); !error.empty()) {
    throw BadInput(fmt::format("{}: {}", path, error));
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw BadInput(fmt::format("{}: not valid JSON", path));
  if (j.is_object() && j.contains("runs") && !j.contains("findings")) {
    if (auto error = scenarios::results_shape_error(j); !error.empty()) {
      throw BadInput(fmt::format("{}: not a valid results document: {}", path, error));
    }
    return reports::scenario_documents(j);
  }
  if (j.is_object() && j.contains("findings") && j["findings"].is_array()) {
    // Each finding's seed is replayed (with its twin): one report per finding.
    if (j["findings"].empty()) throw BadInput(fmt::format("{}: no findings to report", path));
    try {
      return findings_documents(std::filesystem::path(path).parent_path(), j["findings"]);
    } catch (const std::exception& e) {
      throw BadInput(fmt::format("{}: {}", path, e.what()));
    }
  }
  if (!j.is_object() || !j.contains("format")) {
    throw BadInput(
        fmt::format("{}: neither a results document (a 'runs' field, from `syncsim "
                    "run --results`), a findings document (a 'findings' field, from `hunt "
                    "--findings` or `sweep --findings`) nor a scenario (a 'format' field)",
                    path));
  }
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_file(path, scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    throw BadInput(e.what());
  }
  nlohmann::json runs = nlohmann::json::array();
  for_each_seed({request.first_seed, request.last_seed}, [&](uint64_t seed) {
    scenarios::RunOptions options;
    options.seed = seed;
    auto r = scenarios::run_scenario(scenario, options);
    runs.push_back(scenarios::result_json(r, scenarios::repro_string(scenario, path, seed)));
  });
  return {scenarios::results_document(scenario, path, std::move(runs))};
}

std::string render(const std::string& format, const std::vector<nlohmann::json>& docs) {
  std::vector<reports::ReportModel> models;
  models.reserve(docs.size());
  for (const auto& d : docs) models.push_back(reports::build_report_model(d));
  if (models.size() == 2) {
    if (format == "md") return reports::markdown_comparison(models[0], models[1]);
    if (format == "html") return reports::html_comparison(models[0], models[1]);
    return nlohmann::json{{"a", reports::to_json(models[0])}, {"b", reports::to_json(models[1])}}
               .dump(2) +
           "\n";
  }
  if (format == "md") return reports::markdown_report(models[0]);
  if (format == "html") return reports::html_report(models[0]);
  return reports::to_json(models[0]).dump(2) + "\n";
}

// An OutputError (the write itself failed) propagates: exit 3, not bad input.
void write_out(const std::string& flag, const std::string& path, const std::string& text) {
  if (path.empty()) {
    std::cout << text;
    return;
  }
  write_output(flag, path, text);
}

}  // namespace

int report_command(const ReportRequest& request) {
  try {
    if (request.compare != (request.inputs.size() == 2)) {
      throw BadInput(request.compare
                         ? "--compare needs exactly two inputs: A B (results or scenarios)"
                         : "two inputs given: add --compare to compare them, or give one");
    }
    const auto format = format_of(request.format, request.output);
    if (auto error = output_flags_error({{"--out", request.output}}); !error.empty()) {
      throw BadInput(error);
    }
    std::vector<std::vector<nlohmann::json>> loaded;
    for (const auto& input : request.inputs) loaded.push_back(load_results(input, request));
    if (request.compare) {
      for (std::size_t i = 0; i < 2; ++i) {
        if (loaded[i].size() != 1) {
          throw BadInput(fmt::format(
              "{}: --compare needs one scenario per input; this one has runs of {} scenarios",
              request.inputs[i], loaded[i].size()));
        }
      }
      write_out("--out", request.output, render(format, {loaded[0][0], loaded[1][0]}));
      return kExitPass;
    }
    const auto& docs = loaded.front();
    if (docs.size() == 1) {
      write_out("--out", request.output, render(format, docs));
      return kExitPass;
    }
    // A sweep over several scenarios: one report each, named as `sweep --report` names them.
    if (request.output.empty()) {
      throw BadInput(
          fmt::format("{}: runs of {} scenarios; give --out FILE to write one report per scenario "
                      "(FILE.<scenario>.<ext>)",
                      request.inputs[0], docs.size()));
    }
    for (const auto& d : docs) {
      const auto name = d.at("scenario").value("name", std::string("?"));
      const auto file = report_path_for(request.output, name);
      write_out("--out", file, render(format, {d}));
      std::cout << fmt::format("report: {} ({})\n", file, name);
    }
    return kExitPass;
  } catch (const BadInput& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const reports::ReportError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const util::OutputError& e) {
    std::cerr << e.what() << "\n";
    return kExitInternal;
  }
}

std::string write_report_for_run(const nlohmann::json& results_document, const std::string& path) {
  try {
    write_out("--report", path, render(format_of("", path), {results_document}));
    return "";
  } catch (const BadInput& e) {
    return e.what();
  } catch (const reports::ReportError& e) {
    return e.what();
  }
}

std::string report_path_for(const std::string& file, const std::string& scenario) {
  std::string name = scenario;
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '_') {
      ch = '_';
    }
  }
  const std::filesystem::path p(file);
  return (p.parent_path() / (p.stem().string() + "." + name + p.extension().string())).string();
}

std::string report_path_error(const std::string& path) {
  try {
    format_of("", path);
    return "";
  } catch (const BadInput& e) {
    return e.what();
  }
}

}  // namespace syncsim::cli
