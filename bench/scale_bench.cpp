// Issue 20's target (d), scale: how CPU and memory grow with the number of clients; JSON on stdout.
//   scale_bench [--private 8,64,256,1000] [--shared 8,32,128] [--idle 8,1000] [--duration-s 20]
//               [--wake-every-stream] [--every-watcher] (--help)
// Every run is a variant of scenarios/scale/clients-1000.json (its service and stream limit),
// without faults:
//  - private: every write goes to the writer's own bucket (notes_pct 100).  CPU (this thread's,
//    in process, after one warm-up run) per client-event = per local write; the goal is a flat
//    line from 8 to 1000 clients.  Small fleets run several seeds so every point has >= ~1000
//    writes.
//  - shared: every write goes to the shared todos bucket (notes_pct 0, 16 keys, compacted), so
//    each write is delivered to every client: CPU per delivered op (ops sent in data lines).
//  - idle: no client writes (one write interval longer than the run); `syncsim run` as a child
//    process, peak RSS from wait4's rusage; memory per idle client is the slope between the two
//    fleet sizes.
// CPU time only, never wall time (the machine is shared); compare ratios within one run.
// --wake-every-stream: the model before issue 20's filtered wake-ups (every storage checkpoint
// resumes every waiting stream), for a before/after from the same build.
// --every-watcher: every storage checkpoint calls every stream's watcher, which finds out itself
// whether the checkpoint concerns it (perf8's model, before the watchers were indexed by bucket
// and write-checkpoint key); the same traces, so a cost-only before/after.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/world/runner.hpp"
#include "scenarios/world/world.hpp"

namespace {

using nlohmann::json;
using namespace syncsim;

double seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

double thread_cpu() {
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  return seconds(r.ru_utime) + seconds(r.ru_stime);
}

// A comma-separated list of client counts, each 1..1000 (CLI11 splits and checks it).
CLI::Option* add_fleets(CLI::App& app, const char* flag, std::vector<int>& fleets,
                        const char* what) {
  return app.add_option(flag, fleets, what)
      ->delimiter(',')
      ->check(CLI::Range(1, 1000))
      ->expected(1, 64);
}

// The catalog scenario with `clients` clients, no faults, `notes_pct`, `duration_s`.
json variant(const json& base, int clients, int notes_pct, int duration_s) {
  json j = base;
  j["name"] = "scale-" + std::to_string(clients);
  j["clients"]["count"] = clients;
  j["workload"]["notes_pct"] = notes_pct;
  j["workload"]["delete_pct"] = 0;
  j["duration_s"] = duration_s;
  j["faults"] = json::array();
  return j;
}

scenarios::Scenario load(const json& j) {
  const std::string path = "/tmp/scale_bench." + std::to_string(getpid()) + ".json";
  std::ofstream(path) << j.dump(2) << "\n";
  scenarios::Scenario s = scenarios::load_scenario_file(path, scenarios::validation_context());
  std::remove(path.c_str());
  return s;
}

struct Totals {
  uint64_t seeds = 0;
  double cpu_s = 0;
  uint64_t local_writes = 0;
  uint64_t ops_sent = 0;
  uint64_t events = 0;
};

// Runs seeds 1.. until `min_writes` local writes were made (at least one seed).
struct Model {
  bool wake_every_stream = false;
  bool every_watcher = false;
};

Totals run_seeds(const scenarios::Scenario& s, uint64_t min_writes, Model model) {
  Totals t;
  const double start = thread_cpu();
  while (t.seeds == 0 || t.local_writes < min_writes) {
    scenarios::RunOptions o;
    o.seed = ++t.seeds;
    o.attach = [model](scenarios::World& world) {
      world.service().storage().set_wake_every_stream(model.wake_every_stream);
      world.service().storage().set_index_watchers(!model.every_watcher);
    };
    const scenarios::RunResult r = scenarios::run_scenario(s, o);
    if (!r.passed) {
      std::cerr << "scale_bench: " << r.scenario << " seed " << o.seed << " failed\n";
      std::exit(1);
    }
    auto metric = [&](const char* name) {
      auto it = r.metrics.find(name);
      return it == r.metrics.end() ? uint64_t{0} : it->second;
    };
    t.local_writes += metric("local_writes");
    t.ops_sent += metric("ops_sent");
    t.events += r.events;
    if (t.seeds >= 50) break;  // a bound: a fleet too small to reach min_writes
  }
  t.cpu_s = thread_cpu() - start;
  return t;
}

// `syncsim run` of `j` as a child; its peak RSS in KiB.
long child_max_rss_kib(const std::string& syncsim, const json& j) {
  const std::string path = "/tmp/scale_bench_idle." + std::to_string(getpid()) + ".json";
  std::ofstream(path) << j.dump(2) << "\n";
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(syncsim.c_str(), syncsim.c_str(), "run", path.c_str(), "--seed", "1", nullptr);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  std::remove(path.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "scale_bench: syncsim run of the idle fleet exited with status "
              << WEXITSTATUS(status) << "\n";
    std::exit(1);
  }
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> private_fleets{8, 64, 256, 1000};
  std::vector<int> shared_fleets{8, 32, 128};
  std::vector<int> idle_fleets{8, 1000};
  int duration_s = 20;
  std::string syncsim_bin = SYNCSIM_BINARY;
  Model model;
  CLI::App app{
      "Issue 20's target (d): CPU per client-event, per delivered op, and memory per idle "
      "client as the fleet grows, JSON on stdout",
      "scale_bench"};
  add_fleets(app, "--private", private_fleets, "fleet sizes with private writes, e.g. 8,64");
  add_fleets(app, "--shared", shared_fleets, "fleet sizes writing the shared bucket");
  add_fleets(app, "--idle", idle_fleets, "two ascending fleet sizes for memory per idle client")
      ->expected(2);
  app.add_option("--duration-s", duration_s, "simulated seconds per run")
      ->check(CLI::Range(5, 600));
  app.add_flag("--wake-every-stream", model.wake_every_stream,
               "every storage checkpoint resumes every stream (the model before issue 20)");
  app.add_flag("--every-watcher", model.every_watcher,
               "every storage checkpoint calls every stream's watcher (before the index)");
  app.add_option("--syncsim", syncsim_bin, "the syncsim binary for the idle runs")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help exits 0, a bad flag or value 2
  }
  if (idle_fleets[0] >= idle_fleets[1]) {
    std::cerr << "scale_bench: --idle: " << idle_fleets[0] << "," << idle_fleets[1]
              << "; allowed: two ascending client counts, e.g. 8,1000\n";
    return 2;
  }
  const std::string catalog =
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/scale/clients-1000.json";
  std::ifstream in(catalog);
  const json base = json::parse(in);

