// syncsim's command line: a thin layer over scenarios/ (docs/architecture.md §1).
// Exit codes (docs/cli.md §1): 0 passed (or the scenario's `expect` held), 1 an invariant
// failed unexpectedly, 2 bad input, 3 internal error, 4 passed vacuously (a listed
// sometimes-condition happened in no seed).
#include <fmt/format.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "cli/exit_codes.hpp"
#include "cli/hunt_command.hpp"
#include "cli/list_command.hpp"
#include "cli/merge_command.hpp"
#include "cli/output.hpp"
#include "cli/replay_command.hpp"
#include "cli/report_command.hpp"
#include "cli/seed_range.hpp"
#include "cli/shrink_command.hpp"
#include "cli/sweep_command.hpp"
#include "engine/core_check.hpp"
#include "engine/core_registry.hpp"
#include "scenarios/differential/differential.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/format/overrides.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/determinism.hpp"
#include "scenarios/world/runner.hpp"
#include "scenarios/world/twin.hpp"

namespace {

using namespace syncsim;
using namespace syncsim::cli;

std::string version_text() {
  std::string out = fmt::format("syncsim {}\n", scenarios::build_id());
  out +=
      fmt::format("  sqlite {} (amalgamation sha256 {})\n", SQLITE_VERSION, SYNCSIM_SQLITE_SHA256);
  for (const auto& v : engine::core_versions()) {
    out += fmt::format("  core {} sha256 {} ({})\n", v.name, v.sha256, v.sdk);
  }
  return out;
}

// The name a --core-path build is registered under (clients.core, `--a core=path`).
constexpr const char* kCorePathName = "path";

// --core-path FILE (docs/architecture.md §3): describes an unreleased core (unverified, sha256
// computed) and registers it as "path".  Prints `core <name> (unverified) sha256 <hex>`
// once to `note`.  False (after printing why) when the file is not a core the shim drives.
bool register_core_path(const std::string& file, scenarios::ExtraCores& cores, std::ostream& note) {
  engine::CoreVersion core;
  try {
    core = engine::core_from_path(file);
  } catch (const engine::CoreIntegrityError&) {
    throw;  // a damaged binary: exit 3 (main)
  } catch (const std::exception& e) {
    std::cerr << "--core-path: '" << file << "' is not a usable core: " << e.what() << "\n";
    return false;
  }
  if (!scenarios::shim_drives(core)) {
    std::cerr << fmt::format(
        "--core-path: '{}' is core {}, which no SDK behaviour of the shim drives ('{}'; "
        "0.4.x and 0.5.x are driven)\n",
        file, core.name, core.sdk);
    return false;
  }
  note << fmt::format("core {} (unverified) sha256 {}\n", core.name, core.sha256);
  cores.emplace(kCorePathName, std::move(core));
  return true;
}

nlohmann::json unverified_core_json(const scenarios::ExtraCores& cores) {
  auto it = cores.find(kCorePathName);
  if (it == cores.end()) return nullptr;
  return {{"name", it->second.name}, {"path", it->second.path}, {"sha256", it->second.sha256}};
}

// The per-seed line's tail for a scenario that lists sometimes-conditions, e.g.
// " sometimes: barrier-blocked=12 seed-raised=0 VACUOUS(seed-raised)".
std::string sometimes_text(const scenarios::RunResult& r) {
  if (r.sometimes_listed.empty()) return "";
  std::string out = " sometimes:";
  for (const auto& id : r.sometimes_listed) {
    auto it = r.sometimes.find(id);
    out += fmt::format(" {}={}", id, it == r.sometimes.end() ? 0 : it->second);
  }
  // A failing run stopped at its violation: its conditions had no chance to happen.
  const auto vacuous = r.vacuous();
  if (!vacuous.empty() && r.passed) out += fmt::format(" VACUOUS({})", fmt::join(vacuous, ","));
  return out;
}

// After the summary: in how many seeds each listed condition happened.
std::string sometimes_summary_text(const scenarios::SometimesSummary& row) {
  std::string out = "sometimes:";
  for (const auto& [id, seeds] : row.listed) {
    out += fmt::format(" {} {}/{} seeds{}", id, seeds, row.seeds, seeds == 0 ? " VACUOUS" : "");
  }
  out += "\n";
  if (!row.vacuous.empty()) {
    out += fmt::format(
        "VACUOUS: {} happened in none of the {} seeds; the scenario lists it under `sometimes`, "
        "so its pass says nothing about it\n",
        fmt::join(row.vacuous, ", "), row.seeds);
  }
  return out;
}

// `--seed N` or `--seeds A..B` (default seed 1) into `range`; "" or the message.
std::string seed_range_error(const std::string& seed_text, const std::string& seeds_text,
                             SeedRange& range) {
  if (!seed_text.empty()) return seed_error("--seed", seed_text, range);
  if (!seeds_text.empty()) return seeds_error("--seeds", seeds_text, range);
  return "";
}

// Selection and overrides (issue 18): --set key=value, --invariants a,b, --fail-fast /
// --max-failures N.
struct Selection {
  std::vector<std::string> sets;
  std::string invariants;
  bool fail_fast = false;
  uint64_t max_failures = 0;  // 0 = no limit
  [[nodiscard]] std::vector<std::string> overrides() const {
    auto all = sets;
    if (!invariants.empty()) all.push_back(scenarios::invariants_override(invariants));
    return all;
  }
  [[nodiscard]] uint64_t failure_limit() const { return fail_fast ? 1 : max_failures; }
};

void add_selection_options(CLI::App* cmd, Selection& sel, bool with_failures) {
  cmd->add_option("--set", sel.sets,
                  "override a scenario field, KEY=VALUE (dotted key, e.g. "
                  "workload.request_interval_ms=1000 or service.flavour=postgres); repeatable");
  cmd->add_option(
      "--invariants", sel.invariants,
      "check only these invariants, a comma-separated list (`syncsim list invariants`)");
  if (!with_failures) return;
  auto* ff = cmd->add_flag("--fail-fast", sel.fail_fast, "stop after the first failing seed");
  cmd->add_option("--max-failures", sel.max_failures, "stop after N failing seeds")
      ->excludes(ff)
      ->check(CLI::PositiveNumber);
}

int run_command(const std::string& path, const std::string& seed_text,
                const std::string& seeds_text, const std::string& trace_path, bool json,
                const std::string& results_path, const std::string& core_path,
                const std::string& report_path, bool check_determinism, bool swarm,
                const Selection& selection) {
  scenarios::ExtraCores cores;
  if (!core_path.empty() && !register_core_path(core_path, cores, json ? std::cerr : std::cout)) {
    return kExitBadInput;
  }
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_with_overrides(path, selection.overrides(),
                                                       scenarios::validation_context(cores));
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  // Repros name the file by content too, so a moved copy can be checked (replay --scenario).
  const auto content_hash = scenarios::scenario_content_hash(path);
  // The maintainer's build replaces the scenario's core.
  if (!core_path.empty()) scenario.clients.core = kCorePathName;
  const std::string replay_core =
      core_path.empty() ? "" : fmt::format(" --core-path {}", core_path);
  SeedRange range{1, 1};
  if (auto error = seed_range_error(seed_text, seeds_text, range); !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  // Before any seed runs, so that no work is lost to a path that cannot be written.
  const bool many = range.last > range.first;
  std::string error = output_flags_error(
      {{"--trace",
        many && !trace_path.empty() ? fmt::format("{}.{}", trace_path, range.first) : trace_path},
       {"--results", results_path},
       {"--report", report_path}});
  if (error.empty() && !report_path.empty()) {
    if (auto e = report_path_error(report_path); !e.empty()) error = "--report: " + e;
  }
  if (!error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  int exit_code = kExitPass;
  uint64_t passed = 0, failed = 0, events = 0;
  double wall = 0, simulated = 0;
  nlohmann::json all = nlohmann::json::array();
  bool twin_done = false;
  bool stopped = false;  // --fail-fast / --max-failures reached
  if (!selection.overrides().empty() && !json) {
    std::cout << fmt::format("overrides: {} (not part of the repro: replay needs them too)\n",
                             fmt::join(selection.overrides(), " "));
  }
  for_each_seed(range, [&](uint64_t s) {
    if (stopped) return;
    if (selection.failure_limit() > 0 && failed >= selection.failure_limit()) {
      stopped = true;
      if (!json) {
        std::cout << fmt::format(
            "stopped after {} failing seed(s) (--fail-fast/--max-failures); "
            "seeds {}..{} not run\n",
            failed, s, range.last);
      }
      return;
    }
    scenarios::RunOptions opts;
    opts.seed = s;
    opts.extra_cores = cores;
    opts.swarm = swarm;
    std::optional<util::OutputFile> trace_file;
    if (!trace_path.empty()) {
      try {
        trace_file.emplace(many ? fmt::format("{}.{}", trace_path, s) : trace_path);
      } catch (const util::OutputError& e) {
        throw util::OutputError(std::string("--trace: ") + e.what());
      }
      opts.trace_sink = &trace_file->stream();
    }
    opts.keep_trace_lines = 20;
    scenarios::RunResult r;
    std::optional<scenarios::DeterminismReport> determinism;
    if (check_determinism) {  // runs twice; the first run is the result
      determinism = scenarios::check_determinism(scenario, opts);
      if (opts.trace_sink) *opts.trace_sink << determinism->first_trace;
      r = std::move(determinism->first_run);
    } else {
      r = scenarios::run_scenario(scenario, opts);
    }
    if (trace_file) commit_output("--trace", *trace_file);
    const std::string repro =
        scenarios::format_repro({scenario.name, path, s, scenarios::build_id(), r.trace_hash,
                                 swarm && scenario.swarm.has_value(), content_hash});
    events += r.events;
    wall += r.wall_seconds;
    simulated += static_cast<double>(r.simulated) / 1e6;
    r.expectation_met ? ++passed : ++failed;
    all.push_back(scenarios::result_json(r, repro));
    // The first failing seed gets its twin: the same seed without the mutants (or faults),
    // and where the two runs first part (issue 18: failures explain themselves).
    std::optional<scenarios::TwinReport> twin;
    if (!r.expectation_met && !twin_done && r.violation) {
      twin_done = true;
      twin = scenarios::twin_run(scenario, opts);
      if (twin) all.back()["twin"] = scenarios::to_json(*twin);
    }
    if (determinism) {
      all.back()["deterministic"] = !determinism->divergence;
      (json ? std::cerr : std::cout) << scenarios::describe(*determinism) << "\n";
      if (determinism->divergence) exit_code = kExitInternal;
    }
    if (!json) {
      double sim_s = static_cast<double>(r.simulated) / 1e6;
      std::cout << fmt::format(
          "{:<12} seed={:<6} {:<4} events={:<8} sim={:.1f}s wall={:.3f}s ev/s={:.0f} "
          "sim/wall={:.0f}x hash={}{}\n",
          r.scenario, s, r.expectation_met ? "PASS" : "FAIL", r.events, sim_s, r.wall_seconds,
          r.wall_seconds > 0 ? static_cast<double>(r.events) / r.wall_seconds : 0.0,
          r.wall_seconds > 0 ? sim_s / r.wall_seconds : 0.0, r.trace_hash, sometimes_text(r));
      if (!r.swarm.is_null()) {
        std::cout << "  swarm: " << scenarios::swarm_params_text(r.swarm) << "\n";
      }
      if (!r.expectation_met) {
        if (r.violation) {
          std::cout << fmt::format("  violated {} at t={:.6f}s ({}): {}\n", r.violation->invariant,
                                   static_cast<double>(r.violation->at) / 1e6, r.violation->subject,
                                   r.violation->message);
        } else {
          std::cout << "  stopped: " << r.stop.message << "\n";
        }
        if (!scenario.expect.pass) {
          std::cout << "  expected a violation of " << scenario.expect.violates << "\n";
        }
        if (!r.pending.empty()) std::cout << "  pending:\n" << r.pending;
        for (const auto& l : r.trace_tail) std::cout << "    | " << l << "\n";
        if (twin) {
          std::cout << fmt::format("  twin (seed {} without {}): {}\n", s, twin->removed,
                                   twin->twin_passed ? "PASS" : "FAIL: " + twin->twin_stop);
          if (twin->line > 0) {
            std::cout << fmt::format(
                "  first divergence at trace line {}:\n    run:  {}\n    twin: {}\n", twin->line,
                twin->run_line, twin->twin_line);
          }
        }
        std::cout << "  repro: " << repro << "\n";
        std::cout << fmt::format("  replay: syncsim run {} --seed {} --trace trace.txt{}{}\n", path,
                                 s, replay_core, swarm && scenario.swarm ? " --swarm" : "");
      }
    }
    if (!r.expectation_met) {
      int code = (r.stop.kind == sim::StopKind::Crash || r.stop.kind == sim::StopKind::Bound)
                     ? kExitInternal
                     : kExitInvariant;
      exit_code = std::max(exit_code, code);
    }
  });
  nlohmann::json document = scenarios::results_document(scenario, path, all, cores);
  if (!cores.empty()) document["unverified_core"] = unverified_core_json(cores);
  if (!results_path.empty()) write_output("--results", results_path, document.dump(2) + "\n");
  if (!report_path.empty()) {
    if (auto error = cli::write_report_for_run(document, report_path); !error.empty()) {
      std::cerr << "--report: " << error << "\n";
      return kExitBadInput;
    }
  }
  const auto sometimes = scenarios::summarize_sometimes(document["runs"]);
  if (json) {
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "\nsummary: {} seeds {}..{}: {} passed, {} failed; {} events, {:.0f} simulated s in "
        "{:.2f} wall s ({:.0f} events/s, {:.0f}x real time)\n",
        scenario.name, range.first, range.last, passed, failed, events, simulated, wall,
        wall > 0 ? static_cast<double>(events) / wall : 0.0, wall > 0 ? simulated / wall : 0.0);
    // Failing seeds stopped early: vacuity is judged only when every seed passed.
    if (failed == 0) {
      for (const auto& row : sometimes) std::cout << sometimes_summary_text(row);
    }
  }
  // A vacuous seed inside a range where every listed condition happened somewhere is only
  // counted; a condition that happened in no seed makes the whole run vacuous.
  if (exit_code == kExitPass && scenarios::any_vacuous(sometimes)) exit_code = kExitVacuous;
  return exit_code;
}

int validate_command(const std::string& path) {
  try {
    auto s = scenarios::load_scenario_file(path, scenarios::validation_context());
    const auto triggered =
        std::count_if(s.faults.begin(), s.faults.end(),
                      [](const scenarios::Fault& f) { return f.on.has_value(); });
    std::string extra = triggered > 0 ? fmt::format(", {} on protocol events", triggered) : "";
    if (s.swarm) {
      extra += fmt::format("; swarm: {} knobs", s.swarm->knobs.size());
      if (s.swarm->faults) {
        const auto& count = s.swarm->faults->count;
        extra += fmt::format(" + {}..{} faults", count.lo, count.hi);
      }
    }
    if (!s.sometimes.empty()) extra += fmt::format("; sometimes: {}", fmt::join(s.sometimes, ", "));
    std::cout << fmt::format("{}: ok ({} clients, {} s, {} faults{})\n", path, s.clients.count,
                             s.duration_s, s.faults.size(), extra);
    return kExitPass;
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
}

// ---------------------------------------------------------------------------------
// syncsim diff: differential mode (scenarios/differential/differential.hpp)

struct DiffArgs {
  std::string scenario_path;
  std::string seed_text;  // checked by seed_range_error, not by CLI11 (which wraps -1)
  std::string seeds_text;
  std::vector<std::string> a, b, allow;
  std::string core_path;
  bool json = false;
  bool per_field = false;
  Selection selection;  // --set, --invariants
};

CLI::App* add_diff_subcommand(CLI::App& app, DiffArgs& args) {
  std::string keys;
  for (const auto& k : scenarios::engine_keys()) {
    keys += fmt::format("\n    {}={}", k.name, k.meaning);
  }
  auto* diff = app.add_subcommand(
      "diff",
      "run a scenario twice per seed with engine configurations A and B and report the first "
      "divergence of the clients' observable state.  Exit codes: 0 no unallowed divergence, 1 a "
      "divergence, 2 bad input, 3 a run crashed or tripped a bound.  Keys (KEY=VALUE sets "
      "clients.KEY, on a fleet every group's; fleet[N].KEY=VALUE, also fleet.N.KEY, sets group "
      "N of clients.fleet, 0-based, e.g. --b fleet[1].sdk=js-real):" +
          keys);
  diff->add_option("scenario", args.scenario_path, "scenario JSON file")->required();
  auto* seed_opt = diff->add_option("--seed", args.seed_text, "one seed (default 1)");
  diff->add_option("--seeds", args.seeds_text, "a range of seeds, A..B")->excludes(seed_opt);
  diff->add_option(
      "--a", args.a,
      "configuration A: KEY=VALUE or fleet[N].KEY=VALUE ... (default: the scenario's)");
  diff->add_option(
      "--b", args.b,
      "configuration B: KEY=VALUE or fleet[N].KEY=VALUE ... (default: the scenario's)");
  diff->add_option("--allow", args.allow,
                   fmt::format("intended divergence classes, any of: {}",
                               fmt::join(scenarios::allowable_divergence_classes(), ", ")));
  diff->add_option("--core-path", args.core_path,
                   "an unreleased core build, usable as core=path (unverified, sha256 printed)");
  diff->add_flag("--json", args.json, "print the result as JSON instead of text");
  diff->add_flag("--per-field", args.per_field,
                 "compare each client's fields (write, upload, target, request.next, status, "
                 "applied, rows) separately, not interleaved: for engines whose timings differ, "
                 "e.g. --a sdk=shim --b sdk=js-real");
  add_selection_options(diff, args.selection, false);
  return diff;
}

void print_seed_diff(const scenarios::Scenario& s, const scenarios::SeedDiff& d) {
  std::string allowed;
  for (const auto& [k, n] : d.comparison.allowed) {
    allowed += fmt::format("{}{} x{}", allowed.empty() ? "" : ", ", k, n);
  }
  if (!allowed.empty()) allowed = " (allowed: " + allowed + ")";
  if (!d.diverged()) {
    std::cout << fmt::format("{:<12} seed={:<6} SAME     {} observations{}\n", s.name, d.seed,
                             d.comparison.compared, allowed);
    return;
  }
  if (d.verdict_divergence) {
    std::cout << fmt::format("{:<12} seed={:<6} DIVERGED verdict: {}{}\n", s.name, d.seed,
                             *d.verdict_divergence, allowed);
    return;
  }
  const auto& f = *d.comparison.first;
  std::cout << fmt::format("{:<12} seed={:<6} DIVERGED {} at client {} {}observation #{}{}\n",
                           s.name, d.seed, f.klass, f.client, f.group.empty() ? "" : f.group + " ",
                           f.index, allowed);
  for (const auto& o : f.before) std::cout << "      " << scenarios::describe(o) << "\n";
  std::cout << "    A " << (f.a ? scenarios::describe(*f.a) : "<stream ended>") << "\n";
  std::cout << "    B " << (f.b ? scenarios::describe(*f.b) : "<stream ended>") << "\n";
  for (const auto& o : f.after_a) std::cout << "    A+ " << scenarios::describe(o) << "\n";
  for (const auto& o : f.after_b) std::cout << "    B+ " << scenarios::describe(o) << "\n";
}

int diff_command(const DiffArgs& args) {
  scenarios::ExtraCores cores;
  if (!args.core_path.empty() &&
      !register_core_path(args.core_path, cores, args.json ? std::cerr : std::cout)) {
    return kExitBadInput;
  }
  const auto ctx = scenarios::validation_context(cores);
  scenarios::Scenario base, a, b;
  std::set<std::string> allow;
  try {
    base = scenarios::load_scenario_with_overrides(args.scenario_path, args.selection.overrides(),
                                                   ctx);
    a = scenarios::configure_side(base, args.a, ctx, "--a");
    b = scenarios::configure_side(base, args.b, ctx, "--b");
    allow = scenarios::parse_allow_list(args.allow);
  } catch (const std::invalid_argument& e) {  // ScenarioError is not one; caught below
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  SeedRange range{1, 1};
  if (auto error = seed_range_error(args.seed_text, args.seeds_text, range); !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  if (!args.json) {
    std::cout << fmt::format("A: {}\nB: {}\n", scenarios::settings_text(a),
                             scenarios::settings_text(b));
  }
  int exit_code = kExitPass;
  uint64_t diverged = 0;
  std::map<std::string, uint64_t> by_class, allowed_seeds;
  nlohmann::json seeds = nlohmann::json::array();
  for_each_seed(range, [&](uint64_t s) {
    auto d = scenarios::diff_seed(a, b, s, allow, cores, args.per_field);
    if (d.diverged()) {
      ++diverged;
      ++by_class[d.comparison.first ? d.comparison.first->klass : "verdict"];
      exit_code = std::max(exit_code, kExitInvariant);
    }
    for (const auto& [k, n] : d.comparison.allowed) ++allowed_seeds[k];
    if (d.internal_error()) exit_code = kExitInternal;
    if (args.json) {
      seeds.push_back(scenarios::to_json(d));
    } else {
      print_seed_diff(base, d);
    }
  });
  const uint64_t total = range.last - range.first + 1;
  if (args.json) {
    nlohmann::json doc = {{"build", scenarios::build_id()},
                          {"scenario", base.name},
                          {"a", scenarios::settings_text(a)},
                          {"b", scenarios::settings_text(b)},
                          {"allow", allow},
                          {"seeds", seeds},
                          {"diverged", diverged},
                          {"same", total - diverged},
                          {"diverged_by_class", by_class},
                          {"seeds_with_allowed_class", allowed_seeds}};
    if (!cores.empty()) doc["unverified_core"] = unverified_core_json(cores);
    std::cout << doc.dump(2) << "\n";
  } else {
    std::string classes, allowed;
    for (const auto& [k, n] : by_class) classes += fmt::format(", {} {}", k, n);
    for (const auto& [k, n] : allowed_seeds) allowed += fmt::format(", {} in {}", k, n);
    std::cout << fmt::format(
        "\nsummary: {} seeds {}..{}: {} diverged{}, {} same; allowed classes seen: {}\n", base.name,
        range.first, range.last, diverged, classes, total - diverged,
        allowed.empty() ? "none" : allowed.substr(2));
  }
  return exit_code;
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "syncsim: deterministic simulation of PowerSync's checkpoint protocol with the "
      "real core extension"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the build id and the pinned dependencies");

  auto* run = app.add_subcommand(
      "run",
      "run a scenario for one seed or a range of seeds.  Exit codes: 0 every expect held, 1 an "
      "invariant failed unexpectedly, 2 bad input, 3 internal error (crash, tripped bound, "
      "--check-determinism divergence), 4 every expect held but a condition the scenario lists "
      "under `sometimes` happened in none of the seeds (vacuous)");
  std::string scenario_path;
  std::string seed_text, seeds_text, trace_path, results_path;
  bool json = false;
  run->add_option("scenario", scenario_path, "scenario JSON file")->required();
  auto* seed_opt = run->add_option("--seed", seed_text, "one seed (default 1)");
  run->add_option("--seeds", seeds_text, "a range of seeds, A..B")->excludes(seed_opt);
  run->add_option("--trace", trace_path, "write the event trace to FILE (FILE.<seed> for a range)");
  run->add_flag("--json", json, "print results as JSON instead of text");
  run->add_option("--results", results_path, "also write the results as JSON to FILE");
  std::string core_path;
  run->add_option("--core-path", core_path,
                  "run an unreleased core build instead of the scenario's core (unverified, "
                  "sha256 printed)");
  std::string report_path;
  run->add_option("--report", report_path, "also write a report to FILE (.md, .html or .json)");
  Selection run_selection;
  add_selection_options(run, run_selection, true);

  auto* report = app.add_subcommand(
      "report", "write a report from results (or a scenario, run first), or compare two variants");
  cli::ReportRequest report_request;
  std::string report_seeds = "1..10";
  report
      ->add_option("inputs", report_request.inputs,
                   "results JSON (syncsim run --results) or scenario file; two with --compare")
      ->required()
      ->expected(1, 2);
  report->add_flag("--compare", report_request.compare, "compare two variants A B side by side");
  report
      ->add_option("--format", report_request.format,
                   "md, html or json (default: from --out, else md)")
      ->check(CLI::IsMember({"md", "html", "json"}));
  report->add_option("--out", report_request.output, "write the report to FILE instead of stdout");
  report->add_option("--seeds", report_seeds,
                     "seeds to run when an input is a scenario, A..B (1..10)");
  bool check_determinism = false;
  run->add_flag("--check-determinism", check_determinism,
                "run every seed twice, compare the traces and report the first divergent event "
                "(exit 3 on a divergence)");
  bool swarm = false;
  run->add_flag("--swarm", swarm,
                "swarm testing: each seed draws its knobs and extra faults from the scenario's "
                "swarm ranges (printed per seed)");

  auto* validate = app.add_subcommand("validate", "check a scenario file without running it");
  std::string validate_path;
  validate->add_option("scenario", validate_path, "scenario JSON file")->required();

  DiffArgs diff_args;
  auto* diff = add_diff_subcommand(app, diff_args);
  SweepArgs sweep_args;
  auto* sweep = add_sweep_subcommand(app, sweep_args);
  SweepWorkerArgs worker_args;
  auto* worker = add_sweep_worker_subcommand(app, worker_args);
  MergeArgs merge_args;
  auto* merge = add_merge_subcommand(app, merge_args);
  ReplayArgs replay_args;
  auto* replay = add_replay_subcommand(app, replay_args);
  ShrinkArgs shrink_args;
  auto* shrink = add_shrink_subcommand(app, shrink_args);
  HuntArgs hunt_args;
  auto* hunt = add_hunt_subcommand(app, hunt_args);
  ListArgs list_args;
  auto* list = add_list_subcommand(app, list_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitPass : kExitBadInput;  // CLI11's parse errors map to 2
  }
  try {
    if (version) {
      std::cout << version_text();
      return kExitPass;
    }
    if (*run) {
      return run_command(scenario_path, seed_text, seeds_text, trace_path, json, results_path,
                         core_path, report_path, check_determinism, swarm, run_selection);
    }
    if (*report) {
      SeedRange range;
      if (auto error = seeds_error("--seeds", report_seeds, range); !error.empty()) {
        std::cerr << error << "\n";
        return kExitBadInput;
      }
      report_request.first_seed = range.first;
      report_request.last_seed = range.last;
      return cli::report_command(report_request);
    }
    if (*validate) return validate_command(validate_path);
    if (*diff) return diff_command(diff_args);
    if (*sweep) return sweep_command(sweep_args);
    if (*worker) return sweep_worker_command(worker_args);
    if (*merge) return merge_command(merge_args);
    if (*replay) return replay_command(replay_args);
    if (*shrink) return shrink_command(shrink_args);
    if (*hunt) return hunt_command(hunt_args);
    if (*list) return list_command(list_args);
    std::cout << app.help();
    return kExitBadInput;
  } catch (const engine::CoreIntegrityError& e) {
    std::cerr << "syncsim: refusing to load a core: " << e.what() << "\n";
    return kExitInternal;
  } catch (const util::OutputError& e) {  // an output flag's write failed (disk full, ...)
    std::cerr << e.what() << "\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

}  // namespace

// Reports, merged results and lists go to standard output when no file is named: a write
// that failed there (a full disk) is lost output, so it exits 3 with errno like a failed
// output file (issue 19), unless the command already exited with a failure of its own.
int main(int argc, char** argv) {
  const int exit_code = run_cli(argc, argv);
  // errno: the final flush's, or else the one a failed write left during the run.
  std::cout.flush();
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0 || !std::cout) {
    const int error = errno;
    std::cerr << "syncsim: cannot write standard output: "
              << (error != 0 ? std::strerror(error) : "write error") << "\n";
    return exit_code == kExitPass ? kExitInternal : exit_code;
  }
  return exit_code;
}
