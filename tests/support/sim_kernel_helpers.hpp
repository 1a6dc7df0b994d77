// Test support (tests/support/): the small helpers the simulation kernel's unit tests share
// (sim_prng_test, sim_loop_test, sim_sync_test, sim_net_test).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/clock.hpp"
#include "sim/prng.hpp"

namespace syncsim::test_support {

constexpr sim::Micros ms(int64_t n) { return n * sim::kMillis; }

// The next `n` draws of a copy of `p`.
inline std::vector<uint64_t> draws(sim::Prng p, int n) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(p.next());
  return out;
}

}  // namespace syncsim::test_support
