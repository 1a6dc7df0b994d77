// Virtual time in microseconds.  Starts at a realistic epoch (not 0) so timestamps the
// core writes look like real ones (docs/architecture.md §2).  Only the simulation loop advances it.
#pragma once

#include <cassert>
#include <cstdint>

namespace syncsim::sim {

using Micros = int64_t;
constexpr Micros kMillis = 1000;
constexpr Micros kSeconds = 1000 * kMillis;
constexpr Micros kEpoch = 1'800'000'000LL * kSeconds;

class VirtualClock {
 public:
  [[nodiscard]] Micros now() const { return now_; }
  // Simulated seconds since the start of the run.
  [[nodiscard]] Micros elapsed() const { return now_ - kEpoch; }
  void advance_to(Micros t) {
    assert(t >= now_ && "virtual time never goes backwards");
    now_ = t;
  }

 private:
  Micros now_ = kEpoch;
};

}  // namespace syncsim::sim
