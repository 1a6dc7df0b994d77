// syncsim replay <repro>: reruns the seed a repro string names and says whether the run is
// bit for bit the recorded one (when the repro has a hash) and whether the build differs.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace syncsim::cli {

struct ReplayArgs {
  std::string repro;
  std::string trace_path;
};

CLI::App* add_replay_subcommand(CLI::App& app, ReplayArgs& args);
int replay_command(const ReplayArgs& args);

}  // namespace syncsim::cli
