// Repro strings and results documents (scenarios/results/repro.hpp, scenarios/results/results.hpp).
#include <gtest/gtest.h>

#include "scenarios/results/repro.hpp"
#include "scenarios/results/results.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;

TEST(Repro, RoundTripsWithAndWithoutHash) {
  Repro r{"basic", "/a/b:c/basic.json", 42, "0.1.0+abc", "0123456789abcdef"};
  EXPECT_EQ(format_repro(r),
            "syncsim:basic:/a/b:c/basic.json:seed=42:build=0.1.0+abc:hash=0123456789abcdef");
  EXPECT_EQ(parse_repro(format_repro(r)), r);
  r.hash.reset();
  EXPECT_EQ(parse_repro(format_repro(r)), r);
}

TEST(Repro, RejectsMalformedStrings) {
  EXPECT_THROW(parse_repro(""), ReproError);
  EXPECT_THROW(parse_repro("syncsim::x.json:seed=1:build=b"), ReproError);
  EXPECT_THROW(parse_repro("syncsim:n::seed=1:build=b"), ReproError);
  EXPECT_THROW(parse_repro("syncsim:n:x.json:seed=-1:build=b"), ReproError);
  EXPECT_THROW(parse_repro("syncsim:n:x.json:seed=1:build=b:extra=1"), ReproError);
  EXPECT_THROW(parse_repro("syncsim:n:x.json:seed=99999999999999999999:build=b"), ReproError);
}

json run(const std::string& scenario, uint64_t seed, bool ok) {
  return {{"scenario", scenario},
          {"seed", seed},
          {"expectation_met", ok},
          {"wall_s", 0.5},
          {"repro", "r-" + scenario + std::to_string(seed)}};
}

TEST(Results, MergeOrdersByScenarioThenSeedAndCounts) {
  json a = {{"build", "b"}, {"runs", {run("z", 2, true), run("a", 10, false)}}};
  json b = {{"build", "b"}, {"runs", {run("a", 9, true), run("z", 1, true)}}};
  json m = merge_results({{"a.json", a}, {"b.json", b}});
  ASSERT_EQ(m["runs"].size(), 4u);
  EXPECT_EQ(m["runs"][0]["seed"], 9);
  EXPECT_EQ(m["runs"][1]["seed"], 10);
  EXPECT_EQ(m["runs"][2]["scenario"], "z");
  EXPECT_EQ(m["runs"][2]["seed"], 1);
  EXPECT_EQ(m["passed"], 3);
  EXPECT_EQ(m["failed"], 1);
  const auto rows = summarize(m);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first_failing_seed, 10u);
  EXPECT_EQ(rows[0].first_failing_repro, "r-a10");
  EXPECT_FALSE(rows[1].first_failing_seed);
}

TEST(Results, MergeRefusesDuplicatesAndOtherBuilds) {
  json a = {{"build", "b"}, {"runs", {run("a", 1, true)}}};
  json c = {{"build", "other"}, {"runs", {run("a", 2, true)}}};
  EXPECT_THROW(merge_results({{"a.json", a}, {"a2.json", a}}), MergeError);
  EXPECT_THROW(merge_results({{"a.json", a}, {"c.json", c}}), MergeError);
  EXPECT_THROW(merge_results({{"x.json", json::array()}}), MergeError);
  EXPECT_THROW(merge_results({}), MergeError);
}

TEST(Results, StripWallTimesRemovesOnlyWallTimes) {
  json j = {{"wall_s", 1}, {"runs", {{{"wall_s", 2}, {"seed", 1}}}}};
  EXPECT_EQ(strip_wall_times(j), (json{{"runs", {{{"seed", 1}}}}}));
}

TEST(Results, JunitEscapesAndMarksFailures) {
  json r = run("a<b", 1, false);
  r["violation"] = {
      {"invariant", "x"}, {"at_s", 1.5}, {"subject", "client 1"}, {"message", "\"q\" & more"}};
  const auto xml = junit_xml(sweep_document("b", {r, run("a<b", 2, true)}));
  EXPECT_NE(xml.find("<testsuite name=\"a&lt;b\" tests=\"2\" failures=\"1\" time=\"1.000\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"x\" "), std::string::npos) << xml;
  EXPECT_NE(xml.find("replay: syncsim replay '"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<property name=\"build\" value=\"b\"/>"), std::string::npos) << xml;
  EXPECT_NE(junit_xml(sweep_document("b", {r}), "2026-01-01T00:00:00Z")
                .find("timestamp=\"2026-01-01T00:00:00Z\""),
            std::string::npos);
  EXPECT_NE(xml.find("violated x at t=1.5s (client 1): &quot;q&quot; &amp; more"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"seed=2\" time=\"0.500\"/>"), std::string::npos) << xml;
}

}  // namespace
}  // namespace syncsim::scenarios
