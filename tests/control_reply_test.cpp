// Issue 20 (perf13): the cheaper reply parser (engine/control_reply.hpp) must give exactly
// nlohmann::json::parse()'s trees -- the same value types, not only equal values -- and its
// errors; the sync-line writer (model/line_text.hpp) exactly dump()'s bytes; dumped_size
// (engine/sdk_shim_internal.hpp) dump()'s length.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/control_reply.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "model/line_text.hpp"

namespace syncsim {
namespace {

using nlohmann::json;

// Equal values of equal types all the way down (json's == holds 1 == 1u == 1.0).
bool same(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key() || !same(ia.value(), ib.value())) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

void expect_as_parse(const std::string& text) {
  const std::vector<json> got = engine::parse_control_reply(text);
  const json want = json::parse(text);
  ASSERT_EQ(got.size(), want.size()) << text;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(same(got[i], want[i])) << text << "\n got " << got[i] << "\nwant " << want[i];
  }
}

TEST(ControlReply, GivesParsesTrees) {
  const std::string deep = std::string(100, '[') + "1" + std::string(100, ']');
  const char* replies[] = {
      R"([])",
      R"([{"UpdateSyncStatus":{"status":{"connected":true,"connecting":false,"priority_status":[],)"
      R"("downloading":{"buckets":{"global[]":{"priority":3,"at_last":0,"since_last":12,)"
      R"("target_count":12}}},"streams":[],"internal_last_applied_checkpoint_request_id":"7"}}},)"
      R"({"DidCompleteSync":{"applied_checkpoint_request_id":"7"}},{"FlushFileSystem":{}}])",
      R"([{"LogLine":{"severity":"DEBUG","line":"Could not apply checkpoint due to local data"}}])",
      R"( [ {"a" : 1 , "b":[ -1, 0, -0, 18446744073709551615, 9223372036854775807 ] } ] )",
      "[\n\t{\"x\":null,\"y\":true,\"z\":false}\r\n]",
      R"([-9223372036854775808, -9223372036854775809, 18446744073709551616, 1.5, 2e3, -0.0])",
      R"([{"k":1,"k":2,"k":{"deep":"last wins"}}])",
      R"(["escape\"d", "tab\t", "\u00e9", "ünïcödé", "slash\/", "back\\slash"])",
      R"([{}, [], "", {"":""}])",
  };
  for (const char* r : replies) expect_as_parse(r);
  expect_as_parse(deep);
}

TEST(ControlReply, BadRepliesThrowParsesError) {
  const char* bad[] = {R"([1,])",    R"([01])", R"([tru])", R"(["a])",       R"([1] x)",
                       R"([{"a"}])", R"([-])",  R"([1.])",  R"([{"a":1,}])", "[\"\x01\"]"};
  for (const char* b : bad) {
    EXPECT_THROW(engine::parse_control_reply(b), json::parse_error) << b;
  }
}

TEST(DumpedSize, WalkCountsWhatDumpWrites) {
  const json values[] = {
      json::parse(
          R"({"a":{"b":[1,-2,{"c":"d"},[]],"e":{}},"f\"g":"h\u0001","ü":[true,false,null]})"),
      json(std::numeric_limits<int64_t>::min()),
      json(std::numeric_limits<uint64_t>::max()),
      json(-1),
      json(0u),
      json::array({json::object(), json::array(), ""}),
  };
  for (const auto& v : values) {
    EXPECT_EQ(engine::shim_detail::dumped_size(v), v.dump().size()) << v;
  }
}

TEST(LineText, WritesDumpsBytes) {
  model::LineText w;
  w.object().key("checkpoint_diff").object().key("last_op_id").str("12");
  w.key("removed_buckets").array().str("a").str("quote\"d").end_array();
  w.key("updated_buckets").array();
  w.object().key("bucket").str("global[]").key("checksum").num(-5).key("count").num(3);
  w.key("subscriptions").tree(json::array({{{"default", 0}}})).end_object();
  w.object().key("bucket").str("ünï\n").key("flag").boolean(false).end_object();
  w.end_array().end_object().end_object();
  const json tree = {{"checkpoint_diff",
                      {{"last_op_id", "12"},
                       {"removed_buckets", {"a", "quote\"d"}},
                       {"updated_buckets",
                        {{{"bucket", "global[]"},
                          {"checksum", -5},
                          {"count", 3},
                          {"subscriptions", json::array({{{"default", 0}}})}},
                         {{"bucket", "ünï\n"}, {"flag", false}}}}}}};
  EXPECT_EQ(w.take(), tree.dump());
}

}  // namespace
}  // namespace syncsim
