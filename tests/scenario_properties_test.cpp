// Properties over generated scenarios (scenarios/format/generators.hpp): every generated scenario
// is valid, and every one passes all invariants with a generated seed.  On a failure
// RapidCheck shrinks the scenario and prints a reproduce string.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>

#include "scenarios/format/generators.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {
namespace {

// A fixed RapidCheck seed and a small budget keep CI deterministic and quick; RapidCheck
// reads RC_PARAMS once, on first use, so it is set before main.  RC_PARAMS overrides it.
const bool kDefaultParams = [] {
  setenv("RC_PARAMS", "max_success=15 seed=1", /*overwrite=*/0);
  return true;
}();

RC_GTEST_PROP(GeneratedScenarios, AreValidAndSurviveAJsonRoundTrip, ()) {
  const Scenario s = *gen::small_scenario();
  const Scenario back = parse_scenario(to_json(s), validation_context(), "generated");
  RC_ASSERT(back == s);
}

// The cost of a case is one simulated run (about 0.1-0.5 s), so the number of cases is
// kept small here; `RC_PARAMS="max_success=500"` explores more.
TEST(GeneratedScenarios, PassAllInvariants) {
  const auto result = rc::check("every generated scenario passes", [] {
    const Scenario s = *gen::small_scenario();
    const auto seed = *rc::gen::inRange<uint64_t>(1, 1000000);
    RunOptions o;
    o.seed = seed;
    o.keep_trace_lines = 20;
    const RunResult r = run_scenario(s, o);
    RC_LOG() << "seed " << seed << "\n" << to_json(s).dump(1) << "\n";
    if (!r.passed) {
      RC_LOG() << r.stop.message << "\n" << r.pending;
      for (const auto& l : r.trace_tail) RC_LOG() << "  | " << l << "\n";
    }
    RC_ASSERT(r.passed);
  });
  EXPECT_TRUE(result);
}

}  // namespace
}  // namespace syncsim::scenarios
