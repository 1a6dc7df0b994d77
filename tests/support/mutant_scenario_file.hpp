// Test support (tests/support/): a catalog scenario with mutants, as a temp file the syncsim
// binary can run (the CLI tests' failing scenario).
#pragma once

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli_helpers.hpp"

namespace syncsim::test_support {

// basic with a mutant that fails every seed, as its own scenario name "basic-mutant"; it lists
// no sometimes-conditions, so it stops at the first violation (not vacuous, only failing).
// Written to the temp file `file` (each test binary names its own).
inline std::string failing_basic_file(const std::string& file) {
  auto j = nlohmann::json::parse(testing::read_file(testing::catalog("basic")));
  j["name"] = "basic-mutant";
  j["mutants"] = {"publish-while-blocked"};
  j.erase("sometimes");
  // One file per test process: ctest runs the tests of one binary in parallel processes, and a
  // shared name let one test read the file while another truncated it.
  return testing::write_temp(std::to_string(::getpid()) + "-" + file, j.dump(2));
}

}  // namespace syncsim::test_support
