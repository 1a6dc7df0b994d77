// Issue 17: custom write checkpoints (docs/protocol.md §3.1.10) and the mongo managed change
// feed's limit (§3.1.9 "Change feed"), as the service runs them in
// powersync-service v1.24.0: MongoSyncBucketStorage.getCustomWriteCheckpointChanges /
// batchCreateCustomWriteCheckpoints, the WriteCheckpointAPIs' lastCustomWriteCheckpoint and
// PostgresSyncRulesStorage.watchCheckpointChanges.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "model/custom_checkpoints.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"
#include "tests/support/capturing_stream.hpp"
#include "tests/support/service_world.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kMillis;
using sim::kSeconds;

ServiceConfig custom_config(StorageFlavour flavour) {
  ServiceConfig c;
  c.flavour = flavour;
  c.write_checkpoint_mode = WriteCheckpointMode::Custom;
  c.replication_lag = 500 * kMillis;
  return c;
}

struct World : test_support::ServiceWorld {
  explicit World(ServiceConfig config) : ServiceWorld(std::move(config), 5) {}
  // The stream of `user`, which the service must accept.
  std::shared_ptr<test_support::CapturingStream> open(const std::string& user) {
    int status = 0;
    auto stream = ServiceWorld::open(user, &status);
    EXPECT_EQ(status, 200);
    return stream;
  }
  // The backend's answer to one upload of `user` (custom mode: its write_checkpoint).
  json upload(const std::string& user, int i) {
    json out;
    svc.handle(test_support::upload_request(user, i), [&out](sim::HttpResponse response) {
      ASSERT_EQ(response.status, 200);
      out = json::parse(response.body)["data"];
    });
    return out;
  }
};

// The documented setup: the backend bumps the key's counter in the upload's transaction and
// answers it; the id is visible on the stream only once replication processed that commit.
class CustomMode : public ::testing::TestWithParam<StorageFlavour> {};

TEST_P(CustomMode, TheUploadAnswerIsAcknowledgedOnlyAfterItsCommitIsReplicated) {
  World w(custom_config(GetParam()));
  auto stream = w.open("u1");
  w.run_for(100 * kMillis);
  EXPECT_EQ(w.upload("u1", 1)["write_checkpoint"], "1");
  EXPECT_EQ(w.upload("u1", 2)["write_checkpoint"], "2");
  w.run_for(300 * kMillis);  // below the 500 ms lag
  EXPECT_TRUE(stream->write_checkpoints().empty()) << "custom id before replication";
  EXPECT_FALSE(w.svc.checkpoints().custom().last("u1/c1", 1).has_value());
  w.run_for(kSeconds);
  ASSERT_FALSE(stream->write_checkpoints().empty());
  EXPECT_EQ(stream->write_checkpoints().back(), "2");
  EXPECT_EQ(w.svc.checkpoints().custom().last("u1/c1", 1), 2);
  // No managed record exists: custom mode does not use them.
  EXPECT_TRUE(w.svc.checkpoints().records().empty());
}

TEST_P(CustomMode, ManagedRoutesAreStillRejected) {
  World w(custom_config(GetParam()));
  sim::HttpResponse out{-1, ""};
  sim::HttpRequest r{"GET", "/write-checkpoint2.json?client_id=c1", "", "u1"};
  w.svc.handle(r, [&out](sim::HttpResponse response) { out = std::move(response); });
  w.run_for(100 * kMillis);
  EXPECT_EQ(out.status, GetParam() == StorageFlavour::Mongo ? 500 : 400);
}

