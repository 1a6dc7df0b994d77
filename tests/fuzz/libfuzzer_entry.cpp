// The libFuzzer entry point of one target; SYNCSIM_FUZZ_TARGET names it (CMake, one
// executable per target: fuzz_scenario, fuzz_repro, fuzz_results, fuzz_reports).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return syncsim::fuzz::SYNCSIM_FUZZ_TARGET(data, size);
}
