// syncsim hunt <swarm-file>... [--seeds A..B | --budget 30m] [--jobs N] --findings DIR:
// runs swarm seeds in worker processes (cli/worker_pool.hpp), groups the failures by
// (invariant, explanation class), shrinks one representative per group (bounded), dedups
// the shrunk scenarios by signature (scenarios/explore/findings.hpp), marks the ones the
// known-findings file matches, and writes DIR/findings.json, findings.md, findings.html and
// one shrunk scenario file per finding.  Only new findings make it exit 1.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace syncsim::cli {

struct HuntArgs {
  std::vector<std::string> swarm_files;
  std::string seeds;
  std::string budget;
  int jobs = 0;
  std::string findings;
  std::string known = "";  // default: scenarios/known-findings.json when it exists
  int max_shrink = 60;
  // Coverage-guided (scenarios/explore/guided.hpp): batch k's weights come from batches < k.
  bool guided = false;
  int batch = 100;
};

CLI::App* add_hunt_subcommand(CLI::App& app, HuntArgs& args);
int hunt_command(const HuntArgs& args);

}  // namespace syncsim::cli
