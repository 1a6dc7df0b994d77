// Issue 20 (perf14): the BSON sync-line writer (model/line_bson.hpp) must give exactly
// nlohmann::json::to_bson()'s bytes, and the BSON-to-text reader (engine/bson_text.hpp) exactly
// from_bson(...).dump()'s text -- or decline, so that sync_line_text falls back to them.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/bson_text.hpp"
#include "engine/sync_line.hpp"
#include "engine/sync_line_peek.hpp"
#include "model/line_bson.hpp"
#include "scenarios/world/sync_lines.hpp"
#include "sim/prng.hpp"

namespace syncsim {
namespace {

using nlohmann::json;

std::string bson(const json& j) {
  const std::vector<std::uint8_t> b = json::to_bson(j);
  return {b.begin(), b.end()};
}

TEST(LineBson, WritesToBsonsBytes) {
  model::LineBson w;
  w.object().key("checkpoint_diff").object().key("last_op_id").str("12");
  w.key("removed_buckets").array().str("a").str("quote\"d").end_array();
  w.key("updated_buckets").array();
  w.object().key("bucket").str("global[]").key("checksum").num(-5).key("count").num(3);
  w.key("subscriptions").tree(json::array({{{"default", 0}}})).end_object();
  w.object().key("bucket").str("ünï\n").key("flag").boolean(false).key("on").boolean(true);
  w.key("streams").tree(json{{"x", 1.5}, {"y", nullptr}}).end_object();
  w.object().end_object();
  w.end_array().end_object().end_object();
  const json tree = {{"checkpoint_diff",
                      {{"last_op_id", "12"},
                       {"removed_buckets", {"a", "quote\"d"}},
                       {"updated_buckets",
                        {{{"bucket", "global[]"},
                          {"checksum", -5},
                          {"count", 3},
                          {"subscriptions", json::array({{{"default", 0}}})}},
                         {{"bucket", "ünï\n"},
                          {"flag", false},
                          {"on", true},
                          {"streams", {{"x", 1.5}, {"y", nullptr}}}},
                         json::object()}}}}};
  EXPECT_EQ(w.take(), bson(tree));
}

TEST(LineBson, IntegersTakeToBsonsWidth) {
  // to_bson: int32 when the value fits, int64 otherwise, for signed and unsigned values.
  const int64_t values[] = {0,
                            -1,
                            std::numeric_limits<int32_t>::max(),
                            int64_t{std::numeric_limits<int32_t>::max()} + 1,
                            std::numeric_limits<int32_t>::min(),
                            int64_t{std::numeric_limits<int32_t>::min()} - 1,
                            std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min()};
  for (const int64_t v : values) {
    model::LineBson w;
    w.object().key("n").num(v).end_object();
    EXPECT_EQ(w.take(), bson(json{{"n", v}})) << v;
  }
  const uint32_t checksum = 4'000'000'000u;  // an op checksum, unsigned in the tree
  model::LineBson w;
  w.object().key("checksum").num(checksum).end_object();
  EXPECT_EQ(w.take(), bson(json{{"checksum", checksum}}));
}

// A random tree of what sync lines hold (and sometimes more), keys from a small alphabet.
json random_tree(sim::Prng& rng, int depth) {
  const uint64_t kind = rng.uniform(depth > 3 ? 6 : 8);
  static const char* const kStrings[] = {"", "a", "op_id", "12", "x/y", "q\"\\", "tab\t", "é"};
  switch (kind) {
    case 0:
      return static_cast<int64_t>(rng.next()) >> rng.uniform(64);
    case 1:
      return static_cast<int32_t>(rng.next());
    case 2:
      return kStrings[rng.uniform(8)];
    case 3:
      return rng.uniform(2) == 1;
    case 4:
      return nullptr;
    case 5:
      return rng.uniform(8) == 0 ? json(0.25) : json(static_cast<uint32_t>(rng.next()));
    case 6: {
      json a = json::array();
      for (uint64_t i = rng.uniform(4); i > 0; --i) a.push_back(random_tree(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (uint64_t i = rng.uniform(5); i > 0; --i) {
        o[kStrings[rng.uniform(8)]] = random_tree(rng, depth + 1);
      }
      return o;
    }
  }
}

TEST(BsonText, GivesDumpsTextOrDeclines) {
  sim::Prng rng(20);
  int fast = 0;
  int declined = 0;
  for (int i = 0; i < 3000; ++i) {
    json doc = json::object();
    for (uint64_t k = rng.uniform(4); k > 0; --k)
      doc["k" + std::to_string(k)] = random_tree(rng, 0);
    const std::string bytes = bson(doc);
    std::string text;
    if (engine::bson_to_json_text(bytes, text)) {
      ++fast;
      EXPECT_EQ(text, doc.dump());
    } else {
      ++declined;
    }
    EXPECT_EQ(engine::sync_line_text("line_binary", bytes), doc.dump());
  }
  // Both paths taken (doubles, escapes and UTF-8 decline).
  EXPECT_GT(fast, 500);
  EXPECT_GT(declined, 500);
}

TEST(BsonText, DeclinesWhatDumpWouldWriteDifferently) {
  std::string text;
  // Keys out of order (dump() sorts them), and a duplicate key (the tree keeps one).
  model::LineBson unsorted;
  unsorted.object().key("b").num(1).key("a").num(2).end_object();
  const std::string unsorted_bytes = unsorted.take();
  EXPECT_FALSE(engine::bson_to_json_text(unsorted_bytes, text));
  EXPECT_EQ(engine::sync_line_text("line_binary", unsorted_bytes), R"({"a":2,"b":1})");
  model::LineBson dup;
  dup.object().key("a").num(1).key("a").num(2).end_object();
  EXPECT_FALSE(engine::bson_to_json_text(dup.take(), text));
  // A quote and a backslash are escaped as dump() does; control characters, UTF-8 and doubles
  // are declined.
  const json quotes = {{"data", R"({"description":"a\\b"})"}, {"k\"", 1}};
  ASSERT_TRUE(engine::bson_to_json_text(bson(quotes), text));
  EXPECT_EQ(text, quotes.dump());
  EXPECT_FALSE(engine::bson_to_json_text(bson({{"s", "a\nb"}}), text));
  EXPECT_FALSE(engine::bson_to_json_text(bson({{"s\t", 1}}), text));
  EXPECT_FALSE(engine::bson_to_json_text(bson({{"s", "ü"}}), text));
  EXPECT_FALSE(engine::bson_to_json_text(bson({{"d", 1.0}}), text));
  // Malformed: trailing bytes, truncated, a string without its terminator, a boolean byte 2.
  const std::string good = bson({{"a", "xy"}, {"b", true}});
  ASSERT_TRUE(engine::bson_to_json_text(good, text));
  EXPECT_EQ(text, R"({"a":"xy","b":true})");
  EXPECT_FALSE(engine::bson_to_json_text(good + '\0', text));
  EXPECT_EQ(engine::sync_line_text("line_binary", good + '\0'), std::nullopt);
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(engine::bson_to_json_text(good.substr(0, n), text)) << n;
    EXPECT_EQ(engine::sync_line_text("line_binary", good.substr(0, n)), std::nullopt) << n;
  }
  std::string unterminated = good;
  unterminated[good.find("xy") + 2] = 'z';
  EXPECT_FALSE(engine::bson_to_json_text(unterminated, text));
  std::string two = good;
  two[good.size() - 2] = '\x02';
  EXPECT_FALSE(engine::bson_to_json_text(two, text));
  EXPECT_EQ(engine::sync_line_text("line_binary", two),
            json::from_bson(two.begin(), two.end()).dump());
}

// sync_line_key and bson_line_write_checkpoint (issue 20): what they give is what the line's text
// shows (its first key; write_checkpoint_of's answer), and they decline the rest.
TEST(SyncLineKey, GivesTheTextsKeyAndWriteCheckpointOrDeclines) {
  sim::Prng rng(22);
  static const char* const kKeys[] = {"checkpoint",
                                      "checkpoint_diff",
                                      "checkpoint_complete",
                                      "data",
                                      "partial_checkpoint_complete",
                                      "token_expires_in",
                                      "Key",
                                      "k\"q"};
  int keyed = 0;
  int declined = 0;
  int peeked = 0;
  int peek_declined = 0;
  int with_checkpoint = 0;
  for (int i = 0; i < 4000; ++i) {
    json inner = random_tree(rng, 1);
    if (rng.uniform(4) != 0) {  // mostly an object, as a line's value is
      inner = json::object();
      for (const char* k : {"buckets", "last_op_id", "removed_buckets"}) {
        if (rng.uniform(2) == 1) inner[k] = random_tree(rng, 2);
      }
    }
    if (inner.is_object() && rng.uniform(2) == 1) {
      switch (rng.uniform(8)) {
        case 0:
          inner["write_checkpoint"] = std::to_string(rng.uniform(1000));
          break;
        case 1:
          inner["write_checkpoint"] = " 7x";
          break;
        case 2:
          inner["write_checkpoint"] = "\"12";
          break;
        case 3:
          inner["write_checkpoint"] = static_cast<int64_t>(rng.uniform(5)) - 2;
          break;
        case 4:
          inner["write_checkpoint"] = nullptr;
          break;
        case 5:
          inner["write_checkpoint"] = 2.5;
          break;
        case 6:
          inner["nested"] = {{"write_checkpoint", "5"}};
          break;
        default:
          inner["write_checkpoint"] = json::array({"3"});
          break;
      }
    }
    json line = {{kKeys[rng.uniform(8)], inner}};
    if (rng.uniform(6) == 0) line["zz"] = 1;  // two keys: the binary key declines
    // An optional, as the client holds a payload: the key is a view into it.
    const std::optional<std::string> payload = bson(line);
    const std::string& bytes = *payload;
    const auto text = engine::sync_line_text("line_binary", payload);
    ASSERT_TRUE(text.has_value());
    const auto key = engine::sync_line_key("line_binary", payload);
    // Given for one plain key whose value is a document, an array, a string or an integer.
    const std::string first = line.begin().key();
    const bool plain = first != "Key" && first != "k\"q";
    EXPECT_EQ(key.has_value(), line.size() == 1 && plain && !inner.is_boolean() &&
                                   !inner.is_null() && !inner.is_number_float())
        << *text;
    if (key) {
      ++keyed;
      EXPECT_TRUE(text->starts_with("{\"" + std::string(*key) + "\":")) << *text;
      EXPECT_EQ(engine::sync_line_key("line_text", text), key);
      const auto wc = engine::bson_line_write_checkpoint(bytes);
      if (wc) {
        ++peeked;
        if (*wc) ++with_checkpoint;
        EXPECT_EQ(*wc, scenarios::write_checkpoint_of(*text)) << *text;
      } else {
        ++peek_declined;
      }
    } else {
      ++declined;
    }
  }
  // Every path taken.
  EXPECT_GT(keyed, 1000);
  EXPECT_GT(declined, 500);
  EXPECT_GT(peeked, 1000);
  EXPECT_GT(peek_declined, 100);
  EXPECT_GT(with_checkpoint, 100);
  // Not a line, and malformed documents.
  // (Named payloads: the key is a view into one, so a temporary does not compile.)
  const std::optional<std::string> start_payload = "{}";
  const std::optional<std::string> no_payload;
  EXPECT_EQ(engine::sync_line_key("start", start_payload), std::nullopt);
  EXPECT_EQ(engine::sync_line_key("line_binary", no_payload), std::nullopt);
  const std::string good = bson({{"checkpoint", {{"write_checkpoint", "9"}}}});
  auto key_of = [](const std::string& bytes) {
    const std::optional<std::string> payload = bytes;
    return engine::sync_line_key("line_binary", payload).has_value();
  };
  EXPECT_TRUE(key_of(good));
  EXPECT_EQ(engine::bson_line_write_checkpoint(good), std::optional<int64_t>(9));
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(key_of(good.substr(0, n))) << n;
  EXPECT_FALSE(key_of(good + '\0'));
  std::string inner_short = good;
  inner_short[good.find("checkpoint") + 11] = '\x05';  // the inner document's size
  EXPECT_FALSE(key_of(inner_short));
  EXPECT_EQ(engine::bson_line_write_checkpoint(inner_short), std::nullopt);
}

}  // namespace
}  // namespace syncsim
