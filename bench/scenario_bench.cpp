// Whole-run cost of the default scenario: wall time per seed, per simulated event, per
// powersync_control call and per applied checkpoint.  The floor is the real core's own
// work (~0.3 ms per applied checkpoint); the framework around it should cost far less.
// Run: ./build/bench/syncsim_bench --benchmark_format=json
#include <benchmark/benchmark.h>

#include "scenarios/world/runner.hpp"

namespace {

using namespace syncsim::scenarios;

void BM_BasicScenarioSeed(benchmark::State& state) {
  const Scenario s = load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json", validation_context());
  uint64_t seed = 1, events = 0, applied = 0, writes = 0, runs = 0;
  for (auto _ : state) {
    RunOptions o;
    o.seed = seed++;
    RunResult r = run_scenario(s, o);
    if (!r.passed) state.SkipWithError("a benchmark run failed its invariants");
    events += r.events;
    applied += r.metrics.at("applied_checkpoints");
    writes += r.metrics.at("local_writes");
    ++runs;
  }
  using benchmark::Counter;
  state.counters["events_per_s"] = Counter(static_cast<double>(events), Counter::kIsRate);
  state.counters["applied_checkpoints_per_s"] =
      Counter(static_cast<double>(applied), Counter::kIsRate);
  // kIsRate | kInvert: seconds per applied checkpoint.
  state.counters["s_per_applied_checkpoint"] =
      Counter(static_cast<double>(applied), Counter::kIsRate | Counter::kInvert);
  state.counters["applied_per_run"] =
      Counter(static_cast<double>(applied) / static_cast<double>(runs));
  state.counters["writes_per_run"] =
      Counter(static_cast<double>(writes) / static_cast<double>(runs));
}
BENCHMARK(BM_BasicScenarioSeed)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
