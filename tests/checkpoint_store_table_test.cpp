// CheckpointStore (model/checkpoint_store.hpp): tables reproducing the storage tests 3, 6, 7 and 8
// of docs/protocol.md §3.5, the mongo read-back of §3.1.5, and the delete_request fault.
//
// LSNs: "X/Y" is written lsn(X, Y) = X * 2^32 + Y, which orders like the zero-padded
// strings the service compares.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint_store.hpp"
#include "model/source_db.hpp"
#include "sim/clock.hpp"
#include "tests/support/checkpoint_store_reference.hpp"

namespace syncsim::model {
namespace {

using sim::kEpoch;
using sim::kSeconds;
using sim::Micros;
using test_support::dump;
using test_support::flavour_name;
using test_support::kMinute;
using test_support::kRetention;
using test_support::lsn;
using test_support::Records;

// =======================================================================================
// docs/protocol.md §3.5 storage tests, step by step
// =======================================================================================

struct Answer {
  int64_t id = 0;
  bool should_advance = false;
};
Answer request(CheckpointStore& s, const std::string& key, std::optional<int64_t> r, Lsn head,
               Micros now) {
  const BatchWrite w = s.create_managed({ManagedEntry{key, r}}, head, now);
  EXPECT_EQ(w.ids.size(), 1u);
  return {w.ids.at(key), w.should_advance};
}
const CheckpointRecord& only(const CheckpointStore& s, const std::string& key) {
  const auto* docs = s.find(key);
  EXPECT_TRUE(docs != nullptr && docs->size() == 1u);
  static const CheckpointRecord kNone{};
  return docs && docs->size() == 1u ? docs->front() : kNone;
}

// Test 3, "managed write checkpoints - client supplied ids are monotonic" (both flavours;
// no replication runs, so the mongo record stays pending throughout).
TEST(CheckpointStoreTable, Test3SuppliedIdsAreMonotonic) {
  struct Step {
    const char* what;
    std::optional<int64_t> r;
    Lsn head;
    int64_t want_id;
    bool want_advance;
    std::vector<std::pair<Lsn, std::optional<int64_t>>> lookups;
  };
  const std::vector<Step> steps{
      {"42@5/0", 42, lsn(5, 0), 42, true, {{lsn(5, 0), 42}, {lsn(5, 0) - 1, std::nullopt}}},
      {"stale 41@8/0", 41, lsn(8, 0), 42, true, {{lsn(6, 0), 42}}},
      {"equal 42@8/0", 42, lsn(8, 0), 42, true, {{lsn(6, 0), 42}}},
      {"43@8/0", 43, lsn(8, 0), 43, true, {{lsn(7, 0), std::nullopt}, {lsn(8, 0), 43}}},
      {"generated@9/0", std::nullopt, lsn(9, 0), 44, true, {{lsn(8, 0), std::nullopt}}},
  };
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    CheckpointStore s(f);
    Micros now = kEpoch;
    for (const auto& st : steps) {
      SCOPED_TRACE(flavour_name(f) + " " + st.what);
      now += kSeconds;
      const Answer a = request(s, "user/client", st.r, st.head, now);
      EXPECT_EQ(a.id, st.want_id);
      EXPECT_EQ(a.should_advance, st.want_advance);
      for (const auto& [l, want] : st.lookups) EXPECT_EQ(s.lookup("user/client", l), want);
    }
    const CheckpointRecord& rec = only(s, "user/client");
    EXPECT_EQ(rec.head, lsn(9, 0));
    EXPECT_FALSE(rec.requested_at.has_value()) << "the generated request made it permanent";
  }
}

// Tests 6 (mongo) and 8 (postgres): "uses checkpoint_requested_at as the client-requested
// checkpoint marker".  (Their custom-row part is outside CheckpointStore.)
void requested_at_rules(StorageFlavour f) {
  SCOPED_TRACE(flavour_name(f));
  CheckpointStore s(f);
  const std::string k = "user-1/client";
  const Micros t1 = kEpoch + 1 * kSeconds, t2 = t1 + kSeconds, t3 = t2 + kSeconds,
               t4 = t3 + kSeconds, t5 = t4 + kSeconds;

  // A new record: pending, requested_at set.
  EXPECT_EQ(request(s, k, 42, lsn(5, 0), t1).id, 42);
  EXPECT_EQ(only(s, k).id, 42);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  EXPECT_FALSE(only(s, k).processed_at_lsn.has_value());
  EXPECT_EQ(only(s, k).requested_at, t1);
  // A stale request keeps the timestamp (and the head).
  EXPECT_EQ(request(s, k, 41, lsn(6, 0), t2).id, 42);
  EXPECT_EQ(only(s, k).requested_at, t1);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  // An equal retry refreshes the timestamp, keeps lsns 5/0 and pending.
  EXPECT_EQ(request(s, k, 42, lsn(6, 0), t3).id, 42);
  EXPECT_EQ(only(s, k).requested_at, t3);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  EXPECT_FALSE(only(s, k).processed_at_lsn.has_value());
  // A greater id refreshes the timestamp and sets lsns 6/0.
  EXPECT_EQ(request(s, k, 43, lsn(6, 0), t4).id, 43);
  EXPECT_EQ(only(s, k).requested_at, t4);
  EXPECT_EQ(only(s, k).head, lsn(6, 0));
  // A generated request unsets the field (NULL on postgres).
  EXPECT_EQ(request(s, k, std::nullopt, lsn(7, 0), t5).id, 44);
  EXPECT_FALSE(only(s, k).requested_at.has_value());
  EXPECT_EQ(only(s, k).head, lsn(7, 0));

  // An expired request whose head 8/0 is not replicated (replication at 1/1).
  const std::string k2 = "user-2/client";
  EXPECT_EQ(request(s, k2, 1, lsn(8, 0), t5).id, 1);
  s.on_commit(lsn(1, 1));
  const Micros later = t5 + kRetention + kMinute;
  if (f == StorageFlavour::Mongo) {
    EXPECT_EQ(s.delete_expired(later - kRetention), 0) << "mongo keeps pending requests";
    ASSERT_NE(s.find(k2), nullptr);
    s.on_commit(lsn(8, 0));  // keepalive('8/0') processes it
    EXPECT_EQ(only(s, k2).processed_at_lsn, lsn(8, 0));
    EXPECT_EQ(s.delete_expired(later - kRetention), 1);
  } else {
    EXPECT_EQ(s.delete_expired(later - kRetention), 1) << "postgres deletes it unreplicated";
    EXPECT_FALSE(only(s, k).processed_at_lsn.has_value()) << "postgres has no processed state";
  }
  EXPECT_EQ(s.find(k2), nullptr);
  EXPECT_EQ(only(s, k).id, 44) << "generated records are never deleted";
  EXPECT_EQ(s.delete_expired(later + 1000 * kRetention), 0);
}

TEST(CheckpointStoreTable, Test6MongoRequestedAt) { requested_at_rules(StorageFlavour::Mongo); }
TEST(CheckpointStoreTable, Test8PostgresRequestedAt) {
  requested_at_rules(StorageFlavour::Postgres);
}

// Test 7 (mongo), "updates duplicate managed rows on supplied checkpoint requests":
// duplicates {50, processed} and {42, pending}; seed id 1 returns 50 with
// shouldAdvance=false; 51 updates both documents to 51@51/0, pending, request-derived.
TEST(CheckpointStoreTable, Test7MongoDuplicateDocuments) {
  CheckpointStore s(StorageFlavour::Mongo);
  const std::string k = "user/client";
  const std::set<std::string> matched_nothing;
  // Batch B inserts {50}; replication processes it; batch A, which matched before B's
  // insert, inserts {42} at a later head: two documents.
  EXPECT_EQ(request(s, k, 50, lsn(10, 0), kEpoch).id, 50);
  s.on_commit(lsn(10, 0));
  const BatchWrite a =
      s.create_managed({ManagedEntry{k, 42}}, lsn(20, 0), kEpoch, &matched_nothing);
  EXPECT_EQ(a.ids.at(k), 50) << "the response re-reads all documents";
  // §3.1.7: the max document (50) is processed, so no marker although A's own 42 is pending.
  EXPECT_FALSE(a.should_advance);
  ASSERT_EQ(s.find(k)->size(), 2u);
  EXPECT_EQ(s.duplicates_created(), 1u);
  EXPECT_EQ((*s.find(k))[0].id, 50);
  EXPECT_TRUE((*s.find(k))[0].processed_at_lsn.has_value());
  EXPECT_EQ((*s.find(k))[1].id, 42);
  EXPECT_FALSE((*s.find(k))[1].processed_at_lsn.has_value());

  // Seed: id 1 returns 50, no marker (the max document is processed), nothing changes.
  const Records before = s.records();
  const Answer seed = request(s, k, 1, lsn(30, 0), kEpoch + kSeconds);
  EXPECT_EQ(seed.id, 50);
  EXPECT_FALSE(seed.should_advance);
  EXPECT_EQ(dump(s.records()), dump(before));

  // 51 updates both documents.
  const Micros t = kEpoch + 2 * kSeconds;
  const Answer next = request(s, k, 51, lsn(51, 0), t);
  EXPECT_EQ(next.id, 51);
  EXPECT_TRUE(next.should_advance);
  ASSERT_EQ(s.find(k)->size(), 2u);
  for (const auto& d : *s.find(k)) {
    EXPECT_EQ(d.id, 51);
    EXPECT_EQ(d.head, lsn(51, 0));
    EXPECT_FALSE(d.processed_at_lsn.has_value());
    EXPECT_EQ(d.requested_at, t);
  }
  EXPECT_EQ(s.stored_id(k), 51);
}

// docs/protocol.md §3.1.5 "Read-back with duplicates" (MongoWriteCheckpointAPI
// .createManagedWriteCheckpoints, v1.24.0): duplicates {1, 1} of a key from two racing
// generated upserts.  A batch with ONE generated key answers the document findOneAndUpdate
// incremented; a batch with TWO generated keys increments the first document (updateOne) but
// answers the last one the separate find returns: 1, an id the key already had.
TEST(CheckpointStoreTable, MultiKeyGeneratedReadBackAnswersLastDuplicate) {
  for (GeneratedReadBack rb : {GeneratedReadBack::Service, GeneratedReadBack::Incremented}) {
    CheckpointStore s(StorageFlavour::Mongo, StoreMutants{}, rb);
    const std::string k = "u1/a";
    const std::string other = "u2/a";
    const std::set<std::string> matched_nothing;
    EXPECT_EQ(s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(1, 0), kEpoch).ids.at(k), 1);
    EXPECT_EQ(s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(1, 0), kEpoch, &matched_nothing)
                  .ids.at(k),
              1);
    ASSERT_EQ(s.find(k)->size(), 2u);
    s.on_commit(lsn(1, 0));
    // One generated key: findOneAndUpdate(returnDocument 'after') answers its own increment.
    const BatchWrite one = s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(2, 0), kEpoch);
    EXPECT_EQ(one.ids.at(k), 2);
    EXPECT_EQ(one.stored.at(k), 2);
    // Two generated keys: updateOne increments the first document to 3, find + Map.set
    // answers the last document, still 1 (processed at 1/0: already acknowledged).
    const BatchWrite two = s.create_managed(
        {ManagedEntry{k, std::nullopt}, ManagedEntry{other, std::nullopt}}, lsn(3, 0), kEpoch);
    EXPECT_EQ(two.stored.at(k), 3);
    EXPECT_EQ((*s.find(k))[0].id, 3);
    EXPECT_EQ((*s.find(k))[1].id, 1);
    EXPECT_TRUE((*s.find(k))[1].processed_at_lsn.has_value());
    EXPECT_EQ(two.ids.at(other), 1) << "no duplicates: the key's own increment";
    if (rb == GeneratedReadBack::Service) {
      EXPECT_EQ(two.ids.at(k), 1) << "the last document, not the incremented one";
      EXPECT_EQ(s.foreign_read_backs(), 1u);
    } else {
      EXPECT_EQ(two.ids.at(k), 3);
      EXPECT_EQ(s.foreign_read_backs(), 0u);
    }
  }
  // Postgres: RETURNING the one row, never another document.
  CheckpointStore pg(StorageFlavour::Postgres);
  const std::set<std::string> matched_nothing;
  pg.create_managed({ManagedEntry{"u1/a", std::nullopt}}, lsn(1, 0), kEpoch);
  pg.create_managed({ManagedEntry{"u1/a", std::nullopt}}, lsn(1, 0), kEpoch, &matched_nothing);
  const BatchWrite two = pg.create_managed(
      {ManagedEntry{"u1/a", std::nullopt}, ManagedEntry{"u2/a", std::nullopt}}, lsn(2, 0), kEpoch);
  EXPECT_EQ(two.ids.at("u1/a"), 3);
  EXPECT_EQ(pg.foreign_read_backs(), 0u);
}

