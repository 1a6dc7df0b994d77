// Sync-stream definitions and request resolution (model/stream_definitions, docs/protocol.md
// §3.3.1–3.3.3): examples, the 1000-bucket limit, bad input, and a property that
// check_resolution() accepts every unmutated resolution of random cases and catches each
// StreamMutant.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/stream_definitions.hpp"
#include "sim/prng.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;

StreamConfig example_config() {
  return StreamConfig({
      {"global", true, 3, {}, 1},           // default, unparameterised
      {"lists", false, 1, {"list_id"}, 1},  // parameterised
      {"todos", false, 3, {}, 1},
      {"user_items", true, 2, {}, 3},  // default, fan-out 3
  });
}

StreamRequest request(const json& streams) { return parse_stream_request(streams); }

TEST(StreamDefinitions, DefaultsAndSubscriptionsAsInTheCheckpointLine) {
  auto r = resolve_streams(example_config(), request(json::parse(R"({"include_defaults":true,
      "subscriptions":[{"stream":"lists","parameters":{"list_id":"a"},"override_priority":null},
                       {"stream":"todos","parameters":null,"override_priority":0}]})")));
  ASSERT_FALSE(r.error_code);
  // §3.3.2: every subscribed stream in config order.
  EXPECT_EQ(streams_json(r), json::parse(R"([{"name":"global","is_default":true,"errors":[]},
      {"name":"lists","is_default":false,"errors":[]},{"name":"todos","is_default":false,"errors":[]},
      {"name":"user_items","is_default":true,"errors":[]}])"));
  std::vector<std::string> names;
  for (const auto& b : r.buckets) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"global[]", "user_items[0]", "user_items[1]",
                                             "user_items[2]", "lists[\"a\"]", "todos[]"}));
  EXPECT_EQ(subscriptions_json(r.buckets[0]), json::parse(R"([{"default":0}])"));
  EXPECT_EQ(subscriptions_json(r.buckets[1]), json::parse(R"([{"default":3}])"));
  EXPECT_EQ(subscriptions_json(r.buckets[4]), json::parse(R"([{"sub":0}])"));
  EXPECT_EQ(subscriptions_json(r.buckets[5]), json::parse(R"([{"sub":1}])"));
  EXPECT_EQ(r.buckets[0].priority, 3);  // definition
  EXPECT_EQ(r.buckets[1].priority, 2);
  EXPECT_EQ(r.buckets[4].priority, 1);
  EXPECT_EQ(r.buckets[5].priority, 0);  // override_priority (§3.3.3)
  EXPECT_TRUE(check_resolution(example_config(), request(json::parse(R"({"include_defaults":true,
      "subscriptions":[{"stream":"lists","parameters":{"list_id":"a"},"override_priority":null},
                       {"stream":"todos","parameters":null,"override_priority":0}]})")),
                               r)
                  .empty());
}

TEST(StreamDefinitions, IncludeDefaultsFalseDropsDefaultStreams) {
  auto req = request(json::parse(
      R"({"include_defaults":false,"subscriptions":[{"stream":"todos","parameters":null,"override_priority":null}]})"));
  auto r = resolve_streams(example_config(), req);
  EXPECT_EQ(streams_json(r), json::parse(R"([{"name":"todos","is_default":false,"errors":[]}])"));
  ASSERT_EQ(r.buckets.size(), 1u);
  EXPECT_EQ(r.buckets[0].name, "todos[]");
  // An absent `streams` is the default request: defaults only.
  auto d = resolve_streams(example_config(), request(nullptr));
  EXPECT_EQ(d.streams.size(), 2u);
  EXPECT_EQ(d.buckets.size(), 4u);
}

// §3.3.3: a resolution error is reported on its stream and does not fail the connection;
// the bad subscription contributes no buckets, the good one beside it does.
TEST(StreamDefinitions, BadParametersAreAPerStreamError) {
  auto req = request(json::parse(R"({"include_defaults":false,"subscriptions":[
      {"stream":"lists","parameters":null,"override_priority":null},
      {"stream":"lists","parameters":{"list_id":{"nested":1}},"override_priority":null},
      {"stream":"lists","parameters":{"list_id":7},"override_priority":null}]})"));
  auto r = resolve_streams(example_config(), req);
  ASSERT_FALSE(r.error_code);
  EXPECT_EQ(streams_json(r), json::parse(R"([{"name":"lists","is_default":false,"errors":[
      {"subscription":0,"message":"missing parameter 'list_id'"},
      {"subscription":1,"message":"parameter 'list_id' must be a string or an integer, got {\"nested\":1}"}]}])"));
  ASSERT_EQ(r.buckets.size(), 1u);
  EXPECT_EQ(r.buckets[0].name, "lists[7]");
  EXPECT_EQ(subscriptions_json(r.buckets[0]), json::parse(R"([{"sub":2}])"));
  EXPECT_TRUE(check_resolution(example_config(), req, r).empty());
}

