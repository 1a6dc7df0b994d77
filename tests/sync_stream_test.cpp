// Unit tests of the sync stream (docs/protocol.md §3.1.9 Emission/Timing, §3.3, I8/I10/I13,
// §3.6.2 items 11-12): priorities, interruption, which changes make lines, token expiry, BSON
// lines and random schedules.  A SyncConnection (or Service::open_stream) writes to a recording
// fake stream inside a sim::Loop (tests/support/sync_stream_worlds.hpp).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/service.hpp"
#include "model/sync_stream.hpp"
#include "sim/loop.hpp"
#include "tests/support/sync_stream_worlds.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kMillis;
using sim::kSeconds;
using sim::Micros;
using test_support::briefs;
using test_support::Briefs;
using test_support::kind;
using test_support::names;
using test_support::ProtocolChecker;
using test_support::RecordingStream;
using test_support::request;
using test_support::ServiceStreamWorld;
using test_support::StreamWorld;

// ---------------------------------------------------------------------------------------
// Priorities (docs/protocol.md §3.3.3 step 5, I8)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, BucketsDownloadByPriorityEachGroupButTheLastEndingInAPartialComplete) {
  StreamWorld w;
  for (const char* b : {"a[]", "b[]", "c[]", "d[]"}) w.fill(b, 2);
  w.checkpoint();  // op 8
  w.open(request({"c[]", "a[]", "d[]", "b[]"}, {{"a[]", 0}, {"b[]", 1}}));
  w.run_for(100 * kMillis);
  std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:8", "data:a[]", "partial:0", "data:b[]", "partial:1",
                                   "data:c[]", "data:d[]", "complete:8"}));
  std::map<std::string, int> announced;
  for (const auto& b : lines.at(0).at("checkpoint").at("buckets")) {
    announced[b.at("bucket")] = b.at("priority");
  }
  EXPECT_EQ(announced,
            (std::map<std::string, int>{{"a[]", 0}, {"b[]", 1}, {"c[]", 3}, {"d[]", 3}}));
  EXPECT_EQ(lines.at(2).at("partial_checkpoint_complete").at("last_op_id"), "8");
  // The download takes time: every data line follows its own fetch of 0.9-1.1 ms.
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (kind(lines[i]) != "data") continue;
    const Micros gap = w.stream->times[i] - w.stream->times[i - 1];
    EXPECT_GE(gap, 900) << i;
    EXPECT_LE(gap, 1100) << i;
  }

  // A diff downloads only the changed buckets, still by priority.
  std::size_t n = lines.size();
  w.storage.append("c[]", put_op("todos", "c-new", "{}"));  // 9
  w.storage.append("a[]", put_op("todos", "a-new", "{}"));  // 10
  w.checkpoint();
  w.run_for(100 * kMillis);
  lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, n),
            (Briefs{"diff:10", "data:a[]", "partial:0", "data:c[]", "complete:10"}));
  EXPECT_EQ(names(lines.at(n).at("checkpoint_diff").at("updated_buckets")), (Briefs{"c[]", "a[]"}));

  // I8: no partial complete for the lowest priority present, even if it is not 3.
  n = lines.size();
  w.storage.append("b[]", put_op("todos", "b-new", "{}"));  // 11
  w.checkpoint();
  w.run_for(100 * kMillis);
  lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, n), (Briefs{"diff:11", "data:b[]", "complete:11"}));

  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, 0u);
  EXPECT_EQ(w.stats.partial_completes, 3u);
  EXPECT_EQ(w.stats.checkpoint_completes, 3u);
  EXPECT_EQ(w.stats.checkpoint_lines, 3u);
  EXPECT_EQ(w.stats.data_lines, 7u);
}

