// syncsim merge <results.json>...: combines the JSON results of sweep shards (or runs) into
// one document (scenarios/results.hpp), refusing overlaps and mismatched builds.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace syncsim::cli {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string results;
  std::string junit;
};

CLI::App* add_merge_subcommand(CLI::App& app, MergeArgs& args);
int merge_command(const MergeArgs& args);

}  // namespace syncsim::cli
