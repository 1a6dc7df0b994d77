// `syncsim list scenarios|invariants|mutants|faults|sometimes|metrics`: what can be named in
// a scenario or on the command line, one per line with its one-line statement (as
// `ctest -N` / `--gtest_list_tests` list what can be selected).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace syncsim::cli {

struct ListArgs {
  std::string what;
  std::string dir = "scenarios/catalog";  // for `list scenarios`
};

CLI::App* add_list_subcommand(CLI::App& app, ListArgs& args);
int list_command(const ListArgs& args);

}  // namespace syncsim::cli
