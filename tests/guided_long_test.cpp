// 500 coverage-guided world seeds reach more abstract-state cells than 500 uniform ones
// (issue 14 §5): two `syncsim hunt` runs over scenarios/catalog/world.json, seeds 1..500,
// uniform and --guided (batches of 50), compared by the coverage each findings.json reports.
// Label `long` (about 2 x 500 world runs).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_helpers.hpp"

namespace {

using nlohmann::json;
using syncsim::testing::absent_temp_path;
using syncsim::testing::read_file;
using syncsim::testing::syncsim;

json abstract_coverage(const std::string& extra, const std::string& name) {
  const std::string dir = absent_temp_path(name);
  const auto o = syncsim("hunt " + std::string(SYNCSIM_SOURCE_DIR) +
                         "/scenarios/catalog/world.json --seeds 1..500 --jobs 2 --max-shrink 0 " +
                         extra + " --findings " + dir);
  EXPECT_TRUE(o.exit_code == 0 || o.exit_code == 1) << o.output;
  return json::parse(read_file(dir + "/findings.json"))["coverage"]["abstract_states"];
}

TEST(GuidedLong, FiveHundredGuidedSeedsReachMoreAbstractStateCellsThanUniform) {
  const json uniform = abstract_coverage("", "guided-long-uniform");
  const json guided = abstract_coverage("--guided --batch 50", "guided-long-guided");
  std::cout << "abstract-state cells reached: uniform " << uniform["reached"] << ", guided "
            << guided["reached"] << " of " << uniform["of"] << "\n";
  EXPECT_GT(guided["reached"].get<int>(), uniform["reached"].get<int>())
      << "uniform unreached: " << uniform["unreached"].dump()
      << "\nguided unreached: " << guided["unreached"].dump();
}

}  // namespace
