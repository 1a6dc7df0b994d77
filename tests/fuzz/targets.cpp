#include "tests/fuzz/targets.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <string>

#include "engine/core_registry.hpp"
#include "engine/sdk_shim.hpp"
#include "reports/html.hpp"
#include "reports/markdown.hpp"
#include "reports/mermaid.hpp"
#include "reports/report_model.hpp"
#include "reports/results_documents.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/results/results_shape.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::fuzz {

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz: %s\n", what.c_str());
  std::abort();
}

std::string text_of(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// What `merge` and `report` do with a document after reading it: the shape check
// (scenarios/results/results_shape.hpp) refuses it as bad input, or the readers must accept it
// without any exception but their documented ones (review §2: exit 3 "internal error" otherwise).
bool shape_refused(const nlohmann::json& doc) {
  return !doc.is_object() || !doc.contains("runs") || !scenarios::results_shape_error(doc).empty();
}

const scenarios::ValidationContext& fuzz_validation_context() {
#ifdef SYNCSIM_FUZZ_NAMES_FILE
  static const scenarios::ValidationContext ctx =
      snapshot_validation_context(SYNCSIM_FUZZ_NAMES_FILE);
#else
  static const scenarios::ValidationContext ctx = scenarios::validation_context();
#endif
  return ctx;
}

}  // namespace

scenarios::ValidationContext snapshot_validation_context(const std::string& names_file) {
  std::ifstream in(names_file);
  const auto names = nlohmann::json::parse(in, nullptr, false);
  if (names.is_discarded() || !names.contains("invariants") || !names.contains("mutants")) {
    fail("cannot read the invariant and mutant names from " + names_file);
  }
  // As scenarios::validation_context() (scenarios/world/runner.cpp) builds it.
  std::map<std::string, std::string> core_sdks;
  for (const auto& c : engine::core_versions()) core_sdks[c.name] = c.sdk;
  return scenarios::ValidationContext{engine::core_names(),
                                      names["invariants"].get<std::vector<std::string>>(),
                                      names["mutants"].get<std::vector<std::string>>(),
                                      core_sdks,
                                      engine::quirk_names(),
                                      scenarios::sometimes_ids()};
}

int scenario(const uint8_t* data, std::size_t size) {
  const scenarios::ValidationContext& ctx = fuzz_validation_context();
  scenarios::Scenario s;
  try {
    s = scenarios::parse_scenario_text(text_of(data, size), ctx, "fuzz");
  } catch (const scenarios::ScenarioError&) {
    return 0;  // the documented answer to bad input
  }
  const nlohmann::json full = scenarios::to_json(s);
  scenarios::Scenario again;
  try {
    again = scenarios::parse_scenario(full, ctx, "round trip");
  } catch (const scenarios::ScenarioError& e) {
    fail(std::string("to_json of a valid scenario is refused: ") + e.what());
  }
  if (scenarios::to_json(again) != full) fail("parse_scenario(to_json(s)) != s");
  return 0;
}

int repro(const uint8_t* data, std::size_t size) {
  scenarios::Repro r;
  try {
    r = scenarios::parse_repro(text_of(data, size));
  } catch (const scenarios::ReproError&) {
    return 0;
  }
  const std::string text = scenarios::format_repro(r);
  try {
    if (scenarios::parse_repro(text) != r) fail("parse_repro(format_repro(r)) != r: " + text);
  } catch (const scenarios::ReproError& e) {
    fail("format_repro wrote what parse_repro refuses: " + text + ": " + e.what());
  }
  return 0;
}

int results(const uint8_t* data, std::size_t size) {
  const auto doc = nlohmann::json::parse(text_of(data, size), nullptr, false);
  if (doc.is_discarded() || shape_refused(doc)) return 0;
  try {
    const std::vector<scenarios::NamedDocument> inputs{{"a.json", doc}};
    const nlohmann::json merged = scenarios::merge_results(inputs);
    (void)scenarios::junit_xml(merged);
    (void)scenarios::summary_table(scenarios::summarize(merged));
    (void)scenarios::summarize_sometimes(merged["runs"]);
  } catch (const scenarios::MergeError&) {
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("merge path: undocumented JSON exception: ") + e.what());
  }
  try {
    for (const auto& one : reports::scenario_documents(doc)) {
      (void)reports::to_json(reports::build_report_model(one)).dump();
    }
  } catch (const reports::ReportError&) {
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("report reader: undocumented JSON exception: ") + e.what());
  }
  return 0;
}

int reports(const uint8_t* data, std::size_t size) {
  const auto doc = nlohmann::json::parse(text_of(data, size), nullptr, false);
  if (doc.is_discarded() || shape_refused(doc)) return 0;
  std::vector<reports::ReportModel> models;
  try {
    for (const auto& one : reports::scenario_documents(doc)) {
      models.push_back(reports::build_report_model(one));
    }
  } catch (const reports::ReportError&) {
    return 0;
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("report reader: undocumented JSON exception: ") + e.what());
  }
  try {
    for (const auto& m : models) {
      (void)reports::markdown_report(m);
      (void)reports::html_report(m);
      (void)reports::mermaid_sequence(m.diagram);
      (void)reports::markdown_comparison(m, models.front());
      (void)reports::html_comparison(m, models.front());
    }
  } catch (const reports::ReportError&) {
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("renderer: undocumented JSON exception: ") + e.what());
  }
  return 0;
}

const std::vector<NamedTarget>& targets() {
  static const std::vector<NamedTarget> all = {
      {"scenario", scenario}, {"repro", repro}, {"results", results}, {"reports", reports}};
  return all;
}

}  // namespace syncsim::fuzz
