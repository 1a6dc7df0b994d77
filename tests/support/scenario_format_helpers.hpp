// Test support (tests/support/): what the scenario-format tests share (scenario_format_*test.cpp):
// a validation context, parsing expected to fail, a body after "format": 1, and a substring check.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "scenarios/format/scenario.hpp"

namespace syncsim::test_support {

inline scenarios::ValidationContext Ctx() {
  return {{"0.5.3"},
          {"barrier-holds", "read-your-writes", "converges"},
          {"ack-before-replication", "replication-stall", "publish-while-blocked"},
          {{"0.5.3", "js-1.3.0"}},
          {"stale-seed-outcome", "repost-until-applied"},
          {"barrier-blocked", "duplicate-request", "seed-raised"}};
}

// Parses `text` expecting failure; returns the error, or an empty one (and fails) if it parsed.
inline scenarios::ScenarioError ErrorOf(const std::string& text,
                                        const std::string& source = "t.json") {
  try {
    scenarios::parse_scenario_text(text, Ctx(), source);
  } catch (const scenarios::ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ScenarioError for: " << text;
  return scenarios::ScenarioError({});
}

// `text` is the body of a top-level object after "format": 1.
inline std::string WithFormat(const std::string& fields) {
  return R"({"format": 1, )" + fields + "}";
}

}  // namespace syncsim::test_support

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find: " << (needle) << "\nin: " << (haystack)