// Two reasons for one bucket are both listed (§3.3.2 `subscriptions` is a list).
TEST(StreamDefinitions, SharedBucketListsEveryReason) {
  auto req = request(json::parse(R"({"subscriptions":[
      {"stream":"global","parameters":null,"override_priority":1},
      {"stream":"lists","parameters":{"list_id":"a"},"override_priority":null},
      {"stream":"lists","parameters":{"list_id":"a"},"override_priority":null}]})"));
  auto r = resolve_streams(example_config(), req);
  EXPECT_EQ(r.buckets[0].name, "global[]");
  EXPECT_EQ(subscriptions_json(r.buckets[0]), json::parse(R"([{"default":0},{"sub":0}])"));
  EXPECT_EQ(r.buckets[0].priority, 1);
  const auto& lists = r.buckets.back();
  EXPECT_EQ(lists.name, "lists[\"a\"]");
  EXPECT_EQ(subscriptions_json(lists), json::parse(R"([{"sub":1},{"sub":2}])"));
  EXPECT_TRUE(check_resolution(example_config(), req, r).empty());
}

// §3.3.1: more than 1000 buckets fail the request (PSYNC_S2305); exactly 1000 is fine.
TEST(StreamDefinitions, ThousandBucketLimit) {
  StreamConfig config({{"wide", true, 3, {}, 999}, {"one", false, 3, {"id"}, 1}});
  json subs = json::array();
  subs.push_back({{"stream", "one"}, {"parameters", {{"id", 1}}}, {"override_priority", nullptr}});
  auto at_limit = resolve_streams(config, request({{"subscriptions", subs}}));
  EXPECT_FALSE(at_limit.error_code);
  EXPECT_EQ(at_limit.buckets.size(), 1000u);
  subs.push_back({{"stream", "one"}, {"parameters", {{"id", 2}}}, {"override_priority", nullptr}});
  auto over = resolve_streams(config, request({{"subscriptions", subs}}));
  ASSERT_TRUE(over.error_code);
  EXPECT_EQ(*over.error_code, "PSYNC_S2305");
  EXPECT_EQ(over.error_message, "Too many buckets: 1001 (limit 1000)");
  EXPECT_TRUE(over.buckets.empty());
  // A duplicate subscription adds no bucket, so it does not count twice.
  subs.back()["parameters"]["id"] = 1;
  EXPECT_FALSE(resolve_streams(config, request({{"subscriptions", subs}})).error_code);
}

TEST(StreamDefinitions, BadRequestsAndConfigsAreRejectedWithTheField) {
  auto message = [](const json& streams) {
    try {
      parse_stream_request(streams);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message(json::array()), "streams: expected an object, got []");
  EXPECT_EQ(message({{"include_defaults", 1}, {"subscriptions", json::array()}}),
            "streams.include_defaults: expected true or false, got 1");
  EXPECT_EQ(message({{"include_defaults", true}}), "streams.subscriptions: required (an array)");
  EXPECT_EQ(message(json::parse(
                R"({"subscriptions":[{"stream":"a","parameters":null,"override_priority":4}]})")),
            "streams.subscriptions[0].override_priority: expected 0..3 or null, got 4");
  EXPECT_EQ(message(json::parse(
                R"({"subscriptions":[{"stream":"a","parameters":[1],"override_priority":null}]})")),
            "streams.subscriptions[0].parameters: expected an object or null, got [1]");
  EXPECT_EQ(
      message(json::parse(R"({"subscriptions":[{"parameters":null,"override_priority":null}]})")),
      "streams.subscriptions[0].stream: expected a stream name, got nothing");
  EXPECT_EQ(message(json::parse(R"({"subscriptions":[],"bogus":1})")),
            "streams.bogus: unknown field (allowed: include_defaults, subscriptions)");
  EXPECT_THROW(
      resolve_streams(example_config(), request(json::parse(R"({"subscriptions":[{"stream":"nope",
                                   "parameters":null,"override_priority":null}]})"))),
      std::invalid_argument);
  EXPECT_THROW(StreamConfig({{"a", false, 4, {}, 1}}), std::invalid_argument);
  EXPECT_THROW(StreamConfig({{"a", false, 3, {}, 1}, {"a", true, 3, {}, 1}}),
               std::invalid_argument);
  EXPECT_THROW(StreamConfig({{"a", true, 3, {"id"}, 1}}), std::invalid_argument);
  EXPECT_THROW(StreamConfig({{"a", false, 3, {}, 0}}), std::invalid_argument);
}

