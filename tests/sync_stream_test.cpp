// Unit tests of bucket compaction (service.md §3.4, I11) and of the sync stream
// (service.md §1.9 Emission/Timing, §3, I8/I10/I13, §6.2 items 10-12): a SyncConnection
// (or Service::open_stream) writes to a recording fake stream inside a sim::Loop.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "model/sync_stream.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kMillis;
using sim::kSeconds;
using sim::Micros;

Op put_op(const std::string& type, const std::string& id, const std::string& data) {
  Op op;
  op.put = true;
  op.object_type = type;
  op.object_id = id;
  op.data = data;
  return op;
}

Op remove_op(const std::string& type, const std::string& id) {
  Op op;
  op.put = false;
  op.object_type = type;
  op.object_id = id;
  return op;
}

// A copy of a bucket's ops (the pointers from ops() die with the next compact()).
std::vector<Op> all_ops(const BucketStorage& storage, const std::string& bucket) {
  std::vector<Op> out;
  for (const Op* op : storage.ops(bucket, 0, storage.last_op(), SIZE_MAX)) out.push_back(*op);
  return out;
}

// ---------------------------------------------------------------------------------------
// Compaction (service.md §3.4)
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

}  // namespace
}  // namespace syncsim::model
