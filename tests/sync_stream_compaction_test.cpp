// Unit tests of bucket compaction (docs/protocol.md §3.3.4, I11) and of what it does to a sync
// stream (docs/protocol.md §3.3.3 step 6, §3.6.2 item 10): invalidated pages, torn reads, and
// checksum candidates a compacted document straddles.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/sync_stream.hpp"
#include "sim/loop.hpp"
#include "tests/support/sync_stream_worlds.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kMillis;
using test_support::all_ops;
using test_support::briefs;
using test_support::Briefs;
using test_support::drive;
using test_support::names;
using test_support::ProtocolChecker;
using test_support::RecordingStream;
using test_support::request;
using test_support::StreamWorld;

// ---------------------------------------------------------------------------------------
// Compaction (docs/protocol.md §3.3.4)
// ---------------------------------------------------------------------------------------

TEST(Compaction, SupersededOpsBecomeMovesPointingAtTheNewestOpUpToTheHorizon) {
  BucketStorage storage;
  storage.append("b", put_op("todos", "z", "{}"));          // 1
  storage.append("b", put_op("todos", "a", R"({"v":1})"));  // 2
  storage.append("b", put_op("todos", "a", R"({"v":2})"));  // 3
  storage.append("b", put_op("todos", "a", R"({"v":3})"));  // 4: beyond the horizon
  const std::vector<Op> before = all_ops(storage, "b");
  const BucketState at3 = storage.state("b", 3), at4 = storage.state("b", 4);

  const CompactionStats run = storage.compact(3);
  EXPECT_EQ(run.ops_moved, 1u);
  EXPECT_EQ(run.clears, 0u);
  EXPECT_EQ(run.ops_removed, 0u);
  const std::vector<Op> after = all_ops(storage, "b");
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0].type, OpType::Put);  // z is never superseded
  EXPECT_EQ(after[1].type, OpType::Move);
  EXPECT_FALSE(after[1].put);
  EXPECT_EQ(after[1].op_id, 2);
  EXPECT_EQ(after[1].checksum, before[1].checksum);
  EXPECT_EQ(after[1].data, "");
  EXPECT_EQ(after[1].target_op, 3);
  EXPECT_EQ(after[2].type, OpType::Put) << "op 4 is past the horizon, so 3 survives";
  EXPECT_EQ(after[2].data, R"({"v":2})");
  EXPECT_EQ(after[3].type, OpType::Put);
  EXPECT_EQ(storage.state("b", 3), at3);
  EXPECT_EQ(storage.state("b", 4), at4);

  // A later horizon moves op 3 too; op 2 keeps its target.
  storage.compact(4);
  const std::vector<Op> later = all_ops(storage, "b");
  EXPECT_EQ(later[1].target_op, 3);
  EXPECT_EQ(later[2].type, OpType::Move);
  EXPECT_EQ(later[2].target_op, 4);
  EXPECT_EQ(storage.state("b", 4), at4);
  EXPECT_EQ(storage.compaction_stats().runs, 2u);
  EXPECT_EQ(storage.compaction_stats().ops_moved, 2u);
}

TEST(Compaction, LeadingRemovesAndMovesBecomeOneClearWithTheSummedChecksum) {
  BucketStorage storage;
  storage.append("b", put_op("todos", "k", "{}"));      // 1 -> MOVE(4)
  storage.append("b", put_op("todos", "a", "{}"));      // 2 -> MOVE(5)
  storage.append("other", put_op("todos", "x", "{}"));  // 3, another bucket
  storage.append("b", remove_op("todos", "k"));         // 4
  storage.append("b", put_op("todos", "a", "{}"));      // 5
  storage.append("b", put_op("todos", "y", "{}"));      // 6
  const std::vector<Op> before = all_ops(storage, "b");
  ASSERT_EQ(before.size(), 5u);
  std::map<OpId, BucketState> states;
  for (OpId c = 0; c <= 6; ++c) states[c] = storage.state("b", c);
  const BucketState other = storage.state("other", 6);

  const CompactionStats run = storage.compact(6);
  EXPECT_EQ(run.ops_moved, 2u);
  EXPECT_EQ(run.clears, 1u);
  EXPECT_EQ(run.ops_removed, 2u);
  const std::vector<Op> after = all_ops(storage, "b");
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0].type, OpType::Clear);
  EXPECT_EQ(after[0].op_id, 4) << "the last replaced op id";
  EXPECT_EQ(after[0].checksum, before[0].checksum + before[1].checksum + before[2].checksum);
  EXPECT_EQ(after[0].target_op, 5) << "the greatest target among the replaced MOVEs";
  EXPECT_EQ(after[0].object_id, "");
  EXPECT_EQ(after[1].op_id, 5);
  EXPECT_EQ(after[1].type, OpType::Put);
  EXPECT_EQ(after[2].op_id, 6);
  // I11: unchanged checksums at every checkpoint >= the horizon, and from the CLEAR on;
  // the count shrinks.
  for (OpId c = 4; c <= 6; ++c) {
    EXPECT_EQ(storage.state("b", c).checksum, states[c].checksum) << c;
    EXPECT_EQ(storage.state("b", c).count, states[c].count - 2) << c;
  }
  EXPECT_EQ(storage.state("other", 6), other) << "other buckets are untouched";
  // Compacting again at the same horizon changes nothing.
  const CompactionStats again = storage.compact(6);
  EXPECT_EQ(again.ops_moved + again.clears + again.ops_removed, 0u);
}

