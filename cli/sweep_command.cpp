#include "cli/sweep_command.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "cli/exit_codes.hpp"
#include "cli/report_command.hpp"
#include "cli/seed_range.hpp"
#include "scenarios/determinism.hpp"
#include "scenarios/overrides.hpp"
#include "scenarios/repro.hpp"
#include "scenarios/results.hpp"
#include "scenarios/results_json.hpp"
#include "scenarios/sometimes.hpp"
#include "scenarios/swarm.hpp"

extern char** environ;

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
  cmd->add_option("--shard", args.shard, "i/n: only every n-th seed of the range, from the i-th");
  cmd->add_option("--results", args.results, "write the combined JSON results to FILE");
  cmd->add_option("--junit", args.junit, "write JUnit XML to FILE");
  cmd->add_option("--report", args.report,
                  "also write a report per scenario (.md, .html or .json); with several "
                  "scenarios FILE gets the scenario name before its extension: "
                  "sweep.html -> sweep.basic.html");
  cmd->add_option("--set", args.sets,
                  "override a field of every scenario, KEY=VALUE (dotted key); repeatable");
  cmd->add_option("--invariants", args.invariants,
                  "check only these invariants, a comma-separated list");
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
  scenarios::Scenario scenario;
  try {
    scenario = scenarios::load_scenario_with_overrides(args.scenario, args.sets,
                                                       scenarios::validation_context());
  } catch (const scenarios::ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  }
  bool violation_kept = false;
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
    const auto repro =
        scenarios::format_repro({scenario.name, args.scenario, seed, scenarios::build_id(),
                                 r.trace_hash, args.swarm && scenario.swarm.has_value()});
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

struct Chunk {
  std::string path;
  std::vector<uint64_t> seeds;
};

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::size_t chunk = 0;
  std::string buffer;
  std::size_t received = 0;
};

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find this program's path: " + ec.message());
  return p.string();
}

Worker spawn_worker(const std::string& exe, const Chunk& c, std::size_t index, bool check,
                    bool swarm, uint64_t timeline_seed, const std::vector<std::string>& sets) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::string seeds;
  for (auto s : c.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(s);
  std::vector<std::string> argv_s = {exe,
                                     "sweep-worker",
                                     c.path,
                                     "--seeds",
                                     seeds,
                                     "--timeline-seed",
                                     std::to_string(timeline_seed)};
  if (check) argv_s.emplace_back("--check-determinism");
  if (swarm) argv_s.emplace_back("--swarm");
  for (const auto& set : sets) {
    argv_s.emplace_back("--set");
    argv_s.push_back(set);
  }
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error(fmt::format("cannot start a worker: {}", std::strerror(rc)));
  }
  return Worker{pid, fds[0], index, {}, 0};
}

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
}

class Progress {
 public:
  explicit Progress(uint64_t total)
      : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()), last_(start_) {}
  void update(uint64_t done, uint64_t failures, bool final = false) {
    const auto now = Clock::now();
    if (!final && !tty_ && now - last_ < std::chrono::seconds(5)) return;
    if (!final && tty_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / done : 0;
    const auto line = fmt::format("sweep: {}/{} seeds, {} failed, {} elapsed{}", done, total_,
                                  failures, duration_text(elapsed),
                                  final ? "" : ", ETA " + (done ? duration_text(eta) : "?"));
    if (tty_) {
      std::cerr << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
    } else {
      std::cerr << line << "\n";
    }
  }
  [[nodiscard]] double elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  uint64_t total_;
  bool tty_;
  Clock::time_point start_, last_;
};

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

