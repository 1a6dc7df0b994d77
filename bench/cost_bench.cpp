// Issue 20's targets (a)-(c), from this process's own CPU counters; JSON on stdout.
//   cost_bench [--seeds 20] [--sweep-seeds 40] [--scenario scenarios/catalog/basic.json] (--help)
// (a) and (b): the scenario's seeds 1..N run in this process while a perf task-clock counter
// (this thread's CPU time, 1 kHz by default: each sample costs ~50 us here) samples
// the region of a sim::CostMeter it passes to the runs: the framework, inside powersync_control,
// SQL the framework issues, the app's own writes (the workload: engine for (a), not in (b)'s
// numerator; `b_with_workload_...` counts them in), and the sim VFS nested in any of them (the VFS
// counts as framework for (a)).
// Without perf events, ITIMER_PROF samples instead (coarser). (c): `syncsim run` and `syncsim sweep
// --jobs 2` over seeds 1..M as child processes; CPU from wait4()'s rusage (user + sys, sweep's
// workers included), per seed. CPU time only, never wall: the machine is shared, and wall time
// measures the queue for a core.
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/world/runner.hpp"
#include "sim/cost_region.hpp"

namespace {

using nlohmann::json;
using namespace syncsim;

// The signal handler gets no context, so the meter it reads and the counts live here, in the bench.
sim::CostMeter g_meter;
volatile std::sig_atomic_t g_samples[sim::kCostRegions];
int g_perf_fd = -1;

void on_sample(int /*sig*/, siginfo_t* /*info*/, void* /*ctx*/) {
  const int region = g_meter.region;
  g_samples[region] = g_samples[region] + 1;
  if (g_perf_fd >= 0) ioctl(g_perf_fd, PERF_EVENT_IOC_REFRESH, 1);
}

// Starts sampling this thread's CPU time; returns the sampler's name.
std::string start_sampler(uint64_t hz) {
  struct sigaction sa {};
  sa.sa_sigaction = on_sample;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.sample_period = 1'000'000'000 / hz;
  attr.exclude_kernel = 1;
  attr.disabled = 1;
  attr.wakeup_events = 1;
  g_perf_fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  if (g_perf_fd >= 0) {
    sigaction(SIGIO, &sa, nullptr);
    fcntl(g_perf_fd, F_SETFL, O_ASYNC);
    fcntl(g_perf_fd, F_SETSIG, SIGIO);
    f_owner_ex owner{F_OWNER_TID, static_cast<pid_t>(syscall(SYS_gettid))};
    fcntl(g_perf_fd, F_SETOWN_EX, &owner);
    ioctl(g_perf_fd, PERF_EVENT_IOC_REFRESH, 1);
    return "perf task-clock " + std::to_string(hz) + " Hz";
  }
  sigaction(SIGPROF, &sa, nullptr);
  itimerval t{{0, 1000}, {0, 1000}};
  setitimer(ITIMER_PROF, &t, nullptr);
  return "ITIMER_PROF";
}

void stop_sampler() {
  if (g_perf_fd >= 0) {
    ioctl(g_perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    close(g_perf_fd);
    g_perf_fd = -1;
  } else {
    itimerval t{};
    setitimer(ITIMER_PROF, &t, nullptr);
  }
}

double seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

double cpu_seconds(const rusage& r) { return seconds(r.ru_utime) + seconds(r.ru_stime); }

// Runs argv to completion with stdout/stderr to /dev/null; its CPU (and its children's).
double child_cpu(const std::vector<std::string>& argv) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "cost_bench: " << argv[0] << " " << argv[1] << " exited with status "
              << WEXITSTATUS(status) << "\n";
    std::exit(1);
  }
  return cpu_seconds(usage);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 20;
  uint64_t cli_seeds = 40;
  uint64_t sample_hz = 1000;
  std::string scenario = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
  std::string syncsim_bin = SYNCSIM_BINARY;
  CLI::App app{
      "Issue 20's targets (a)-(c): CPU shares and CPU per seed of a scenario, JSON on stdout",
      "cost_bench"};
  app.add_option("--seeds", seeds, "seeds 1..N run in this process under the sampler ((a), (b))")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  app.add_option("--sweep-seeds", cli_seeds, "seeds 1..M run by `syncsim run` and `sweep` ((c))")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  app.add_option("--sample-hz", sample_hz, "sampling rate of the CPU-time sampler")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  app.add_option("--scenario", scenario, "the scenario file")->check(CLI::ExistingFile);
  app.add_option("--syncsim", syncsim_bin, "the syncsim binary for (c)")->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help exits 0, a bad flag or value 2
  }

  // (a), (b): in-process runs under the sampler.
  const scenarios::Scenario s =
      scenarios::load_scenario_file(scenario, scenarios::validation_context());
  uint64_t applied = 0;
  uint64_t events = 0;
  rusage before{};
  getrusage(RUSAGE_THREAD, &before);
  const std::string sampler = start_sampler(sample_hz);
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    scenarios::RunOptions o;
    o.seed = seed;
    o.cost_meter = &g_meter;
    const scenarios::RunResult r = scenarios::run_scenario(s, o);
    if (!r.passed) {
      std::cerr << "cost_bench: seed " << seed << " failed\n";
      return 1;
    }
    applied += r.metrics.at("applied_checkpoints");
    events += r.events;
  }
  stop_sampler();
  rusage after{};
  getrusage(RUSAGE_THREAD, &after);
  const double in_process_cpu = cpu_seconds(after) - cpu_seconds(before);

  auto count = [](int region) { return static_cast<double>(g_samples[region]); };
  const double framework = count(sim::kCostFramework);
  const double control = count(sim::kCostControl);
  const double sql = count(sim::kCostFrameworkSql);
  const double workload = count(sim::kCostWorkloadSql);
  const double vfs = count(sim::kCostFramework | sim::kCostVfsBit) +
                     count(sim::kCostControl | sim::kCostVfsBit) +
                     count(sim::kCostFrameworkSql | sim::kCostVfsBit) +
                     count(sim::kCostWorkloadSql | sim::kCostVfsBit);
  const double total = framework + control + sql + workload + vfs;
  const double engine = control + sql + workload;  // core + SQLite, without our VFS
  const double control_all = control + count(sim::kCostControl | sim::kCostVfsBit);
  const double sql_all = sql + count(sim::kCostFrameworkSql | sim::kCostVfsBit);
  const double workload_all = workload + count(sim::kCostWorkloadSql | sim::kCostVfsBit);

  // (c): the CLI as users run it.
  const std::string range = "1.." + std::to_string(cli_seeds);
  const double run_cpu = child_cpu({syncsim_bin, "run", scenario, "--seeds", range});
  const double sweep_cpu =
      child_cpu({syncsim_bin, "sweep", scenario, "--seeds", range, "--jobs", "2"});

  auto share = [&](double n) { return total > 0 ? n / total : 0.0; };
  const json out = {
      {"scenario", scenario},
      {"sampler", sampler},
      {"in_process",
       {{"seeds", seeds},
        {"cpu_s", in_process_cpu},
        {"samples", total},
        {"events", events},
        {"applied_checkpoints", applied},
        {"cpu_us_per_applied_checkpoint", applied ? in_process_cpu / applied * 1e6 : 0.0},
        {"share",
         {{"framework", share(framework)},
          {"vfs", share(vfs)},
          {"control_excl_vfs", share(control)},
          {"framework_sql_excl_vfs", share(sql)},
          {"workload_sql_excl_vfs", share(workload)}}}}},
      {"a_cpu_over_engine_cpu", engine > 0 ? total / engine : 0.0},
      {"a_cpu_over_engine_cpu_vfs_as_engine", engine > 0 ? total / (engine + vfs) : 0.0},
      {"b_framework_sql_over_control", control_all > 0 ? sql_all / control_all : 0.0},
      {"b_with_workload_sql_over_control",
       control_all > 0 ? (sql_all + workload_all) / control_all : 0.0},
      {"c",
       {{"seeds", cli_seeds},
        {"run_cpu_s_per_seed", run_cpu / static_cast<double>(cli_seeds)},
        {"sweep_jobs2_cpu_s_per_seed", sweep_cpu / static_cast<double>(cli_seeds)},
        {"sweep_over_run", run_cpu > 0 ? sweep_cpu / run_cpu : 0.0}}},
      {"targets",
       {{"a", 1.15}, {"b", 0.10}, {"c_cpu_s_per_seed", 0.12}, {"c_sweep_over_run", 1.03}}},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}
