// Unit tests of the model service's storage: the checkpoint store (docs/protocol.md §0.1,
// §3.1.7-3.1.9, Appendix A; supplied ids, mongo flavour) and bucket storage.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "sim/loop.hpp"
#include "tests/support/model_helpers.hpp"

namespace syncsim::model {
namespace {

using sim::kEpoch;
using sim::kMillis;
using sim::Micros;
using test_support::first;
using test_support::supply;
using test_support::SupplyResult;
using test_support::wait_checkpoints;

// ---------------------------------------------------------------------------------------
// CheckpointStore (docs/protocol.md §3.1.7-3.1.9, supplied ids, mongo flavour)
// ---------------------------------------------------------------------------------------

TEST(CheckpointStore, SuppliedIdTransitions) {
  CheckpointStore store;
  // Absent -> create.
  auto r = supply(store, "u/c", 5, 10, kEpoch + 1);
  EXPECT_EQ(r.stored_id, 5);
  EXPECT_TRUE(r.should_advance);
  const CheckpointRecord* rec = first(store, "u/c");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->id, 5);
  EXPECT_EQ(rec->head, 10);
  EXPECT_FALSE(rec->processed_at_lsn.has_value());
  EXPECT_EQ(rec->requested_at, kEpoch + 1);

  // Processed at the first commit with lsn >= head.
  store.on_commit(9);
  EXPECT_FALSE(first(store, "u/c")->processed_at_lsn.has_value());
  store.on_commit(11);
  EXPECT_EQ(first(store, "u/c")->processed_at_lsn, 11);
  store.on_commit(12);
  EXPECT_EQ(first(store, "u/c")->processed_at_lsn, 11) << "never overwritten";

  // Higher -> replace head, pending again.
  r = supply(store, "u/c", 7, 20, kEpoch + 2);
  EXPECT_EQ(r.stored_id, 7);
  EXPECT_TRUE(r.should_advance);
  rec = first(store, "u/c");
  EXPECT_EQ(rec->id, 7);
  EXPECT_EQ(rec->head, 20);
  EXPECT_FALSE(rec->processed_at_lsn.has_value());
  EXPECT_EQ(rec->requested_at, kEpoch + 2);

  // Equal while pending -> only requested_at; the marker is re-forced.
  r = supply(store, "u/c", 7, 30, kEpoch + 3);
  EXPECT_EQ(r.stored_id, 7);
  EXPECT_TRUE(r.should_advance);
  rec = first(store, "u/c");
  EXPECT_EQ(rec->head, 20) << "a duplicate never moves the head";
  EXPECT_EQ(rec->requested_at, kEpoch + 3);

  // Lower while pending -> nothing changes, the marker is still re-forced.
  r = supply(store, "u/c", 6, 31, kEpoch + 4);
  EXPECT_EQ(r.stored_id, 7);
  EXPECT_TRUE(r.should_advance);
  EXPECT_EQ(first(store, "u/c")->requested_at, kEpoch + 3);

  store.on_commit(20);
  ASSERT_EQ(first(store, "u/c")->processed_at_lsn, 20);

  // Equal against a processed record -> requested_at only, no marker.
  r = supply(store, "u/c", 7, 40, kEpoch + 5);
  EXPECT_EQ(r.stored_id, 7);
  EXPECT_FALSE(r.should_advance);
  rec = first(store, "u/c");
  EXPECT_EQ(rec->head, 20);
  EXPECT_EQ(rec->processed_at_lsn, 20);
  EXPECT_EQ(rec->requested_at, kEpoch + 5);

  // Lower against a processed record -> nothing at all, not even requested_at; no marker.
  r = supply(store, "u/c", 1, 50, kEpoch + 6);
  EXPECT_EQ(r.stored_id, 7);
  EXPECT_FALSE(r.should_advance);
  rec = first(store, "u/c");
  EXPECT_EQ(rec->id, 7);
  EXPECT_EQ(rec->head, 20);
  EXPECT_EQ(rec->processed_at_lsn, 20);
  EXPECT_EQ(rec->requested_at, kEpoch + 5);