TEST(Compaction, OnlyMoveAndClearComeFromCompaction) {
  BucketStorage storage;
  Op move = put_op("todos", "a", "{}");
  move.type = OpType::Move;
  EXPECT_THROW(storage.append("b", move), std::logic_error);
  Op remove = put_op("todos", "a", "{}");
  remove.type = OpType::Remove;  // either field makes a REMOVE
  storage.append("b", remove);
  const std::vector<Op> ops = all_ops(storage, "b");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].type, OpType::Remove);
  EXPECT_FALSE(ops[0].put);
  EXPECT_EQ(ops[0].data, "");
  EXPECT_EQ(ops[0].checksum, op_checksum(remove_op("todos", "a")));
}

// What a client holds for one bucket after applying ops (PUT sets, REMOVE deletes, MOVE
// does nothing, CLEAR drops everything before it).
using Rows = std::map<std::pair<std::string, std::string>, std::string>;
void apply(Rows& rows, const Op& op) {
  switch (op.type) {
    case OpType::Put:
      rows[{op.object_type, op.object_id}] = op.data;
      break;
    case OpType::Remove:
      rows.erase({op.object_type, op.object_id});
      break;
    case OpType::Move:
      break;
    case OpType::Clear:
      rows.clear();
      break;
  }
}

RC_GTEST_PROP(CompactionProp, KeepsChecksumsAtAndAfterTheHorizonAndTheClientsRows, ()) {
  BucketStorage storage;
  const std::vector<std::string> buckets{"b1", "b2"};
  // Rounds of appends, each followed by a compaction at some horizon <= the last op.
  // Horizons never go backwards (they are storage checkpoints).
  const int rounds = *rc::gen::inRange(1, 4);
  OpId previous_horizon = 0;
  for (int round = 0; round < rounds; ++round) {
    const int n = *rc::gen::inRange(0, 40);
    for (int i = 0; i < n; ++i) {
      const std::string bucket = buckets[*rc::gen::inRange<std::size_t>(0, 2)];
      const std::string id = std::string(1, static_cast<char>('a' + *rc::gen::inRange(0, 4)));
      if (*rc::gen::inRange(0, 3) == 0) {
        storage.append(bucket, remove_op("todos", id));
      } else {
        storage.append(bucket, put_op("todos", id, std::to_string(storage.last_op() + 1)));
      }
    }
    const OpId last = storage.last_op();
    const OpId horizon = *rc::gen::inRange<OpId>(previous_horizon, last + 1);
    previous_horizon = horizon;
    std::map<std::string, std::vector<Op>> before;
    std::map<std::string, std::vector<BucketState>> states;  // at horizon..last
    for (const auto& b : buckets) {
      before[b] = all_ops(storage, b);
      for (OpId c = horizon; c <= last; ++c) states[b].push_back(storage.state(b, c));
    }

    const CompactionStats run = storage.compact(horizon);

    uint64_t removed = 0;
    for (const auto& b : buckets) {
      const std::vector<Op> after = all_ops(storage, b);
      // I11: same checksum at every checkpoint >= horizon; count shrinks by the same
      // amount everywhere (what the CLEAR merged).
      const int64_t shrink = static_cast<int64_t>(before[b].size() - after.size());
      removed += static_cast<uint64_t>(shrink);
      for (OpId c = horizon; c <= last; ++c) {
        const BucketState want = states[b][static_cast<std::size_t>(c - horizon)];
        const BucketState got = storage.state(b, c);
        RC_ASSERT(got.checksum == want.checksum);
        RC_ASSERT(got.count == want.count - shrink);
      }
      // Structure: ascending ids, a CLEAR only first, ops past the horizon untouched,
      // MOVE targets after the op and <= horizon, one PUT/REMOVE per row <= horizon.
      std::set<std::pair<std::string, std::string>> live;
      for (std::size_t i = 0; i < after.size(); ++i) {
        const Op& op = after[i];
        RC_ASSERT(op.put == (op.type == OpType::Put));
        if (i > 0) RC_ASSERT(after[i - 1].op_id < op.op_id);
        if (op.type == OpType::Clear) RC_ASSERT(i == 0u);
        if (op.type == OpType::Move) {
          RC_ASSERT(op.target_op > op.op_id);
          RC_ASSERT(op.target_op <= horizon);
          RC_ASSERT(op.data.empty());
        }
        if (op.op_id > horizon) {
          const Op& old = before[b][before[b].size() - after.size() + i];
          RC_ASSERT(old.op_id == op.op_id);
          RC_ASSERT(old.type == op.type);
          RC_ASSERT(old.data == op.data);
        } else if (op.type == OpType::Put || op.type == OpType::Remove) {
          RC_ASSERT(live.insert({op.object_type, op.object_id}).second);
        }
      }
      // A client that had downloaded the old ops up to any position p and then fetches
      // the compacted ops after p ends with the same rows as one that saw no compaction.
      Rows full;
      for (const Op& op : before[b]) apply(full, op);
      const OpId p = *rc::gen::inRange<OpId>(0, last + 1);
      Rows client;
      for (const Op& op : before[b]) {
        if (op.op_id <= p) apply(client, op);
      }
      for (const Op& op : after) {
        if (op.op_id > p) apply(client, op);
      }
      RC_ASSERT(client == full);
    }
    RC_ASSERT(run.ops_removed == removed);
    // Idempotent at the same horizon.
    const CompactionStats again = storage.compact(horizon);
    RC_ASSERT(again.ops_moved + again.clears + again.ops_removed == 0u);
  }
}

