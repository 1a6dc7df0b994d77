// engine/watched_read.hpp's cached reads (issue 20, perf7 and perf11): a cached answer must be the
// table's content after every kind of change (a row the update hook sees, the truncate
// optimisation it does not see, a rollback, a REPLACE's silent delete), on a real connection
// with the sim VFS; and
// shim_detail::dumped_size, which counts UpdateSyncStatus sizes instead of dumping them.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/core_registry.hpp"
#include "engine/database.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "engine/watched_read.hpp"
#include "sim/vfs.hpp"
#include "tests/support/sim_env.hpp"

namespace syncsim::engine {
namespace {

using test_support::SimEnv;

const CoreVersion& any_core() {
  const CoreVersion* core = find_core("0.5.3");
  if (core == nullptr) throw std::runtime_error("core 0.5.3 is not registered");
  return *core;
}

constexpr const char* kRow = "SELECT description FROM ps_data__t WHERE id = ?";
constexpr const char* kCount = "SELECT count(*) FROM ps_crud";

std::optional<std::optional<std::string>> row(Database& db, const std::string& id) {
  return query_row_watched(db, Watched::Data, kRow, {id});
}

TEST(WatchedRead, RowReadsFollowEveryKindOfChange) {
  SimEnv env{7};
  Database db("watched.db", any_core());
  db.exec("CREATE TABLE ps_data__t(id TEXT PRIMARY KEY, description TEXT)");
  EXPECT_EQ(row(db, "a"), std::nullopt);  // no row
  db.exec("INSERT INTO ps_data__t VALUES ('a', 'one'), ('b', NULL)");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("one"));
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("one"));  // a hit
  EXPECT_EQ(row(db, "b"),
            std::optional<std::optional<std::string>>(std::in_place, std::nullopt));  // NULL
  db.exec("UPDATE ps_data__t SET description = 'two' WHERE id = 'a'");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("two"));
  // A rollback restores rows without the update hook.
  db.begin();
  db.exec("UPDATE ps_data__t SET description = 'three' WHERE id = 'a'");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("three"));
  db.rollback();
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("two"));
  // REPLACE moves a row to a new rowid and deletes the old one without the hook (perf19).
  db.exec("REPLACE INTO ps_data__t VALUES ('a', 'four')");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("four"));
  db.exec("REPLACE INTO ps_data__t VALUES ('a', 'five')");
  db.exec("DELETE FROM ps_data__t WHERE id = 'a'");  // its new rowid, unresolved
  EXPECT_EQ(row(db, "a"), std::nullopt);
  db.exec("INSERT INTO ps_data__t VALUES ('a', 'six')");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("six"));
  // Changes the hook misses elsewhere (a WITHOUT ROWID table) keep rows that are still there.
  db.exec("CREATE TABLE w(k TEXT PRIMARY KEY) WITHOUT ROWID");
  db.exec("INSERT INTO w VALUES ('x')");
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("six"));
  // The truncate optimisation deletes without the hook.
  db.exec("DELETE FROM ps_data__t");
  EXPECT_EQ(row(db, "a"), std::nullopt);
  EXPECT_EQ(row(db, "b"), std::nullopt);
  // Rows re-inserted after a truncation at the rowids the cached rows had.
  db.exec("INSERT INTO ps_data__t VALUES ('b', 'seven')");
  EXPECT_EQ(row(db, "b"), std::optional<std::optional<std::string>>("seven"));
  EXPECT_EQ(row(db, "a"), std::nullopt);
  db.exec("DELETE FROM ps_data__t");
  db.exec("INSERT INTO ps_data__t VALUES ('a', 'eight')");
  EXPECT_EQ(row(db, "b"), std::nullopt);
  EXPECT_EQ(row(db, "a"), std::optional<std::optional<std::string>>("eight"));
}

