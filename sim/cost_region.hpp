// Where the CPU is spent right now, for bench/cost_bench's sampler (issue 20): the framework
// itself, a powersync_control call, SQL the framework issues, the app's own writes (the workload,
// which run the core's triggers), SQL the SDK itself issues (the port's statements the published
// SDK issues too, docs/performance-framework.md "(perf19)"), of them apart the transaction around
// each control call (docs/performance-framework-2.md "(perf20)"), and the sim VFS nested in any.
// A write-only profiling tag: no simulation logic reads it, so it cannot change a run.  The
// CostMeter belongs to whoever measures (the bench) and reaches a simulation explicitly:
// RunOptions::cost_meter -> the simulation's FileStore, which the VFS and each client's Database
// read it from.  Without a meter (every normal run) the scopes do nothing.
#pragma once

#include <csignal>

namespace syncsim::sim {

enum CostRegion : int {
  kCostFramework = 0,     // syncsim's own code (the model, the shim, invariants, the loop)
  kCostControl = 1,       // inside powersync_control (the core and the SQLite it calls)
  kCostFrameworkSql = 2,  // SQL the framework issues (checker reads, opens)
  kCostWorkloadSql = 3,   // the simulated app's own writes (engine::Client::local_write)
  kCostSdkSql = 4,        // the SDK's own SQL: upload and target statements, other transactions
  kCostSdkTxn = 5,        // the SDK's write transaction around a control call (BEGIN/COMMIT)
  kCostVfsBit = 8,        // or-ed in while SQLite is inside the sim VFS
  kCostRegions = 16,
};

// The current region; a sampling signal handler reads `region` (hence sig_atomic_t).
struct CostMeter {
  volatile std::sig_atomic_t region = kCostFramework;
};

// Sets the region for a scope and restores the enclosing one (regions nest: VFS in SQL).
class CostRegionScope {
 public:
  CostRegionScope(CostMeter* meter, int region) : meter_(meter) {
    if (meter_ == nullptr) return;
    previous_ = meter_->region;
    meter_->region = region;
  }
  ~CostRegionScope() {
    if (meter_ != nullptr) meter_->region = previous_;
  }
  CostRegionScope(const CostRegionScope&) = delete;
  CostRegionScope& operator=(const CostRegionScope&) = delete;

 private:
  CostMeter* meter_;
  std::sig_atomic_t previous_ = kCostFramework;
};

// The VFS adds its bit to whatever engine region called it.
class VfsCostScope {
 public:
  explicit VfsCostScope(CostMeter* meter) : meter_(meter) {
    if (meter_ == nullptr) return;
    previous_ = meter_->region;
    meter_->region = previous_ | kCostVfsBit;
  }
  ~VfsCostScope() {
    if (meter_ != nullptr) meter_->region = previous_;
  }
  VfsCostScope(const VfsCostScope&) = delete;
  VfsCostScope& operator=(const VfsCostScope&) = delete;

 private:
  CostMeter* meter_;
  std::sig_atomic_t previous_ = kCostFramework;
};

}  // namespace syncsim::sim
