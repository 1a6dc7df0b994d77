// Unit tests of sync streams (issue 7, docs/protocol.md §3.3.1-3.3.3) as Service::open_stream
// serves them: checkpoint lines with `streams` and per-bucket subscriptions, defaults, removed
// subscriptions and the bucket limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/service.hpp"
#include "model/sync_stream.hpp"
#include "tests/support/sync_stream_worlds.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kSeconds;
using test_support::brief;
using test_support::Briefs;
using test_support::RecordingStream;
using test_support::request;
using test_support::ServiceStreamWorld;

// ---------------------------------------------------------------------------------------
// Sync streams (issue 7, docs/protocol.md §3.3.1–3.3.3)
// ---------------------------------------------------------------------------------------

ServiceConfig stream_config(std::vector<ServiceMutant> mutants = {}) {
  ServiceConfig c;
  c.stream_batch_delay = 0;
  c.mutants = std::move(mutants);
  c.streams.emplace(
      std::vector<StreamDefinition>{{"lists", false, 2, {"id"}, 1}, {"board", true, 1, {}, 1}});
  return c;
}

std::shared_ptr<RecordingStream> open_with(ServiceStreamWorld& w, const json& streams,
                                           int expect_status = 200) {
  auto stream = std::make_shared<RecordingStream>(w.loop, false);
  sim::HttpRequest r;
  r.method = "POST";
  r.path = "/sync/stream";
  r.subject = "alice";
  json body{{"client_id", "c1"}};
  if (!streams.is_null()) body["streams"] = streams;
  r.body = body.dump();
  EXPECT_EQ(w.svc.open_stream(r, stream).status, expect_status);
  return stream;
}

json bucket_entry(const json& checkpoint, const std::string& name) {
  for (const auto& b : checkpoint.at("buckets")) {
    if (b.at("bucket") == name) return b;
  }
  return json();
}

TEST(SyncStreams, CheckpointLinesCarryStreamsAndPerBucketSubscriptions) {
  ServiceStreamWorld w(stream_config());
  w.run_until(kEpoch + kSeconds);
  const json request = {
      {"include_defaults", true},
      {"subscriptions",
       {{{"stream", "lists"}, {"parameters", {{"id", "a"}}}, {"override_priority", 0}},
        {{"stream", "lists"}, {"parameters", {{"wrong", "x"}}}, {"override_priority", nullptr}},
        {{"stream", "lists"}, {"parameters", {{"id", "b"}}}, {"override_priority", nullptr}}}}};
  auto stream = open_with(w, request);
  w.run_until(w.loop.now() + kSeconds);
  ASSERT_FALSE(stream->raw.empty());
  const json cp = stream->line(0).at("checkpoint");
  // §3.3.2: streams in config order, the legacy definitions first as default streams; the
  // bad subscription (index 1) is an error of its stream, not of the connection (§3.3.3).
  ASSERT_EQ(cp.at("streams").size(), 4u) << cp.dump();
  EXPECT_EQ(cp["streams"][0],
            (json{{"name", "global"}, {"is_default", true}, {"errors", json::array()}}));
  EXPECT_EQ(cp["streams"][1]["name"], "notes");
  EXPECT_EQ(
      cp["streams"][2],
      (json{{"name", "lists"},
            {"is_default", false},
            {"errors",
             {{{"subscription", 1}, {"message", cp["streams"][2]["errors"][0]["message"]}}}}}));
  EXPECT_EQ(cp["streams"][3],
            (json{{"name", "board"}, {"is_default", true}, {"errors", json::array()}}));
  EXPECT_EQ(bucket_entry(cp, "global[]").at("subscriptions"), json::parse(R"([{"default":0}])"));
  EXPECT_EQ(bucket_entry(cp, "board[]").at("subscriptions"), json::parse(R"([{"default":3}])"));
  EXPECT_EQ(bucket_entry(cp, "board[]").at("priority"), 1);
  // override_priority 0 (§3.3.3 step 2) vs the definition's 2.
  EXPECT_EQ(bucket_entry(cp, R"(lists["a"])").at("subscriptions"), json::parse(R"([{"sub":0}])"));
  EXPECT_EQ(bucket_entry(cp, R"(lists["a"])").at("priority"), 0);
  EXPECT_EQ(bucket_entry(cp, R"(lists["b"])").at("subscriptions"), json::parse(R"([{"sub":2}])"));
  EXPECT_EQ(bucket_entry(cp, R"(lists["b"])").at("priority"), 2);
  EXPECT_EQ(cp.at("buckets").size(), 5u) << "global, notes, board, lists a, lists b";
  // Priority groups: 0 (lists a), 1 (board), 2 (lists b), 3 (global, notes).
  Briefs got;
  for (std::size_t i = 1; i < stream->raw.size(); ++i) got.push_back(brief(stream->line(i)));
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:0"), got.end())
      << ::testing::PrintToString(got);
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:1"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:2"), got.end());
}

