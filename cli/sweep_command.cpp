#include "cli/sweep_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "cli/exit_codes.hpp"
#include "cli/interrupt.hpp"
#include "cli/output.hpp"
#include "cli/report_command.hpp"
#include "cli/seed_range.hpp"
#include "cli/shard_env.hpp"
#include "cli/sweep_findings.hpp"
#include "cli/sweep_plan.hpp"
#include "cli/worker_pool.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/format/overrides.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/determinism.hpp"
#include "scenarios/world/twin.hpp"

namespace syncsim::cli {

CLI::App* add_sweep_subcommand(CLI::App& app, SweepArgs& args) {
  auto* cmd = app.add_subcommand(
      "sweep",
      "run scenarios x seeds in worker processes: progress on stderr, a summary table per "
      "scenario, JSON results and JUnit XML (ordered by scenario, then seed, whatever --jobs).  "
      "Exit codes: 0 every expect held, 1 an invariant failed unexpectedly, 2 bad input, 3 a "
      "crash, tripped bound, failed worker or (--check-determinism) a divergence, 4 every "
      "expect held but a condition a scenario lists under `sometimes` happened in none of its "
      "seeds (vacuous; a vacuous seed among others is only counted)");
  cmd->add_option("scenario", args.scenarios, "scenario JSON files")->required();
  cmd->add_option("--seeds", args.seeds, "a range of seeds, A..B")->required();
  cmd->add_option("--jobs", args.jobs, "worker processes at a time (default: one per CPU)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--shard", args.shard,
                  "i/n: only every n-th seed of the range, from the i-th; auto: i and n from "
                  "the engine's environment (SYNCSIM_SHARD_INDEX/_COUNT, "
                  "SLURM_ARRAY_TASK_ID/_COUNT, JOB_COMPLETION_INDEX/JOB_COMPLETIONS)");
  cmd->add_option("--budget", args.budget,
                  "DURATION (90s, 15m, 2h): start no chunk of seeds after this much wall time; "
                  "the range is an upper bound, the covered seeds go into `coverage`");
  cmd->add_option("--results", args.results, "write the combined JSON results to FILE");
  cmd->add_option("--junit", args.junit, "write JUnit XML to FILE");
  cmd->add_option("--report", args.report,
                  "also write a report per scenario (.md, .html or .json); with several "
                  "scenarios FILE gets the scenario name before its extension: "
                  "sweep.html -> sweep.basic.html");
  cmd->add_option("--findings", args.findings,
                  "save the failing repros to DIR in the format hunt --findings writes "
                  "(findings.json/.md/.html, with a copy of each scenario); `syncsim replay "
                  "--all DIR` re-runs them");
  cmd->add_option("--set", args.sets,
                  "override a field of every scenario, KEY=VALUE (dotted key); repeatable");
  cmd->add_option("--invariants", args.invariants,
                  "check only these invariants, a comma-separated list");
  auto* ff = cmd->add_flag("--fail-fast", args.fail_fast,
                           "start no more seeds after the first failing one (started chunks "
                           "finish; the results say which seeds did not run)");
  cmd->add_option("--max-failures", args.max_failures, "start no more seeds once N runs failed")
      ->excludes(ff)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--check-determinism", args.check_determinism,
                "run every seed twice and compare the traces");
  cmd->add_flag("--swarm", args.swarm,
                "swarm testing: each seed draws its knobs and extra faults from the scenario's "
                "swarm ranges (printed for failing seeds, `swarm` in the results)");
  return cmd;
}

CLI::App* add_sweep_worker_subcommand(CLI::App& app, SweepWorkerArgs& args) {
  auto* cmd = app.add_subcommand("sweep-worker", "internal: one worker process of sweep");
  cmd->group("");  // hidden from --help
  cmd->add_option("scenario", args.scenario)->required();
  cmd->add_option("--seeds", args.seeds)->required()->delimiter(',');
  cmd->add_option("--timeline-seed", args.timeline_seed)->required();
  cmd->add_flag("--check-determinism", args.check_determinism);
  cmd->add_flag("--swarm", args.swarm);
  cmd->add_option("--parent-pid", args.parent_pid);
  cmd->add_option("--set", args.sets);
  return cmd;
}

namespace {

nlohmann::json determinism_json(const scenarios::DeterminismReport& rep) {
  nlohmann::json j = {{"deterministic", !rep.divergence}};
  if (rep.divergence) {
    j["line"] = rep.divergence->line;
    j["first"] = rep.divergence->first;
    j["second"] = rep.divergence->second;
  }
  return j;
}

}  // namespace