// ---------------------------------------------------------------------------------------
// Interruption (docs/protocol.md §3.1.9 Timing, §3.6.2 item 12)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, ANewCheckpointSupersedesTheDownloadOnce1000OpsWereSent) {
  StreamWorld w;
  w.fill("big[]", 2500);
  w.fill("small[]", 1);
  w.checkpoint();  // op 2501
  w.open(request({"big[]", "small[]"}));
  w.run_for(500);  // the checkpoint line; the first fetch is still running
  ASSERT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:2501"}));
  w.storage.append("small[]", put_op("todos", "late", "{}"));  // 2502
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  // Waits for 1000 ops, then computes the diff while the next page is fetched (sync.ts
  // waitForNewCheckpointLine, one fetch time here); the diff interrupts: no complete for
  // 2501, and the unfinished buckets (big[] half-way, small[] not started) carry over.
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2501", "data:big[]", "data:big[]", "diff:2502",
                                   "data:big[]", "data:small[]", "complete:2502"}));
  EXPECT_EQ(lines.at(1).at("data").at("data").size(), 1000u);
  EXPECT_EQ(lines.at(1).at("data").at("has_more"), true);
  EXPECT_EQ(names(lines.at(3).at("checkpoint_diff").at("updated_buckets")), (Briefs{"small[]"}));
  EXPECT_EQ(lines.at(4).at("data").at("after"), "2000");
  EXPECT_EQ(lines.at(5).at("data").at("after"), "0");
  EXPECT_EQ(lines.at(5).at("data").at("data").size(), 2u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, 1u);
  EXPECT_EQ(w.stats.superseded_downloads, 1u);
  EXPECT_EQ(w.stats.checkpoint_completes, 1u);
}

TEST(SyncStream, BeforeAThousandOpsTheDownloadFinishesAndTheNextLineWaits10ms) {
  StreamWorld w;
  w.fill("big[]", 900);
  w.fill("small[]", 1);
  w.checkpoint();  // op 901
  w.open(request({"big[]", "small[]"}));
  w.run_for(500);
  w.storage.append("small[]", put_op("todos", "late", "{}"));  // 902
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:901", "data:big[]", "data:small[]", "complete:901",
                                   "diff:902", "data:small[]", "complete:902"}));
  EXPECT_EQ(w.stream->times.at(4) - w.stream->times.at(3), 10 * kMillis);
  EXPECT_EQ(w.stats.superseded_downloads, 0u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

TEST(SyncStream, ACheckpointThatChangesNothingForTheConnectionNeitherInterruptsNorSendsALine) {
  StreamWorld w;
  w.fill("big[]", 2500);
  w.checkpoint();  // op 2500
  w.open(request({"big[]"}));
  w.run_for(500);
  w.fill("other[]", 3);  // another user's bucket
  w.checkpoint();
  w.run_for(100 * kMillis);
  w.checkpoint();  // an empty keepalive checkpoint
  w.run_for(100 * kMillis);
  EXPECT_EQ(briefs(w.stream->lines()),
            (Briefs{"checkpoint:2500", "data:big[]", "data:big[]", "data:big[]", "complete:2500"}));
  EXPECT_EQ(w.stats.superseded_downloads, 0u);
  EXPECT_EQ(w.stats.checkpoint_lines, 1u);
}

TEST(SyncStream, AWriteCheckpointChangeAloneSupersedesALongDownload) {
  ServiceConfig config;
  config.stream_batch_delay = 300 * kMillis;  // slow enough for an ack to land mid-download
  config.batch_latency_max = 0;               // the checkpoint request's batch is instant
  // The line supersedes as soon as it is due (the pre-issue-17 timing; with the concurrent
  // line computation of one fetch time, 300 ms here, the whole download would finish first).
  config.sticky_invalidation = true;
  ServiceStreamWorld w(config);
  w.upload_todos(2500);
  w.run_until(kEpoch + kSeconds);  // replicated at 200 ms
  auto stream = w.open(false);
  w.run_until(kEpoch + kSeconds + 50 * kMillis);  // the checkpoint line, a fetch running
  // Visible at once (head 1 is replicated) but seen with the marker's checkpoint at 1.25 s,
  // which changes only the write checkpoint; the first batch ends at 1.27-1.33 s.
  w.request_checkpoint(5);
  w.run_until(kEpoch + 5 * kSeconds);
  const std::vector<json> lines = stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2500", "data:global[]", "diff:2500", "data:global[]",
                                   "data:global[]", "complete:2500"}));
  const json& diff = lines.at(2).at("checkpoint_diff");
  EXPECT_EQ(diff.at("write_checkpoint"), "5");
  EXPECT_TRUE(diff.at("updated_buckets").empty());
  EXPECT_TRUE(diff.at("removed_buckets").empty());
  EXPECT_EQ(lines.at(3).at("data").at("after"), "1000");
  EXPECT_EQ(w.svc.stream_stats().superseded_downloads, 1u);
  EXPECT_EQ(w.svc.stream_stats().write_checkpoint_only_diffs, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// ---------------------------------------------------------------------------------------
// Only real changes make lines (docs/protocol.md §3.1.9 Emission, I10)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, ACountOnlyChangeIsADiffAndNoChangeIsNoLine) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", remove_op("todos", "x"));    // 2
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 3
  w.checkpoint();
  w.open(request({"a[]"}));
  w.run_for(100 * kMillis);
  ASSERT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:3", "data:a[]", "complete:3"}));
  const BucketState before = w.storage.state("a[]", 3);
  EXPECT_EQ(w.storage.compact(3).clears, 1u);  // MOVE 1, REMOVE 2 -> CLEAR 2
  w.checkpoint();                              // a keepalive checkpoint: same op id
  w.run_for(100 * kMillis);
  w.checkpoint();  // nothing changed at all: no line
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, 3), (Briefs{"diff:3", "complete:3"}));
  const json& updated = lines.at(3).at("checkpoint_diff").at("updated_buckets");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated.at(0).at("checksum"), before.checksum);
  EXPECT_EQ(updated.at(0).at("count"), before.count - 1);
  EXPECT_EQ(w.stats.checkpoint_lines, 2u);
}