// A read of the row shape over a WITHOUT ROWID table: the per-table cache, the "not a rowid
// table" answer kept from the first read (perf20); changes there reach no update hook.
TEST(WatchedRead, RowReadsOverAWithoutRowidTableFollowChanges) {
  SimEnv env{7};
  Database db("watched.db", any_core());
  db.exec("CREATE TABLE ps_data__w(id TEXT PRIMARY KEY, description TEXT) WITHOUT ROWID");
  const std::string sql = "SELECT description FROM ps_data__w WHERE id = ?";
  auto read = [&](const std::string& id) {
    return query_row_watched(db, Watched::Data, sql, {id});
  };
  EXPECT_EQ(read("a"), std::nullopt);
  db.exec("INSERT INTO ps_data__w VALUES ('a', 'one')");
  EXPECT_EQ(read("a"), std::optional<std::optional<std::string>>("one"));
  EXPECT_EQ(read("a"), std::optional<std::optional<std::string>>("one"));
  db.exec("UPDATE ps_data__w SET description = 'two' WHERE id = 'a'");
  EXPECT_EQ(read("a"), std::optional<std::optional<std::string>>("two"));
  db.exec("DELETE FROM ps_data__w");
  EXPECT_EQ(read("a"), std::nullopt);
}

// query_description (Client::read_row_cached, issue 20) answers as the table does through every
// kind of change, over an app table (the per-row cache) and a WITHOUT ROWID one (per table); the
// pointer it gives stays valid while the database does not change.
TEST(WatchedRead, DescriptionReadsAnswerAsTheTable) {
  SimEnv env{7};
  Database db("watched.db", any_core());
  db.exec("CREATE TABLE ps_data__t(id TEXT PRIMARY KEY, description TEXT)");
  db.exec("CREATE TABLE ps_data__w(id TEXT PRIMARY KEY, description TEXT) WITHOUT ROWID");
  int checked = 0;
  auto check = [&]() {
    for (const std::string table : {"ps_data__t", "ps_data__w"}) {
      for (const std::string id : {"a", "b", "c"}) {
        const auto rows =
            db.query_rows("SELECT description FROM " + table + " WHERE id = ? AND 1", {id});
        const std::optional<std::string>* got = query_description(db, table, id);
        ASSERT_EQ(got != nullptr, !rows.empty()) << table << "/" << id;
        if (got != nullptr) {
          EXPECT_EQ(*got, rows[0][0]) << table << "/" << id;
        }
        ++checked;
      }
    }
    // Two reads of one row give one entry: no copy per read.
    EXPECT_EQ(query_description(db, "ps_data__t", "a"), query_description(db, "ps_data__t", "a"));
  };
  for (const char* change :
       {"INSERT INTO ps_data__t VALUES ('a', 'one'), ('b', NULL)",
        "INSERT INTO ps_data__w VALUES ('a', 'one'), ('b', NULL)",
        "UPDATE ps_data__t SET description = 'two' WHERE id = 'a'",
        "UPDATE ps_data__w SET description = 'two' WHERE id = 'a'",
        "REPLACE INTO ps_data__t VALUES ('a', 'three')", "DELETE FROM ps_data__t WHERE id = 'b'",
        "INSERT INTO ps_data__t VALUES ('c', 'four')", "DELETE FROM ps_data__t",
        "DELETE FROM ps_data__w", "INSERT INTO ps_data__t VALUES ('b', 'five')"}) {
    check();
    db.exec(change);
  }
  check();
  // A rollback restores rows without the update hook.
  db.begin();
  db.exec("UPDATE ps_data__t SET description = 'six' WHERE id = 'b'");
  check();
  db.rollback();
  check();
  EXPECT_EQ(checked, 6 * 13);
}

TEST(WatchedRead, CrudCountFollowsInsertsAndDeletes) {
  SimEnv env{7};
  Database db("watched.db", any_core());
  db.begin();
  db.query_text("SELECT powersync_init()");
  db.commit();
  EXPECT_EQ(query_int_watched(db, Watched::Crud, kCount), 0);
  db.exec("INSERT INTO ps_crud(data, tx_id) VALUES ('{}', 1)");
  EXPECT_EQ(query_int_watched(db, Watched::Crud, kCount), 1);
  EXPECT_EQ(query_int_watched(db, Watched::Crud, kCount), 1);
  db.exec("DELETE FROM ps_crud WHERE id > 0");
  EXPECT_EQ(query_int_watched(db, Watched::Crud, kCount), 0);
  // A change to another watched table leaves the count cached, and still right.
  db.exec("INSERT INTO ps_kv(key, value) VALUES ('k', 'v')");
  EXPECT_EQ(query_int_watched(db, Watched::Crud, kCount), 0);
}

