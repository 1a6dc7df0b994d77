// Seeded, splittable integer PRNG (xoshiro256** seeded through splitmix64).
// Integer-only on purpose: no std:: distributions (implementation-defined) and no
// floating point in draws, so a seed means the same run on every build (docs/architecture.md §2).
#pragma once

#include <cstdint>
#include <string_view>

namespace syncsim::sim {

class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound) without modulo bias (Lemire's method); bound 0 -> 0.
  uint64_t uniform(uint64_t bound) {
    if (bound == 0) return 0;
    __uint128_t m = static_cast<__uint128_t>(next()) * bound;
    auto low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi] inclusive.
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(uniform(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability pct/100.
  bool percent(uint64_t pct) { return uniform(100) < pct; }

  // The SDK's +-10 % jitter, integer form: d*900/1000 + uniform(d/5).
  int64_t jitter(int64_t d) {
    return d * 900 / 1000 + static_cast<int64_t>(uniform(static_cast<uint64_t>(d / 5) + 1));
  }

  // An independent stream derived from this generator's seed material and a name, so
  // adding draws in one component never perturbs another.  Does not advance *this.
  [[nodiscard]] Prng split(std::string_view name) const {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the name, mixed with our state
    for (char c : name) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    return Prng(h ^ state_[0] ^ rotl(state_[1], 17) ^ rotl(state_[2], 31) ^ rotl(state_[3], 47));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_[4]{};
};

}  // namespace syncsim::sim
