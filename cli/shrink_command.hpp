// syncsim shrink <repro>: minimizes the scenario of a failing seed while the same invariant
// still fails (scenarios/explore/shrink.hpp), writes the minimal scenario JSON and a repro for it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace syncsim::cli {

struct ShrinkArgs {
  std::string repro;
  std::string out;
  int max_attempts = 300;
};

CLI::App* add_shrink_subcommand(CLI::App& app, ShrinkArgs& args);
int shrink_command(const ShrinkArgs& args);

}  // namespace syncsim::cli
