#include "cli/merge_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/results/findings.hpp"
#include "scenarios/results/merge_stream.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/results/results_shape.hpp"
#include "util/bounded_input.hpp"

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
  std::string text;
  try {
    text = util::read_bounded_file(path);
  } catch (const util::InputError& e) {
    throw scenarios::MergeError(e.what());
  }
  if (auto error = util::json_depth_error(text); !error.empty()) {
    throw scenarios::MergeError(path + ": " + error);
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw scenarios::MergeError(fmt::format("{}: not JSON: {}", path, e.what()));
  }
}

// Each input is checked whole before the streaming merge reads it (one document in memory
// at a time): a malformed run is bad input naming file and field, never an internal error.
// An interrupted sweep's document (`partial`) is noted, with what it did not run.
void check_input(const std::string& path, std::ostream& notes) {
  const auto doc = read_json(path);
  if (doc.is_object() && doc.contains("build") && doc.contains("runs")) {
    if (auto error = scenarios::results_shape_error(doc); !error.empty()) {
      throw scenarios::MergeError(path + ": not a valid results document: " + error);
    }
  }
  if (doc.is_object() && doc.value("partial", false)) {
    notes << fmt::format("note: {} is a partial document (interrupted); seeds not run: {}\n", path,
                         doc.value("seeds_not_run", nlohmann::json::object()).dump());
  }
}

}  // namespace

int merge_command(const MergeArgs& args) {
  if (auto error = output_flags_error(
          {{"--results", args.results}, {"--junit", args.junit}, {"--findings", args.findings}});
      !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  // The merged document streams into a temporary file, then goes to stdout or through
  // util::OutputFile to --results (temp file beside it + fsync + rename, or streamed to a
  // device), so a failed merge or write never leaves a torn file.
  const bool to_stdout = args.results.empty();
  const std::string out_path =
      (std::filesystem::temp_directory_path() / fmt::format("syncsim-merge-{}.json", getpid()))
          .string();
  struct RemoveTemp {
    const std::string& path;
    ~RemoveTemp() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove_temp{out_path};
  scenarios::StreamMergeSummary merged;
  std::set<std::string> known;
  try {
    if (!args.known_findings.empty()) {
      known = scenarios::known_signatures(read_json(args.known_findings), args.known_findings);
    }
    for (const auto& path : args.inputs) check_input(path, std::cerr);
    merged = scenarios::merge_result_files(args.inputs, out_path);
    for (const auto& path : args.with_findings) {
      merged.findings.add_document(read_json(path), path);
    }
  } catch (const scenarios::MergeError& e) {
    std::cerr << "merge: " << e.what() << "\n";
    // Writing the merged runs failed (disk full): an I/O failure, not bad input (issue 19).
    const bool io = std::string_view(e.what()).starts_with("cannot write");
    return io ? kExitInternal : kExitBadInput;
  }
  if (!args.junit.empty()) {
    // JUnit (suite times, properties, failure types: scenarios/results/results.hpp) is built from
    // the whole merged document, so its memory grows with the runs; the merged results stream.
    std::ifstream in(out_path, std::ios::binary);
    const auto doc = nlohmann::json::parse(in);
    write_output("--junit", args.junit, scenarios::junit_xml(doc, scenarios::utc_timestamp_now()));
  }
  if (!args.findings.empty()) {
    write_output("--findings", args.findings,
                 merged.findings.document(merged.build).dump(2) + "\n");
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
  } else {
    std::ifstream in(out_path, std::ios::binary);
    util::OutputFile out(args.results);
    out.stream() << in.rdbuf();
    commit_output("--results", out);
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