// docs/protocol.md §3.1.5 "Read-back round trip" (fidelity review item 12;
// MongoWriteCheckpointAPI.createManagedWriteCheckpoints and createSuppliedManagedWriteCheckpoints,
// v1.24.0): the answer is a separate find after the bulkWrite, so a batch that writes in
// between shows through.  Batch A stores 5, batch B stores 7 before A's find: A answers 7
// while having stored 5; A's shouldAdvance comes from the documents as read.  A generated
// multi-key read-back likewise sees B's increment.  Postgres answers RETURNING: no read-back.
TEST(CheckpointStoreTable, ASeparateReadBackSeesAConcurrentBatchsWrite) {
  CheckpointStore s(StorageFlavour::Mongo);
  const std::string k = "u1/a";
  const std::vector<ManagedEntry> a = {ManagedEntry{k, 5}};
  BatchWrite wa = s.create_managed(a, lsn(1, 0), kEpoch);
  EXPECT_EQ(wa.ids.at(k), 5);
  ASSERT_TRUE(s.reads_back(a));
  s.create_managed({ManagedEntry{k, 7}}, lsn(2, 0), kEpoch);  // B, between A's write and find
  s.read_back(a, wa);
  EXPECT_EQ(wa.ids.at(k), 7) << "the find returns B's id";
  EXPECT_EQ(wa.stored.at(k), 5) << "A's own write";
  EXPECT_TRUE(wa.should_advance) << "B's document is pending";
  // Once B's document is processed, a read-back that finds only it writes no marker.
  s.on_commit(lsn(2, 0));
  BatchWrite stale = s.create_managed({ManagedEntry{k, 6}}, lsn(3, 0), kEpoch);
  s.read_back({ManagedEntry{k, 6}}, stale);
  EXPECT_EQ(stale.ids.at(k), 7);
  EXPECT_FALSE(stale.should_advance);

  // Two generated keys: the find after B's increment answers B's id.
  const std::vector<ManagedEntry> g = {ManagedEntry{"u2/a", std::nullopt},
                                       ManagedEntry{"u3/a", std::nullopt}};
  BatchWrite wg = s.create_managed(g, lsn(4, 0), kEpoch);
  EXPECT_EQ(wg.ids.at("u2/a"), 1);
  s.create_managed({ManagedEntry{"u2/a", std::nullopt}}, lsn(5, 0), kEpoch);
  s.read_back(g, wg);
  EXPECT_EQ(wg.ids.at("u2/a"), 2);
  EXPECT_EQ(wg.stored.at("u2/a"), 1);
  EXPECT_EQ(wg.ids.at("u3/a"), 1);
  // One generated key is findOneAndUpdate: atomic, nothing to read back.
  EXPECT_FALSE(s.reads_back({ManagedEntry{"u2/a", std::nullopt}}));
  // A key deleted before the find keeps the write's answer.
  BatchWrite wd = s.create_managed({ManagedEntry{"u4/a", 3}}, lsn(6, 0), kEpoch);
  s.erase("u4/a");
  s.read_back({ManagedEntry{"u4/a", 3}}, wd);
  EXPECT_EQ(wd.ids.at("u4/a"), 3);

  CheckpointStore pg(StorageFlavour::Postgres);
  EXPECT_FALSE(pg.reads_back(a));
  EXPECT_FALSE(pg.reads_back(g));
}

