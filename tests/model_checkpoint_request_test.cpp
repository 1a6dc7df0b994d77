// Unit tests of the model service's checkpoint requests: checkpoint_request_id decoding
// (docs/protocol.md §3.1.2, docs/cli.md §1) and the POST /sync/checkpoint-request route.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "sim/net.hpp"
#include "tests/support/model_helpers.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kSeconds;
using test_support::first;
using test_support::kMaxId;
using test_support::ServiceWorld;

constexpr int64_t kMaxSafe = 9007199254740991LL;  // 2^53 - 1

const std::string kRangeMessage =
    "Expected checkpoint_request_id between 1 and 9223372036854775807";

std::optional<int64_t> accepted(const json& v) {
  auto r = decode_checkpoint_request_id(v);
  if (const auto* id = std::get_if<int64_t>(&r)) return *id;
  return std::nullopt;
}

std::string problem(const json& v) {
  auto r = decode_checkpoint_request_id(v);
  if (const auto* p = std::get_if<std::string>(&r)) return *p;
  return "";
}

// ---------------------------------------------------------------------------------------
// decode_checkpoint_request_id
// ---------------------------------------------------------------------------------------

TEST(DecodeCheckpointRequestId, AcceptsSafeIntegersAndIntegerStrings) {
  const std::vector<std::pair<json, int64_t>> cases{
      {json::parse("1"), 1},
      {json::parse("1.0"), 1},
      {json::parse("1e3"), 1000},
      {json::parse("1E3"), 1000},
      {json::parse("42"), 42},
      {json::parse("9007199254740991"), kMaxSafe},
      {json(kMaxSafe), kMaxSafe},  // signed integer representation
      {json(static_cast<uint64_t>(kMaxSafe)), kMaxSafe},
      {json(9007199254740990.0), 9007199254740990LL},
      {json("1"), 1},
      {json("007"), 7},
      {json("9007199254740992"), 9007199254740992LL},  // above 2^53: fine as a string
      {json("9223372036854775807"), kMaxId},
      {json("000000000000000000000009223372036854775807"), kMaxId},
  };
  for (const auto& [value, want] : cases) {
    EXPECT_EQ(accepted(value), want) << value.dump() << ": " << problem(value);
  }
}

TEST(DecodeCheckpointRequestId, RejectsOutOfRangeWithTheRangeMessage) {
  const std::vector<json> cases{json::parse("0"),
                                json::parse("-1"),
                                json::parse("-0"),
                                json::parse("-0.0"),
                                json::parse("0.0"),
                                json("0"),
                                json("-1"),
                                json("-0"),
                                json("000"),
                                json("9223372036854775808"),
                                json("18446744073709551616"),
                                json(std::string(45, '7')),
                                json("-9223372036854775808")};
  for (const auto& value : cases) {
    EXPECT_FALSE(accepted(value).has_value()) << value.dump();
    EXPECT_EQ(problem(value), kRangeMessage) << value.dump();
  }
}

TEST(DecodeCheckpointRequestId, RejectsEverythingElseWithAMessage) {
  const std::vector<json> cases{json::parse("9007199254740992"),  // 2^53
                                json::parse("9007199254740993"),
                                json::parse("9007199254740992.0"),
                                json::parse("18446744073709551615"),
                                json::parse("18446744073709551616"),  // parsed as a float
                                json::parse("-9007199254740992"),
                                json::parse("1.5"),
                                json::parse("0.5"),
                                json::parse("1e-3"),
                                json(std::numeric_limits<double>::infinity()),
                                json(std::numeric_limits<double>::quiet_NaN()),
                                json("1.5"),
                                json("1e3"),
                                json("abc"),
                                json(""),
                                json("-"),
                                json("+5"),
                                json(" 5"),
                                json("5 "),
                                json("5\n"),
                                json("0x10"),
                                json(true),
                                json(false),
                                json(nullptr),
                                json::object(),
                                json::array(),
                                json::parse("[1]"),
                                json::parse(R"({"id":1})")};
  for (const auto& value : cases) {
    EXPECT_FALSE(accepted(value).has_value()) << value.dump();
    const std::string p = problem(value);
    EXPECT_FALSE(p.empty()) << value.dump();
    EXPECT_NE(p.find("checkpoint_request_id"), std::string::npos) << p;
  }
}

