#include "cli/hunt_command.hpp"

#include "cli/shard_env.hpp"  // parse_budget

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "cli/seed_range.hpp"
#include "cli/worker_pool.hpp"
#include "scenarios/explore/findings.hpp"
#include "scenarios/explore/guided.hpp"
#include "scenarios/explore/shrink.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/explore/world_swarm.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/results/results.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::cli {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kDefaultKnown = "scenarios/known-findings.json";

// Writes `text` to `path` atomically and checked (util::OutputFile): a failed write leaves no
// torn or temp file and throws OutputError naming --findings, the path and errno (exit 3).
void write_findings_file(const fs::path& path, const std::string& text) {
  write_output("--findings", path.string(), text);
}

// The group key of a failed run on the unshrunk scenario: (file, invariant, class).
struct Failure {
  std::string file;
  uint64_t seed = 0;
  std::string invariant;
  std::string cls;
  json run;
};

std::string failure_invariant(const json& r) {
  if (r.contains("violation")) return r["violation"]["invariant"].get<std::string>();
  return r.value("stop_kind", std::string("unknown"));
}

std::vector<std::string> timeline_lines(const scenarios::Timeline& t) {
  std::vector<std::string> out;
  const std::size_t keep = 40;
  const std::size_t from = t.events.size() > keep ? t.events.size() - keep : 0;
  if (from > 0 || t.first > 0) out.push_back(fmt::format("... {} earlier events", t.first + from));
  for (std::size_t i = from; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    out.push_back(fmt::format("{:>10.3f}s  {} -> {}  {}: {}", static_cast<double>(e.at) / 1e6,
                              e.from, e.to, e.kind, e.label));
  }
  return out;
}

std::string explanation_of(const scenarios::RunResult& r) {
  if (!r.violation) return r.stop.message + (r.pending.empty() ? "" : "; pending: " + r.pending);
  const auto& v = *r.violation;
  return fmt::format("{} at t={:.3f}s ({}): {}", v.invariant, static_cast<double>(v.at) / 1e6,
                     v.subject, v.message);
}

// The project's known findings: ./scenarios/known-findings.json, else the one beside the first
// swarm file's catalog (scenarios/catalog/world.json -> scenarios/known-findings.json), so a
// hunt started outside the repository still recognises them.
std::string default_known_findings(const std::vector<std::string>& swarm_files) {
  if (fs::exists(kDefaultKnown)) return kDefaultKnown;
  if (swarm_files.empty()) return "";
  const fs::path beside =
      fs::path(swarm_files.front()).parent_path().parent_path() / "known-findings.json";
  return fs::exists(beside) ? beside.string() : "";
}

}  // namespace

CLI::App* add_hunt_subcommand(CLI::App& app, HuntArgs& args) {
  auto* cmd = app.add_subcommand(
      "hunt",
      "hunt for findings: run swarm seeds of the files (e.g. scenarios/catalog/world.json), group "
      "failures by (invariant, explanation class), shrink one per group, dedup by signature and "
      "write DIR/findings.json, findings.md, findings.html and the shrunk scenarios.  Progress "
      "and ETA on stderr.  Exit codes: 0 no new finding (known ones only), 1 a new finding, "
      "2 bad input, 3 a failed worker");
  cmd->add_option("swarm-file", args.swarm_files, "scenario files with a swarm section")
      ->required();
  cmd->add_option("--seeds", args.seeds, "a range of seeds, A..B");
  cmd->add_option("--budget", args.budget, "run seeds from 1 on for this long: 45s, 30m, 2h");
  cmd->add_option("--jobs", args.jobs, "worker processes at a time (default: one per CPU)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--findings", args.findings, "directory for the findings files")->required();
  cmd->add_option("--known", args.known,
                  std::string("known-findings file (default: ") + kDefaultKnown +
                      " here, else beside the first swarm file's catalog folder)");
  cmd->add_option("--max-shrink", args.max_shrink, "bound on shrink runs per finding (default 60)")
      ->check(CLI::Range(0, 100000));
  cmd->add_flag("--guided", args.guided,
                "coverage-guided draws (world swarms only): seeds run in batches of --batch; "
                "batch k's weights are biased toward rare abstract-state cells of batches < k "
                "and written to DIR/guided/, which the repros name (default: uniform draws)");
  cmd->add_option("--batch", args.batch, "seeds per guided batch (default 100)")
      ->check(CLI::Range(1, 100000));
  return cmd;
}

