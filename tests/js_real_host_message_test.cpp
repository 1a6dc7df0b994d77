// Issue 20 (e), js20: the js-real host's messages read without a JSON tree
// (engine/js/host_message.hpp) and sql replies written as text (engine/js/read_connections.hpp
// RowsAs::Text) against nlohmann's parse() and dump().
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/js/bridge.hpp"
#include "engine/js/host_message.hpp"
#include "engine/js/read_connections.hpp"

namespace syncsim::engine::js {
namespace {

// The timers as JsHost read them from the tree (js_host.cpp before js20): null when absent.
nlohmann::json timers_of_tree(const nlohmann::json& t) {
  if (!t.contains("timers")) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& x : t["timers"]) {
    out.push_back({x.value("client", ""), x.value("at", int64_t{0}), x.value("by", "")});
  }
  return out;
}

nlohmann::json timers_of(const HostMessage& m) {
  if (!m.timers) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& x : *m.timers) out.push_back({x.client, x.at, x.by});
  return out;
}

// What JsHost reads of a message, from parse()'s tree: the fields the fast path must agree on.
nlohmann::json fields_of_tree(const nlohmann::json& t) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : t.value("params", nlohmann::json::array())) {
    const auto bytes = as_bytes(p);
    params.push_back(bytes ? nlohmann::json{{"bytes", base64_encode(*bytes)}} : p);
  }
  return {{"op", t.value("op", "")},
          {"client", t.value("client", "")},
          {"sql", t.value("sql", "")},
          {"params", params},
          {"before", t.value("before", nlohmann::json::array())},
          {"read", t.value("read", 0)},
          {"noreply", t.value("noreply", false)},
          {"what", t.value("what", "")},
          {"level", t.value("level", 0)},
          {"message", t.value("message", "")},
          {"next_timer", t.value("next_timer", nlohmann::json())},
          {"timers", timers_of_tree(t)}};
}

nlohmann::json fields_of(const HostMessage& m) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : m.params) {
    const auto bytes = as_bytes(p);
    params.push_back(bytes ? nlohmann::json{{"bytes", base64_encode(*bytes)}} : p);
  }
  return {{"op", m.op},
          {"client", m.client},
          {"sql", m.sql},
          {"params", params},
          {"before", m.before},
          {"read", m.read},
          {"noreply", m.noreply},
          {"what", m.what},
          {"level", m.level},
          {"message", m.message},
          {"next_timer", m.next_timer ? nlohmann::json(*m.next_timer) : nlohmann::json()},
          {"timers", timers_of(m)}};
}

// Lines as the host writes them (basic.json seed 1 with js-real, and edge cases).
const std::vector<std::string> kFastLines = {
    R"({"op":"sql","client":"c1","sql":"COMMIT","params":[],"noreply":true})",
    R"({"op":"sql","client":"c1","sql":"SELECT * FROM ps_crud ORDER BY id ASC LIMIT 1","params":[],"read":3})",
    R"j({"op":"sql","client":"c2","sql":"SELECT powersync_control(?, ?)","params":["line_binary",{"b64":"AQID/w=="}],"before":["BEGIN IMMEDIATE"]})j",
    R"j({"op":"sql","client":"c3","sql":"INSERT INTO t(a,b,c,d,e) VALUES(?,?,?,?,?)","params":[null,-12,0.25,1e+21,18446744073709551615]})j",
    R"({"op":"sql","client":"c3","sql":"SELECT \"x\\y\"\n\t/* \u00e9 \ud83d\ude00 \u0001 */","params":["a\/b"]})",
    R"({"op":"draw","client":"c1","what":"credentials_latency"})",
    R"({"op":"touched","client":"c3","noreply":true})",
    R"({"op":"log","client":"c2","level":30,"message":"Could not apply checkpoint due to local data."})",
    R"({"op":"uploaded","client":"c3"})",
    R"({"op":"idle","next_timer":1800000003091000})",
    R"({"op":"idle","next_timer":null})",
    R"j({"op":"idle","next_timer":5,"timers":[{"client":"c1","at":5,"by":"f (x.js:1)"},{"by":"g","at":7,"client":"c2"},{}]})j",
    R"({"op":"idle","next_timer":null,"timers":[]})",
    R"({})",
};

TEST(JsRealHostMessage, TheFastPathReadsWhatParseReads) {
  for (const auto& line : kFastLines) {
    const auto fast = parse_host_message_fast(line);
    ASSERT_TRUE(fast) << "gave up on " << line;
    EXPECT_EQ(fields_of(*fast).dump(), fields_of_tree(nlohmann::json::parse(line)).dump()) << line;
    EXPECT_TRUE(fast->tree.is_null());
  }
}