TEST(SyncStream, RemovedAndAddedBucketsAreDiffs) {
  StreamWorld w;
  w.fill("a[]", 1);
  w.fill("b[]", 1);
  w.checkpoint();  // op 2
  auto subscribed = std::make_shared<std::vector<std::string>>(Briefs{"a[]", "b[]"});
  ConnectionRequest r = request({});
  r.resolve_buckets = [subscribed] { return *subscribed; };
  w.open(r);
  w.run_for(100 * kMillis);
  *subscribed = {"a[]"};
  w.checkpoint();
  w.run_for(100 * kMillis);
  *subscribed = {"a[]", "b[]"};
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2", "data:a[]", "data:b[]", "complete:2", "diff:2",
                                   "complete:2", "diff:2", "data:b[]", "complete:2"}));
  const json& removed = lines.at(4).at("checkpoint_diff");
  EXPECT_EQ(names(removed.at("removed_buckets")), (Briefs{"b[]"}));
  EXPECT_TRUE(removed.at("updated_buckets").empty());
  const json& added = lines.at(6).at("checkpoint_diff");
  EXPECT_EQ(names(added.at("updated_buckets")), (Briefs{"b[]"}));
  EXPECT_TRUE(added.at("removed_buckets").empty());
  EXPECT_EQ(lines.at(7).at("data").at("after"), "0") << "a re-added bucket starts over";
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// Upload a todo, open a stream once it is replicated, then request a write checkpoint:
// the marker's checkpoint changes only the write checkpoint (docs/protocol.md §3.1.9 Emission).
std::vector<json> write_checkpoint_only_run(bool mutant, StreamStats* stats) {
  ServiceConfig config;
  if (mutant) config.mutants.push_back(ServiceMutant::NoCompleteForWriteCheckpointOnly);
  ServiceStreamWorld w(config);
  w.upload_todos(1);
  w.run_until(kEpoch + kSeconds);
  auto stream = w.open(false);
  w.run_until(kEpoch + 2 * kSeconds);
  w.request_checkpoint(5);
  w.run_until(kEpoch + 3 * kSeconds);
  *stats = w.svc.stream_stats();
  return stream->lines();
}

TEST(SyncStream, AWriteCheckpointOnlyChangeIsAnEmptyDiffAndAComplete) {
  StreamStats stats;
  const std::vector<json> lines = write_checkpoint_only_run(false, &stats);
  EXPECT_EQ(briefs(lines),
            (Briefs{"checkpoint:1", "data:global[]", "complete:1", "diff:1", "complete:1"}));
  EXPECT_FALSE(lines.at(0).at("checkpoint").contains("write_checkpoint"));
  const json& diff = lines.at(3).at("checkpoint_diff");
  EXPECT_EQ(diff.at("write_checkpoint"), "5");
  EXPECT_TRUE(diff.at("updated_buckets").empty());
  EXPECT_TRUE(diff.at("removed_buckets").empty());
  EXPECT_EQ(stats.write_checkpoint_only_diffs, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, stats.superseded_downloads + stats.invalidated_checkpoints);
}

