// syncsim replay <repro>: reruns the seed a repro string names and says whether the run is
// bit for bit the recorded one (when the repro has a hash) and whether the build differs.
// --scenario FILE: the scenario file moved; FILE is used, refused if its content hash is not
// the one the repro names.  --all DIR: every finding of a findings directory (hunt
// --findings or sweep --findings), with a summary (scenarios/explore/findings.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace syncsim::cli {

struct ReplayArgs {
  std::string repro;
  std::string trace_path;
  std::string scenario_path;
  std::string all_dir;
};

CLI::App* add_replay_subcommand(CLI::App& app, ReplayArgs& args);
int replay_command(const ReplayArgs& args);

}  // namespace syncsim::cli
