// js-real vs the shim (issue 16): wall time per seed of basic.json with clients.sdk
// "js-real" (the published JS SDK in its Node host) and with the C++ port, interleaved seed
// by seed in the same process so machine load hits both alike.  js-real runs twice: with one
// host process per run (its start-up included) and with the processes kept across seeds, as
// a sweep or hunt worker keeps them.  Prints JSON; the aim is a ratio <= 3.
// Run: ./build/bench/syncsim_js_real_bench [seeds]   (default 10)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/js/js_host.hpp"
#include "scenarios/format/overrides.hpp"
#include "scenarios/world/runner.hpp"

namespace {

using namespace syncsim::scenarios;

double run_seed(const Scenario& s, uint64_t seed, uint64_t& events,
                std::shared_ptr<syncsim::engine::js::HostProcesses> kept = nullptr) {
  RunOptions o;
  o.seed = seed;
  o.js_processes = std::move(kept);
  const auto start = std::chrono::steady_clock::now();
  RunResult r = run_scenario(s, o);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.passed) {
    std::fprintf(stderr, "seed %llu failed: %s\n", static_cast<unsigned long long>(seed),
                 r.stop.message.c_str());
    std::exit(1);
  }
  events += r.events;
  return wall;
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 10;
  if (seeds < 1 || seeds > 10000) {
    std::fprintf(stderr, "seeds: %s must be 1..10000\n", argv[1]);
    return 2;
  }
  if (auto why = syncsim::engine::js::js_real_unavailable("0.5.3")) {
    std::fprintf(stderr, "js-real unavailable: %s\n", why->c_str());
    return 3;
  }
  const std::string path = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
  const Scenario shim = load_scenario_with_overrides(path, {}, validation_context());
  const Scenario real =
      load_scenario_with_overrides(path, {"clients.sdk=js-real"}, validation_context());
  double shim_wall = 0, real_wall = 0, kept_wall = 0;
  uint64_t shim_events = 0, real_events = 0, kept_events = 0;
  auto kept = std::make_shared<syncsim::engine::js::HostProcesses>();
  for (int i = 1; i <= seeds; ++i) {
    shim_wall += run_seed(shim, uint64_t(i), shim_events);
    real_wall += run_seed(real, uint64_t(i), real_events);
    kept_wall += run_seed(real, uint64_t(i), kept_events, kept);
  }
  nlohmann::json out = {{"benchmark", "basic.json wall per seed, js-real vs shim"},
                        {"seeds", seeds},
                        {"shim_wall_per_seed_s", shim_wall / seeds},
                        {"js_real_wall_per_seed_s", real_wall / seeds},
                        {"ratio_js_real_over_shim", real_wall / shim_wall},
                        {"js_real_kept_host_wall_per_seed_s", kept_wall / seeds},
                        {"ratio_js_real_kept_host_over_shim", kept_wall / shim_wall},
                        {"shim_events_per_seed", double(shim_events) / seeds},
                        {"js_real_events_per_seed", double(real_events) / seeds}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
