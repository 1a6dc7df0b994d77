// engine/watched_read.hpp's cached reads (issue 20, perf7 and perf11): a cached answer must be the
// table's content after every kind of change (a row the update hook sees, the truncate
// optimisation it does not see, a rollback, a REPLACE's silent delete), on a real connection
// with the sim VFS; and
// shim_detail::dumped_size, which counts UpdateSyncStatus sizes instead of dumping them.
#include <gtest/gtest.h>

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