// ---------------------------------------------------------------------------------------
// Invalidation by compaction (docs/protocol.md §3.3.3 step 6, §3.6.2 item 10)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, AMoveTargetPastTheCheckpointWithholdsItsCompletes) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 2
  w.storage.append("c[]", put_op("todos", "z", "1"));  // 3
  w.checkpoint();
  w.open(request({"a[]", "c[]"}, {{"a[]", 0}}));
  w.run_for(500);  // the checkpoint line for 3; the first fetch is running
  w.storage.append("a[]", put_op("todos", "x", "2"));  // 4 supersedes 1
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(4).ops_moved, 1u);  // 1 -> MOVE(4), past checkpoint 3
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  // No partial complete for priority 0 and nothing for c[] under checkpoint 3; the diff
  // for 4 fetches a[] again and c[], still pending.
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:3", "data:a[]", "diff:4", "data:a[]", "partial:0",
                                   "data:c[]", "complete:4"}));
  const json move = lines.at(1).at("data").at("data").at(0);
  EXPECT_EQ(move, (json{{"op_id", "1"}, {"op", "MOVE"}, {"checksum", move.at("checksum")}}));
  EXPECT_EQ(lines.at(1).at("data").at("data").at(1).at("op"), "PUT");
  EXPECT_EQ(names(lines.at(2).at("checkpoint_diff").at("updated_buckets")), (Briefs{"a[]"}));
  EXPECT_EQ(w.stats.invalidated_checkpoints, 1u);
  EXPECT_EQ(w.stats.partial_completes, 1u);
  EXPECT_EQ(w.stats.checkpoint_completes, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "") << "the client's checksums match at 4";
  EXPECT_EQ(checker.incomplete, 1u);
}