TEST(SyncStream, TheNoCompleteMutantDropsThatCompleteAndTheProtocolCheckSeesIt) {
  StreamStats stats;
  const std::vector<json> lines = write_checkpoint_only_run(true, &stats);
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:1", "data:global[]", "complete:1", "diff:1"}));
  EXPECT_EQ(stats.write_checkpoint_only_diffs, 1u);
  EXPECT_EQ(stats.checkpoint_completes, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  // I8 as a checker states it: every incomplete checkpoint was superseded or invalidated.
  EXPECT_NE(checker.incomplete, stats.superseded_downloads + stats.invalidated_checkpoints);
}

// ---------------------------------------------------------------------------------------
// token_expires_in (docs/protocol.md §3.3.5, I13, §3.6.2 item 11)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, TokenLinesEvery20sPlusTheWarningThenZeroEndsTheStream) {
  std::set<Micros> first_keepalives;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    StreamWorld w;
    ConnectionRequest r = request({"a[]"});
    const Micros exp = kEpoch + 70 * kSeconds;
    r.token_expires_at = exp;
    w.open(r, kMillis, seed);
    w.run_for(100 * kSeconds);
    const std::vector<json> lines = w.stream->lines();
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(briefs(lines).at(0), "checkpoint:0");
    EXPECT_EQ(briefs(lines).at(1), "complete:0");
    Micros previous_keepalive = kEpoch;
    bool warned = false;
    for (std::size_t i = 2; i < lines.size(); ++i) {
      ASSERT_EQ(kind(lines[i]), "token_expires_in") << seed;
      const Micros t = w.stream->times[i];
      EXPECT_GT(t, kEpoch) << "none at the start";
      // sync/util.ts tokenStream: max(0, ceil(exp - now)), timers 3 ms after the instant.
      const int64_t ceil_s = t >= exp ? 0 : (exp - t + kSeconds - 1) / kSeconds;
      EXPECT_EQ(lines[i].at("token_expires_in").get<int64_t>(), ceil_s) << seed;
      if (i + 1 == lines.size()) {
        EXPECT_EQ(t, exp + 3 * kMillis);
        EXPECT_EQ(lines[i].at("token_expires_in"), 0);
      } else if (t == exp - 20 * kSeconds + 3 * kMillis) {
        EXPECT_EQ(lines[i].at("token_expires_in"), 20);
        warned = true;
      } else {
        EXPECT_GE(t - previous_keepalive, 18 * kSeconds) << seed;
        EXPECT_LE(t - previous_keepalive, 22 * kSeconds) << seed;
        if (previous_keepalive == kEpoch) first_keepalives.insert(t);
        previous_keepalive = t;
      }
    }
    EXPECT_TRUE(warned) << "a line at exp - 20 s, seed " << seed;
    EXPECT_TRUE(w.stream->ended);
    EXPECT_EQ(w.stats.expired_streams, 1u);
    // Nothing after the end, whatever happens in storage.
    const std::size_t n = w.stream->raw.size();
    w.fill("a[]", 1);
    w.checkpoint();
    w.run_for(30 * kSeconds);
    EXPECT_EQ(w.stream->raw.size(), n);
    EXPECT_EQ(w.stream->sent_after_close, 0);
  }
  EXPECT_GT(first_keepalives.size(), 5u) << "the interval is jittered per connection";
}

TEST(SyncStream, AnExpiredTokenGetsOneZeroAndTheEnd) {
  StreamWorld w;
  w.fill("a[]", 3);
  w.checkpoint();
  ConnectionRequest r = request({"a[]"});
  r.token_expires_at = kEpoch;
  w.open(r);
  w.run_for(kSeconds);
  EXPECT_EQ(briefs(w.stream->lines()), (Briefs{"token:0"}));
  EXPECT_TRUE(w.stream->ended);
  EXPECT_EQ(w.stats.checkpoint_lines, 0u);
}

