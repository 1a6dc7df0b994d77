#include "cli/merge_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "scenarios/findings.hpp"
#include "scenarios/merge_stream.hpp"
#include "scenarios/results.hpp"
#include "scenarios/explore/sometimes.hpp"

namespace syncsim::cli {

CLI::App* add_merge_subcommand(CLI::App& app, MergeArgs& args) {
  auto* cmd = app.add_subcommand(
      "merge",
      "combine JSON results of sweep shards (or runs) into one document, ordered by scenario "
      "then seed; prints the summary table and each input's shard and coverage.  Refuses a "
      "(scenario, seed) that occurs twice and documents from different builds.  Exit codes: 0 "
      "every expect held, 1 some run failed (with --known-findings: a finding not listed "
      "there), 2 bad input (unreadable, overlapping, mismatched), 4 every expect held but a "
      "listed sometimes-condition happened in none of a scenario's merged seeds (vacuous)");
  cmd->add_option("results", args.inputs, "results JSON files")->required();
  cmd->add_option("--results", args.results, "write the merged JSON to FILE (default: stdout)");
  cmd->add_option("--junit", args.junit, "write JUnit XML to FILE");
  cmd->add_option("--findings", args.findings,
                  "write the findings (one per failing invariant or stop of a scenario, "
                  "merged by signature) to FILE");
  cmd->add_option("--with-findings", args.with_findings,
                  "findings documents (e.g. of hunts) to merge into --findings");
  cmd->add_option("--known-findings", args.known_findings,
                  "a findings document or JSON array of signatures: failures with these "
                  "signatures do not fail the merge, new ones exit 1");
  return cmd;
}

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw scenarios::MergeError("cannot read " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw scenarios::MergeError(fmt::format("{}: not JSON: {}", path, e.what()));
  }
}

}  // namespace

int merge_command(const MergeArgs& args) {
  // Without --results the document goes to stdout, through a temporary file.
  const bool to_stdout = args.results.empty();
  const std::string out_path = to_stdout ? (std::filesystem::temp_directory_path() /
                                            fmt::format("syncsim-merge-{}.json", getpid()))
                                               .string()
                                         : args.results;
  scenarios::StreamMergeSummary merged;
  std::set<std::string> known;
  try {
    if (!args.known_findings.empty()) {
      known = scenarios::known_signatures(read_json(args.known_findings), args.known_findings);
    }
    merged = scenarios::merge_result_files(args.inputs, out_path);
    for (const auto& path : args.with_findings) {
      merged.findings.add_document(read_json(path), path);
    }
  } catch (const scenarios::MergeError& e) {
    std::cerr << "merge: " << e.what() << "\n";
    return kExitBadInput;
  }
  if (!args.junit.empty()) {
    std::ofstream out(args.junit);
    try {
      scenarios::write_junit_stream(out_path, merged, out);
    } catch (const scenarios::MergeError& e) {
      std::cerr << "--junit: " << e.what() << "\n";
      return kExitBadInput;
    }
    if (!out.flush()) {
      std::cerr << "--junit: cannot write " << args.junit << "\n";
      return kExitBadInput;
    }
  }
  if (!args.findings.empty()) {
    std::ofstream out(args.findings);
    if (!(out << merged.findings.document(merged.build).dump(2) << "\n")) {
      std::cerr << "--findings: cannot write " << args.findings << "\n";
      return kExitBadInput;
    }
  }
  auto& summary_out = to_stdout ? std::cerr : std::cout;
  summary_out << scenarios::summary_table(merged.scenarios);
  summary_out << scenarios::sometimes_table(merged.sometimes);
  summary_out << "inputs:\n" << scenarios::coverage_report(merged);
  summary_out << fmt::format("merged {} files: {} runs, {} passed, {} failed\n", args.inputs.size(),
                             merged.runs, merged.passed, merged.failed);
  if (to_stdout) {
    std::ifstream in(out_path, std::ios::binary);
    std::cout << in.rdbuf();
    std::filesystem::remove(out_path);
  }
  int exit_code = merged.failed > 0 ? kExitInvariant : kExitPass;
  if (!args.known_findings.empty()) {
    const auto fresh = merged.findings.new_findings(known);
    for (const auto& f : fresh) {
      summary_out << fmt::format("NEW finding: {} (first seed {}, {} seeds)  repro: {}\n",
                                 f["signature"].get<std::string>(), f.value("first_seed", 0ULL),
                                 f.value("seeds", 0ULL), f.value("repro", std::string()));
    }
    summary_out << fmt::format("findings: {} ({} new, {} known)\n", merged.findings.size(),
                               fresh.size(), merged.findings.size() - fresh.size());
    exit_code = fresh.empty() ? kExitPass : kExitInvariant;
  }
  if (exit_code == kExitPass && scenarios::any_vacuous(merged.sometimes)) return kExitVacuous;
  return exit_code;
}

}  // namespace syncsim::cli