int hunt_command(const HuntArgs& args) {
  if (args.seeds.empty() == args.budget.empty()) {
    std::cerr << "hunt: give exactly one of --seeds A..B and --budget DURATION (e.g. 30m)\n";
    return kExitBadInput;
  }
  std::optional<SeedRange> range;
  std::optional<double> budget;
  if (!args.seeds.empty() && !(range = parse_seeds(args.seeds))) {
    std::cerr << "--seeds: '" << args.seeds << "' is not a range; expected A..B with A <= B\n";
    return kExitBadInput;
  }
  if (!args.budget.empty() && !(budget = parse_budget(args.budget))) {
    std::cerr << "--budget: '" << args.budget
              << "' is not a duration; expected a positive integer with s, m or h (30m)\n";
    return kExitBadInput;
  }
  const auto ctx = scenarios::validation_context();
  std::map<std::string, scenarios::Scenario> bases;
  for (const auto& path : args.swarm_files) {
    try {
      auto s = scenarios::load_scenario_file(path, ctx);
      if (!s.swarm) {
        std::cerr << path << ": has no `swarm` section; hunt draws every seed from one\n";
        return kExitBadInput;
      }
      if (args.guided && !s.swarm->world) {
        std::cerr << "--guided: " << path
                  << " has no `swarm.world` section; guided draws bias a world swarm's "
                     "weights (e.g. scenarios/catalog/world.json)\n";
        return kExitBadInput;
      }
      bases.emplace(path, std::move(s));
    } catch (const scenarios::ScenarioError& e) {
      std::cerr << e.what() << "\n";
      return kExitBadInput;
    }
  }
  std::vector<scenarios::KnownFinding> known;
  std::string known_path = args.known;
  if (known_path.empty()) known_path = default_known_findings(args.swarm_files);
  if (known_path.empty()) {
    // Said, not silent: without the file every finding, the catalog's included, counts as new.
    std::cerr << "hunt: no known-findings file (" << kDefaultKnown
              << " not found here nor beside the swarm files' catalog); every finding counts as "
                 "new\n";
  }
  if (!known_path.empty()) {
    std::ifstream in(known_path);
    if (!in) {
      std::cerr << "--known: cannot read " << known_path << "\n";
      return kExitBadInput;
    }
    try {
      known = scenarios::parse_known_findings(json::parse(in), known_path);
    } catch (const std::exception& e) {
      std::cerr << "--known: " << e.what() << "\n";
      return kExitBadInput;
    }
  }
  const fs::path dir(args.findings);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    std::cerr << "--findings: cannot create directory " << args.findings << "\n";
    return kExitBadInput;
  }

  const int jobs = args.jobs > 0 ? args.jobs : std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  const uint64_t files = args.swarm_files.size();
  Progress progress("hunt", range ? (range->last - range->first + 1) * files : 0);
  std::vector<json> runs;
  uint64_t failures = 0;
  std::vector<std::string> worker_errors;
  // Guided: per swarm file, the runs of finished batches, and the file each seed drew from.
  std::map<std::string, std::vector<scenarios::GuidedRun>> guided_runs;
  std::map<std::string, std::map<uint64_t, uint64_t>> guided_parents;  // child -> parent seed
  std::map<std::pair<std::string, uint64_t>, std::string> drawn_from;  // (name, seed) -> file
  if (args.guided) fs::create_directories(dir / "guided", ec);
  // Batches: the whole range at once, or (budget) batches until the time is up; guided
  // runs always use fixed batches of --batch seeds, whatever --jobs.
  const uint64_t batch = args.guided ? static_cast<uint64_t>(args.batch)
                         : range     ? range->last - range->first + 1
                                     : static_cast<uint64_t>(jobs) * 20;
  uint64_t batch_index = 0;
  for (uint64_t start = range ? range->first : 1;; start += batch, ++batch_index) {
    const uint64_t end = range ? std::min(range->last, start + batch - 1) : start + batch - 1;
    std::vector<uint64_t> seeds;
    for (uint64_t s = start; s <= end; ++s) seeds.push_back(s);
    std::vector<Chunk> chunks;
    for (const auto& base_path : args.swarm_files) {
      std::string path = base_path;
      if (args.guided && batch_index > 0) {
        // This batch's weights, from the finished batches only, as a swarm file of its own.
        std::ifstream in(base_path);
        json file = json::parse(in);
        file["swarm"]["world"]["weights"] = scenarios::guided_weights(
            *bases.at(base_path).swarm->world, guided_runs[base_path], ctx);
        // Most seeds are children of earlier runs (guided.hpp): their pins, by seed.
        json pins = scenarios::guided_pins(guided_runs[base_path], seeds, batch_index,
                                           guided_parents[base_path]);
        if (!pins.empty()) file["swarm"]["world"]["pins"] = std::move(pins);
        file["description"] = fmt::format(
            "Guided batch {} (seeds {}..{}) of {}: its weights are biased toward the abstract "
            "states earlier batches reached rarely (syncsim hunt --guided).",
            batch_index, start, end, base_path);
        path = (dir / "guided" /
                fmt::format("{}-batch-{}.json", fs::path(base_path).stem().string(), batch_index))
                   .string();
        write_findings_file(path, file.dump(2) + "\n");
        bases.emplace(path, scenarios::load_scenario_file(path, ctx));
      }
      for (uint64_t s : seeds) drawn_from[{bases.at(base_path).name, s}] = path;
      for (auto& c : make_chunks(path, seeds, jobs)) chunks.push_back(std::move(c));
    }
    const std::size_t runs_before = runs.size();
    if (budget) progress.set_total(runs.size() + seeds.size() * files);
    WorkerPoolOptions options;
    options.jobs = jobs;
    options.swarm = true;
    options.timeline_seed = seeds.front();
    auto errors = run_worker_pool(
        chunks, options,
        [&](json j) {
          if (!j.at("expectation_met").get<bool>()) ++failures;
          j.erase("timeline");
          runs.push_back(std::move(j));
        },
        [&] { progress.update(runs.size(), failures); });
    worker_errors.insert(worker_errors.end(), errors.begin(), errors.end());
    if (args.guided) {
      // This batch's runs, in seed order, feed the weights of the batches after it.
      std::vector<const json*> batch_runs;
      for (std::size_t i = runs_before; i < runs.size(); ++i) batch_runs.push_back(&runs[i]);
      std::sort(batch_runs.begin(), batch_runs.end(), [](const json* a, const json* b) {
        return (*a)["seed"].get<uint64_t>() < (*b)["seed"].get<uint64_t>();
      });
      for (const auto& base_path : args.swarm_files) {
        const std::string& name = bases.at(base_path).name;
        for (const json* r : batch_runs) {
          if ((*r)["scenario"].get<std::string>() != name) continue;
          const uint64_t seed = (*r)["seed"].get<uint64_t>();
          scenarios::GuidedRun g;
          g.seed = seed;
          const auto parent = guided_parents[base_path].find(seed);
          if (parent != guided_parents[base_path].end()) g.parent = parent->second;
          g.picks = scenarios::world_picks(bases.at(drawn_from.at({name, seed})), seed, ctx);
          g.cells = r->value("abstract_states", std::vector<std::string>{});
          guided_runs[base_path].push_back(std::move(g));
        }
      }
    }
    if (range ? end >= range->last : progress.elapsed() >= *budget) break;
  }
  progress.update(runs.size(), failures, true);
  std::sort(runs.begin(), runs.end(), [](const json& a, const json& b) {
    return std::make_pair(a["scenario"].get<std::string>(), a["seed"].get<uint64_t>()) <
           std::make_pair(b["scenario"].get<std::string>(), b["seed"].get<uint64_t>());
  });

  // Coverage and failure groups.
  std::vector<std::string> kinds;
  for (const auto& [cls, ks] : scenarios::world_fault_classes()) {
    kinds.insert(kinds.end(), ks.begin(), ks.end());
  }
  std::vector<std::string> conditions;
  for (const auto& c : scenarios::sometimes_catalog()) conditions.push_back(c.id);
  scenarios::WorldCoverage coverage(kinds, ctx.cores, conditions);
  std::map<std::string, std::string> path_of;  // scenario name -> file
  for (const auto& path : args.swarm_files) path_of[bases.at(path).name] = path;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<Failure>> groups;
  for (const auto& r : runs) {
    coverage.add_run(r);
    if (r["expectation_met"].get<bool>()) continue;
    const std::string inv = failure_invariant(r);
    const std::string cls = r.contains("violation")
                                ? scenarios::explanation_class(r["violation"]["message"])
                                : std::string();
    const std::string name = r["scenario"].get<std::string>();
    const uint64_t seed = r["seed"].get<uint64_t>();
    const auto from = drawn_from.find({name, seed});
    const std::string file = from != drawn_from.end() ? from->second : path_of.at(name);
    // Grouped by the swarm file given (guided batches of one file are one group).
    groups[{path_of.at(name), inv, cls}].push_back({file, seed, inv, cls, r});
  }

  // One representative per group (its first seed), shrunk and replayed.
  std::vector<scenarios::Finding> findings;
  std::size_t index = 0;
  for (const auto& [key, members] : groups) {
    const Failure& rep = members.front();
    const auto& base = bases.at(rep.file);
    std::cerr << fmt::format("hunt: group {}/{}: {}{} ({} seeds); shrinking seed {}\n", ++index,
                             groups.size(), rep.invariant,
                             rep.cls.empty() ? "" : "[" + rep.cls + "]", members.size(), rep.seed);
    auto drawn = scenarios::draw_swarm(base, rep.seed, ctx);
    scenarios::RunOptions opts;
    opts.seed = rep.seed;
    json shrunk_json = to_json(drawn.scenario);
    scenarios::RunResult shrunk_run;
    uint64_t before = 0, after = 0;
    // The worker's run of this seed says whether it violated an invariant; the shrink runs the
    // drawn scenario first itself, so the parent runs it again only when it does not shrink.
    const bool violated =
        rep.run.contains("violation") && rep.run.value("stop_kind", std::string()) ==
                                             scenarios::stop_kind_name(sim::StopKind::Failure);
    if (violated && args.max_shrink > 0) {
      scenarios::ShrinkOptions so;
      so.seed = rep.seed;
      so.invariant = rep.invariant;
      so.max_attempts = args.max_shrink;
      so.ctx = ctx;
      auto res = scenarios::shrink(drawn.scenario, so);
      shrunk_json = res.scenario;
      shrunk_run = std::move(res.run);
      before = res.initial_steps;
      after = res.steps;
    } else {
      shrunk_run = scenarios::run_scenario(drawn.scenario, opts);
      before = after = scenarios::scenario_steps(drawn.scenario, shrunk_run);
    }
    const std::string file = fmt::format("finding-{}-seed-{}.json", index, rep.seed);
    write_findings_file(dir / file, shrunk_json.dump(2) + "\n");
    // The shrunk file must replay bit for bit from disk.
    const auto reloaded = scenarios::load_scenario_file((dir / file).string(), ctx);
    const auto replay = scenarios::run_scenario(reloaded, opts);
    scenarios::Finding f;
    f.signature = scenarios::signature_of(rep.invariant, rep.cls, reloaded);
    f.first_seed = rep.seed;
    for (const auto& m : members) f.seeds.push_back(m.seed);
    f.repro = rep.run.value("repro", std::string());
    f.shrunk_file = file;
    f.shrunk_repro = scenarios::format_repro({reloaded.name, (dir / file).string(), rep.seed,
                                              scenarios::build_id(), replay.trace_hash, false});
    f.shrunk_replays = replay.trace_hash == shrunk_run.trace_hash;
    f.steps_before = before;
    f.steps_after = after;
    f.explanation = explanation_of(shrunk_run);
    f.drawn = scenarios::swarm_params_text(drawn.params);
    f.timeline = timeline_lines(shrunk_run.timeline);
    // Dedup by signature: a group whose shrunk signature is already a finding joins it.
    auto same = std::find_if(findings.begin(), findings.end(), [&](const scenarios::Finding& o) {
      return o.signature == f.signature;
    });
    if (same != findings.end()) {
      same->seeds.insert(same->seeds.end(), f.seeds.begin(), f.seeds.end());
      std::sort(same->seeds.begin(), same->seeds.end());
      continue;
    }
    if (const auto* k = scenarios::match_known(known, f.signature)) {
      f.known_id = k->id;
      f.known_why = k->why;
    } else if (replay.violation && args.max_shrink > 0) {
      // Only on a shrunk scenario (a few runs each); --max-shrink 0 is the fast, raw hunt.
      f.passes_with_quirk =
          scenarios::quirk_that_passes(reloaded, opts, ctx.quirks, replay.violation->invariant);
    }
    findings.push_back(std::move(f));
  }

  scenarios::HuntSummary summary{
      args.swarm_files,   range ? args.seeds : "budget " + args.budget + " (from 1)",
      runs.size(),        failures,
      progress.elapsed(), jobs};
  write_findings_file(dir / "findings.json",
                      scenarios::findings_json(summary, findings, coverage).dump(2) + "\n");
  write_findings_file(dir / "findings.md",
                      scenarios::findings_markdown(summary, findings, coverage));
  write_findings_file(dir / "findings.html", scenarios::findings_html(summary, findings, coverage));
  uint64_t fresh = 0;
  for (const auto& f : findings) {
    fresh += f.is_new() ? 1 : 0;
    std::cout << fmt::format("{} {}\n    seeds: {} (first {}); shrunk: {}\n",
                             f.is_new()           ? "NEW  "
                             : f.known_id.empty() ? "quirk"
                                                  : "known",
                             f.signature.text(), f.seeds.size(), f.first_seed,
                             (dir / f.shrunk_file).string());
    if (!f.passes_with_quirk.empty()) {
      std::cout << fmt::format(
          "    passes with clients.fixed_quirks [\"{}\"] (docs/protocol.md §2.7)\n",
          f.passes_with_quirk);
    }
  }
  std::cout << fmt::format(
      "hunt: {} runs, {} failed, {} distinct findings ({} new) in {:.1f} s wall with {} jobs; "
      "{} feasible coverage cells never reached; {}/findings.md\n",
      runs.size(), failures, findings.size(), fresh, progress.elapsed(), jobs,
      coverage.unreached().size(), args.findings);
  for (const auto& e : worker_errors) std::cerr << "error: " << e << "\n";
  if (!worker_errors.empty()) return kExitInternal;
  return fresh > 0 ? kExitInvariant : kExitPass;
}

}  // namespace syncsim::cli
