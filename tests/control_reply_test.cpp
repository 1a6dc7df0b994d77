// Issue 20 (perf13): the cheaper reply parser (engine/control_reply.hpp) must give exactly
// nlohmann::json::parse()'s trees -- the same value types, not only equal values -- and its
// errors; the sync-line writer (model/line_text.hpp) exactly dump()'s bytes; dumped_size
// (engine/sdk_shim_internal.hpp) dump()'s length.  perf15: with RawStatus::Keep a canonical
// UpdateSyncStatus keeps its status as text whose parse() is parse()'s status and whose length
// accounts for dump()'s bytes; anything else is parse()'s tree; raw_member and StatusTree.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/control_reply.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "engine/status_text.hpp"
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

void expect_as_parse(const std::string& text, engine::RawStatus status = engine::RawStatus::Parse) {
  std::vector<json> got = engine::parse_control_reply(text, status);
  for (auto& i : got) {  // a kept status as the tree its text parses to
    if (i.is_object() && i.contains("UpdateSyncStatus") &&
        i["UpdateSyncStatus"]["status"].is_binary()) {
      const auto& b = i["UpdateSyncStatus"]["status"].get_binary();
      i["UpdateSyncStatus"]["status"] = json::parse(std::string(b.begin(), b.end()));
    }
  }
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
  // Keep: the same trees once a kept status (the second reply's) is parsed.
  for (const char* r : replies) expect_as_parse(r, engine::RawStatus::Keep);
}

// The status text kept for instruction `i` of `text`, or nullopt when it is a tree.
std::optional<std::string> kept(const std::string& text, std::size_t i) {
  auto got = engine::parse_control_reply(text, engine::RawStatus::Keep);
  const json& status = got.at(i).at("UpdateSyncStatus").at("status");
  if (!status.is_binary()) return std::nullopt;
  return std::string(status.get_binary().begin(), status.get_binary().end());
}

TEST(ControlReply, KeepsCanonicalStatusesAsText) {
  const std::string status =
      R"({"connected":true,"connecting":false,"priority_status":[{"priority":0,"has_synced":null}],)"
      R"("downloading":{"buckets":{"global[]":{"priority":3,"at_last":-4,"since_last":12}}},)"
      R"("streams":[],"x":[[],{},"",18446744073709551615,-9223372036854775808],)"
      R"("internal_last_applied_checkpoint_request_id":"7"})";
  const std::string reply = R"([{"LogLine":{"severity":"DEBUG","line":"x"}},)"
                            R"({"UpdateSyncStatus":{"status":)" +
                            status + R"(}},{"UpdateSyncStatus":{"status":{}}}])";
  const auto text = kept(reply, 1);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, status);
  EXPECT_EQ(kept(reply, 2), std::optional<std::string>("{}"));
  const json want = json::parse(reply);
  EXPECT_TRUE(same(json::parse(*text), want[1]["UpdateSyncStatus"]["status"]));
  // handle_instruction's count of dump()'s bytes for a kept status.
  EXPECT_EQ(engine::kKeptStatusHead.size() + text->size() + engine::kKeptStatusTail.size(),
            want[1].dump().size());
  // The other instructions are parse()'s.
  auto got = engine::parse_control_reply(reply, engine::RawStatus::Keep);
  EXPECT_TRUE(same(got[0], want[0]));
}

TEST(ControlReply, KeepsNoStatusDumpWouldWriteDifferently) {
  // Each is valid JSON whose dump() differs from its text, or a status of another shape: the
  // whole instruction must be parse()'s tree.
  const char* statuses[] = {
      R"({"a":1, "b":2})",
      R"({"a":-0})",
      R"({"a":1.5})",
      R"({"a":"\u0041"})",
      R"({"a":"ü"})",
      R"({"a":1,"a":2})",
      R"({"a":2e3})",
      R"({"a":99999999999999999999})",
      R"({"a":-9223372036854775809})",
      R"({"a":{"b":1,"b":1}})",
      R"({"a":[1, 2]})",
      R"({"a":"t\tab"})",
  };
  for (const char* st : statuses) {
    const std::string reply = std::string(R"([{"UpdateSyncStatus":{"status":)") + st + "}}]";
    EXPECT_FALSE(kept(reply, 0).has_value()) << reply;
    expect_as_parse(reply, engine::RawStatus::Keep);
  }
  // Another shape around the status, and a non-object status.
  for (const char* reply :
       {R"([{"UpdateSyncStatus":{"status":{},"other":1}}])",
        R"([{"UpdateSyncStatus":{"status":[]}}])", R"([{"UpdateSyncStatus": {"status":{}}}])"}) {
    EXPECT_FALSE(kept(reply, 0).has_value()) << reply;
    expect_as_parse(reply, engine::RawStatus::Keep);
  }
  // UTF-8 later in the reply: trees for the statuses too.
  const std::string later = R"([{"UpdateSyncStatus":{"status":{}}},"ü"])";
  EXPECT_FALSE(kept(later, 0).has_value());
  expect_as_parse(later, engine::RawStatus::Keep);
}