// query_kv_int's per-key cache (perf21): the core's own ways of changing ps_kv (an upsert in
// place, a delete, INSERT OR REPLACE's move to a new rowid without a hook call for the old row,
// the truncation of powersync_clear) and a rollback; a change of one key keeps the others cached,
// and every answer is the table's.
TEST(WatchedRead, KvReadsFollowEveryKindOfChange) {
  SimEnv env{7};
  Database db("watched.db", any_core());
  db.begin();
  db.query_text("SELECT powersync_init()");
  db.commit();
  auto kv = [&](const char* key) { return query_kv_int(db, key); };
  EXPECT_EQ(kv("a"), std::nullopt);  // no row
  db.exec("INSERT INTO ps_kv(key, value) VALUES ('a', 1), ('b', 2), ('n', NULL)");
  EXPECT_EQ(kv("a"), 1);
  EXPECT_EQ(kv("b"), 2);
  EXPECT_EQ(kv("n"), std::nullopt);  // NULL
  EXPECT_EQ(kv("z"), std::nullopt);
  const auto upsert = [&](const char* key, int value) {
    db.exec(
        fmt::format("INSERT INTO ps_kv(key, value) VALUES ('{}', {}) ON CONFLICT(key) DO "
                    "UPDATE SET value = excluded.value",
                    key, value));
  };
  upsert("a", 3);
  EXPECT_EQ(kv("a"), 3);
  EXPECT_EQ(kv("b"), 2);
  upsert("z", 4);  // a new key at a new rowid: the cached absence goes
  EXPECT_EQ(kv("z"), 4);
  db.exec("INSERT OR REPLACE INTO ps_kv(key, value) VALUES ('b', 5)");  // 'b' moves
  EXPECT_EQ(kv("b"), 5);
  EXPECT_EQ(kv("a"), 3);
  db.exec("INSERT OR REPLACE INTO ps_kv(key, value) VALUES ('a', 6)");
  db.exec("DELETE FROM ps_kv WHERE key = 'a'");  // its new rowid, unresolved
  EXPECT_EQ(kv("a"), std::nullopt);
  EXPECT_EQ(kv("b"), 5);
  db.exec("DELETE FROM ps_kv WHERE key = 'b'");
  EXPECT_EQ(kv("b"), std::nullopt);
  // A rollback restores rows without the hook.
  db.begin();
  upsert("z", 7);
  EXPECT_EQ(kv("z"), 7);
  db.rollback();
  EXPECT_EQ(kv("z"), 4);
  // Changes the hook misses elsewhere (a WITHOUT ROWID table) keep keys that are still there.
  db.exec("CREATE TABLE w(k TEXT PRIMARY KEY) WITHOUT ROWID");
  db.exec("INSERT INTO w VALUES ('x')");
  EXPECT_EQ(kv("z"), 4);
  // The truncate optimisation deletes without the hook; keys re-inserted at the old rowids.
  db.exec("DELETE FROM ps_kv");
  EXPECT_EQ(kv("z"), std::nullopt);
  upsert("a", 8);
  upsert("z", 9);
  EXPECT_EQ(kv("z"), 9);
  EXPECT_EQ(kv("a"), 8);
  db.exec("DELETE FROM ps_kv");
  upsert("z", 10);
  EXPECT_EQ(kv("a"), std::nullopt);
  EXPECT_EQ(kv("z"), 10);
}

TEST(DumpedSize, EqualsTheDumpsLength) {
  const nlohmann::json values[] = {
      nlohmann::json::parse(R"({"UpdateSyncStatus":{"status":{"connected":true,"connecting":false,
        "downloading":{"buckets":{"global[]":{"priority":3,"at_last":12,"since_last":-4,
        "target_count":7}}},"priority_status":[],"internal_last_applied_checkpoint_request_id":"9"}}})"),
      nlohmann::json::parse(R"(["tab\there","quote\"and\\slash/","ünïcödé","\u0001",1.5,-0.0,
        1e300,12345678901234567890,null,true,{}])"),
      nlohmann::json(std::string(1000, 'x')),
      nlohmann::json::object(),
  };
  for (const auto& v : values) EXPECT_EQ(shim_detail::dumped_size(v), v.dump().size()) << v;
}

}  // namespace
}  // namespace syncsim::engine
