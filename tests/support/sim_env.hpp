// Test support (tests/support/): one simulation's worth of VFS state for tests that open a real
// core database outside a world, built as the world builds it (the binding last, so it is
// built after, and destroyed before, what it points to).
#pragma once

#include <cstdint>

#include "sim/clock.hpp"
#include "sim/prng.hpp"
#include "sim/vfs.hpp"

namespace syncsim::test_support {

struct SimEnv {
  explicit SimEnv(uint64_t seed) : root(seed), sqlite_rng(root.split("sqlite")) {}
  sim::VirtualClock clock;
  sim::Prng root;
  sim::Prng sqlite_rng;
  sim::FileStore files;
  sim::VfsBinding binding{clock, sqlite_rng, files};
};

}  // namespace syncsim::test_support
