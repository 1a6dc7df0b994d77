// syncsim merge <results.json>...: combines the JSON results of sweep shards (or runs) into
// one document (scenarios/results/results.hpp), refusing overlaps and mismatched builds.  Streams
// (scenarios/results/merge_stream.hpp): memory does not grow with the number of runs.  Reports each
// input's shard and coverage (sweep --budget), and writes findings merged by signature
// (scenarios/results/findings.hpp); with --known-findings only a new finding fails the merge.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace syncsim::cli {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string results;
  std::string junit;
  std::string findings;                    // write the merged findings document here
  std::vector<std::string> with_findings;  // findings documents (e.g. hunts') to merge in
  std::string known_findings;              // signatures that do not fail the merge
};

CLI::App* add_merge_subcommand(CLI::App& app, MergeArgs& args);
int merge_command(const MergeArgs& args);

}  // namespace syncsim::cli
