// syncsim's command line: a thin layer over scenarios/ (DESIGN.md §2).
// Exit codes (DESIGN.md §10): 0 passed (or the scenario's `expect` held), 1 an invariant
// failed unexpectedly, 2 bad input, 3 internal error.
#include <fmt/format.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/report_command.hpp"
#include "engine/core_registry.hpp"
#include "scenarios/results_json.hpp"
#include "scenarios/runner.hpp"

namespace {

using namespace syncsim;

constexpr int kExitPass = 0;
constexpr int kExitInvariant = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;

struct SeedRange {
  uint64_t first = 1;
  uint64_t last = 1;
};

std::optional<SeedRange> parse_seeds(const std::string& text) {
  static const std::regex kRange(R"(^([0-9]{1,18})\.\.([0-9]{1,18})$)");
  std::smatch m;
  if (!std::regex_match(text, m, kRange)) return std::nullopt;
  SeedRange r{std::stoull(m[1]), std::stoull(m[2])};
  if (r.last < r.first) return std::nullopt;
  return r;
}

std::string version_text() {
  std::string out = fmt::format("syncsim {}\n", scenarios::build_id());
  out +=
      fmt::format("  sqlite {} (amalgamation sha256 {})\n", SQLITE_VERSION, SYNCSIM_SQLITE_SHA256);
  for (const auto& v : engine::core_versions()) {
    out += fmt::format("  core {} sha256 {} ({})\n", v.name, v.sha256, v.sdk);
  }
  return out;
}

int run_command(const std::string& path, std::optional<uint64_t> seed,
                const std::string& seeds_text, const std::string& trace_path, bool json,
                const std::string& results_path, const std::string& report_path) {
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_file(path, scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  SeedRange range{1, 1};
  if (seed) range = {*seed, *seed};
  if (!seeds_text.empty()) {
    auto r = parse_seeds(seeds_text);
    if (!r) {
      std::cerr << "--seeds: '" << seeds_text << "' is not a range; expected A..B with A <= B\n";
      return kExitBadInput;
    }
    range = *r;
  }
  const bool many = range.last > range.first;
  int exit_code = kExitPass;
  uint64_t passed = 0, failed = 0, events = 0;
  double wall = 0, simulated = 0;
  nlohmann::json all = nlohmann::json::array();
  for (uint64_t s = range.first; s <= range.last; ++s) {
    scenarios::RunOptions opts;
    opts.seed = s;
    std::ofstream trace_file;
    if (!trace_path.empty()) {
      std::string p = many ? fmt::format("{}.{}", trace_path, s) : trace_path;
      trace_file.open(p);
      if (!trace_file) {
        std::cerr << "--trace: cannot write " << p << "\n";
        return kExitBadInput;
      }
      opts.trace_sink = &trace_file;
    }
    opts.keep_trace_lines = 20;
    auto r = scenarios::run_scenario(scenario, opts);
    const std::string repro = scenarios::repro_string(scenario, path, s);
    events += r.events;
    wall += r.wall_seconds;
    simulated += static_cast<double>(r.simulated) / 1e6;
    r.expectation_met ? ++passed : ++failed;
    all.push_back(scenarios::result_json(r, repro));
    if (!json) {
      double sim_s = static_cast<double>(r.simulated) / 1e6;
      std::cout << fmt::format(
          "{:<12} seed={:<6} {:<4} events={:<8} sim={:.1f}s wall={:.3f}s ev/s={:.0f} "
          "sim/wall={:.0f}x hash={}\n",
          r.scenario, s, r.expectation_met ? "PASS" : "FAIL", r.events, sim_s, r.wall_seconds,
          r.wall_seconds > 0 ? static_cast<double>(r.events) / r.wall_seconds : 0.0,
          r.wall_seconds > 0 ? sim_s / r.wall_seconds : 0.0, r.trace_hash);
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
        std::cout << "  repro: " << repro << "\n";
        std::cout << fmt::format("  replay: syncsim run {} --seed {} --trace trace.txt\n", path, s);
      }
    }
    if (!r.expectation_met) {
      int code = (r.stop.kind == sim::StopKind::Crash || r.stop.kind == sim::StopKind::Bound)
                     ? kExitInternal
                     : kExitInvariant;
      exit_code = std::max(exit_code, code);
    }
  }
  const nlohmann::json document = scenarios::results_document(scenario, path, all);
  if (!results_path.empty()) {
    std::ofstream out(results_path);
    if (!(out << document.dump(2) << "\n")) {
      std::cerr << "--results: cannot write " << results_path << "\n";
      return kExitBadInput;
    }
  }
  if (!report_path.empty()) {
    if (auto error = cli::write_report_for_run(document, report_path); !error.empty()) {
      std::cerr << "--report: " << error << "\n";
      return kExitBadInput;
    }
  }
  if (json) {
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "\nsummary: {} seeds {}..{}: {} passed, {} failed; {} events, {:.0f} simulated s in "
        "{:.2f} wall s ({:.0f} events/s, {:.0f}x real time)\n",
        scenario.name, range.first, range.last, passed, failed, events, simulated, wall,
        wall > 0 ? static_cast<double>(events) / wall : 0.0, wall > 0 ? simulated / wall : 0.0);
  }
  return exit_code;
}