int sweep_worker_command(const SweepWorkerArgs& args) {
  die_with_parent(static_cast<pid_t>(args.parent_pid));
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_with_overrides(args.scenario, args.sets,
                                                       scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  bool violation_kept = false;
  const auto content_hash = scenarios::scenario_content_hash(args.scenario);
  for (uint64_t seed : args.seeds) {
    scenarios::RunOptions opts;
    opts.seed = seed;
    opts.swarm = args.swarm;
    scenarios::RunResult r;
    nlohmann::json det;
    if (args.check_determinism) {
      auto rep = scenarios::check_determinism(scenario, opts);
      det = determinism_json(rep);
      r = std::move(rep.first_run);
    } else {
      r = scenarios::run_scenario(scenario, opts);
    }
    const auto repro = scenarios::format_repro(
        {scenario.name, args.scenario, seed, scenarios::build_id(), r.trace_hash,
         args.swarm && scenario.swarm.has_value(), content_hash});
    auto j = scenarios::result_json(r, repro);
    // Timelines (up to 150 events each) are dropped for most passing runs so that a sweep's
    // JSON stays small.  Kept: failures, so a failing seed can still be drawn; and the runs
    // a report's sequence diagram may need (report_model: the first seed with a violation,
    // else the first seed): the sweep's first seed, and this chunk's first run with a
    // violation (one that met its `expect: violates` is not a failure).  The earliest
    // chunk's first violation is the scenario's first.  sweep_command makes the reports from
    // these, then drops all but failures' and the range's first seed's from the document
    // (keep_timelines), so that it does not depend on the chunking or the shards.
    const bool keep = !r.expectation_met || seed == args.timeline_seed ||
                      (r.violation.has_value() && !violation_kept);
    if (r.violation) violation_kept = true;
    if (!keep) j.erase("timeline");
    if (!det.is_null()) j["determinism"] = det;
    std::cout << j.dump() << "\n" << std::flush;
  }
  return kExitPass;
}

namespace {

// The document keeps a run's timeline only if the run failed or is the first seed of the
// range (not of the shard), so that it is the same for any --jobs and any split into
// shards (merged shards equal the full sweep).  The reports are made before this, from
// everything the workers kept (see sweep_worker_command).
void keep_timelines(nlohmann::json& runs, uint64_t first_seed) {
  for (auto& r : runs) {
    if (r["expectation_met"].get<bool>() && r["seed"].get<uint64_t>() != first_seed) {
      r.erase("timeline");
    }
  }
}

// Swarm sweeps: the drawn parameters of every failing seed, so it can be read (and
// replayed with its repro) without rerunning.
void print_swarm_failures(const nlohmann::json& runs) {
  uint64_t drawn = 0;
  std::string lines;
  for (const auto& r : runs) {
    if (!r.contains("swarm")) continue;
    ++drawn;
    if (r["expectation_met"].get<bool>()) continue;
    lines += fmt::format("  {} seed={}: {}\n", r["scenario"].get<std::string>(),
                         r["seed"].get<uint64_t>(), scenarios::swarm_params_text(r["swarm"]));
  }
  std::cout << fmt::format("swarm: {} runs drew their parameters (`swarm` in --results)\n", drawn);
  if (!lines.empty()) std::cout << "swarm parameters of failing seeds:\n" << lines;
}

}  // namespace

namespace {

// The seeds of a sweep: the shard's seeds of the range, the k-th computed, never listed up
// front (issue 19: `--seeds 1..99999999999` built the whole list).
struct ShardSeeds {
  SeedRange range;
  Shard shard;
  uint64_t count = 0;
  [[nodiscard]] uint64_t at(uint64_t k) const {
    return range.first + shard.index - 1 + k * shard.count;
  }
};

// The seeds no run came back for, per scenario, as compact ranges of the shard's seeds
// (`A..B` = every seed of A..B this shard takes).
nlohmann::json seeds_not_run(const ShardSeeds& seeds, const std::vector<std::string>& names,
                             const nlohmann::json& runs) {
  std::map<std::string, std::set<uint64_t>> ran;
  for (const auto& r : runs)
    ran[r["scenario"].get<std::string>()].insert(r["seed"].get<uint64_t>());
  nlohmann::json out = nlohmann::json::object();
  for (const auto& name : names) {
    std::vector<uint64_t> missing_k;
    const auto& done = ran[name];
    for (uint64_t k = 0; k < seeds.count; ++k) {
      if (!done.contains(seeds.at(k))) missing_k.push_back(k);
    }
    if (missing_k.empty()) continue;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& text : compact_ranges(missing_k)) {
      const auto dots = text.find("..");
      const uint64_t k1 = std::stoull(text.substr(0, dots));
      list.push_back(
          dots == std::string::npos
              ? std::to_string(seeds.at(k1))
              : fmt::format("{}..{}", seeds.at(k1), seeds.at(std::stoull(text.substr(dots + 2)))));
    }
    out[name] = list;
  }
  return out;
}

}  // namespace

