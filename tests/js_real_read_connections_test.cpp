// The js-real adapter's read pool (issue 16, engine/js/read_connections.hpp): what
// `@powersync/node` 1.1.0's WorkerConnectionPool gives the SDK -- a read is served while a
// write transaction is open and sees the last committed state, a read transaction keeps the
// state of its BEGIN across a commit, and a read connection cannot write.  No Node needed.
#include <gtest/gtest.h>

#include "engine/core_registry.hpp"
#include "engine/database.hpp"
#include "engine/js/read_connections.hpp"
#include "sim/clock.hpp"
#include "sim/prng.hpp"
#include "sim/vfs.hpp"
#include "tests/support/sim_env.hpp"

namespace syncsim::engine::js {
namespace {

using test_support::SimEnv;

class ReadPool : public ::testing::Test {
 protected:
  void SetUp() override {
    const CoreVersion* core = find_core("0.5.3");
    ASSERT_NE(core, nullptr);
    db = std::make_unique<Database>("reads.db", *core);
    db->exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (1)");
    reads = std::make_unique<ReadConnections>(db->raw(), core->path);
  }
  int64_t read(int slot, const std::string& sql = "SELECT sum(v) FROM t") {
    const auto rows = reads->run(slot, sql, nlohmann::json::array());
    return rows.rows.at(0).at(0).get<int64_t>();
  }
  SimEnv sim{1};
  std::unique_ptr<Database> db;
  std::unique_ptr<ReadConnections> reads;
};

TEST_F(ReadPool, AReadWithNoWriteTransactionOpenRunsOnTheWriterConnection) {
  EXPECT_EQ(read(1), 1);
  EXPECT_EQ(reads->on_writer(), 1u);
  EXPECT_EQ(reads->snapshots(), 0u);
}

TEST_F(ReadPool, AReadDuringAWriteTransactionSeesTheCommittedStateNotTheOpenOne) {
  db->exec("BEGIN IMMEDIATE; INSERT INTO t VALUES (10)");
  EXPECT_EQ(read(1), 1);  // the committed state, served at once
  EXPECT_EQ(read(2), 1);  // the same snapshot (one per committed generation)
  EXPECT_EQ(reads->snapshots(), 1u);
  EXPECT_EQ(reads->on_snapshot(), 2u);
  EXPECT_EQ(db->query_int("SELECT sum(v) FROM t"), 11);  // the writer sees its own write
  reads->before_write("COMMIT");
  db->exec("COMMIT");
  EXPECT_EQ(read(1), 11);  // after the commit: the new state, on the writer again
  EXPECT_EQ(reads->on_writer(), 1u);
}

TEST_F(ReadPool, AReadTransactionKeepsTheStateOfItsBeginAcrossACommit) {
  reads->run(3, "BEGIN IMMEDIATE", nlohmann::json::array());
  EXPECT_EQ(read(3), 1);
  reads->before_write("INSERT INTO t VALUES (5)");  // autocommit: this write commits
  db->exec("INSERT INTO t VALUES (5)");
  EXPECT_EQ(read(3), 1);  // still the state at BEGIN (WAL read snapshot)
  EXPECT_EQ(read(4), 6);  // another connection sees the commit
  reads->run(3, "COMMIT", nlohmann::json::array());
  EXPECT_EQ(read(3), 6);
}

TEST_F(ReadPool, AReadTransactionThatMissedACommitIsAnErrorNotAWrongAnswer) {
  // A write that bypassed before_write (the mutant: pinning forgotten) must not go unnoticed.
  reads->run(1, "BEGIN", nlohmann::json::array());
  db->exec("INSERT INTO t VALUES (5)");
  EXPECT_THROW(read(1), SqlError);
}

TEST_F(ReadPool, AReadConnectionCannotWriteAndNestedBeginsFailAsInSqlite) {
  try {
    reads->run(1, "INSERT INTO t VALUES (7)", nlohmann::json::array());
    FAIL() << "a read connection wrote";
  } catch (const SqlError& e) {
    EXPECT_EQ(e.code(), SQLITE_READONLY);
  }
  EXPECT_EQ(db->query_int("SELECT sum(v) FROM t"), 1);
  reads->run(2, "BEGIN IMMEDIATE", nlohmann::json::array());
  EXPECT_THROW(reads->run(2, "BEGIN IMMEDIATE", nlohmann::json::array()), SqlError);
  reads->run(2, "ROLLBACK", nlohmann::json::array());
  EXPECT_THROW(reads->run(2, "COMMIT", nlohmann::json::array()), SqlError);
}

TEST_F(ReadPool, TheCoreRunsOnASnapshot) {
  db->exec("BEGIN IMMEDIATE; INSERT INTO t VALUES (10)");
  const auto rows = reads->run(1, "SELECT powersync_rs_version()", nlohmann::json::array());
  ASSERT_TRUE(rows.first_value);
  EXPECT_EQ(rows.first_value->rfind("0.5.3/", 0), 0u) << *rows.first_value;
  EXPECT_EQ(reads->on_snapshot(), 1u);
  db->exec("ROLLBACK");
}

}  // namespace
}  // namespace syncsim::engine::js