// Custom records are keyed by (user, sync_rules_id): a new sync config starts without them
// (docs/protocol.md §3.4 "managed write checkpoints survive, custom ones reset").
// A new sync config's custom records start empty, and its snapshot fills them from the
// `checkpoints` rows (an event table: every snapshot row fires its event, docs/protocol.md §3.1.10,
// findings-world.md W42), so the new config's stream emits the id under its own sync_rules_id.
TEST_P(CustomMode, ASyncConfigChangeCarriesCustomCheckpointsThroughItsSnapshot) {
  World w(custom_config(GetParam()));
  w.upload("u1", 1);
  w.run_for(2 * kSeconds);
  auto before = w.open("u1");
  w.run_for(100 * kMillis);
  ASSERT_EQ(before->write_checkpoints(), (std::vector<std::string>{"1"}));
  w.svc.change_sync_config();
  // Reprocessed in the background; the old instance's streams end when the new one
  // activates (docs/protocol.md §3.4 "Sync config reprocessing").
  w.run_for(5 * kSeconds);
  EXPECT_TRUE(before->closed());
  EXPECT_EQ(w.svc.sync_rules_id(), 2);
  EXPECT_EQ(w.svc.checkpoints().custom().last("u1/c1", 2), 1) << "the snapshot's record";
  auto after = w.open("u1");
  w.run_for(100 * kMillis);
  EXPECT_EQ(after->write_checkpoints(), (std::vector<std::string>{"1"}));
  w.upload("u1", 2);  // the source counter continues: 2, under the new sync config
  w.run_for(2 * kSeconds);
  EXPECT_EQ(after->write_checkpoints().back(), "2");
  EXPECT_EQ(w.svc.checkpoints().custom().last("u1/c1", 1), 1);
}

INSTANTIATE_TEST_SUITE_P(Flavours, CustomMode,
                         ::testing::Values(StorageFlavour::Mongo, StorageFlavour::Postgres),
                         [](const auto& info) { return to_string(info.param); });

// MongoSyncBucketStorage.getCustomWriteCheckpointChanges: op_id in (last, next], no
// sync_rules_id filter, limit 1000 (more invalidates: the lookup runs instead).
TEST(CustomChanges, TheOpRangeDecidesAndMoreThanAThousandInvalidates) {
  CustomCheckpointStore store;
  store.upsert("u1/c1", 1, 7, 10);
  store.upsert("u2/c1", 1, 3, 12);
  EXPECT_EQ(store.changes("u1/c1", 9, 10).value, 7);
  EXPECT_FALSE(store.changes("u1/c1", 10, 20).value.has_value()) << "op 10 is not after 10";
  EXPECT_FALSE(store.changes("u1/c1", 0, 9).value.has_value()) << "op 10 is beyond 9";
  // The change query has no sync_rules_id filter: another config's record counts too.
  store.upsert("u1/c1", 2, 9, 15);
  EXPECT_EQ(store.changes("u1/c1", 12, 15).value, 9);
  // The fix of findings-world.md W42 (service.custom_changes own-config): only the given config's.
  EXPECT_FALSE(store.changes("u1/c1", 12, 15, 1).value.has_value());
  EXPECT_EQ(store.changes("u1/c1", 12, 15, 2).value, 9);
  EXPECT_EQ(store.last("u1/c1", 1), 7);
  for (int i = 0; i < 1001; ++i) store.upsert("x" + std::to_string(i), 1, 1, 100 + i);
  const CustomChanges many = store.changes("u1/c1", 99, 2000);
  EXPECT_TRUE(many.invalidate);
  EXPECT_FALSE(store.changes("u1/c1", 99, 1099).invalidate) << "1000 is still within the limit";
}

// The upsert is unconditional ($set): a lower value replaces a higher one, unlike the
// managed records' "only when greater" writes.
TEST(CustomChanges, TheUpsertReplacesEvenWithALowerValue) {
  CustomCheckpointStore store;
  store.upsert("u1/c1", 1, 9, 1);
  store.upsert("u1/c1", 1, 4, 2);
  EXPECT_EQ(store.last("u1/c1", 1), 4);
}