  // Idle: the first write would come after the run (write_interval_min_ms > duration).
  // Measured first, while this process is small: Linux carries a forking parent's RSS
  // high-water mark into the child's ru_maxrss across exec, so after the in-process runs
  // below every child would report this process's peak (both fleets read 419 MB before).
  json idle_rows = json::array();
  long rss[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    json j = variant(base, idle_fleets[i], 100, duration_s);
    j["workload"]["write_interval_min_ms"] = (duration_s + 60) * 1000;
    j["workload"]["write_interval_max_ms"] = (duration_s + 60) * 1000;
    rss[i] = child_max_rss_kib(syncsim_bin, j);
    idle_rows.push_back({{"clients", idle_fleets[i]}, {"max_rss_kib", rss[i]}});
  }
  const double per_idle_client_mib = static_cast<double>(rss[1] - rss[0]) / 1024.0 /
                                     static_cast<double>(idle_fleets[1] - idle_fleets[0]);

  if (rss[1] <= rss[0]) {
    std::cerr << "scale_bench: the idle fleet of " << idle_fleets[1] << " clients peaked at "
              << rss[1] << " KiB, not above the " << idle_fleets[0] << "-client fleet's " << rss[0]
              << " KiB: the measurement is not the children's own\n";
    return 1;
  }

  // Warm-up: the process builds each client database template once (issue 20).
  run_seeds(load(variant(base, 2, 100, 5)), 0, model);

  json private_rows = json::array();
  for (int n : private_fleets) {
    const Totals t = run_seeds(load(variant(base, n, 100, duration_s)), 1000, model);
    private_rows.push_back(
        {{"clients", n},
         {"seeds", t.seeds},
         {"cpu_s", t.cpu_s},
         {"local_writes", t.local_writes},
         {"loop_events", t.events},
         {"cpu_us_per_client_event",
          t.local_writes ? t.cpu_s / static_cast<double>(t.local_writes) * 1e6 : 0.0}});
  }
  json shared_rows = json::array();
  for (int n : shared_fleets) {
    const Totals t = run_seeds(load(variant(base, n, 0, duration_s)), 200, model);
    shared_rows.push_back({{"clients", n},
                           {"seeds", t.seeds},
                           {"cpu_s", t.cpu_s},
                           {"local_writes", t.local_writes},
                           {"ops_sent", t.ops_sent},
                           {"cpu_us_per_delivered_op",
                            t.ops_sent ? t.cpu_s / static_cast<double>(t.ops_sent) * 1e6 : 0.0}});
  }
  auto ratio = [](const json& rows, const char* field) {
    if (rows.size() < 2) return 0.0;
    const double first = rows.front()[field].get<double>();
    return first > 0 ? rows.back()[field].get<double>() / first : 0.0;
  };
  const json out = {
      {"scenario", catalog},
      {"duration_s", duration_s},
      {"wake_every_stream", model.wake_every_stream},
      {"every_watcher", model.every_watcher},
      {"d_private", private_rows},
      {"d_private_last_over_first", ratio(private_rows, "cpu_us_per_client_event")},
      {"d_shared", shared_rows},
      {"d_shared_last_over_first", ratio(shared_rows, "cpu_us_per_delivered_op")},
      {"d_idle", idle_rows},
      {"d_mib_per_idle_client", per_idle_client_mib},
      {"targets",
       {{"d_private_last_over_first", 1.0},
        {"d_shared_last_over_first", 1.0},
        {"d_mib_per_idle_client", 1.0}}},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}
