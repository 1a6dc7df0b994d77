// js-real vs the shim (issue 16): wall time per seed of basic.json with clients.sdk
// "js-real" (the published JS SDK in its Node host) and with the C++ port, interleaved seed
// by seed in the same process so machine load hits both alike.  js-real runs twice: with one
// host process per run (its start-up included) and with the processes kept across seeds, as
// a sweep or hunt worker keeps them.  Prints JSON; the aim is a ratio <= 3.
// Besides wall time it reports CPU seconds (C++ side: this process; Node side: the reaped
// host processes), which machine load does not inflate as it inflates wall time.
// It also prints the 1-minute load average before and after.
// Run: ./build/bench/syncsim_js_real_bench [seeds] [--kept-only]   (default 10)
// --kept-only skips the host-per-run column, so one Node process serves every js-real seed
// (what bench/js_real_profile.sh profiles).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/js/js_host.hpp"
#include "scenarios/format/overrides.hpp"
#include "scenarios/world/runner.hpp"

namespace {

using namespace syncsim::scenarios;

// User + system CPU seconds of this process (RUSAGE_SELF) or of its reaped children.
double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Cost {
  double wall = 0, cpu_self = 0, cpu_children = 0;
  uint64_t events = 0;
};

void run_seed(const Scenario& s, uint64_t seed, Cost& cost,
              std::shared_ptr<syncsim::engine::js::HostProcesses> kept = nullptr) {
  RunOptions o;
  o.seed = seed;
  o.js_processes = std::move(kept);
  const double self0 = cpu_seconds(RUSAGE_SELF), children0 = cpu_seconds(RUSAGE_CHILDREN);
  const auto start = std::chrono::steady_clock::now();
  RunResult r = run_scenario(s, o);
  cost.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cost.cpu_self += cpu_seconds(RUSAGE_SELF) - self0;
  cost.cpu_children += cpu_seconds(RUSAGE_CHILDREN) - children0;
  if (!r.passed) {
    std::fprintf(stderr, "seed %llu failed: %s\n", static_cast<unsigned long long>(seed),
                 r.stop.message.c_str());
    std::exit(1);
  }
  cost.events += r.events;
}

// The 1-minute load average (/proc/loadavg), printed beside the figures: on this shared
// machine wall time swings with it (docs/performance-js-real.md, "The real JS SDK").
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 10;
  const bool kept_only = argc > 2 && std::string(argv[2]) == "--kept-only";
  if (seeds < 1 || seeds > 10000) {
    std::fprintf(stderr, "seeds: %s must be 1..10000\n", argv[1]);
    return 2;
  }
  if (auto why = syncsim::engine::js::js_real_unavailable("0.5.3")) {
    std::fprintf(stderr, "js-real unavailable: %s\n", why->c_str());
    return 3;
  }
  const std::string path = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
  const Scenario shim_s = load_scenario_with_overrides(path, {}, validation_context());
  const Scenario real_s =
      load_scenario_with_overrides(path, {"clients.sdk=js-real"}, validation_context());
  const double load_before = load_average();
  Cost shim, real, kept;
  auto processes = std::make_shared<syncsim::engine::js::HostProcesses>();
  for (int i = 1; i <= seeds; ++i) {
    run_seed(shim_s, uint64_t(i), shim);
    if (!kept_only) run_seed(real_s, uint64_t(i), real);
    run_seed(real_s, uint64_t(i), kept, processes);
  }
  // The kept processes are reaped here: their CPU shows up in RUSAGE_CHILDREN only now.
  const double children0 = cpu_seconds(RUSAGE_CHILDREN);
  processes.reset();
  kept.cpu_children += cpu_seconds(RUSAGE_CHILDREN) - children0;
  const auto per_seed = [&](const Cost& c) {
    return nlohmann::json{{"wall_s", c.wall / seeds},
                          {"cpu_cxx_s", c.cpu_self / seeds},
                          {"cpu_node_s", c.cpu_children / seeds},
                          {"cpu_total_s", (c.cpu_self + c.cpu_children) / seeds},
                          {"events", double(c.events) / seeds}};
  };
  const double shim_cpu = shim.cpu_self + shim.cpu_children;
  nlohmann::json out = {
      {"benchmark", "basic.json per seed, js-real vs shim"},
      {"seeds", seeds},
      {"load_average", {{"before", load_before}, {"after", load_average()}}},
      {"shim", per_seed(shim)},
      {"js_real", kept_only ? nlohmann::json(nullptr) : per_seed(real)},
      {"js_real_kept_host", per_seed(kept)},
      {"ratio_js_real_over_shim",
       kept_only ? nlohmann::json(nullptr) : nlohmann::json(real.wall / shim.wall)},
      {"ratio_js_real_kept_host_over_shim", kept.wall / shim.wall},
      {"cpu_ratio_js_real_over_shim",
       kept_only ? nlohmann::json(nullptr)
                 : nlohmann::json((real.cpu_self + real.cpu_children) / shim_cpu)},
      {"cpu_ratio_js_real_kept_host_over_shim", (kept.cpu_self + kept.cpu_children) / shim_cpu}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