// The same race on postgres: ON CONFLICT, one row; A's 42 is a stale request.
TEST(CheckpointStoreTable, Test7PostgresNeverDuplicates) {
  CheckpointStore s(StorageFlavour::Postgres);
  const std::string k = "user/client";
  const std::set<std::string> matched_nothing;
  EXPECT_EQ(request(s, k, 50, lsn(10, 0), kEpoch).id, 50);
  const BatchWrite a =
      s.create_managed({ManagedEntry{k, 42}}, lsn(20, 0), kEpoch + kSeconds, &matched_nothing);
  EXPECT_EQ(a.ids.at(k), 50);
  EXPECT_TRUE(a.should_advance);
  const CheckpointRecord& rec = only(s, k);
  EXPECT_EQ(rec.id, 50);
  EXPECT_EQ(rec.head, lsn(10, 0));
  EXPECT_EQ(rec.requested_at, kEpoch) << "a stale request does not refresh requested_at";
  EXPECT_EQ(s.duplicates_created(), 0u);
}

// The delete_request fault deletes request-derived records only: a generated (legacy)
// record is permanent in the service (docs/protocol.md §3.2.1), so legacy ids never restart at 1
// because of it (world hunt finding, issue 14); a supplied record goes, pending or not.
TEST(CheckpointStoreTable, EraseRequestedKeepsGeneratedRecords) {
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    SCOPED_TRACE(flavour_name(f));
    CheckpointStore s(f);
    Micros now = kEpoch + kSeconds;
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(1, 0), now).id, 1);
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(2, 0), now).id, 2);
    EXPECT_EQ(request(s, "u/supplied", 7, lsn(2, 0), now).id, 7);
    EXPECT_EQ(s.erase_requested("u/generated"), 0);
    EXPECT_EQ(s.deletions("u/generated"), 0u);
    EXPECT_EQ(s.stored_id("u/generated"), 2);
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(3, 0), now).id, 3) << "no restart";
    EXPECT_EQ(s.erase_requested("u/supplied"), 1);
    EXPECT_EQ(s.deletions("u/supplied"), 1u);
    EXPECT_FALSE(s.stored_id("u/supplied").has_value());
    EXPECT_EQ(s.erase_requested("u/absent"), 0);
  }
}

}  // namespace
}  // namespace syncsim::model
