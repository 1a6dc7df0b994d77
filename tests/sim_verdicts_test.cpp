// Unit tests of the per-run verdict bookkeeping (sim/invariants.hpp Verdicts): the checkers ask
// by string_view (issue 20), and checks() still lists every enabled id and every checked one.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/invariants.hpp"

namespace syncsim::sim {
namespace {

TEST(Verdicts, AnswersEnabledByAnyStringForm) {
  const Verdicts v({"read-your-writes", "converges"});
  EXPECT_TRUE(v.enabled("converges"));
  EXPECT_TRUE(v.enabled(std::string("read-your-writes")));
  EXPECT_TRUE(v.enabled(std::string_view("read-your-writes-x").substr(0, 16)));
  EXPECT_FALSE(v.enabled("read-your"));
  EXPECT_FALSE(v.enabled(""));
  EXPECT_FALSE(v.enabled("no-wedge"));
}

TEST(Verdicts, ChecksListEnabledIdsAndEveryCheckedOne) {
  Verdicts v({"b-inv", "a-inv"});
  EXPECT_EQ(v.checks(), (std::map<std::string, uint64_t>{{"a-inv", 0}, {"b-inv", 0}}));
  v.checked("a-inv");
  v.checked(std::string("a-inv"));
  v.checked("not-enabled");  // counted, and still not enabled
  EXPECT_FALSE(v.enabled("not-enabled"));
  EXPECT_EQ(v.checks(),
            (std::map<std::string, uint64_t>{{"a-inv", 2}, {"b-inv", 0}, {"not-enabled", 1}}));
  EXPECT_EQ(v.enabled_ids(), (std::vector<std::string>{"a-inv", "b-inv"}));
}

}  // namespace
}  // namespace syncsim::sim