// A reference decoder for strings, written from the rule text: ^-?[0-9]+$, then the
// value must lie in 1..2^63-1.  nullopt + false = format error, nullopt + true = range.
std::pair<std::optional<int64_t>, bool> reference_string(const std::string& s) {
  std::size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) i = 1;
  if (i == s.size()) return {std::nullopt, false};
  for (std::size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return {std::nullopt, false};
  }
  unsigned __int128 v = 0;
  const unsigned __int128 cap = static_cast<unsigned __int128>(1) << 64;
  for (std::size_t j = i; j < s.size(); ++j) {
    v = v * 10 + static_cast<unsigned>(s[j] - '0');
    if (v > cap) v = cap;  // saturate: anything this big is out of range
  }
  if (negative || v == 0 || v > static_cast<unsigned __int128>(kMaxId)) {
    return {std::nullopt, true};
  }
  return {static_cast<int64_t>(v), true};
}

RC_GTEST_PROP(DecodeCheckpointRequestIdProp, StringsMatchTheReference, ()) {
  const std::string alphabet = "-0123456789x. ";
  std::string s;
  switch (*rc::gen::inRange(0, 3)) {
    case 0:
      s = *rc::gen::container<std::string>(rc::gen::elementOf(alphabet));
      break;
    case 1: {
      // Digit strings around the interesting boundaries, with leading zeros and signs.
      const std::vector<uint64_t> bases{0,
                                        1,
                                        static_cast<uint64_t>(kMaxSafe),
                                        static_cast<uint64_t>(kMaxId),
                                        static_cast<uint64_t>(kMaxId) + 1,
                                        std::numeric_limits<uint64_t>::max()};
      const uint64_t base = *rc::gen::elementOf(bases);
      const int64_t delta = *rc::gen::inRange<int64_t>(-3, 4);
      s = std::to_string(base + static_cast<uint64_t>(delta));
      s = std::string(*rc::gen::inRange<std::size_t>(0, 4), '0') + s;
      if (*rc::gen::arbitrary<bool>()) s = "-" + s;
      break;
    }
    default:
      s = std::to_string(*rc::gen::arbitrary<uint64_t>());
      if (*rc::gen::arbitrary<bool>()) s += std::to_string(*rc::gen::arbitrary<uint32_t>());
      break;
  }
  const auto [want, range_error] = reference_string(s);
  const auto got = decode_checkpoint_request_id(json(s));
  if (want) {
    RC_ASSERT(std::holds_alternative<int64_t>(got));
    RC_ASSERT(std::get<int64_t>(got) == *want);
  } else {
    RC_ASSERT(std::holds_alternative<std::string>(got));
    RC_ASSERT((std::get<std::string>(got) == kRangeMessage) == range_error);
  }
}

RC_GTEST_PROP(DecodeCheckpointRequestIdProp, NumbersMustBeSafeIntegersInRange, ()) {
  const int64_t n = *rc::gen::oneOf(rc::gen::arbitrary<int64_t>(), rc::gen::inRange<int64_t>(-5, 6),
                                    rc::gen::inRange<int64_t>(kMaxSafe - 3, kMaxSafe + 4));
  const bool in_range = n >= 1 && n <= kMaxSafe;
  RC_ASSERT(accepted(json(n)) == (in_range ? std::optional<int64_t>(n) : std::nullopt));
  if (n >= 0) {
    const auto u = static_cast<uint64_t>(n);
    RC_ASSERT(accepted(json(u)) == (in_range ? std::optional<int64_t>(n) : std::nullopt));
    RC_ASSERT(accepted(json::parse(std::to_string(u))) ==
              (in_range ? std::optional<int64_t>(n) : std::nullopt));
  }
  // The same value as a JSON float (2^53 and beyond are not safe, even when integral).
  const auto d = static_cast<double>(n);
  const bool float_ok = d >= 1 && d <= static_cast<double>(kMaxSafe);
  RC_ASSERT(accepted(json(d)) ==
            (float_ok ? std::optional<int64_t>(static_cast<int64_t>(d)) : std::nullopt));
  const double frac = d + 0.5;
  if (std::fabs(frac) < 1e15) RC_ASSERT(!accepted(json(frac)).has_value());
}

