#include "cli/replay_command.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/world/runner.hpp"
#include "scenarios/explore/swarm.hpp"

namespace syncsim::cli {

CLI::App* add_replay_subcommand(CLI::App& app, ReplayArgs& args) {
  auto* cmd = app.add_subcommand(
      "replay",
      "rerun the failure a repro string names (syncsim:<name>:<path>:seed=<n>:build=<id>"
      "[:hash=<h>][:swarm]) and print its outcome and trace hash.  With a hash in the repro it "
      "says whether the run is bit-for-bit identical; a different build is reported (the run "
      "still happens).  Exit codes: 0 the scenario's expect held, 1 an invariant failed, 2 bad repro "
      "or scenario, 3 crash, tripped bound, or a different trace with the same build");
  cmd->add_option("repro", args.repro, "repro string, as printed by run, sweep or shrink")
      ->required();
  cmd->add_option("--trace", args.trace_path, "write the event trace to FILE");
  return cmd;
}

int replay_command(const ReplayArgs& args) {
  if (auto error = output_flags_error({{"--trace", args.trace_path}}); !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  scenarios::Repro repro;
  try {
    repro = scenarios::parse_repro(args.repro);
  } catch (const scenarios::ReproError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  const bool same_build = repro.build == scenarios::build_id();
  if (!same_build) {
    std::cout << fmt::format(
        "note: the repro was recorded by build {}, this is build {}; the run may differ\n",
        repro.build, scenarios::build_id());
  }
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_file(repro.path, scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  if (scenario.name != repro.name) {
    std::cout << fmt::format("note: {} now names scenario '{}', the repro says '{}'\n", repro.path,
                             scenario.name, repro.name);
  }
  if (repro.swarm && !scenario.swarm) {
    std::cout << fmt::format("note: the repro is of a swarm run but {} has no swarm section now\n",
                             repro.path);
  }
  scenarios::RunOptions opts;
  opts.seed = repro.seed;
  opts.keep_trace_lines = 20;
  opts.swarm = repro.swarm;
  std::optional<util::OutputFile> trace_file;
  if (!args.trace_path.empty()) {
    try {
      trace_file.emplace(args.trace_path);
    } catch (const util::OutputError& e) {
      throw util::OutputError(std::string("--trace: ") + e.what());
    }
    opts.trace_sink = &trace_file->stream();
  }
  const auto r = scenarios::run_scenario(scenario, opts);
  if (trace_file) commit_output("--trace", *trace_file);
  std::cout << fmt::format("{} seed={} {} events={} sim={:.1f}s trace_lines={} hash={}\n",
                           scenario.name, repro.seed, r.expectation_met ? "PASS" : "FAIL", r.events,
                           static_cast<double>(r.simulated) / 1e6, r.trace_lines, r.trace_hash);
  if (!r.swarm.is_null()) std::cout << "  swarm: " << scenarios::swarm_params_text(r.swarm) << "\n";
  if (r.violation) {
    std::cout << fmt::format("  violated {} at t={:.6f}s ({}): {}\n", r.violation->invariant,
                             static_cast<double>(r.violation->at) / 1e6, r.violation->subject,
                             r.violation->message);
  } else {
    std::cout << "  stopped: " << r.stop.message << "\n";
  }
  if (!r.pending.empty()) std::cout << "  pending:\n" << r.pending;
  bool diverged = false;
  if (repro.hash) {
    diverged = *repro.hash != r.trace_hash;
    if (!diverged) {
      std::cout << fmt::format("  bit-for-bit identical to the recorded run (hash {})\n",
                               r.trace_hash);
    } else {
      std::cout << fmt::format("  DIVERGED from the recorded run: recorded hash {}, now {}{}\n",
                               *repro.hash, r.trace_hash,
                               same_build ? " (same build: was the scenario file changed?)"
                                          : " (expected: the build differs)");
    }
  } else {
    std::cout << "  (the repro has no hash: cannot say whether the run is identical)\n";
  }
  if (r.stop.kind == sim::StopKind::Crash || r.stop.kind == sim::StopKind::Bound) {
    return kExitInternal;
  }
  if (diverged && same_build) return kExitInternal;
  return r.expectation_met ? kExitPass : kExitInvariant;
}

}  // namespace syncsim::cli
