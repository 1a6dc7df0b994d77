// Ctrl-C and SIGTERM for commands that run worker processes (sweep; hunt): while an
// InterruptGuard lives, SIGINT/SIGTERM only set a flag (and interrupt poll), so the command
// can stop its workers, write what finished as a partial document and exit 130.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace syncsim::cli {

constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as a shell reports Ctrl-C

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers (without SA_RESTART: poll returns EINTR)
  ~InterruptGuard();  // restores the previous handlers
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  // The signal received since construction, or 0.
  [[nodiscard]] static int signal_received();
};

// Sends SIGTERM to each worker, then SIGKILL to any still running after `grace_ms`, and
// reaps them all, so that none outlives the command.
void stop_workers(const std::vector<pid_t>& pids, int grace_ms = 2000);

// A worker's side: dies with SIGTERM when its parent dies (even of SIGKILL), and exits at
// once if the parent `parent` is already gone.  0 = no check.
void die_with_parent(pid_t parent);

// Sorted, distinct positions as compact ranges: {1,2,3,5,7,8} -> {"1..3", "5", "7..8"}.
std::vector<std::string> compact_ranges(const std::vector<uint64_t>& sorted);

}  // namespace syncsim::cli