// The twin (scenarios/world/twin.hpp) of each scenario's first failing seed with a violation:
// scenario name -> (seed, twin).
std::map<std::string, std::pair<uint64_t, scenarios::TwinReport>> first_failure_twins(
    const nlohmann::json& runs, const std::map<std::string, scenarios::Scenario>& loaded,
    bool swarm) {
  std::map<std::string, std::pair<uint64_t, scenarios::TwinReport>> out;
  std::map<std::string, uint64_t> first;
  for (const auto& r : runs) {
    if (r["expectation_met"].get<bool>() || !r.contains("violation")) continue;
    const auto name = r["scenario"].get<std::string>();
    const auto seed = r["seed"].get<uint64_t>();
    if (auto it = first.find(name); it == first.end() || seed < it->second) first[name] = seed;
  }
  for (const auto& [name, seed] : first) {
    scenarios::RunOptions opts;
    opts.seed = seed;
    opts.swarm = swarm;
    auto twin = scenarios::twin_run(loaded.at(name), opts);
    if (!twin) continue;
    std::cout << fmt::format("twin of {} seed {} (without {}): {}\n", name, seed, twin->removed,
                             twin->twin_passed ? "PASS" : "FAIL: " + twin->twin_stop);
    if (twin->line > 0) {
      std::cout << fmt::format("  first divergence at trace line {}:\n    run:  {}\n    twin: {}\n",
                               twin->line, twin->run_line, twin->twin_line);
    }
    out.emplace(name, std::make_pair(seed, std::move(*twin)));
  }
  return out;
}