  EXPECT_EQ(store.records().size(), 1u);
  EXPECT_EQ(first(store, "u/other"), nullptr);
}

TEST(CheckpointStore, KeysAreIndependent) {
  CheckpointStore store;
  supply(store, "u/a", 9, 3, kEpoch);
  const auto r = supply(store, "u/b", 2, 4, kEpoch);
  EXPECT_EQ(r.stored_id, 2) << "another key's larger id does not leak";
  store.on_commit(3);
  EXPECT_TRUE(first(store, "u/a")->processed_at_lsn.has_value());
  EXPECT_FALSE(first(store, "u/b")->processed_at_lsn.has_value());
  EXPECT_EQ(store.lookup("u/a", 3), 9);
  EXPECT_EQ(store.lookup("u/b", 3), std::nullopt);
}

TEST(CheckpointStore, VisibleOnlyOnceTheCheckpointReachesTheHead) {
  CheckpointStore store;
  EXPECT_EQ(store.lookup("u/c", 100), std::nullopt);
  supply(store, "u/c", 42, 7, kEpoch);
  EXPECT_EQ(store.lookup("u/c", 0), std::nullopt);
  EXPECT_EQ(store.lookup("u/c", 6), std::nullopt);
  EXPECT_EQ(store.lookup("u/c", 7), 42);
  EXPECT_EQ(store.lookup("u/c", 1000), 42);

  // §3.1.9: request 43 at head 8: at LSN 7 *nothing* is visible any more (not 42).
  supply(store, "u/c", 43, 8, kEpoch);
  EXPECT_EQ(store.lookup("u/c", 7), std::nullopt);
  EXPECT_EQ(store.lookup("u/c", 8), 43);

  // A stale request never moves the head back.
  supply(store, "u/c", 10, 100, kEpoch);
  EXPECT_EQ(store.lookup("u/c", 8), 43);
  // A duplicate neither.
  supply(store, "u/c", 43, 100, kEpoch);
  EXPECT_EQ(store.lookup("u/c", 8), 43);
  EXPECT_EQ(store.lookup("other", 1000), std::nullopt);
}

// The reference model of docs/protocol.md §3.A (mongo flavour, supplied ids only).
struct ReferenceStore {
  struct Rec {
    int64_t id = 0;
    Lsn head = 0;
    std::optional<Lsn> processed;
    std::optional<Micros> requested_at;
  };
  std::map<std::string, Rec> recs;

  std::pair<int64_t, bool> request_supplied(const std::string& k, int64_t r, Lsn h, Micros now) {
    auto it = recs.find(k);
    if (it == recs.end() || r > it->second.id) {
      recs[k] = Rec{r, h, std::nullopt, now};
    } else if (r == it->second.id) {
      it->second.requested_at = now;
    }
    const Rec& rec = recs.at(k);
    return {std::max(rec.id, r), !rec.processed.has_value()};  // marker iff pending (mongo)
  }
  void replicate_to(Lsn l) {
    for (auto& [k, rec] : recs) {
      if (rec.head <= l && !rec.processed) rec.processed = l;
    }
  }
  [[nodiscard]] std::optional<int64_t> lookup(const std::string& k, Lsn l) const {
    auto it = recs.find(k);
    if (it == recs.end() || it->second.head > l) return std::nullopt;
    return it->second.id;
  }
};

RC_GTEST_PROP(CheckpointStoreProp, MatchesTheAppendixAModel, ()) {
  const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 4), rc::gen::inRange(0, 3), rc::gen::inRange(1, 7)));
  CheckpointStore store;
  ReferenceStore ref;
  Lsn head = 0;
  Lsn replicated = 0;
  Micros now = kEpoch;
  const std::vector<std::string> keys{"u/0", "u/1", "v/0"};
  for (const auto& [kind, k, r] : steps) {
    now += kMillis;
    const std::string& key = keys[static_cast<std::size_t>(k)];
    if (kind <= 1) {
      const SupplyResult got = supply(store, key, r, head, now);
      const auto [want_id, want_marker] = ref.request_supplied(key, r, head, now);
      RC_ASSERT(got.stored_id == want_id);
      RC_ASSERT(got.should_advance == want_marker);
      if (got.should_advance) ++head;  // the marker commit
    } else if (kind == 2) {
      ++head;  // an unrelated data commit
    } else {
      replicated = std::min(head, replicated + r);
      store.on_commit(replicated);
      ref.replicate_to(replicated);
    }
    RC_ASSERT(store.records().size() == ref.recs.size());
    for (const auto& kk : keys) {
      const CheckpointRecord* rec = first(store, kk);
      auto it = ref.recs.find(kk);
      RC_ASSERT((rec != nullptr) == (it != ref.recs.end()));
      if (rec) {
        RC_ASSERT(rec->id == it->second.id);
        RC_ASSERT(rec->head == it->second.head);
        RC_ASSERT(rec->processed_at_lsn == it->second.processed);
        RC_ASSERT(rec->requested_at == it->second.requested_at);
      }
      for (Lsn l = 0; l <= head + 1; ++l) RC_ASSERT(store.lookup(kk, l) == ref.lookup(kk, l));
    }
  }
}