// ---------------------------------------------------------------------------------------
// The service, reached through handle()
// ---------------------------------------------------------------------------------------

void expect_validation_error(const sim::HttpResponse& r, const std::string& context) {
  EXPECT_EQ(r.status, 400) << context << " -> " << r.body;
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << context << " -> " << r.body;
  ASSERT_TRUE(body.contains("error") && body.at("error").is_object()) << r.body;
  const json& error = body.at("error");
  EXPECT_EQ(error.value("code", ""), "PSYNC_S2001") << context;
  EXPECT_EQ(error.value("status", 0), 400) << context;
  EXPECT_EQ(error.value("description", ""), "Validation failed") << context;
  EXPECT_TRUE(error.contains("details") && error.at("details").is_string()) << context;
  EXPECT_FALSE(body.contains("data")) << context;
}

TEST(CheckpointRequestRoute, InvalidRequestsAre400AndStoreNothing) {
  const std::vector<std::string> bodies{
      R"({"checkpoint_request_id": 5})",                  // missing client_id
      R"({"client_id": 7, "checkpoint_request_id": 5})",  // non-string client_id
      R"({"client_id": null, "checkpoint_request_id": 5})",
      R"({"client_id": ["c1"], "checkpoint_request_id": 5})",
      R"({"client_id": "c1"})",  // missing id
      R"({"client_id": "c1", "checkpoint_request_id": 0})",
      R"({"client_id": "c1", "checkpoint_request_id": -1})",
      R"({"client_id": "c1", "checkpoint_request_id": "0"})",
      R"({"client_id": "c1", "checkpoint_request_id": "-1"})",
      R"({"client_id": "c1", "checkpoint_request_id": "-0"})",
      R"({"client_id": "c1", "checkpoint_request_id": "9223372036854775808"})",
      R"({"client_id": "c1", "checkpoint_request_id": "123456789012345678901234567890123456789012345"})",
      R"({"client_id": "c1", "checkpoint_request_id": 9007199254740992})",
      R"({"client_id": "c1", "checkpoint_request_id": 1.5})",
      R"({"client_id": "c1", "checkpoint_request_id": "1.5"})",
      R"({"client_id": "c1", "checkpoint_request_id": "abc"})",
      R"({"client_id": "c1", "checkpoint_request_id": true})",
      R"({"client_id": "c1", "checkpoint_request_id": null})",
      R"({"client_id": "c1", "checkpoint_request_id": {}})",
      R"({"client_id": "c1", "checkpoint_request_id": 5)",  // truncated JSON
      "not json",
      "",
      "[1, 2]",
      R"("c1")",
  };
  ServiceWorld w;
  w.svc.start();
  const Lsn head = w.svc.source().head();
  for (const auto& body : bodies) {
    expect_validation_error(w.checkpoint_request(body), body);
  }
  EXPECT_TRUE(w.svc.checkpoints().records().empty());
  EXPECT_EQ(w.svc.source().head(), head) << "no marker for a rejected request";
  EXPECT_TRUE(w.svc.source().log().empty());
  EXPECT_EQ(w.svc.metrics().rejected_requests, bodies.size());
  EXPECT_EQ(w.svc.metrics().checkpoint_requests, bodies.size());
  EXPECT_EQ(w.svc.metrics().markers_written, 0u);
}