TEST(SyncStream, ExpiryEndsTheStreamMidDownload) {
  StreamWorld w;
  w.fill("big[]", 5000);
  w.checkpoint();
  ConnectionRequest r = request({"big[]"});
  r.token_expires_at = kEpoch + 22 * kMillis;  // after two batches of 9-11 ms
  w.open(r, 10 * kMillis);
  w.run_for(kSeconds);
  EXPECT_EQ(briefs(w.stream->lines()),
            (Briefs{"checkpoint:5000", "data:big[]", "data:big[]", "token:0"}));
  // tokenStream's timer fires 3 ms after the expiry (sync/util.ts).
  EXPECT_EQ(w.stream->times.back(), kEpoch + 25 * kMillis);
  EXPECT_TRUE(w.stream->ended);
}

// ---------------------------------------------------------------------------------------
// BSON lines (docs/protocol.md §3.3.1, §3.1.9 BSON mode)
// ---------------------------------------------------------------------------------------

std::shared_ptr<RecordingStream> encoding_run(StreamEncoding encoding) {
  ServiceConfig config;
  config.stream_encoding = encoding;
  config.bucket_priorities = {{"notes", 1}};
  ServiceStreamWorld w(config);
  w.upload_todos(3);
  auto stream = w.open(encoding == StreamEncoding::Bson);
  w.run_until(kEpoch + kSeconds);
  w.request_checkpoint(5);
  w.run_until(kEpoch + 2 * kSeconds);
  return stream;
}

// Follows syncLineToBson (packages/service-core/src/sync/util.ts, powersync-service v1.24.0):
// bson@6.10.4 serialize() with its defaults, ignoreUndefined = true, so an absent
// write_checkpoint is omitted in BSON exactly as in JSON (docs/protocol.md §3.1.9, corrected).
TEST(SyncStream, BsonLinesDecodeToTheJsonLinesAndOmitAnAbsentWriteCheckpoint) {
  const auto text = encoding_run(StreamEncoding::Json);
  const auto bson = encoding_run(StreamEncoding::Bson);
  ASSERT_EQ(text->raw.size(), bson->raw.size());
  EXPECT_EQ(text->times, bson->times);
  EXPECT_FALSE(json::accept(bson->raw.at(0))) << "BSON bytes, not JSON text";
  int absent = 0;
  for (std::size_t i = 0; i < text->raw.size(); ++i) {
    const json from_text = text->line(i);
    const json from_bson = bson->line(i);
    EXPECT_EQ(from_bson, from_text) << i;
    for (const char* k : {"checkpoint", "checkpoint_diff"}) {
      if (!from_bson.contains(k)) continue;
      const json& body = from_bson.at(k);
      if (!body.contains("write_checkpoint")) {
        ++absent;
      } else {
        EXPECT_FALSE(body.at("write_checkpoint").is_null()) << "never an explicit null: " << i;
      }
    }
  }
  EXPECT_EQ(absent, 2) << "the first checkpoint and the data diff have no write checkpoint";
  EXPECT_EQ(briefs(text->lines()), (Briefs{"checkpoint:0", "partial:1", "complete:0", "diff:3",
                                           "data:global[]", "complete:3", "diff:3", "complete:3"}));
}

// docs/protocol.md §3.3.1: the encoding follows the request's Accept header (the SDK's
// BSON-first accept gets BSON whatever the configured default); no Accept gets the default.
TEST(SyncStream, TheEncodingIsNegotiatedFromTheAcceptHeader) {
  ServiceStreamWorld w(ServiceConfig{});  // stream_encoding: Json
  w.upload_todos(2);
  auto bson =
      w.open(true, "application/vnd.powersync.bson-stream;q=0.9,application/x-ndjson;q=0.8");
  auto text = w.open(false);
  w.run_until(kEpoch + kSeconds);
  EXPECT_EQ(bson->content_type, kBsonStreamType);
  EXPECT_EQ(text->content_type, "application/x-ndjson");
  ASSERT_FALSE(bson->raw.empty());
  ASSERT_EQ(bson->raw.size(), text->raw.size());
  EXPECT_FALSE(json::accept(bson->raw.front())) << "BSON bytes, not JSON text";
  EXPECT_EQ(bson->lines(), text->lines());
  EXPECT_EQ(w.svc.stream_stats().bson_streams, 1u);
  EXPECT_EQ(w.svc.stream_stats().bson_lines, bson->raw.size());
}