// sync.ts bucketDataBatch (powersync-service v1.24.0): `checkpointInvalidated` is local to
// one storage page (DEFAULT_DOCUMENT_BATCH_LIMIT = 1000 ops); a MOVE beyond the checkpoint
// in page 1 is forgotten when a clean page 2 ends the download, so checkpoint_complete is
// sent (docs/protocol.md §3.3.3 step 6).  The superseding line is computed concurrently, so
// page 2 races it; over seeds both outcomes occur.  "sticky" (the model before issue 17)
// never completes the invalidated checkpoint.
struct PageOutcome {
  int completed_invalidated = 0;  // seeds where checkpoint 1500 completed after all
  int forgotten = 0;
};
PageOutcome page_invalidation(bool sticky) {
  PageOutcome out;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    StreamWorld w;
    w.fill("a[]", 1500);  // ops 1..1500, x0 is op 1
    w.checkpoint();
    ConnectionContext ctx{w.loop, w.trace, w.storage, w.checkpoints, w.stats, kMillis,
                          false,  false,   false,     sticky,        {}};
    w.stream = std::make_shared<RecordingStream>(w.loop, false);
    auto conn = std::make_shared<SyncConnection>(ctx, request({"a[]"}), w.stream, sim::Prng(seed));
    w.loop.spawn(drive(conn), "sync-connection");
    w.run_for(500);  // the checkpoint line; the first page is being fetched
    w.storage.append("a[]", put_op("todos", "a[]0", "{}"));  // 1501 supersedes op 1
    w.checkpoint();
    EXPECT_EQ(w.storage.compact(1501).ops_moved, 1u);  // op 1 -> MOVE(1501), in page 1
    w.run_for(100 * kMillis);
    const Briefs b = briefs(w.stream->lines());
    if (std::find(b.begin(), b.end(), "complete:1500") != b.end()) ++out.completed_invalidated;
    out.forgotten += static_cast<int>(w.stats.forgotten_invalidations);
    EXPECT_EQ(b.back(), "complete:1501") << "the next checkpoint always completes";
    ProtocolChecker checker;
    EXPECT_EQ(checker.check(w.stream->lines()), "");
  }
  return out;
}

TEST(SyncStream, ACleanLastPageCompletesACheckpointAnEarlierPageInvalidated) {
  const PageOutcome page = page_invalidation(false);
  EXPECT_GT(page.completed_invalidated, 0);
  EXPECT_LT(page.completed_invalidated, 30) << "the superseding line sometimes wins";
  EXPECT_GE(page.forgotten, page.completed_invalidated);
  const PageOutcome sticky = page_invalidation(true);
  EXPECT_EQ(sticky.completed_invalidated, 0);
  EXPECT_EQ(sticky.forgotten, 0);
}

TEST(SyncStream, AClearStandingForAMovePastTheCheckpointWithholdsTheComplete) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 2
  w.storage.append("a[]", put_op("todos", "w", "1"));  // 3
  const std::vector<Op> original = all_ops(w.storage, "a[]");
  w.checkpoint();
  w.open(request({"a[]"}));
  w.run_for(500);
  w.storage.append("a[]", put_op("todos", "x", "2"));  // 4
  w.storage.append("a[]", put_op("todos", "y", "2"));  // 5
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(5).clears, 1u);  // MOVE(4), MOVE(5) -> CLEAR 2, target 5
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines),
            (Briefs{"checkpoint:3", "data:a[]", "diff:5", "data:a[]", "complete:5"}));
  const json clear = lines.at(1).at("data").at("data").at(0);
  const uint32_t sum = original[0].checksum + original[1].checksum;
  EXPECT_EQ(clear, (json{{"op_id", "2"}, {"op", "CLEAR"}, {"checksum", sum}}));
  EXPECT_EQ(w.stats.invalidated_checkpoints, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// docs/protocol.md §3.3.4 "Compaction is not atomic with sync reads": a page whose fetch spans
// a compaction of its bucket sees ops up to a seeded point from before it and the rest after
// it (MongoCompactorV1: MOVE bulkWrites and CLEAR transactions while the page's find runs).
// A MOVE keeps its op's checksum and a CLEAR replaces the client's bucket checksum with the sum
// of everything it stands for, so a torn page still sums right: the client's checksums match
// at every complete, and the rows are those of the checkpoint.  With atomic reads (the model
// before) no page is torn.
int torn_compaction_pages(bool torn_reads, bool mutant_skips_op = false,
                          int* checksum_mismatches = nullptr) {
  int torn = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    StreamWorld w;
    w.mutant_torn_read_skips_op = mutant_skips_op;
    w.storage.keep_pre_compaction_ops(true);
    w.fill("a[]", 40);  // ops 1..40, rows a[]0..a[]39
    w.checkpoint();
    w.open(request({"a[]"}), 10 * kMillis, seed, torn_reads);
    w.run_for(500);  // the checkpoint line; the first page's fetch is running
    for (int i = 0; i < 30; ++i)
      w.storage.append("a[]", remove_op("todos", "a[]" + std::to_string(i)));
    w.checkpoint();
    const CompactionStats c = w.storage.compact(w.storage.latest().op_id);
    EXPECT_EQ(c.clears, 1u);  // ops 1..30 and their REMOVEs 41..70 become one CLEAR
    w.run_for(200 * kMillis);
    ProtocolChecker checker;
    torn += static_cast<int>(w.stats.torn_reads);
    if (mutant_skips_op) {
      const std::string problem = checker.check(w.stream->lines());
      if (problem.starts_with("checksum mismatch")) ++*checksum_mismatches;
      continue;
    }
    EXPECT_EQ(checker.check(w.stream->lines()), "") << "seed " << seed;
    EXPECT_EQ(briefs(w.stream->lines()).back(), "complete:70") << "seed " << seed;
  }
  return torn;
}

