// Where the CPU is spent right now, for bench/cost_bench's sampler (issue 20): the framework
// itself, a powersync_control call, SQL the framework issues, and the sim VFS nested in either.
// A write-only profiling tag: no simulation logic reads it, so it cannot change a run (it is the
// one other tolerated global besides the VFS binding; a signal handler cannot be passed context).
#pragma once

#include <csignal>

namespace syncsim::sim {

enum CostRegion : int {
  kCostFramework = 0,     // syncsim's own code (the model, the shim, invariants, the loop)
  kCostControl = 1,       // inside powersync_control (the core and the SQLite it calls)
  kCostFrameworkSql = 2,  // SQL the framework issues (BEGIN/COMMIT, barrier reads, opens)
  kCostVfsBit = 4,        // or-ed in while SQLite is inside the sim VFS
  kCostRegions = 8,
};

inline volatile std::sig_atomic_t g_cost_region = kCostFramework;

// Sets the region for a scope and restores the enclosing one (regions nest: VFS in SQL).
class CostRegionScope {
 public:
  explicit CostRegionScope(int region) : previous_(g_cost_region) { g_cost_region = region; }
  ~CostRegionScope() { g_cost_region = previous_; }
  CostRegionScope(const CostRegionScope&) = delete;
  CostRegionScope& operator=(const CostRegionScope&) = delete;

 private:
  std::sig_atomic_t previous_;
};

// The VFS adds its bit to whatever engine region called it.
class VfsCostScope {
 public:
  VfsCostScope() : previous_(g_cost_region) { g_cost_region = previous_ | kCostVfsBit; }
  ~VfsCostScope() { g_cost_region = previous_; }
  VfsCostScope(const VfsCostScope&) = delete;
  VfsCostScope& operator=(const VfsCostScope&) = delete;

 private:
  std::sig_atomic_t previous_;
};

}  // namespace syncsim::sim