// ---------------------------------------------------------------------------------------
// Random schedules: the protocol holds (I8), stats agree with the lines
// ---------------------------------------------------------------------------------------

RC_GTEST_PROP(SyncStreamProp, EveryLineSequenceFollowsTheProtocol, ()) {
  StreamWorld w;
  const std::vector<std::string> buckets{"a[]", "b[]", "c[]", "other[]"};  // other: unsubscribed
  std::map<std::string, int> priorities;
  for (std::size_t i = 0; i < 3; ++i) priorities[buckets[i]] = *rc::gen::inRange(0, 4);
  const bool compaction = *rc::gen::arbitrary<bool>();
  // Slow fetches and steps spread over several download cycles, so that checkpoints and
  // compactions land mid-download.
  const Micros batch_delay = *rc::gen::inRange<Micros>(1, 8) * kMillis;
  w.open(request({"a[]", "b[]", "c[]"}, priorities), batch_delay,
         *rc::gen::inRange<uint64_t>(1, 1000));
  const int steps = *rc::gen::inRange(1, 16);
  Micros t = kEpoch;
  for (int step = 0; step < steps; ++step) {
    t += *rc::gen::inRange<Micros>(0, 20 * kMillis);
    const std::string bucket = buckets[*rc::gen::inRange<std::size_t>(0, buckets.size())];
    const int n =
        *rc::gen::inRange(0, 4) == 0 ? *rc::gen::inRange(900, 1400) : *rc::gen::inRange(1, 20);
    const bool compact = compaction && *rc::gen::arbitrary<bool>();
    w.loop.at(t, [&w, bucket, n, compact, step] {
      for (int i = 0; i < n; ++i) {
        const std::string row = fmt::format("r{}", (step * 31 + i) % 11);
        if (i % 5 == 4) {
          w.storage.append(bucket, remove_op("todos", row));
        } else {
          w.storage.append(bucket, put_op("todos", row, std::to_string(i)));
        }
      }
      w.checkpoint();
      if (compact) w.storage.compact(w.storage.latest().op_id);
    });
  }
  w.run_for(t - kEpoch + kSeconds);
  const std::vector<json> lines = w.stream->lines();
  ProtocolChecker checker;
  // A compaction can legitimately leave a client's checksum wrong (the client then
  // re-downloads); without one the sums must match at every (partial) complete.
  checker.check_checksums = w.storage.compaction_stats().runs == 0;
  RC_ASSERT(checker.check(lines) == "");
  RC_ASSERT(checker.incomplete == w.stats.superseded_downloads + w.stats.invalidated_checkpoints);
  RC_ASSERT(checker.completes == w.stats.checkpoint_completes);
  RC_ASSERT(checker.partials == w.stats.partial_completes);
  RC_ASSERT(checker.checkpoint_lines == w.stats.checkpoint_lines);
  RC_ASSERT(lines.size() == w.stats.checkpoint_lines + w.stats.data_lines +
                                w.stats.partial_completes + w.stats.checkpoint_completes);
  // Quiet at the end: the last line completes a checkpoint announcing the latest state.
  RC_ASSERT(kind(lines.back()) == "checkpoint_complete");
  for (std::size_t i = 0; i < 3; ++i) {
    const BucketState s = w.storage.state(buckets[i], w.storage.latest().op_id);
    RC_ASSERT(checker.target.at(buckets[i]) == s.checksum);
  }
}

TEST(SyncStream, SameSeedSameLinesAndTimes) {
  auto run = [](uint64_t seed) {
    StreamWorld w;
    w.fill("a[]", 1500);
    w.fill("b[]", 10);
    w.checkpoint();
    w.open(request({"a[]", "b[]"}, {{"b[]", 0}}), kMillis, seed);
    w.run_for(kSeconds);
    return std::make_pair(w.stream->raw, w.stream->times);
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3).second, run(4).second) << "the batch delays come from the seed";
}

}  // namespace
}  // namespace syncsim::model