int validate_command(const std::string& path) {
  try {
    auto s = scenarios::load_scenario_file(path, scenarios::validation_context());
    std::cout << fmt::format("{}: ok ({} clients, {} s, {} faults)\n", path, s.clients.count,
                             s.duration_s, s.faults.size());
    return kExitPass;
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "syncsim: deterministic simulation of PowerSync's checkpoint protocol with the "
      "real core extension"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the build id and the pinned dependencies");

  auto* run = app.add_subcommand("run", "run a scenario for one seed or a range of seeds");
  std::string scenario_path;
  std::optional<uint64_t> seed;
  std::string seeds_text, trace_path, results_path;
  bool json = false;
  run->add_option("scenario", scenario_path, "scenario JSON file")->required();
  auto* seed_opt = run->add_option("--seed", seed, "one seed (default 1)");
  run->add_option("--seeds", seeds_text, "a range of seeds, A..B")->excludes(seed_opt);
  run->add_option("--trace", trace_path, "write the event trace to FILE (FILE.<seed> for a range)");
  run->add_flag("--json", json, "print results as JSON instead of text");
  run->add_option("--results", results_path, "also write the results as JSON to FILE");
  std::string report_path;
  run->add_option("--report", report_path, "also write a report to FILE (.md, .html or .json)");

  auto* report = app.add_subcommand(
      "report", "write a report from results (or a scenario, run first), or compare two variants");
  cli::ReportRequest report_request;
  std::string report_seeds = "1..10";
  report->add_option("inputs", report_request.inputs,
                     "results JSON (syncsim run --results) or scenario file; two with --compare")
      ->required()
      ->expected(1, 2);
  report->add_flag("--compare", report_request.compare, "compare two variants A B side by side");
  report->add_option("--format", report_request.format, "md, html or json (default: from --out, else md)")
      ->check(CLI::IsMember({"md", "html", "json"}));
  report->add_option("--out", report_request.output, "write the report to FILE instead of stdout");
  report->add_option("--seeds", report_seeds, "seeds to run when an input is a scenario, A..B (1..10)");

  auto* validate = app.add_subcommand("validate", "check a scenario file without running it");
  std::string validate_path;
  validate->add_option("scenario", validate_path, "scenario JSON file")->required();

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
      return run_command(scenario_path, seed, seeds_text, trace_path, json, results_path,
                         report_path);
    }
    if (*report) {
      auto range = parse_seeds(report_seeds);
      if (!range) {
        std::cerr << "--seeds: '" << report_seeds << "' is not a range; expected A..B with A <= B\n";
        return kExitBadInput;
      }
      report_request.first_seed = range->first;
      report_request.last_seed = range->last;
      return cli::report_command(report_request);
    }
    if (*validate) return validate_command(validate_path);
    std::cout << app.help();
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}
