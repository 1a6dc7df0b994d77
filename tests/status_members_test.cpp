// Issue 20 (perf23, docs/performance-framework-6.md): what the reply's parse notes of a kept
// status (engine/control_reply.hpp's KeptStatusMembers) is what a scan of the status finds
// (engine/status_text.hpp's raw_members); raw_request_id is parse_id's value wherever it gives
// one; the shared number readers (engine/wire_numbers.hpp) read what they always read.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/control_reply.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "engine/status_text.hpp"
#include "engine/wire_numbers.hpp"

namespace syncsim {
namespace {

using Flag = engine::KeptStatusMembers::Flag;
constexpr std::string_view kIdKey = "internal_last_applied_checkpoint_request_id";

// A canonical JSON value; objects may hold the three keys too, where they are not the status's.
std::string random_value(std::mt19937_64& rng, int depth) {
  const char* keys[] = {"connected", "connecting", "internal_last_applied_checkpoint_request_id",
                        "x", "priority"};
  switch (rng() % (depth > 2 ? 6 : 8)) {
    case 0:
      return "true";
    case 1:
      return "false";
    case 2:
      return "null";
    case 3:
      return std::to_string(static_cast<int64_t>(rng() % 2000) - 1000);
    case 4:
      return "\"" + std::to_string(rng() % 100000) + "\"";
    case 5:
      return "\"a b\"";
    case 6: {
      std::string out = "[";
      for (std::size_t i = 0, n = rng() % 3; i < n; ++i) {
        out += (i ? "," : "") + random_value(rng, depth + 1);
      }
      return out + "]";
    }
    default: {
      std::string out = "{";
      std::vector<std::string> used;
      for (std::size_t i = 0, n = rng() % 4; i < n; ++i) {
        const std::string key = keys[rng() % 5];
        if (std::find(used.begin(), used.end(), key) != used.end()) continue;  // canonical
        used.push_back(key);
        out += (out.size() > 1 ? "," : "") + ("\"" + key + "\":") + random_value(rng, depth + 1);
      }
      return out + "}";
    }
  }
}

Flag flag_of(const std::optional<std::string_view>& text) {
  if (!text) return Flag::Absent;
  if (*text == "true") return Flag::True;
  if (*text == "false") return Flag::False;
  return Flag::Other;
}

TEST(KeptStatusMembers, AreWhatAScanOfTheStatusFinds) {
  std::mt19937_64 rng(2311);
  int with_id = 0;
  int flags_seen[4] = {};
  for (int round = 0; round < 3000; ++round) {
    // The status: each key at most once, in a random order, with a random value.
    std::vector<std::string> keys = {"connected", "connecting", std::string(kIdKey), "x",
                                     "downloading"};
    std::shuffle(keys.begin(), keys.end(), rng);
    std::string status = "{";
    for (const auto& key : keys) {
      if (rng() % 3 == 0) continue;
      status += (status.size() > 1 ? "," : "") + ("\"" + key + "\":") + random_value(rng, 1);
    }
    status += "}";
    const std::string reply = R"([{"UpdateSyncStatus":{"status":)" + status + "}}]";
    auto got = engine::parse_control_reply(reply, engine::RawStatus::Keep);
    ASSERT_EQ(got.size(), 1U);
    const auto& value = got[0]["UpdateSyncStatus"]["status"];
    ASSERT_TRUE(value.is_binary()) << status;
    ASSERT_TRUE(value.get_binary().has_subtype()) << status;
    const auto members = engine::KeptStatusMembers::unpacked(value.get_binary().subtype());
    const auto scanned =
        engine::raw_members<3>(status, {"connected", "connecting", std::string_view(kIdKey)});
    EXPECT_EQ(members.connected, flag_of(scanned[0])) << status;
    EXPECT_EQ(members.connecting, flag_of(scanned[1])) << status;
    ++flags_seen[static_cast<int>(members.connected)];
    ASSERT_EQ(members.has_id, scanned[2].has_value()) << status;
    if (members.has_id) {
      ++with_id;
      EXPECT_EQ(std::string_view(status).substr(members.id_offset, members.id_size), *scanned[2])
          << status;
    }
  }
  // Every path was taken.
  EXPECT_GT(with_id, 100);
  for (const int n : flags_seen) EXPECT_GT(n, 50);
}

TEST(KeptStatusMembers, PackingKeepsEveryField) {
  engine::KeptStatusMembers m;
  m.connected = Flag::Other;
  m.connecting = Flag::True;
  m.has_id = true;
  m.id_offset = 0xFFFFFFFFU;
  m.id_size = static_cast<uint32_t>(engine::KeptStatusMembers::kMaxIdSize);
  const auto back = engine::KeptStatusMembers::unpacked(m.packed());
  EXPECT_EQ(back.connected, m.connected);
  EXPECT_EQ(back.connecting, m.connecting);
  EXPECT_EQ(back.has_id, m.has_id);
  EXPECT_EQ(back.id_offset, m.id_offset);
  EXPECT_EQ(back.id_size, m.id_size);
  EXPECT_FALSE(engine::KeptStatusMembers::unpacked(0).has_id);
}

TEST(RawRequestId, IsParseIdsValueWhereItGivesOne) {
  const std::vector<std::string> taken = {"null",
                                          "0",
                                          "7",
                                          "-7",
                                          "123456789012345678",
                                          "-123456789012345678",
                                          "\"7\"",
                                          "\"007\"",
                                          "\"123456789012345678\"",
                                          "\"0\""};
  const std::vector<std::string> declined = {"1.5",
                                             "\"\"",
                                             "\"-7\"",
                                             "\"+7\"",
                                             "\" 7\"",
                                             "\"7x\"",
                                             "1234567890123456789",
                                             "\"1234567890123456789\"",
                                             "true",
                                             "{}",
                                             "[]",
                                             "-",
                                             "\"a\""};
  for (const auto& text : taken) {
    const auto got = engine::raw_request_id(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, engine::shim_detail::parse_id(nlohmann::json::parse(text))) << text;
  }
  for (const auto& text : declined) EXPECT_EQ(engine::raw_request_id(text), std::nullopt) << text;
  std::mt19937_64 rng(23);
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = static_cast<int64_t>(rng() % 2000000000000000000ULL) - 1000000000000000000LL;
    const std::string text =
        rng() % 2 ? std::to_string(v) : "\"" + std::to_string(v < 0 ? -v : v) + "\"";
    const auto got = engine::raw_request_id(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, engine::shim_detail::parse_id(nlohmann::json::parse(text))) << text;
  }
}

TEST(WireNumbers, ReadLittleEndianIntegersAndLeadingDigits) {
  const std::string bytes("\xfe\xff\xff\xff\x01\x02\x03\x04\x05\x06\x07\x88", 12);
  EXPECT_EQ(engine::little_endian_at<int32_t>(bytes, 0), -2);
  EXPECT_EQ(engine::little_endian_at<uint32_t>(bytes, 0), 0xFFFFFFFEU);
  EXPECT_EQ(engine::little_endian_at<uint32_t>(bytes, 4), 0x04030201U);
  EXPECT_EQ(engine::little_endian_at<int64_t>(bytes, 4),
            static_cast<int64_t>(0x8807060504030201ULL));
  EXPECT_EQ(engine::leading_digits("\" 42\"}", "\" "), 42);
  EXPECT_EQ(engine::leading_digits(" 42", " "), 42);
  EXPECT_EQ(engine::leading_digits("\"42", " "), std::nullopt);  // a quote is not skipped here
  EXPECT_EQ(engine::leading_digits("x42", "\" "), std::nullopt);
  EXPECT_EQ(engine::leading_digits("", " "), std::nullopt);
  EXPECT_EQ(engine::leading_digits("0012a", ""), 12);
}

}  // namespace
}  // namespace syncsim
