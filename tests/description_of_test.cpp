// description_of (scenarios/checks/cross_checks.hpp) reads a row's top-level "description" by
// SAX events (issue 20); it must answer exactly what a parsed tree answers, the checkers'
// comparisons depend on it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/checks/cross_checks.hpp"

namespace syncsim::scenarios {
namespace {

// The tree's answer, as description_of computed it before issue 20.
std::optional<std::string> by_tree(const std::string& row_json) {
  auto j = nlohmann::json::parse(row_json, nullptr, false);
  if (j.is_discarded() || !j.contains("description") || !j["description"].is_string()) {
    return std::nullopt;
  }
  return j["description"].get<std::string>();
}

TEST(DescriptionOf, AnswersWhatTheParsedTreeAnswers) {
  const std::vector<std::string> rows{
      R"({"description":"buy milk","completed":0})",
      R"({"completed":1,"description":"last"})",
      R"({"description":"a\"b\\c\u00e9\n"})",
      R"({"description":""})",
      R"({"description":null})",
      R"({"description":5})",
      R"({"description":true})",
      R"({"description":{"description":"nested"}})",
      R"({"description":["x"]})",
      R"({"other":{"description":"nested only"}})",
      R"({"list":[{"description":"in an array"}],"description":"top"})",
      R"({"description":"first","description":"second"})",
      R"({"description":"first","description":7})",
      R"({"description":7,"description":"second"})",
      R"({"description":"x","after":{"a":[1,2,{"b":null}]}})",
      R"(["description","x"])",
      R"([{"description":"x"}])",
      R"("description")",
      R"(42)",
      R"({})",
      R"()",
      R"({"description":"x")",
      R"({"description":"x"} trailing)",
      R"({"description":"x"}{"description":"y"})",
      R"({"description":"x",})",
      R"( {"description" : "spaced"} )",
      R"({"description":"x","n":1e400})",
      R"({"description":"x","n":-0.5,"m":18446744073709551615})",
  };
  for (const auto& row : rows) {
    EXPECT_EQ(description_of(row), by_tree(row)) << row;
  }
  EXPECT_EQ(description_of(R"({"description":"buy milk"})"), "buy milk");
  EXPECT_EQ(description_of(R"({"description":"first","description":"second"})"), "second");
  EXPECT_EQ(description_of(R"({"description":5})"), std::nullopt);
}

}  // namespace
}  // namespace syncsim::scenarios