TEST(CheckpointRequestRoute, GoodRequestStoresTheIdAndForcesAMarker) {
  ServiceWorld w;
  w.svc.start();
  w.loop.run_until(kEpoch + kSeconds);
  const auto r = w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": 5})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"data":{"checkpoint_request_id":"5"}})"));
  const CheckpointRecord* rec = first(w.svc.checkpoints(), "alice/c1");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->id, 5);
  EXPECT_EQ(rec->head, 1) << "the head read before the marker: the end of WAL, past lsn 0";
  EXPECT_FALSE(rec->processed_at_lsn.has_value());
  // Stamped when the upsert executes: up to kUpsertExecutionMax after the request (issue 17).
  EXPECT_GE(rec->requested_at, kEpoch + kSeconds);
  EXPECT_LE(rec->requested_at, kEpoch + kSeconds + model::kUpsertExecutionMax);
  ASSERT_EQ(w.svc.source().log().size(), 1u);
  EXPECT_EQ(w.svc.source().log()[0].kind, CommitKind::Marker);
  EXPECT_EQ(w.svc.metrics().markers_written, 1u);

  // A stale request answers with the stored id; the record is still pending, so the
  // marker is forced again (docs/protocol.md §3.1.7, mongo).
  const auto stale = w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": "3"})");
  EXPECT_EQ(json::parse(stale.body), json::parse(R"({"data":{"checkpoint_request_id":"5"}})"));
  EXPECT_EQ(first(w.svc.checkpoints(), "alice/c1")->id, 5);
  EXPECT_EQ(w.svc.metrics().markers_written, 2u);

  // Replication processes the markers; a duplicate is then answered without a marker.
  w.loop.run_until(kEpoch + 2 * kSeconds);
  ASSERT_TRUE(first(w.svc.checkpoints(), "alice/c1")->processed_at_lsn.has_value());
  const auto dup = w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": "005"})");
  EXPECT_EQ(json::parse(dup.body), json::parse(R"({"data":{"checkpoint_request_id":"5"}})"));
  EXPECT_EQ(w.svc.metrics().markers_written, 2u);
  EXPECT_GE(first(w.svc.checkpoints(), "alice/c1")->requested_at, kEpoch + 2 * kSeconds);
  EXPECT_LE(first(w.svc.checkpoints(), "alice/c1")->requested_at,
            kEpoch + 2 * kSeconds + model::kUpsertExecutionMax);

  // Keys are "<user>/<client_id>".
  const auto big = w.checkpoint_request(
      R"({"client_id": "c1", "checkpoint_request_id": "9223372036854775807"})", "bob");
  EXPECT_EQ(json::parse(big.body),
            json::parse(R"({"data":{"checkpoint_request_id":"9223372036854775807"}})"));
  EXPECT_EQ(w.svc.checkpoints().records().size(), 2u);
  EXPECT_EQ(first(w.svc.checkpoints(), "bob/c1")->id, kMaxId);
  EXPECT_EQ(first(w.svc.checkpoints(), "alice/c1")->id, 5);
}

TEST(CheckpointRequestRoute, UnauthenticatedIs401) {
  ServiceWorld w;
  const auto r =
      w.checkpoint_request(R"({"client_id": "c1", "checkpoint_request_id": 5})", /*subject=*/"");
  EXPECT_EQ(r.status, 401);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "PSYNC_S2101");
  EXPECT_EQ(body["error"]["status"], 401);
  EXPECT_TRUE(w.svc.checkpoints().records().empty());
  EXPECT_EQ(w.svc.source().head(), 0);
}

TEST(CheckpointRequestRoute, ValidationRunsBeforeAuthorisation) {
  ServiceWorld w;
  expect_validation_error(w.checkpoint_request(R"({"client_id": "c1"})", ""), "no subject");
}

TEST(CheckpointRequestRoute, UnknownPathsAre404) {
  ServiceWorld w;
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/sync/nope"},
                                                        {"GET", "/sync/checkpoint-request"},
                                                        {"POST", "/sync/checkpoint-request/"},
                                                        {"POST", "/"}}) {
    const auto r = w.call(method, path, R"({"client_id": "c1", "checkpoint_request_id": 5})");
    EXPECT_EQ(r.status, 404) << method << " " << path;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "PSYNC_S2002");
  }
  EXPECT_TRUE(w.svc.checkpoints().records().empty());
  EXPECT_EQ(w.svc.source().head(), 0);
}

}  // namespace
}  // namespace syncsim::model
