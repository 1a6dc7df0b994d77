// syncsim's exit codes (docs/cli.md §1), shared by the subcommands.
#pragma once

namespace syncsim::cli {

constexpr int kExitPass = 0;
constexpr int kExitInvariant = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;
// Every expect held, but a condition the scenario lists under `sometimes` happened in none
// of the seeds run (a vacuous pass, scenarios/explore/sometimes.hpp).  Failures (1) and internal
// errors (3) take precedence.
constexpr int kExitVacuous = 4;

}  // namespace syncsim::cli