// ---------------------------------------------------------------------------------------
// BucketStorage
// ---------------------------------------------------------------------------------------

std::vector<OpId> ids(const std::vector<const Op*>& ops) {
  std::vector<OpId> out;
  for (const Op* op : ops) out.push_back(op->op_id);
  return out;
}

TEST(BucketStorage, ChecksumIsTheWrappingU32SumAsSignedInt32) {
  BucketStorage storage;
  uint64_t sum = 0;  // exact, no wrapping
  int n = 0;
  // Append until the sum has wrapped past 2^32 at least once and the low 32 bits have the
  // sign bit set, so both the wrap and the signed reinterpretation are exercised.
  while (n < 10'000) {
    // (Not "t" + std::to_string(n): GCC 12 -O3 reports a false -Wrestrict for it.)
    const std::string row = std::string("t").append(std::to_string(n));
    const OpId id = storage.append("b", put_op("todos", row, "{}"));
    EXPECT_EQ(id, n + 1);
    ++n;
    const auto ops = storage.ops("b", id - 1, id, 1);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0]->checksum, op_checksum(*ops[0]));
    sum += ops[0]->checksum;
    if (sum >= (1ULL << 32) && (sum % (1ULL << 32)) >= (1ULL << 31)) break;
  }
  ASSERT_GE(sum, 1ULL << 32);
  auto expected = static_cast<int64_t>(sum % (1ULL << 32));
  if (expected >= (1LL << 31)) expected -= 1LL << 32;
  ASSERT_LT(expected, 0);
  const BucketState s = storage.state("b", storage.last_op());
  EXPECT_EQ(s.checksum, expected);
  EXPECT_EQ(s.count, n);
}

TEST(BucketStorage, OpChecksumDependsOnEveryField) {
  const uint32_t base = op_checksum(put_op("todos", "1", R"({"a":1})"));
  EXPECT_EQ(base, op_checksum(put_op("todos", "1", R"({"a":1})")));
  EXPECT_NE(base, op_checksum(put_op("notes", "1", R"({"a":1})")));
  EXPECT_NE(base, op_checksum(put_op("todos", "2", R"({"a":1})")));
  EXPECT_NE(base, op_checksum(put_op("todos", "1", R"({"a":2})")));
  EXPECT_NE(op_checksum(put_op("todos", "1", "")), op_checksum(remove_op("todos", "1")));
  // Field boundaries count: ("ab","c") is not ("a","bc").
  EXPECT_NE(op_checksum(put_op("ab", "c", "")), op_checksum(put_op("a", "bc", "")));
}

TEST(BucketStorage, StateCountsOnlyOpsUpTo) {
  BucketStorage storage;
  EXPECT_EQ(storage.state("none", 100), (BucketState{0, 0}));
  storage.append("b", put_op("todos", "1", "{}"));
  storage.append("other", put_op("todos", "2", "{}"));
  storage.append("b", remove_op("todos", "1"));
  const auto all = storage.ops("b", 0, 100, 100);
  ASSERT_EQ(ids(all), (std::vector<OpId>{1, 3}));
  const auto c1 = static_cast<int32_t>(all[0]->checksum);
  const auto c13 = static_cast<int32_t>(all[0]->checksum + all[1]->checksum);
  EXPECT_EQ(storage.state("b", 0), (BucketState{0, 0}));
  EXPECT_EQ(storage.state("b", 1), (BucketState{c1, 1}));
  EXPECT_EQ(storage.state("b", 2), (BucketState{c1, 1}));
  EXPECT_EQ(storage.state("b", 3), (BucketState{c13, 2}));
  EXPECT_EQ(storage.state("b", 1000), (BucketState{c13, 2}));
}