TEST(JsRealHostMessage, NumbersKeepParsesTypes) {
  const auto m = parse_host_message_fast(
      R"({"op":"sql","client":"c","sql":"x","params":[0,-0,7,-7,0.5,-2.5e-3,9223372036854775807]})");
  ASSERT_TRUE(m);
  const auto tree = nlohmann::json::parse(R"([0,-0,7,-7,0.5,-2.5e-3,9223372036854775807])");
  ASSERT_EQ(m->params.size(), tree.size());
  for (std::size_t i = 0; i < tree.size(); ++i) {
    EXPECT_EQ(m->params[i].type(), tree[i].type()) << i;
    EXPECT_EQ(m->params[i], tree[i]) << i;
  }
}

TEST(JsRealHostMessage, UnusualLinesGoThroughParseAndKeepTheirTree) {
  const std::vector<std::string> lines = {
      // Keys the fast path does not know (the acts, a timer's unknown field).
      R"({"op":"fetch","client":"c3","req":1,"method":"POST","path":"/sync/stream","headers":{"accept":"x"},"body":"{}","stream":true})",
      R"({"op":"notice","client":"c1","what":"disconnected","error":""})",
      R"({"op":"idle","next_timer":5,"timers":[{"client":"c1","at":5,"by":"f","x":1}]})",
      // Non-ASCII text, whitespace, a duplicate key, an integer beyond int64, a lone surrogate,
      // an object that is not bytes.
      "{\"op\":\"log\",\"client\":\"c1\",\"level\":30,\"message\":\"caf\xc3\xa9\"}",
      R"({ "op":"uploaded","client":"c1"})",
      R"({"op":"draw","op":"touched","client":"c1"})",
      R"({"op":"sql","client":"c","sql":"x","params":[-9223372036854775809]})",
      R"({"op":"sql","client":"c","sql":"x","params":[{"b64":"AA==","x":1}]})",
  };
  for (const auto& line : lines) {
    EXPECT_FALSE(parse_host_message_fast(line)) << line;
    const HostMessage m = parse_host_message(line);
    const auto tree = nlohmann::json::parse(line);
    EXPECT_EQ(m.tree, tree) << line;
    EXPECT_EQ(m.op, tree.value("op", "")) << line;
    EXPECT_EQ(m.client, tree.value("client", "")) << line;
  }
}

TEST(JsRealHostMessage, BadLinesFailAsParseFails) {
  // A lone surrogate: JSON.stringify escapes it, parse() refuses it (the fast path gives up).
  for (const std::string line : {R"({"op":"sql",)", R"({"op":01})", "", R"({"op":"x"} x)",
                                 R"({"op":"log","client":"c","level":30,"message":"\ud800"})"}) {
    EXPECT_THROW(parse_host_message(line), nlohmann::json::parse_error) << line;
  }
}

TEST(JsRealHostMessage, JsonStringsReadBackAsTheirText) {
  const std::vector<std::string> texts = {"",
                                          "plain",
                                          "q\"b\\s/",
                                          "\n\r\t\b\f\x01\x1f\x7f",
                                          "caf\xc3\xa9 \xf0\x9f\x98\x80",
                                          std::string("nul\0x", 5)};
  for (const auto& text : texts) {
    std::string out;
    append_json_string(out, text);
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), text) << out;
  }
  std::string bad;
  EXPECT_THROW(append_json_string(bad, "bad \xff byte"), nlohmann::json::type_error);
}

TEST(JsRealHostMessage, RowsAsTextParseToTheTreesRows) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
  ASSERT_EQ(sqlite3_exec(raw,
                         "CREATE TABLE t(a, b, c, d, \"e\"\"\");"
                         "INSERT INTO t VALUES(1, -2.5, 'x\"\n\xc3\xa9', x'00ff10', NULL);"
                         "INSERT INTO t VALUES(9223372036854775807, 0.1, '', x'', 1e308);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  StatementCache cache(raw);
  for (const std::string sql :
       {"SELECT * FROM t", "SELECT c FROM t", "SELECT d FROM t ORDER BY rowid DESC",
        "SELECT a FROM t", "SELECT * FROM t WHERE a = ?", "UPDATE t SET a = a",
        "SELECT 1; SELECT c FROM t"}) {
    const auto params = nlohmann::json::array({1});
    const auto tree = run_statements(
        raw, sql, sql.find('?') != std::string::npos ? params : nlohmann::json::array(), false,
        &cache, RowsAs::Json);
    const auto text = run_statements(
        raw, sql, sql.find('?') != std::string::npos ? params : nlohmann::json::array(), false,
        &cache, RowsAs::Text);
    EXPECT_TRUE(text.as_text);
    EXPECT_EQ(nlohmann::json::parse(text.columns_text), tree.columns) << sql;
    EXPECT_EQ(nlohmann::json::parse(text.rows_text), tree.rows) << sql;
    EXPECT_EQ(text.first_value, tree.first_value) << sql;
  }
}

}  // namespace
}  // namespace syncsim::engine::js