// Mutant custom-checkpoint-before-replication: the id reaches the stream while the upload's
// commit is not replicated, and service-ack-after-replication says so.
TEST(CustomMutant, AnIdAheadOfReplicationIsCaught) {
  ServiceConfig c = custom_config(StorageFlavour::Postgres);
  c.mutants = {ServiceMutant::CustomCheckpointBeforeReplication};
  c.replication_lag = 2 * kSeconds;
  sim::Verdicts verdicts({"service-ack-after-replication"});
  World w(c);
  w.svc.set_verdicts(&verdicts);
  w.upload("u1", 1);
  auto stream = w.open("u1");
  w.loop.run_until(w.loop.now() + 500 * kMillis);  // still below the lag; stops at the violation
  ASSERT_EQ(stream->write_checkpoints(), (std::vector<std::string>{"1"}));
  ASSERT_TRUE(verdicts.first().has_value());
  EXPECT_EQ(verdicts.first()->invariant, "service-ack-after-replication");
}

// MongoSyncBucketStorage.getManagedWriteCheckpointChanges (v1.24.0): documents with
// processed_at_lsn in (last, next], limit 1000 over every user; for duplicates
// `updatedWriteCheckpoints.set(user_id, client_id)` keeps the last one in cursor order.
TEST(ManagedChangeFeed, DuplicatesYieldTheLastDocumentInCursorOrderNotTheGreatest) {
  CheckpointStore store(StorageFlavour::Mongo);
  const std::set<std::string> none;
  store.create_managed({{"u1/c1", 9}}, 1, 0, &none);
  store.create_managed({{"u1/c1", 4}}, 1, 0, &none);  // raced: a second document
  ASSERT_EQ(store.duplicates_created(), 1u);
  store.on_commit(1);
  EXPECT_EQ(store.managed_changes("u1/c1", 0, 1).value, 4);
  EXPECT_EQ(store.processed_between("u1/c1", 0, 1), 9) << "the model before issue 17";
}

TEST(ManagedChangeFeed, MoreThanAThousandProcessedRecordsInvalidate) {
  CheckpointStore store(StorageFlavour::Mongo);
  std::vector<ManagedEntry> entries;
  for (int i = 0; i < 1001; ++i) entries.push_back({"u" + std::to_string(i) + "/c", 5});
  store.create_managed(entries, 3, 0);
  store.on_commit(3);
  EXPECT_TRUE(store.managed_changes("u7/c", 2, 3).invalidate);
  EXPECT_FALSE(store.managed_changes("u7/c", 2, 3).value.has_value());
  // 1000 exactly stays within the page.
  CheckpointStore small(StorageFlavour::Mongo);
  entries.pop_back();
  small.create_managed(entries, 3, 0);
  small.on_commit(3);
  EXPECT_FALSE(small.managed_changes("u7/c", 2, 3).invalidate);
  EXPECT_EQ(small.managed_changes("u7/c", 2, 3).value, 5);
}

// End to end: 1001 keys acknowledged by one marker; an open connection falls back to the
// head-based lookup and still gets its id.
TEST(ManagedChangeFeed, AConnectionFallsBackToTheLookupAndStillAcks) {
  ServiceConfig c;
  c.max_concurrent_streams = 0;
  World w(c);
  auto stream = w.open("u7");
  w.upload("u0", 1);  // a first replicated position: the connection's initial lookup is done
  w.run_for(2 * kSeconds);
  ASSERT_TRUE(stream->write_checkpoints().empty());
  std::vector<sim::HttpResponse> answers(1001, sim::HttpResponse{-1, ""});
  for (int i = 0; i < 1001; ++i) {
    sim::HttpRequest r{"POST", "/sync/checkpoint-request",
                       json{{"client_id", "c1"}, {"checkpoint_request_id", 3}}.dump(),
                       "u" + std::to_string(i)};
    w.svc.handle(r, [&answers, i](sim::HttpResponse response) { answers[i] = response; });
  }
  w.run_for(2 * kSeconds);
  EXPECT_EQ(answers[7].status, 200);
  EXPECT_GE(w.svc.stream_stats().change_feed_fallbacks, 1u);
  EXPECT_EQ(stream->write_checkpoints(), (std::vector<std::string>{"3"}));
}

}  // namespace
}  // namespace syncsim::model
