// syncsim sweep <scenario>... --seeds A..B: every scenario x seed, run in worker processes
// (this binary's hidden `sweep-worker` subcommand, one per chunk of seeds; docs/architecture.md §2:
// no threads inside a simulation).  Progress on stderr, a summary table per scenario on stdout,
// combined JSON results and JUnit XML whose content does not depend on --jobs, and with
// --report one report per scenario (cli/report_command.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace syncsim::cli {

struct SweepArgs {
  std::vector<std::string> scenarios;
  std::string seeds;
  int jobs = 0;        // 0 = one per CPU
  std::string shard;   // "i/n" or "auto" (cli/shard_env.hpp)
  std::string budget;  // "" or a duration: stop starting chunks when it is spent
  std::string results;
  std::string junit;
  std::string report;
  std::string findings;  // DIR: failing repros as a findings directory (cli/sweep_findings.hpp)  //
                         // one report per scenario; the format from the extension
  bool check_determinism = false;
  bool swarm = false;             // each seed draws its scenario from the swarm section
  bool fail_fast = false;         // --fail-fast: --max-failures 1
  uint64_t max_failures = 0;      // start no chunk once this many runs failed (0 = no limit)
  std::vector<std::string> sets;  // --set KEY=VALUE overrides of every scenario
  std::string invariants;         // --invariants a,b: check only these
};

// The hidden worker: runs `seeds` of one scenario, one JSON result per line on stdout.
struct SweepWorkerArgs {
  std::string scenario;
  std::vector<uint64_t> seeds;
  uint64_t timeline_seed = 0;  // the first seed of the sweep: its timeline is kept
  bool check_determinism = false;
  bool swarm = false;
  uint64_t parent_pid = 0;        // the sweep; the worker dies with it (0: no check)
  std::vector<std::string> sets;  // the sweep's overrides (--invariants as one of them)
};

CLI::App* add_sweep_subcommand(CLI::App& app, SweepArgs& args);
CLI::App* add_sweep_worker_subcommand(CLI::App& app, SweepWorkerArgs& args);
int sweep_command(const SweepArgs& args);
int sweep_worker_command(const SweepWorkerArgs& args);

}  // namespace syncsim::cli
