#include "cli/shrink_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "cli/repro_arg.hpp"
#include "scenarios/explore/shrink.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/results/repro.hpp"

namespace syncsim::cli {

namespace {

// The shrunk file says what it is (issue 18): a description of what is left and the repro it
// was shrunk from (the scenario format has no other place for it), and no `sometimes` list,
// which a minimal failing scenario cannot honour (it stops at the violation).
nlohmann::json honest_shrunk_scenario(const scenarios::ShrinkResult& result,
                                      const std::string& from, const std::string& invariant,
                                      uint64_t seed) {
  nlohmann::json j = result.scenario;
  std::vector<std::string> kinds;
  for (const auto& f : result.parsed.faults) kinds.push_back(scenarios::to_string(f.kind));
  j["description"] = fmt::format(
      "Shrunk by `syncsim shrink` from {}: {} client(s), {} simulated seconds, {}{}; violates "
      "{} on seed {}. A minimal counterexample, not a scenario to sweep.",
      from, result.parsed.clients.count, result.parsed.duration_s,
      kinds.empty() ? "no faults" : fmt::format("faults {}", fmt::join(kinds, ", ")),
      result.parsed.mutants.empty()
          ? std::string()
          : fmt::format(", mutants {}", fmt::join(result.parsed.mutants, ", ")),
      invariant, seed);
  j["sometimes"] = nlohmann::json::array();
  return j;
}

}  // namespace

CLI::App* add_shrink_subcommand(CLI::App& app, ShrinkArgs& args) {
  auto* cmd = app.add_subcommand(
      "shrink",
      "minimize the scenario of a failing repro while the same invariant still fails on that "
      "seed: remove faults, clients, workload and duration (greedy, deterministic, bounded).  "
      "Writes the minimal scenario JSON (stdout without --out), prints its size in steps "
      "(faults + local writes of the run), its trace length and its repro.  Progress on "
      "stderr.  Exit codes: 0 shrunk, 2 bad repro or the seed does not fail, 3 internal error");
  cmd->add_option("repro", args.repro, "repro string of a failing run")->required();
  cmd->add_option("--out", args.out, "write the minimal scenario JSON to FILE");
  cmd->add_option("--max-attempts", args.max_attempts, "bound on candidate runs (default 300)")
      ->check(CLI::Range(1, 100000));
  return cmd;
}

int shrink_command(const ShrinkArgs& args) {
  if (auto error = output_flags_error({{"--out", args.out}}); !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  const auto parsed = parse_repro_arg(args.repro);
  if (!parsed) return kExitBadInput;
  const scenarios::Repro& repro = *parsed;
  if (repro.build != scenarios::build_id()) {
    std::cerr << fmt::format("note: the repro was recorded by build {}, this is build {}\n",
                             repro.build, scenarios::build_id());
  }
  const auto ctx = scenarios::validation_context();
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_file(repro.path, ctx);
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  // A swarm failure shrinks its drawn concrete scenario (the shrunk file needs no --swarm).
  if (repro.swarm && scenario.swarm) {
    auto drawn = scenarios::draw_swarm(scenario, repro.seed, ctx);
    std::cerr << "shrink: swarm draw of seed " << repro.seed << ": "
              << scenarios::swarm_params_text(drawn.params) << "\n";
    scenario = std::move(drawn.scenario);
  }
  scenarios::RunOptions first;
  first.seed = repro.seed;
  const auto initial = scenarios::run_scenario(scenario, first);
  if (!initial.violation || initial.stop.kind != sim::StopKind::Failure) {
    std::cerr << fmt::format("nothing to shrink: seed {} of {} violates no invariant ({})\n",
                             repro.seed, repro.path, initial.stop.message);
    return kExitBadInput;
  }
  scenarios::ShrinkOptions opts;
  opts.seed = repro.seed;
  opts.invariant = initial.violation->invariant;
  opts.max_attempts = args.max_attempts;
  opts.ctx = ctx;
  const bool tty = isatty(STDERR_FILENO) != 0;
  opts.progress = [tty](const scenarios::ShrinkProgress& p) {
    const auto line =
        fmt::format("shrink: attempt {}/{} {:<32} {:<8} steps={}", p.attempt, p.max_attempts,
                    p.candidate, p.accepted ? "kept" : "rejected", p.steps);
    if (tty) {
      std::cerr << "\r" << line << "\033[K" << std::flush;
    } else if (p.accepted) {
      std::cerr << line << "\n";
    }
  };
  std::cerr << fmt::format("shrink: {} seed {} violates {}; {} steps, {} trace lines\n",
                           scenario.name, repro.seed, opts.invariant,
                           scenarios::scenario_steps(scenario, initial), initial.trace_lines);
  const auto result = scenarios::shrink(scenario, opts);
  if (tty) std::cerr << "\n";
  const std::string text =
      honest_shrunk_scenario(result, args.repro, opts.invariant, repro.seed).dump(2) + "\n";
  std::string path = args.out;
  if (!path.empty()) {
    write_output("--out", path, text);
  } else {
    std::cout << text;
    path = "<scenario file>";
  }
  const auto& v = *result.run.violation;
  std::cerr << fmt::format(
      "shrunk {} -> {} steps ({} faults + {} local writes), {} clients, {} s; {} trace lines "
      "(was {}); {} attempts, {} kept{}\n",
      result.initial_steps, result.steps, result.parsed.faults.size(),
      result.steps - result.parsed.faults.size(), result.parsed.clients.count,
      result.parsed.duration_s, result.run.trace_lines, initial.trace_lines, result.attempts,
      result.accepted, result.exhausted ? " (attempt bound reached)" : "");
  std::cerr << fmt::format("  still violates {} at t={:.6f}s ({}): {}\n", v.invariant,
                           static_cast<double>(v.at) / 1e6, v.subject, v.message);
  std::cerr << "  repro: "
            << scenarios::format_repro(
                   {result.parsed.name, path, repro.seed, scenarios::build_id(),
                    result.run.trace_hash, false,
                    args.out.empty() ? std::nullopt : scenarios::scenario_content_hash(path)})
            << "\n";
  return kExitPass;
}

}  // namespace syncsim::cli