TEST(ControlReply, BadRepliesWithStatusesThrowParsesError) {
  const char* bad[] = {R"([{"UpdateSyncStatus":{"status":{}}},])",
                       R"([{"UpdateSyncStatus":{"status":{"a":}}}])",
                       R"([{"UpdateSyncStatus":{"status":{}}}] x)"};
  for (const char* b : bad) {
    EXPECT_THROW(engine::parse_control_reply(b, engine::RawStatus::Keep), json::parse_error) << b;
  }
}

TEST(StatusText, RawMemberFindsTopLevelMembers) {
  const std::string o =
      R"({"a":{"connected":false,"b":"}"},"s":"x,y:z","connected":true,"n":[1,{"c":2}],"id":"7"})";
  EXPECT_EQ(engine::raw_member(o, "connected"), std::optional<std::string_view>("true"));
  EXPECT_EQ(engine::raw_member(o, "a"),
            std::optional<std::string_view>(R"({"connected":false,"b":"}"})"));
  EXPECT_EQ(engine::raw_member(o, "s"), std::optional<std::string_view>(R"("x,y:z")"));
  EXPECT_EQ(engine::raw_member(o, "n"), std::optional<std::string_view>(R"([1,{"c":2}])"));
  EXPECT_EQ(engine::raw_member(o, "id"), std::optional<std::string_view>(R"("7")"));
  EXPECT_FALSE(engine::raw_member(o, "b").has_value());  // nested only
  EXPECT_FALSE(engine::raw_member(o, "c").has_value());
  EXPECT_FALSE(engine::raw_member(o, "x,y").has_value());  // a value, not a key
  EXPECT_FALSE(engine::raw_member("{}", "a").has_value());
}

// raw_members (perf21): the members raw_member finds one by one, in one pass; absent ones and
// nested ones nullopt, the first of a repeated key.
TEST(StatusText, RawMembersFindsSeveralTopLevelMembersInOnePass) {
  const std::string o =
      R"({"a":{"connected":false,"b":"}"},"s":"x,y:z","connected":true,"n":[1,{"c":2}],"id":"7"})";
  const auto m = engine::raw_members<5>(o, {"id", "connected", "b", "a", "none"});
  EXPECT_EQ(m[0], std::optional<std::string_view>(R"("7")"));
  EXPECT_EQ(m[1], std::optional<std::string_view>("true"));
  EXPECT_FALSE(m[2].has_value());  // nested only
  EXPECT_EQ(m[3], std::optional<std::string_view>(R"({"connected":false,"b":"}"})"));
  EXPECT_FALSE(m[4].has_value());
  const auto twice = engine::raw_members<2>(R"({"k":1,"k":2,"j":3})", {"k", "j"});
  EXPECT_EQ(twice[0], std::optional<std::string_view>("1"));
  EXPECT_EQ(twice[1], std::optional<std::string_view>("3"));
}

TEST(StatusText, TreeIsParsedFromTextUntilReplaced) {
  engine::StatusTree t;
  EXPECT_TRUE(t.tree().is_null());
  t.set_raw(R"({"connected":true,"n":[1,-2]})");
  EXPECT_TRUE(same(t.tree(), json::parse(R"({"connected":true,"n":[1,-2]})")));
  t = json::parse(R"({"a":1})");
  EXPECT_TRUE(same(t.tree(), json::parse(R"({"a":1})")));
  t.set_raw("{}");
  const json& read = t;
  EXPECT_TRUE(same(read, json::object()));
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
