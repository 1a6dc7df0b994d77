#include "cli/merge_command.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "scenarios/results.hpp"
#include "scenarios/sometimes.hpp"

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
  std::vector<scenarios::NamedDocument> docs;
  for (const auto& path : args.inputs) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "cannot read " << path << "\n";
      return kExitBadInput;
    }
    try {
      docs.push_back({path, nlohmann::json::parse(in)});
    } catch (const nlohmann::json::parse_error& e) {
      std::cerr << path << ": not JSON: " << e.what() << "\n";
      return kExitBadInput;
    }
  }
  nlohmann::json merged;
  try {
    merged = scenarios::merge_results(docs);
  } catch (const scenarios::MergeError& e) {
    std::cerr << "merge: " << e.what() << "\n";
    return kExitBadInput;
  }
  if (!args.results.empty()) {
    std::ofstream out(args.results);
    if (!(out << merged.dump(2) << "\n")) {
      std::cerr << "--results: cannot write " << args.results << "\n";
      return kExitBadInput;
    }
  }
  if (!args.junit.empty()) {
    std::ofstream out(args.junit);
    if (!(out << scenarios::junit_xml(merged, scenarios::utc_timestamp_now()))) {
      std::cerr << "--junit: cannot write " << args.junit << "\n";
      return kExitBadInput;
    }
  }
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
