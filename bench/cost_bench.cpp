// Issue 20's targets (a)-(c), from this process's own CPU counters; JSON on stdout.
//   cost_bench [--seeds 20] [--sweep-seeds 40] [--scenario scenarios/catalog/basic.json] (--help)
// (a) and (b): the scenario's seeds 1..N run in this process while a perf task-clock counter
// (this thread's CPU time, 1 kHz by default: each sample costs ~50 us here) samples
// the region of a sim::CostMeter it passes to the runs: the framework, inside powersync_control,
// SQL the framework issues, the app's own writes (the workload: engine for (a), not in (b)'s
// numerator; `b_with_workload_...` counts them in), the SDK's own SQL (engine for (a); in neither
// half of (b)'s `b_framework_sql_over_control_only`, the definition since perf20; with the
// call in the denominator of perf19's `b_framework_sql_over_control`, its transaction around each
// call alone in `..._over_control_and_txn`; `b_..._incl_sdk_sql_...` is the older definition that
// counts it as framework SQL), and the sim VFS nested in any of them (the VFS counts as framework
// for (a)).
// Without perf events, ITIMER_PROF samples instead (coarser). (c): `syncsim run` and `syncsim sweep
// --jobs 2` over seeds 1..M as child processes; CPU from wait4()'s rusage (user + sys, sweep's
// workers included), per seed. CPU time only, never wall: the machine is shared, and wall time
// measures the queue for a core.
// --census (perf19): instead of (a)-(c), every top-level SQL statement the seeds' connections run
// (SQLite's statement trace on every connection, the JS host's included), by region and text,
// per powersync_control call; with `--set clients.sdk=js-real` the published SDK's own
// statements show which of the port's are the SDK's too (docs/performance-framework.md
// "(perf19)").
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/format/overrides.hpp"
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

// --census: top-level statements by (region, text).  A statement run inside another one's step
// (the core's own SQL inside powersync_control, a function's inside the app's write) belongs to
// that one, as does a trigger's body; --nested lists them apart.
std::map<std::pair<int, std::string>, uint64_t> g_statements;
std::map<std::string, uint64_t> g_control_ops;
bool g_census_nested = false;    // --nested: the statements inside them too
constexpr int kNested = 1 << 8;  // or-ed into a nested statement's region

std::string region_name(int region) {
  if ((region & kNested) != 0) return "nested in " + region_name(region & ~kNested);
  switch (region & ~sim::kCostVfsBit) {
    case sim::kCostControl:
      return "control";
    case sim::kCostFrameworkSql:
      return "framework_sql";
    case sim::kCostWorkloadSql:
      return "workload_sql";
    case sim::kCostSdkSql:
      return "sdk_sql";
    case sim::kCostSdkTxn:
      return "sdk_txn";
    default:
      return "untagged";  // not through engine::Database: the JS host's SDK statements
  }
}

int on_statement(unsigned type, void* /*ctx*/, void* p, void* x) {
  const char* text = static_cast<const char*>(x);
  if (type != SQLITE_TRACE_STMT) return 0;
  // SQLite marks a statement run inside another one's step, and a trigger's body, with "-- ".
  const bool nested = std::strncmp(text, "-- ", 3) == 0;
  if (nested && !g_census_nested) return 0;
  if (nested) text += 3;
  auto* stmt = static_cast<sqlite3_stmt*>(p);
  std::string sql;
  for (const char* c = text; *c != 0; ++c) {  // whitespace runs as one space
    const bool space = *c == ' ' || *c == '\n' || *c == '\t' || *c == '\r';
    if (space && (sql.empty() || sql.back() == ' ')) continue;
    sql += space ? ' ' : *c;
  }
  if (sql.size() > 110) sql = sql.substr(0, 107) + "...";
  ++g_statements[{(g_meter.region & ~sim::kCostVfsBit) | (nested ? kNested : 0), sql}];
  if (!nested && std::strstr(text, "powersync_control(") != nullptr) {
    char* expanded = sqlite3_expanded_sql(stmt);  // the op is the first bound text
    const char* q = expanded ? std::strchr(expanded, '\'') : nullptr;
    const char* e = q ? std::strchr(q + 1, '\'') : nullptr;
    ++g_control_ops[e ? std::string(q + 1, e) : std::string("?")];
    sqlite3_free(expanded);
  }
  return 0;
}

int trace_connection(sqlite3* db, char** /*err*/, const sqlite3_api_routines* /*api*/) {
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, on_statement, nullptr);
  return SQLITE_OK;
}

