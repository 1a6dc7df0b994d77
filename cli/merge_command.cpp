#include "cli/merge_command.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "scenarios/results.hpp"
#include "scenarios/results_shape.hpp"
#include "scenarios/sometimes.hpp"
#include "util/bounded_input.hpp"

namespace syncsim::cli {

CLI::App* add_merge_subcommand(CLI::App& app, MergeArgs& args) {
  auto* cmd = app.add_subcommand(
      "merge",
      "combine JSON results of sweep shards (or runs) into one document, ordered by scenario "
      "then seed; prints the summary table.  Refuses a (scenario, seed) that occurs twice and "
      "documents from different builds.  Exit codes: 0 every expect held, 1 some run failed, 2 "
      "bad input (unreadable, overlapping, mismatched), 4 every expect held but a listed "
      "sometimes-condition happened in none of a scenario's merged seeds (vacuous)");
  cmd->add_option("results", args.inputs, "results JSON files")->required();
  cmd->add_option("--results", args.results, "write the merged JSON to FILE (default: stdout)");
  cmd->add_option("--junit", args.junit, "write JUnit XML to FILE");
  return cmd;
}

int merge_command(const MergeArgs& args) {
  if (auto error = output_flags_error({{"--results", args.results}, {"--junit", args.junit}});
      !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  std::vector<scenarios::NamedDocument> docs;
  for (const auto& path : args.inputs) {
    std::string text;
    try {
      text = util::read_bounded_file(path);
    } catch (const util::InputError& e) {
      std::cerr << e.what() << "\n";
      return kExitBadInput;
    }
    if (auto error = util::json_depth_error(text); !error.empty()) {
      std::cerr << path << ": " << error << "\n";
      return kExitBadInput;
    }
    try {
      docs.push_back({path, nlohmann::json::parse(text)});
    } catch (const nlohmann::json::parse_error& e) {
      std::cerr << path << ": not JSON: " << e.what() << "\n";
      return kExitBadInput;
    }
    // A document without build and runs is refused by merge_results (not a results document).
    const auto& doc = docs.back().doc;
    if (doc.is_object() && doc.contains("build") && doc.contains("runs")) {
      if (auto error = scenarios::results_shape_error(doc); !error.empty()) {
        std::cerr << path << ": not a valid results document: " << error << "\n";
        return kExitBadInput;
      }
    }
  }
  nlohmann::json merged;
  try {
    merged = scenarios::merge_results(docs);
  } catch (const scenarios::MergeError& e) {
    std::cerr << "merge: " << e.what() << "\n";
    return kExitBadInput;
  }
  // An interrupted sweep's document stays marked in the merge, with what it did not run.
  for (const auto& d : docs) {
    if (!d.doc.value("partial", false)) continue;
    merged["partial"] = true;
    const auto it = d.doc.find("seeds_not_run");
    if (it == d.doc.end()) continue;
    for (const auto& [name, ranges] : it->items()) {
      for (const auto& r : ranges) merged["seeds_not_run"][name].push_back(r);
    }
  }
  if (!args.results.empty()) write_output("--results", args.results, merged.dump(2) + "\n");
  if (!args.junit.empty()) write_output("--junit", args.junit, scenarios::junit_xml(merged));
  auto& summary_out = args.results.empty() ? std::cerr : std::cout;
  summary_out << scenarios::summary_table(scenarios::summarize(merged));
  const auto sometimes = scenarios::summarize_sometimes(merged["runs"]);
  summary_out << scenarios::sometimes_table(sometimes);
  summary_out << fmt::format("merged {} files: {} runs, {} passed, {} failed\n", docs.size(),
                             merged["runs"].size(), merged["passed"].get<uint64_t>(),
                             merged["failed"].get<uint64_t>());
  if (args.results.empty()) std::cout << merged.dump(2) << "\n";
  if (merged["failed"].get<uint64_t>() > 0) return kExitInvariant;
  return scenarios::any_vacuous(sometimes) ? kExitVacuous : kExitPass;
}

}  // namespace syncsim::cli
