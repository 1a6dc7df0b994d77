// Memory stays flat across seeds (issue 19): a sweep worker runs many seeds in one
// process, one World after another, so anything a run fails to free (a suspended
// coroutine's frame, a retired client life's SQLite connection and files) accumulates.
// This runs lifecycle scenarios seed after seed in this process, as a worker runs its
// chunk (the per-seed work of `sweep-worker`, without the results it collects), and compares
// the process's RSS and the heap in use after 1,000 seeds with after 100: downgrade (client
// lives closed and reopened on other core versions, the leak of issue 19) alternating with
// kill (lives ended mid-run).  Label `long` (minutes); the numbers are printed.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "scenarios/format/scenario.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {
namespace {

#ifndef SYNCSIM_MEMORY_SEEDS
#define SYNCSIM_MEMORY_SEEDS 1000
#endif

uint64_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

uint64_t heap_in_use() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

TEST(MemoryFlat, WorkerRssAfterManyLifecycleSeedsStaysWithinTenPercent) {
  const std::string dir = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/";
  const Scenario scenarios[] = {load_scenario_file(dir + "downgrade.json", validation_context()),
                                load_scenario_file(dir + "kill.json", validation_context())};
  const uint64_t total = SYNCSIM_MEMORY_SEEDS, early = total / 10;
  uint64_t rss_early = 0, heap_early = 0;
  for (uint64_t seed = 1; seed <= total; ++seed) {
    RunOptions opts;
    opts.seed = seed;
    const RunResult r = run_scenario(scenarios[seed % 2], opts);
    ASSERT_TRUE(r.stop.kind == sim::StopKind::Finished || r.stop.kind == sim::StopKind::Failure)
        << "seed " << seed << ": " << r.stop.message;
    if (seed == early) {
      rss_early = rss_kib();
      heap_early = heap_in_use();
    }
  }
  const uint64_t rss_late = rss_kib(), heap_late = heap_in_use();
  std::printf(
      "memory after %llu seeds: rss %llu KiB, heap %llu B; after %llu: rss %llu KiB, "
      "heap %llu B\n",
      static_cast<unsigned long long>(early), static_cast<unsigned long long>(rss_early),
      static_cast<unsigned long long>(heap_early), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(rss_late), static_cast<unsigned long long>(heap_late));
  ASSERT_GT(rss_early, 0u);
  EXPECT_LE(rss_late, rss_early + rss_early / 10);
  EXPECT_LE(heap_late, heap_early + heap_early / 10);
}

}  // namespace
}  // namespace syncsim::scenarios