int sweep_command(const SweepArgs& args) {
  SeedRange full;
  if (auto error = seeds_error("--seeds", args.seeds, full, std::numeric_limits<uint64_t>::max());
      !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  const auto range = std::optional<SeedRange>(full);
  Shard shard;
  if (!args.shard.empty()) {
    auto s = resolve_shard(args.shard, process_env());
    if (auto* error = std::get_if<std::string>(&s)) {
      std::cerr << *error << "\n";
      return kExitBadInput;
    }
    shard = std::get<ShardFromEnv>(s).shard;
    if (args.shard == "auto") {
      std::cerr << fmt::format("sweep: shard {}/{} from {}\n", shard.index, shard.count,
                               std::get<ShardFromEnv>(s).source);
    }
  }
  std::optional<double> budget;
  if (!args.budget.empty()) {
    budget = parse_budget(args.budget);
    if (!budget) {
      std::cerr << "--budget: '" << args.budget
                << "' is not a duration; expected a whole number with s, m or h (90s, 15m, 2h), "
                   "from 1s to 720h\n";
      return kExitBadInput;
    }
  }
  const ShardSeeds seeds{*range, shard, shard.seeds_in(*range)};
  if (seeds.count > kMaxSeedsPerCommand / args.scenarios.size()) {
    std::cerr << fmt::format(
        "--seeds: '{}'{} is {} seeds of {} scenarios; allowed: at most {} runs per sweep "
        "(split the range or use --shard)\n",
        args.seeds, args.shard.empty() ? "" : " --shard " + args.shard, seeds.count,
        args.scenarios.size(), kMaxSeedsPerCommand);
    return kExitBadInput;
  }
  if (!args.report.empty()) {
    if (auto error = report_path_error(args.report); !error.empty()) {
      std::cerr << "--report: " << error << "\n";
      return kExitBadInput;
    }
  }
  if (auto error = output_flags_error(
          {{"--results", args.results}, {"--junit", args.junit}, {"--report", args.report}});
      !error.empty()) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  auto overrides = args.sets;  // --invariants is one more override
  if (!args.invariants.empty())
    overrides.push_back(scenarios::invariants_override(args.invariants));
  std::map<std::string, std::string> names;  // results are keyed by scenario name
  std::map<std::string, scenarios::Scenario> loaded;
  std::vector<std::string> names_in_order;  // of args.scenarios
  for (const auto& path : args.scenarios) {
    try {
      auto s =
          scenarios::load_scenario_with_overrides(path, overrides, scenarios::validation_context());
      auto [it, fresh] = names.emplace(s.name, path);
      if (!fresh) {
        std::cerr << fmt::format("{} and {} are both named '{}'; sweep keys results by name\n",
                                 it->second, path, s.name);
        return kExitBadInput;
      }
      names_in_order.push_back(s.name);
      loaded.emplace(s.name, std::move(s));
    } catch (const scenarios::ScenarioError& e) {
      std::cerr << e.what() << "\n";
      return kExitBadInput;
    }
  }
  const int jobs = args.jobs > 0 ? args.jobs : std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  ChunkPlan plan(args.scenarios, *range, shard, jobs, budget.has_value());
  const uint64_t total = plan.shard_seeds() * args.scenarios.size();
  const uint64_t first_seed = plan.first_seed();

  nlohmann::json runs = nlohmann::json::array();
  uint64_t done = 0, failures = 0;
  const uint64_t failure_limit = args.fail_fast ? 1 : args.max_failures;
  bool stopped_early = false;  // --fail-fast / --max-failures reached
  Progress progress("sweep", total);
  const InterruptGuard interrupt;  // SIGINT/SIGTERM: stop the workers, keep what finished
  WorkerPoolOptions pool;
  pool.jobs = jobs;
  pool.check_determinism = args.check_determinism;
  pool.swarm = args.swarm;
  pool.timeline_seed = first_seed;
  pool.stop_on_interrupt = true;
  pool.sets = overrides;
  const std::vector<std::string> worker_errors = run_worker_pool(
      [&]() -> std::optional<Chunk> {
        // No chunk starts once the budget is spent; started ones finish (sweep_plan.hpp).
        if (budget && progress.elapsed() >= *budget) return std::nullopt;
        if (failure_limit > 0 && failures >= failure_limit) {
          stopped_early = true;
          return std::nullopt;
        }
        const auto next = plan.next();
        if (!next) return std::nullopt;
        return plan.chunk(*next);
      },
      pool,
      [&](nlohmann::json j) {
        ++done;
        if (!j.at("expectation_met").get<bool>()) ++failures;
        runs.push_back(std::move(j));
      },
      [&] { progress.update(done, failures); });
  const int interrupted = InterruptGuard::signal_received();
  progress.update(done, failures, true);

  nlohmann::json headers = nlohmann::json::object();  // so `syncsim report` can read it
  for (const auto& [name, path] : names) {
    headers[name] = scenarios::scenario_header(loaded.at(name), path);
  }
  auto doc = scenarios::sweep_document(scenarios::build_id(), std::move(runs), std::move(headers));
  // The runs the reports are made from: with the timelines of this shard's first seed and
  // of each chunk's first violation.
  nlohmann::json report_runs = args.report.empty() ? nlohmann::json() : doc["runs"];
  keep_timelines(doc["runs"], range->first);
  // Each scenario's first failing seed (of this shard) gets its twin, printed and in the
  // report; not in the results document, which must not depend on the split into shards.
  const auto twins = first_failure_twins(doc["runs"], loaded, args.swarm);
  for (auto& r : report_runs) {
    auto t = twins.find(r["scenario"].get<std::string>());
    if (t != twins.end() && t->second.first == r["seed"].get<uint64_t>()) {
      r["twin"] = scenarios::to_json(t->second.second);
    }
  }
  if (stopped_early && !interrupted) {
    doc["partial"] = true;
    doc["seeds_not_run"] = seeds_not_run(seeds, names_in_order, doc["runs"]);
    std::cerr << fmt::format(
        "sweep: stopped after {} failing run(s) (--fail-fast/--max-failures); {} of {} runs "
        "finished\n",
        failures, done, total);
  }
  if (interrupted) {
    doc["partial"] = true;
    doc["seeds_not_run"] = seeds_not_run(seeds, names_in_order, doc["runs"]);
    std::cerr << fmt::format("sweep: interrupted by signal {}; {} of {} runs finished\n",
                             interrupted, done, total);
  }
  if (!args.shard.empty()) doc["shard"] = fmt::format("{}/{}", shard.index, shard.count);
  if (budget) {
    std::vector<std::string> scenario_names;
    scenario_names.reserve(names.size());
    for (const auto& [name, path] : names) scenario_names.push_back(name);
    doc["coverage"] =
        coverage_json(doc["runs"], scenario_names, *range, shard, plan.shard_seeds(), *budget);
    std::cout << fmt::format("budget {}: covered\n", args.budget) << coverage_text(doc["coverage"]);
  }
  std::cout << scenarios::summary_table(scenarios::summarize(doc));
  if (args.swarm) print_swarm_failures(doc["runs"]);
  const auto sometimes = scenarios::summarize_sometimes(doc["runs"]);
  if (!sometimes.empty()) std::cout << "\n" << scenarios::sometimes_table(sometimes);
  const double wall = progress.elapsed();
  std::cout << fmt::format(
      "\nsweep: {} runs ({} passed, {} failed) in {:.2f} s wall with {} jobs "
      "({:.1f} runs/s)\n",
      done, doc["passed"].get<uint64_t>(), doc["failed"].get<uint64_t>(), wall, jobs,
      wall > 0 ? static_cast<double>(done) / wall : 0.0);
  int exit_code = kExitPass;
  uint64_t diverged = 0;
  for (const auto& r : doc["runs"]) {
    if (r.contains("determinism") && !r["determinism"]["deterministic"].get<bool>()) {
      ++diverged;
      std::cout << fmt::format(
          "NOT deterministic: {} seed {}: first divergence at trace line {}\n"
          "  1st run: {}\n  2nd run: {}\n",
          r["scenario"].get<std::string>(), r["seed"].get<uint64_t>(),
          r["determinism"]["line"].get<uint64_t>(), r["determinism"]["first"].get<std::string>(),
          r["determinism"]["second"].get<std::string>());
    }
    if (!r["expectation_met"].get<bool>()) {
      const auto kind = r.value("stop_kind", std::string());
      exit_code =
          std::max(exit_code, kind == "crash" || kind == "bound" ? kExitInternal : kExitInvariant);
    }
  }
  if (args.check_determinism) {
    std::cout << fmt::format("determinism: {} of {} runs diverged\n", diverged, done);
  }
  if (diverged > 0) exit_code = kExitInternal;
  if (exit_code == kExitPass && scenarios::any_vacuous(sometimes)) exit_code = kExitVacuous;
  for (const auto& e : worker_errors) std::cerr << "error: " << e << "\n";
  if (!worker_errors.empty()) exit_code = kExitInternal;
  if (interrupted) exit_code = kExitInterrupted;
  if (!args.results.empty()) write_output("--results", args.results, doc.dump(2) + "\n");
  if (!args.junit.empty())
    write_output("--junit", args.junit, scenarios::junit_xml(doc, scenarios::utc_timestamp_now()));
  if (!args.findings.empty()) {
    const SweepFindingsInput in{&doc["runs"], &names, &loaded, args.seeds, wall, jobs};
    if (auto error = write_sweep_findings(args.findings, in); !error.empty()) {
      std::cerr << "--findings: " << error << "\n";
      return kExitBadInput;
    }
    std::cout << fmt::format("findings: {} ({} failed runs)\n", args.findings,
                             doc["failed"].get<uint64_t>());
  }
  if (!args.report.empty()) {
    // One single-scenario results document per scenario (as `run --results` writes), so
    // the report is the one `run --report` renders for the same seeds.
    std::map<std::string, std::string> files;  // report file -> scenario
    for (const auto& [name, path] : names) {
      const auto file = names.size() == 1 ? args.report : report_path_for(args.report, name);
      if (auto [it, fresh] = files.emplace(file, name); !fresh) {
        std::cerr << fmt::format("--report: scenarios '{}' and '{}' would both write {}\n",
                                 it->second, name, file);
        return kExitBadInput;
      }
    }
    for (const auto& [file, name] : files) {
      nlohmann::json scenario_runs = nlohmann::json::array();
      for (const auto& r : report_runs) {
        if (r["scenario"] == name) scenario_runs.push_back(r);
      }
      if (scenario_runs.empty()) {  // a shard without seeds, or failed workers (reported above)
        std::cerr << fmt::format("--report: no runs of {}; {} not written\n", name, file);
        continue;
      }
      const auto results =
          scenarios::results_document(loaded.at(name), names.at(name), std::move(scenario_runs));
      if (auto error = write_report_for_run(results, file); !error.empty()) {
        std::cerr << "--report: " << error << "\n";
        return kExitBadInput;
      }
      std::cout << fmt::format("report: {} ({})\n", file, name);
    }
  }
  return exit_code;
}

}  // namespace syncsim::cli
