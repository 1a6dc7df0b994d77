// Hunt throughput (issue 14): seeds of the world swarm (scenarios/catalog/world.json) per
// CPU-hour, one seed after another in one process (a hunt runs one such loop per job), plus
// simulated seconds and events per seed.  Failing seeds count like passing ones: a hunt runs
// them all.  Run: ./build/bench/syncsim_hunt_bench --benchmark_format=json
#include <benchmark/benchmark.h>

#include <ctime>

#include "scenarios/world/runner.hpp"

namespace {

using namespace syncsim::scenarios;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void BM_WorldSwarmSeed(benchmark::State& state) {
  const Scenario s = load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/world.json", validation_context());
  uint64_t seed = 1, events = 0, runs = 0, failed = 0;
  double simulated = 0;
  const double cpu_start = cpu_seconds();
  for (auto _ : state) {
    RunOptions o;
    o.seed = seed++;
    o.swarm = true;
    RunResult r = run_scenario(s, o);
    events += r.events;
    simulated += static_cast<double>(r.simulated) / 1e6;
    failed += r.expectation_met ? 0 : 1;
    ++runs;
  }
  const double cpu = cpu_seconds() - cpu_start;
  using benchmark::Counter;
  state.counters["seeds_per_cpu_hour"] =
      Counter(cpu > 0 ? static_cast<double>(runs) * 3600 / cpu : 0);
  state.counters["events_per_seed"] =
      Counter(static_cast<double>(events) / static_cast<double>(runs));
  state.counters["simulated_s_per_seed"] = Counter(simulated / static_cast<double>(runs));
  state.counters["failed_share"] = Counter(static_cast<double>(failed) / static_cast<double>(runs));
}
// A fixed number of seeds (1..100), so the mix of drawn worlds is the same every time.
BENCHMARK(BM_WorldSwarmSeed)->Unit(benchmark::kMillisecond)->Iterations(100);

}  // namespace

BENCHMARK_MAIN();