TEST(SyncStreams, IncludeDefaultsFalseDropsTheDefaultStreamAndAbsentStreamsMeansDefaults) {
  ServiceStreamWorld w(stream_config());
  w.run_until(kEpoch + kSeconds);
  auto off = open_with(w, {{"include_defaults", false}, {"subscriptions", json::array()}});
  auto absent = open_with(w, json());
  w.run_until(w.loop.now() + kSeconds);
  const json a = off->line(0).at("checkpoint"), b = absent->line(0).at("checkpoint");
  EXPECT_TRUE(bucket_entry(a, "board[]").is_null()) << a.dump();
  EXPECT_FALSE(bucket_entry(b, "board[]").is_null()) << b.dump();
  EXPECT_FALSE(bucket_entry(a, "global[]").is_null()) << "legacy definitions are kept";
}

TEST(SyncStreams, ItemsRowsGoToTheirStreamBucket) {
  const StreamConfig config(
      std::vector<StreamDefinition>{{"lists", false, 2, {"id"}, 1}, {"inbox", false, 3, {}, 1}});
  EXPECT_EQ(item_bucket(config, "lists:a:3"), std::optional<std::string>(R"(lists["a"])"));
  EXPECT_EQ(item_bucket(config, "inbox::0"), std::optional<std::string>("inbox[]"));
  EXPECT_EQ(item_bucket(config, "other:a:0"), std::nullopt);
  EXPECT_EQ(item_bucket(config, "nocolon"), std::nullopt);
}

TEST(SyncStreams, ARemovedSubscriptionsBucketIsGoneUnlessTheMutantKeepsIt) {
  for (const bool mutant : {false, true}) {
    ServiceStreamWorld w(stream_config(
        mutant ? std::vector<ServiceMutant>{ServiceMutant::RemovedSubscriptionKeepsBuckets}
               : std::vector<ServiceMutant>{}));
    w.run_until(kEpoch + kSeconds);
    const json with = {
        {"subscriptions",
         {{{"stream", "lists"}, {"parameters", {{"id", "a"}}}, {"override_priority", nullptr}}}}};
    auto first = open_with(w, with);
    w.run_until(w.loop.now() + kSeconds);
    first->close();
    auto second = open_with(w, {{"subscriptions", json::array()}});
    w.run_until(w.loop.now() + kSeconds);
    EXPECT_FALSE(bucket_entry(first->line(0).at("checkpoint"), R"(lists["a"])").is_null());
    const json kept = bucket_entry(second->line(0).at("checkpoint"), R"(lists["a"])");
    EXPECT_EQ(kept.is_null(), !mutant) << second->line(0).dump();
    if (mutant) {
      EXPECT_EQ(kept.at("subscriptions"), json::array());
    }
  }
}

TEST(SyncStreams, TooManyBucketsEndsTheStreamAfterTheHeaders) {
  ServiceConfig c = stream_config();
  c.streams.emplace(std::vector<StreamDefinition>{{"wide", true, 3, {}, 1001}});
  ServiceStreamWorld w(std::move(c));
  w.run_until(kEpoch + kSeconds);
  auto stream = open_with(w, json());
  w.run_until(w.loop.now() + kSeconds);
  EXPECT_TRUE(stream->ended);  // §3.3.1: 200, then the stream ends (PSYNC_S2305)
  EXPECT_TRUE(stream->raw.empty());
  EXPECT_EQ(w.svc.failed_stream_requests(), 1u);
}

TEST(SyncStreams, WithoutStreamDefinitionsLinesHaveNoStreamFields) {
  ServiceStreamWorld w(ServiceConfig{});
  w.run_until(kEpoch + kSeconds);
  auto stream = open_with(w, {{"subscriptions", json::array()}});
  w.run_until(w.loop.now() + kSeconds);
  const json cp = stream->line(0).at("checkpoint");
  EXPECT_FALSE(cp.contains("streams"));
  for (const auto& b : cp.at("buckets")) EXPECT_FALSE(b.contains("subscriptions"));
}

}  // namespace
}  // namespace syncsim::model