TEST(SyncStream, ATornCompactionReadStillSumsToTheCheckpointsChecksum) {
  EXPECT_GT(torn_compaction_pages(true), 0);
  EXPECT_EQ(torn_compaction_pages(false), 0);
}

// The mutant torn-read-skips-op resumes the torn scan one op too far: the op at the resume
// point never reaches the client, and its bucket checksum no longer matches the checkpoint's
// (what the core reports as "Checksums didn't match" and checksums-agree catches end to end).
TEST(SyncStream, ATornReadThatSkipsTheResumeOpBreaksTheChecksum) {
  int mismatches = 0;
  EXPECT_GT(torn_compaction_pages(true, true, &mismatches), 0);
  EXPECT_GT(mismatches, 0);
  int none = 0;
  torn_compaction_pages(false, true, &none);  // atomic reads: the mutant has nothing to act on
  EXPECT_EQ(none, 0);
}

// docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip" (sync.ts
// waitForNewCheckpointLine, MongoChecksumsV3, powersync-service v1.24.0): the connection takes
// candidate 5 and reads its checksums one fetch later; meanwhile op 6 arrives and a compaction
// turns ops 1..3 into MOVEs, merging the bucket's documents into one spanning ops 1..6.  Its
// document checksum counts op 6, past the candidate's end, so v3 drops candidate 5 without a
// line and serves 6.  With atomic reads (the model before) 5 is served at once.  The mutant
// serves 5 with the merged document's checksum: the client's ops up to 5 do not match it.
struct CandidateRun {
  std::vector<json> lines;
  uint64_t skipped = 0;
};
CandidateRun compaction_during_checksum_read(bool v3, bool mutant = false) {
  StreamWorld w;
  w.v3_checksum_documents = v3;
  w.mutant_straddled_checksum_served = mutant;
  w.fill("a[]", 3);  // ops 1..3, rows a[]0..a[]2
  w.checkpoint();
  w.open(request({"a[]"}), 10 * kMillis);
  w.run_for(200 * kMillis);
  EXPECT_EQ(briefs(w.stream->lines()).back(), "complete:3");
  w.storage.append("a[]", put_op("todos", "a[]0", "{\"v\":2}"));  // 4
  w.storage.append("a[]", put_op("todos", "a[]1", "{\"v\":2}"));  // 5
  w.checkpoint();                                                 // candidate 5
  w.run_for(2 * kMillis);  // v3: the candidate's checksum read is running
  w.storage.append("a[]", put_op("todos", "a[]2", "{\"v\":2}"));  // 6
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(w.storage.latest().op_id).ops_moved, 3u);
  w.run_for(200 * kMillis);
  return {w.stream->lines(), w.stats.checksum_invalidated_candidates};
}

TEST(SyncStream, AV3CandidateACompactedDocumentStraddlesIsSkipped) {
  const CandidateRun v3 = compaction_during_checksum_read(true);
  EXPECT_EQ(v3.skipped, 1u);
  EXPECT_EQ(briefs(v3.lines, 3), (Briefs{"diff:6", "data:a[]", "complete:6"}));
  EXPECT_EQ(ProtocolChecker().check(v3.lines), "");
  const CandidateRun atomic = compaction_during_checksum_read(false);
  EXPECT_EQ(atomic.skipped, 0u);
  EXPECT_EQ(briefs(atomic.lines, 3).front(), "diff:5");
  EXPECT_EQ(ProtocolChecker().check(atomic.lines), "");
}