json census_report(const std::string& scenario, const std::vector<std::string>& sets,
                   uint64_t seeds) {
  uint64_t controls = 0;
  for (const auto& [op, n] : g_control_ops) controls += n;
  std::vector<std::pair<uint64_t, std::pair<int, std::string>>> rows;
  for (const auto& [key, n] : g_statements) rows.emplace_back(n, key);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  json by_region = json::object();
  json statements = json::array();
  for (const auto& [n, key] : rows) {
    const double per = controls ? static_cast<double>(n) / static_cast<double>(controls) : 0.0;
    statements.push_back({{"region", region_name(key.first)},
                          {"sql", key.second},
                          {"count", n},
                          {"per_control_call", per}});
    auto& r = by_region[region_name(key.first)];
    if (r.is_null()) r = {{"count", uint64_t{0}}, {"per_control_call", 0.0}};
    r["count"] = r["count"].get<uint64_t>() + n;
    r["per_control_call"] = r["per_control_call"].get<double>() + per;
  }
  return {{"scenario", scenario},
          {"set", sets},
          {"seeds", seeds},
          {"control_calls", controls},
          {"control_ops", g_control_ops},
          {"by_region", by_region},
          {"statements", statements}};
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 20;
  uint64_t cli_seeds = 40;
  uint64_t sample_hz = 1000;
  std::string scenario = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
  std::string syncsim_bin = SYNCSIM_BINARY;
  bool census = false;
  std::vector<std::string> sets;
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
  app.add_flag("--census", census,
               "print the top-level SQL statements of seeds 1..N per control call instead");
  app.add_flag("--nested", g_census_nested,
               "--census: also the statements run inside another (the core's, in a call)");
  app.add_option("--set", sets, "KEY=VALUE scenario override, as `syncsim run --set`");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help exits 0, a bad flag or value 2
  }

  // (a), (b): in-process runs under the sampler.
  const scenarios::Scenario s =
      scenarios::load_scenario_with_overrides(scenario, sets, scenarios::validation_context());
  if (census) {
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&trace_connection));
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      scenarios::RunOptions o;
      o.seed = seed;
      o.cost_meter = &g_meter;  // the regions tell the statements' callers apart
      if (!scenarios::run_scenario(s, o).passed) {
        std::cerr << "cost_bench: seed " << seed << " failed\n";
        return 1;
      }
    }
    std::cout << census_report(scenario, sets, seeds).dump(2) << "\n";
    return 0;
  }
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
  const double sdk = count(sim::kCostSdkSql);
  const double txn = count(sim::kCostSdkTxn);
  double vfs = 0;
  for (int r = 0; r < sim::kCostVfsBit; ++r) vfs += count(r | sim::kCostVfsBit);
  const double total = framework + control + sql + workload + sdk + txn + vfs;
  const double engine = control + sql + workload + sdk + txn;  // core + SQLite, without our VFS
  auto with_vfs = [&](int region) { return count(region) + count(region | sim::kCostVfsBit); };
  const double control_all = with_vfs(sim::kCostControl);
  const double sql_all = with_vfs(sim::kCostFrameworkSql);
  const double workload_all = with_vfs(sim::kCostWorkloadSql);
  const double sdk_all = with_vfs(sim::kCostSdkSql);
  const double txn_all = with_vfs(sim::kCostSdkTxn);
  auto ratio = [](double n, double d) { return d > 0 ? n / d : 0.0; };
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
          {"sdk_sql_excl_vfs", share(sdk)},
          {"sdk_txn_excl_vfs", share(txn)},
          {"workload_sql_excl_vfs", share(workload)}}}}},
      {"a_cpu_over_engine_cpu", ratio(total, engine)},
      {"a_cpu_over_engine_cpu_vfs_as_engine", ratio(total, engine + vfs)},
      // (b) as the issue words it (perf20): the call's own cost is powersync_control alone; the
      // SDK's SQL is neither the framework's nor the call's.
      {"b_framework_sql_over_control_only", ratio(sql_all, control_all)},
      // (b) with the SDK's transaction around each call counted as the call's cost.
      {"b_framework_sql_over_control_and_txn", ratio(sql_all, control_all + txn_all)},
      // (b) as perf19 defined it: all of the SDK's own SQL beside the call.
      {"b_framework_sql_over_control", ratio(sql_all, control_all + sdk_all + txn_all)},
      // (b) as perf11-perf17 defined it: the SDK's SQL counted as the framework's.
      {"b_framework_sql_incl_sdk_sql_over_control",
       ratio(sql_all + sdk_all + txn_all, control_all)},
      {"b_with_workload_sql_over_control",
       ratio(sql_all + sdk_all + txn_all + workload_all, control_all)},
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