TEST(BucketStorage, OpsRangesAreAfterExclusiveUpToInclusiveAndLimited) {
  BucketStorage storage;
  for (int i = 1; i <= 12; ++i) {
    // Interleave another bucket so "b" has gaps in its op ids: b has 1,3,5,...,23.
    storage.append("b", put_op("todos", std::to_string(i), "{}"));
    storage.append("c", put_op("todos", "x", "{}"));
  }
  EXPECT_EQ(storage.last_op(), 24);
  EXPECT_EQ(ids(storage.ops("b", 0, 5, 100)), (std::vector<OpId>{1, 3, 5}));
  EXPECT_EQ(ids(storage.ops("b", 1, 5, 100)), (std::vector<OpId>{3, 5}));
  EXPECT_EQ(ids(storage.ops("b", 2, 6, 100)), (std::vector<OpId>{3, 5}));
  EXPECT_EQ(ids(storage.ops("b", 4, 100, 3)), (std::vector<OpId>{5, 7, 9}));
  EXPECT_EQ(ids(storage.ops("b", 9, 100, 3)), (std::vector<OpId>{11, 13, 15}));
  EXPECT_EQ(ids(storage.ops("b", 21, 100, 3)), (std::vector<OpId>{23}));
  EXPECT_TRUE(storage.ops("b", 23, 100, 3).empty());
  EXPECT_TRUE(storage.ops("b", 0, 0, 3).empty());
  EXPECT_TRUE(storage.ops("b", 5, 5, 3).empty());
  EXPECT_TRUE(storage.ops("b", 0, 100, 0).empty());
  EXPECT_TRUE(storage.ops("missing", 0, 100, 10).empty());
  const auto one = storage.ops("c", 0, 2, 10);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]->op_id, 2);
  EXPECT_EQ(one[0]->object_id, "x");
  EXPECT_TRUE(one[0]->put);
}

TEST(BucketStorage, CheckpointsTakeTheCurrentOpIdAndNotify) {
  sim::Loop loop;
  BucketStorage storage;
  EXPECT_EQ(storage.latest().op_id, 0);
  EXPECT_EQ(storage.latest().lsn, 0);
  std::vector<std::pair<Micros, StorageCheckpoint>> seen;
  loop.spawn(wait_checkpoints(&loop, &storage, 3, &seen), "watcher");
  loop.run_until(kEpoch);
  storage.append("b", put_op("todos", "1", "{}"));
  storage.append("b", put_op("todos", "2", "{}"));
  storage.checkpoint(5);
  EXPECT_EQ(storage.latest().op_id, 2);
  EXPECT_EQ(storage.latest().lsn, 5);
  loop.run_until(kEpoch + kMillis);
  storage.checkpoint(5);  // an equal LSN is allowed (an empty keepalive checkpoint)
  loop.run_until(kEpoch + 2 * kMillis);
  storage.append("b", put_op("todos", "3", "{}"));
  storage.checkpoint(9);
  loop.run_until(kEpoch + 3 * kMillis);
  EXPECT_EQ(storage.checkpoints(), 3u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, kEpoch);
  EXPECT_EQ(seen[0].second.op_id, 2);
  EXPECT_EQ(seen[1].second.lsn, 5);
  EXPECT_EQ(seen[2].first, kEpoch + 2 * kMillis);
  EXPECT_EQ(seen[2].second.op_id, 3);
  EXPECT_EQ(seen[2].second.lsn, 9);
  // The checkpoint LSN never decreases across the sequence.
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].second.lsn, seen[i - 1].second.lsn);
    EXPECT_GE(seen[i].second.op_id, seen[i - 1].second.op_id);
  }
}

}  // namespace
}  // namespace syncsim::model
