// syncsim's exit codes (DESIGN.md §10), shared by the subcommands.
#pragma once

namespace syncsim::cli {

constexpr int kExitPass = 0;
constexpr int kExitInvariant = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;

}  // namespace syncsim::cli
