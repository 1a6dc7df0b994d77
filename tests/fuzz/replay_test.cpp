// Replays every committed fuzz input (tests/fuzz/corpus/<target>/ and the crashes kept as
// regressions in tests/fuzz/regressions/<target>/) through the same entry functions the
// fuzzers run: an input that once crashed must keep passing.  A crash aborts this test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "scenarios/world/runner.hpp"
#include "tests/fuzz/targets.hpp"

namespace syncsim::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(const std::string& kind, const std::string& target) {
  const fs::path dir = fs::path(SYNCSIM_SOURCE_DIR) / "tests/fuzz" / kind / target;
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Replay : public testing::TestWithParam<NamedTarget> {};

TEST_P(Replay, EveryCommittedInputPasses) {
  const auto corpus = inputs_of("corpus", GetParam().name);
  const auto regressions = inputs_of("regressions", GetParam().name);
  ASSERT_FALSE(corpus.empty()) << "no corpus for " << GetParam().name;
  for (const auto* files : {&corpus, &regressions}) {
    for (const auto& path : *files) {
      SCOPED_TRACE(path.string());
      std::ifstream in(path, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      EXPECT_EQ(GetParam().run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fuzz, Replay, testing::ValuesIn(targets()),
                         [](const testing::TestParamInfo<NamedTarget>& info) {
                           return info.param.name;
                         });

// The libFuzzer build's ValidationContext (snapshot_validation_context) names nothing the real
// one does not: a renamed or removed invariant or mutant fails here (names added since the
// snapshot only make the fuzzer see fewer valid scenarios; refresh it from `syncsim list`).
TEST(FuzzValidationContext, SnapshotNamesAreStillValidationContextNames) {
  const auto snap = snapshot_validation_context(std::string(SYNCSIM_SOURCE_DIR) +
                                                "/tests/fuzz/validation_names.json");
  const auto real = scenarios::validation_context();
  ASSERT_FALSE(snap.invariants.empty());
  ASSERT_FALSE(snap.mutants.empty());
  for (const auto& id : snap.invariants) {
    EXPECT_NE(std::find(real.invariants.begin(), real.invariants.end(), id), real.invariants.end())
        << "invariant " << id << " of tests/fuzz/validation_names.json";
  }
  for (const auto& name : snap.mutants) {
    EXPECT_NE(std::find(real.mutants.begin(), real.mutants.end(), name), real.mutants.end())
        << "mutant " << name << " of tests/fuzz/validation_names.json";
  }
  EXPECT_EQ(snap.cores, real.cores);
  EXPECT_EQ(snap.core_sdks, real.core_sdks);
  EXPECT_EQ(snap.quirks, real.quirks);
  EXPECT_EQ(snap.sometimes, real.sometimes);
}

}  // namespace
}  // namespace syncsim::fuzz