// ---- the checker against random configs and requests, with and without mutants --------

struct Case {
  std::vector<StreamDefinition> defs;
  StreamRequest request;
};

// A random config and request from a seeded PRNG (deterministic, sim/prng.hpp).
Case random_case(uint64_t seed) {
  sim::Prng rng(seed);
  auto pick = [&](int lo, int hi) { return static_cast<int>(rng.range(lo, hi)); };  // [lo, hi]
  Case c;
  const int n = pick(1, 5);
  for (int i = 0; i < n; ++i) {
    StreamDefinition d;
    d.name = "s" + std::to_string(i);
    d.is_default = rng.percent(50);
    d.priority = pick(0, 3);
    if (!d.is_default && rng.percent(50)) d.parameters = {"id"};
    d.fan_out = pick(1, 3);
    c.defs.push_back(d);
  }
  c.request.include_defaults = rng.percent(50);
  const int subs = pick(0, 7);
  for (int k = 0; k < subs; ++k) {
    StreamSubscription s;
    s.stream = "s" + std::to_string(pick(0, n - 1));
    switch (pick(0, 3)) {
      case 0:
        s.parameters = nullptr;
        break;
      case 1:
        s.parameters = {{"id", pick(0, 2)}};
        break;
      case 2:
        s.parameters = {{"id", json::array()}};
        break;  // bad value
      default:
        s.parameters = {{"other", 1}};
        break;  // missing id
    }
    if (rng.percent(50)) s.override_priority = pick(0, 3);
    c.request.subscriptions.push_back(s);
  }
  return c;
}

constexpr int kCases = 500;

TEST(StreamDefinitionsProperty, CheckerAcceptsEveryUnmutatedResolution) {
  int with_errors = 0;
  int with_shared_buckets = 0;
  for (int seed = 0; seed < kCases; ++seed) {
    Case c = random_case(static_cast<uint64_t>(seed));
    StreamConfig config(c.defs);
    auto r = resolve_streams(config, c.request);
    auto violations = check_resolution(config, c.request, r);
    ASSERT_TRUE(violations.empty()) << "case " << seed << ": " << violations.front();
    for (const auto& s : r.streams) with_errors += s.errors.empty() ? 0 : 1;
    for (const auto& b : r.buckets) with_shared_buckets += b.reasons.size() > 1 ? 1 : 0;
  }
  // Not vacuous: the generator reaches errors and shared buckets.
  EXPECT_GT(with_errors, kCases / 10);
  EXPECT_GT(with_shared_buckets, kCases / 10);
}

// Each mutant is caught: some generated case makes the checker report a violation.
bool caught(StreamMutant m) {
  for (int seed = 0; seed < kCases; ++seed) {
    Case c = random_case(static_cast<uint64_t>(seed));
    StreamConfig config(c.defs);
    auto violations = check_resolution(config, c.request, resolve_streams(config, c.request, {m}));
    if (!violations.empty()) {
      std::cout << "  mutant caught at case " << seed << ": " << violations.front() << "\n";
      return true;
    }
  }
  return false;
}

TEST(StreamDefinitionsMutants, ErroredSubscriptionKeepsBucketsIsCaught) {
  EXPECT_TRUE(caught(StreamMutant::ErroredSubscriptionKeepsBuckets));
}
TEST(StreamDefinitionsMutants, IgnoreOverridePriorityIsCaught) {
  EXPECT_TRUE(caught(StreamMutant::IgnoreOverridePriority));
}
TEST(StreamDefinitionsMutants, DefaultsDespiteOptOutIsCaught) {
  EXPECT_TRUE(caught(StreamMutant::DefaultsDespiteOptOut));
}

}  // namespace
}  // namespace syncsim::model
