#include "cli/replay_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "cli/findings_replay.hpp"
#include "cli/output.hpp"
#include "cli/repro_arg.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::cli {

CLI::App* add_replay_subcommand(CLI::App& app, ReplayArgs& args) {
  auto* cmd = app.add_subcommand(
      "replay",
      "rerun the failure a repro string names (syncsim:<name>:<path>:seed=<n>:build=<id>"
      "[:hash=<h>][:swarm]) and print its outcome and trace hash.  With a hash in the repro it "
      "says whether the run is bit-for-bit identical; a different build is reported (the run "
      "still happens).  Exit codes: 0 the scenario's expect held, 1 an invariant failed, 2 bad "
      "repro "
      "or scenario, 3 crash, tripped bound, or a different trace with the same build.  "
      "--all DIR: 0 every stored failure passes now, 1 one still fails");
  cmd->add_option("repro", args.repro, "repro string, as printed by run, sweep or shrink");
  cmd->add_option("--trace", args.trace_path, "write the event trace to FILE");
  cmd->add_option("--scenario", args.scenario_path,
                  "run FILE instead of the repro's path (a moved or copied scenario); refused "
                  "(exit 2) if its content hash is not the one the repro names");
  cmd->add_option("--all", args.all_dir,
                  "replay every finding of a findings directory (hunt --findings, sweep "
                  "--findings) and print a summary");
  return cmd;
}

namespace {

// One repro; `scenario_path` (may be empty) replaces the repro's path.
int replay_one(const scenarios::Repro& repro, const std::string& scenario_path,
               const std::string& trace_path) {
  std::string path = repro.path;
  const auto content =
      scenarios::scenario_content_hash(scenario_path.empty() ? repro.path : scenario_path);
  if (!scenario_path.empty()) {
    if (repro.scenario_hash && content && *content != *repro.scenario_hash) {
      std::cerr << fmt::format(
          "--scenario: {} has content hash {}, but the repro names scenario {} ({}); it is a "
          "different scenario file\n",
          scenario_path, *content, *repro.scenario_hash, repro.path);
      return kExitBadInput;
    }
    if (!repro.scenario_hash) {
      std::cout << fmt::format(
          "note: the repro names no scenario content hash; cannot check that {} is {}\n",
          scenario_path, repro.path);
    }
    path = scenario_path;
  } else if (repro.scenario_hash && content && *content != *repro.scenario_hash) {
    std::cout << fmt::format(
        "note: {} has changed since the repro was recorded (content hash {}, the repro names "
        "{})\n",
        path, *content, *repro.scenario_hash);
  }
  const bool same_build = repro.build == scenarios::build_id();
  if (!same_build) {
    std::cout << fmt::format(
        "note: the repro was recorded by build {}, this is build {}; the run may differ\n",
        repro.build, scenarios::build_id());
  }
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_file(path, scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  if (scenario.name != repro.name) {
    std::cout << fmt::format("note: {} now names scenario '{}', the repro says '{}'\n", path,
                             scenario.name, repro.name);
  }
  if (repro.swarm && !scenario.swarm) {
    std::cout << fmt::format("note: the repro is of a swarm run but {} has no swarm section now\n",
                             path);
  }
  scenarios::RunOptions opts;
  opts.seed = repro.seed;
  opts.keep_trace_lines = 20;
  opts.swarm = repro.swarm;
  std::optional<util::OutputFile> trace_file;
  if (!trace_path.empty()) {
    try {
      trace_file.emplace(trace_path);
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

int replay_all(const std::string& dir_text) {
  const std::filesystem::path dir(dir_text);
  const auto file = dir / "findings.json";
  std::ifstream in(file);
  if (!in) {
    std::cerr << fmt::format(
        "--all: cannot read {} (a directory written by hunt --findings or "
        "sweep --findings)\n",
        file.string());
    return kExitBadInput;
  }
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("findings") ||
      !doc["findings"].is_array()) {
    std::cerr << fmt::format("--all: {} is not a findings document (no `findings` array)\n",
                             file.string());
    return kExitBadInput;
  }
  int worst = kExitPass;
  uint64_t still = 0, passing = 0, errors = 0;
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < doc["findings"].size(); ++i) {
    const auto& f = doc["findings"][i];
    // The shrunk scenario (stored in DIR) when there is one, else the failing run itself,
    // with the copy of its scenario that sweep --findings stores.
    const auto run = finding_run(dir, f);
    std::cout << fmt::format("== finding {}: {}\n", i + 1,
                             f.value("signature_text", std::string()));
    int code = kExitBadInput;
    try {
      const auto repro = scenarios::parse_repro(run.repro);
      code = replay_one(repro, run.scenario, "");
    } catch (const scenarios::ReproError& e) {
      std::cerr << e.what() << "\n";
    } catch (const scenarios::ScenarioError& e) {
      std::cerr << e.what() << "\n";
    }
    const char* verdict = code == kExitInvariant ? "still fails"
                          : code == kExitPass    ? "passes now"
                                                 : "error";
    code == kExitInvariant ? ++still : code == kExitPass ? ++passing : ++errors;
    lines.push_back(fmt::format("  {:>3}  {:<11}  {}", i + 1, verdict,
                                f.value("signature_text", std::string())));
    if (code != kExitPass && code != kExitInvariant) worst = std::max(worst, code);
  }
  std::cout << fmt::format(
      "\nreplay --all {}: {} findings, {} still fail, {} pass now, {} "
      "errors\n",
      dir_text, doc["findings"].size(), still, passing, errors);
  for (const auto& l : lines) std::cout << l << "\n";
  if (worst != kExitPass) return worst;
  return still > 0 ? kExitInvariant : kExitPass;
}

}  // namespace

int replay_command(const ReplayArgs& args) {
  if (auto error = output_flags_error({{"--trace", args.trace_path}}); !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  if (!args.all_dir.empty()) {
    if (!args.repro.empty() || !args.scenario_path.empty() || !args.trace_path.empty()) {
      std::cerr << "--all: replays a findings directory; allowed without a repro, --scenario "
                   "or --trace\n";
      return kExitBadInput;
    }
    return replay_all(args.all_dir);
  }
  if (args.repro.empty()) {
    std::cerr << "replay: a repro string is required (or --all DIR)\n";
    return kExitBadInput;
  }
  const auto parsed = parse_repro_arg(args.repro);
  if (!parsed) return kExitBadInput;
  const scenarios::Repro& repro = *parsed;
  return replay_one(repro, args.scenario_path, args.trace_path);
}

}  // namespace syncsim::cli