int sweep_command(const SweepArgs& args) {
  auto range = parse_seeds(args.seeds);
  if (!range) {
    std::cerr << "--seeds: '" << args.seeds << "' is not a range; expected A..B with A <= B\n";
    return kExitBadInput;
  }
  Shard shard;
  if (!args.shard.empty()) {
    auto s = parse_shard(args.shard);
    if (!s) {
      std::cerr << "--shard: '" << args.shard << "' is not i/n with 1 <= i <= n\n";
      return kExitBadInput;
    }
    shard = *s;
  }
  if (!args.report.empty()) {
    if (auto error = report_path_error(args.report); !error.empty()) {
      std::cerr << "--report: " << error << "\n";
      return kExitBadInput;
    }
  }
  auto overrides = args.sets;  // --invariants is one more override
  if (!args.invariants.empty())
    overrides.push_back(scenarios::invariants_override(args.invariants));
  std::map<std::string, std::string> names;  // results are keyed by scenario name
  std::map<std::string, scenarios::Scenario> loaded;
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
      loaded.emplace(s.name, std::move(s));
    } catch (const scenarios::ScenarioError& e) {
      std::cerr << e.what() << "\n";
      return kExitBadInput;
    }
  }
  const int jobs = args.jobs > 0 ? args.jobs : std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<uint64_t> seeds;
  for (uint64_t s = range->first; s <= range->last; ++s) {
    if (shard.takes(*range, s)) seeds.push_back(s);
  }
  const uint64_t total = seeds.size() * args.scenarios.size();
  const uint64_t first_seed = seeds.empty() ? range->first : seeds.front();
  // Chunks small enough to keep every worker busy and the progress moving.
  const std::size_t chunk_size =
      std::clamp<std::size_t>(seeds.size() / (static_cast<std::size_t>(jobs) * 4), 1, 20);
  std::vector<Chunk> chunks;
  for (const auto& path : args.scenarios) {
    for (std::size_t i = 0; i < seeds.size(); i += chunk_size) {
      chunks.push_back(
          {path,
           {seeds.begin() + static_cast<std::ptrdiff_t>(i),
            seeds.begin() + static_cast<std::ptrdiff_t>(std::min(seeds.size(), i + chunk_size))}});
    }
  }

  const std::string exe = self_exe();
  nlohmann::json runs = nlohmann::json::array();
  std::vector<std::string> worker_errors;
  uint64_t done = 0, failures = 0;
  Progress progress(total);
  std::deque<std::size_t> queue;
  for (std::size_t i = 0; i < chunks.size(); ++i) queue.push_back(i);
  std::vector<Worker> active;
  while (!queue.empty() || !active.empty()) {
    while (!queue.empty() && active.size() < static_cast<std::size_t>(jobs)) {
      active.push_back(spawn_worker(exe, chunks[queue.front()], queue.front(),
                                    args.check_determinism, args.swarm, first_seed, overrides));
      queue.pop_front();
    }
    std::vector<pollfd> pfds;
    for (const auto& w : active) pfds.push_back({w.fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), 1000) < 0 && errno != EINTR) {
      throw std::runtime_error("poll failed");
    }
    for (std::size_t i = 0; i < active.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      auto& w = active[i];
      char buf[65536];
      const ssize_t n = read(w.fd, buf, sizeof buf);
      if (n > 0) {
        w.buffer.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = w.buffer.find('\n')) != std::string::npos) {
          auto j = nlohmann::json::parse(w.buffer.substr(0, nl));
          w.buffer.erase(0, nl + 1);
          ++w.received;
          ++done;
          if (!j.at("expectation_met").get<bool>()) ++failures;
          runs.push_back(std::move(j));
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      close(w.fd);
      w.fd = -1;
      int status = 0;
      waitpid(w.pid, &status, 0);
      const auto& c = chunks[w.chunk];
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || w.received != c.seeds.size()) {
        worker_errors.push_back(
            fmt::format("worker for {} seeds {}..{} {} after {} of {} seeds", c.path,
                        c.seeds.front(), c.seeds.back(),
                        WIFSIGNALED(status) ? fmt::format("died of signal {}", WTERMSIG(status))
                                            : fmt::format("exited with {}", WEXITSTATUS(status)),
                        w.received, c.seeds.size()));
      }
    }
    std::erase_if(active, [](const Worker& w) { return w.fd < 0; });
    progress.update(done, failures);
  }
  progress.update(done, failures, true);

  nlohmann::json headers = nlohmann::json::object();  // so `syncsim report` can read it
  for (const auto& [name, path] : names) {
    headers[name] = scenarios::scenario_header(loaded.at(name), path);
  }
  auto doc = scenarios::sweep_document(scenarios::build_id(), std::move(runs), std::move(headers));
  // The runs the reports are made from: with the timelines of this shard's first seed and
  // of each chunk's first violation.
  const nlohmann::json report_runs = args.report.empty() ? nlohmann::json() : doc["runs"];
  keep_timelines(doc["runs"], range->first);
  if (!args.shard.empty()) doc["shard"] = args.shard;
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
  if (!args.results.empty()) {
    std::ofstream out(args.results);
    if (!(out << doc.dump(2) << "\n")) {
      std::cerr << "--results: cannot write " << args.results << "\n";
      return kExitBadInput;
    }
  }
  if (!args.junit.empty()) {
    std::ofstream out(args.junit);
    if (!(out << scenarios::junit_xml(doc, scenarios::utc_timestamp_now()))) {
      std::cerr << "--junit: cannot write " << args.junit << "\n";
      return kExitBadInput;
    }
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