TEST(SyncStream, AStraddledV3CandidateServedWithItsDocumentsChecksumMismatches) {
  const CandidateRun m = compaction_during_checksum_read(true, true);
  EXPECT_EQ(m.skipped, 0u);
  EXPECT_EQ(briefs(m.lines, 3).front(), "diff:5");
  EXPECT_TRUE(ProtocolChecker().check(m.lines).starts_with("checksum mismatch"))
      << ProtocolChecker().check(m.lines);
}

// docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip", while a download is being
// superseded (sync.ts maybeRaceForNewCheckpoint, powersync-service v1.24.0): a 2500-op download
// of checkpoint 2500 has sent its first page when checkpoint 2501 (a new version of row 0) is
// there, so the race for a new line takes candidate 2501 and reads its checksums for one fetch.
// Meanwhile op 2502 arrives and a compaction merges the bucket's documents into one spanning
// ops ..2502, past the candidate's end.  v3 drops 2501 without a line and without interrupting
// the download; the race goes on with 2502.  The model before (v3-idle-only) takes the latest
// checkpoint when the race's read ends, so nothing straddles it.  The mutant serves 2501 with
// the merged document's checksum: the client's ops up to 2501 do not sum to it.
struct RaceRun {
  std::vector<json> lines;
  uint64_t skipped = 0;
  uint64_t superseded = 0;
};
RaceRun compaction_during_superseding_read(bool superseding_skip, bool mutant = false) {
  StreamWorld w;
  w.v3_checksum_documents = true;
  w.v3_superseding_skip = superseding_skip;
  w.mutant_straddled_checksum_served = mutant;
  w.fill("a[]", 2500);  // ops 1..2500: three storage pages
  w.checkpoint();
  w.open(request({"a[]"}), 10 * kMillis);
  w.run_for(15 * kMillis);  // the line (after its checksum read), page 1 being fetched
  w.storage.append("a[]", put_op("todos", "a[]0", "{\"v\":2}"));  // 2501
  w.checkpoint();                                                 // the race's candidate
  w.run_for(8 * kMillis);  // page 1 sent at about 20 ms: the race reads 2501 until about 30 ms
  EXPECT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:2500", "data:a[]"}));
  w.storage.append("a[]", put_op("todos", "a[]1", "{\"v\":2}"));  // 2502
  w.checkpoint();
  EXPECT_GT(w.storage.compact(w.storage.latest().op_id).ops_moved, 0u);
  w.run_for(300 * kMillis);
  return {w.stream->lines(), w.stats.checksum_invalidated_candidates, w.stats.superseded_downloads};
}

bool has_line(const std::vector<json>& lines, const std::string& b) {
  const auto all = briefs(lines);
  return std::find(all.begin(), all.end(), b) != all.end();
}

TEST(SyncStream, AV3CandidateStraddledWhileRacingADownloadIsSkippedAndTheDownloadGoesOn) {
  const RaceRun v3 = compaction_during_superseding_read(true);
  EXPECT_EQ(v3.skipped, 1u);
  EXPECT_FALSE(has_line(v3.lines, "diff:2501"));
  EXPECT_EQ(briefs(v3.lines).back(), "complete:2502");
  EXPECT_EQ(ProtocolChecker().check(v3.lines), "");
  const RaceRun before = compaction_during_superseding_read(false);
  EXPECT_EQ(before.skipped, 0u);
  EXPECT_EQ(before.superseded, 1u);
  EXPECT_FALSE(has_line(before.lines, "diff:2501"));
  EXPECT_EQ(briefs(before.lines).back(), "complete:2502");
  EXPECT_EQ(ProtocolChecker().check(before.lines), "");
}

TEST(SyncStream, AStraddledRaceCandidateServedWithItsDocumentsChecksumMismatches) {
  const RaceRun m = compaction_during_superseding_read(true, true);
  EXPECT_EQ(m.skipped, 0u);
  EXPECT_TRUE(has_line(m.lines, "diff:2501"));
  EXPECT_TRUE(ProtocolChecker().check(m.lines).starts_with("checksum mismatch"))
      << ProtocolChecker().check(m.lines);
}

}  // namespace
}  // namespace syncsim::model
