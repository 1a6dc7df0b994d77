// One client database: a single SQLite connection (rollback journal, synchronous=FULL,
// docs/architecture.md §2) in the sim VFS with the real core extension loaded.  Wraps the SQL the
// SDK issues; every powersync_control call runs in its own write transaction (docs/protocol.md
// §2.0).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core_registry.hpp"
#include "sim/cost_region.hpp"

static_assert(SQLITE_VERSION_NUMBER >= 3044000, "the core extension needs SQLite >= 3.44");

namespace syncsim::engine {

// A SQLite or core error, with the message the core gave ("powersync_control: ...").
class SqlError : public std::runtime_error {
 public:
  SqlError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] int code() const { return code_; }

 private:
  int code_;
};

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// A statement text's hash from its length and four 8-byte words of it: Database::cached looks its
// statement up on every query, and std::hash read every byte (1.5 M instructions of a basic.json
// run, perf21).  Texts that share those words only collide; the map compares whole texts.
struct SqlTextHash {
  std::size_t operator()(const std::string& s) const noexcept {
    const std::size_t n = s.size();
    if (n < 8) return std::hash<std::string>{}(s);
    auto word = [&](std::size_t at) {
      uint64_t w = 0;
      std::memcpy(&w, s.data() + at, 8);
      return w;
    };
    uint64_t h = n * 0x9E3779B97F4A7C15ULL;
    for (const std::size_t at : {std::size_t{0}, (n - 8) / 3, 2 * (n - 8) / 3, n - 8}) {
      h = (h ^ word(at)) * 0xFF51AFD7ED558CCDULL;
      h ^= h >> 32;
    }
    return static_cast<std::size_t>(h);
  }
};

// Tables touched while a hook window is open (sqlite3_update_hook): the SDK's
// powersync_update_hooks('get') equivalent, and publication detection for barrier-holds.
struct TouchedTables {
  bool ps_crud = false;
  bool data_tables = false;  // ps_data__* (what the app sees)
};

// The update and rollback hooks' state (engine/database.cpp, engine/watched_read.hpp).
struct ConnectionWatch;

class Database {
 public:
  // `meter`: the bench's profiling tag (sim/cost_region.hpp); null in every normal run.
  Database(const std::string& file_name, const CoreVersion& core, sim::CostMeter* meter = nullptr);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql);
  // Single-value queries; nullopt for no row or NULL.
  std::optional<std::string> query_text(const std::string& sql,
                                        const std::vector<std::string>& args = {});
  std::optional<int64_t> query_int(const std::string& sql,
                                   const std::vector<std::string>& args = {});
  // The first row's first `columns` columns as integers (nullopt for NULL) into `out`, for one
  // text argument; false for no row (`out` untouched).
  bool query_ints_arg(const std::string& sql, std::string_view arg, std::optional<int64_t>* out,
                      int columns);
  // The first row for one integer argument (a rowid), handed to `row` before the statement's
  // reset; false for no row.
  bool query_row_int(const std::string& sql, int64_t arg,
                     const std::function<void(sqlite3_stmt*)>& row);
  // The same for one text argument.
  bool query_row_text(const std::string& sql, std::string_view arg,
                      const std::function<void(sqlite3_stmt*)>& row);
  // Rows of (text...) columns.
  std::vector<std::vector<std::optional<std::string>>> query_rows(
      const std::string& sql, const std::vector<std::string>& args = {});

  // Prepared once: every powersync_control call runs in a transaction of its own.
  void begin() { run_once(*begin_, "BEGIN IMMEDIATE"); }
  void commit() { run_once(*commit_, "COMMIT"); }
  void rollback();

  // powersync_control(op, payload) inside the caller's transaction.  `payload` NULL when
  // nullopt; `as_blob` binds it as a BLOB (line_binary).  Returns the result as text.
  std::optional<std::string> control(const std::string& op,
                                     const std::optional<std::string>& payload);

  TouchedTables take_touched() {
    TouchedTables t = touched_;
    touched_ = {};
    return t;
  }
  sqlite3* raw() { return db_; }
  ConnectionWatch& watch() { return *watch_; }
  [[nodiscard]] uint64_t control_calls() const { return control_calls_; }

  // Tags the SQL of a scope for the bench's sampler (sim/cost_region.hpp); the enclosing tag
  // comes back at its end.  Not across a co_await or an observer call: their SQL is not the
  // scope's.
  class SqlRegion {
   public:
    SqlRegion(Database& db, int region) : db_(db), previous_(db.sql_region_) {
      db_.sql_region_ = region;
    }
    ~SqlRegion() { db_.sql_region_ = previous_; }
    SqlRegion(const SqlRegion&) = delete;
    SqlRegion& operator=(const SqlRegion&) = delete;

   private:
    Database& db_;
    int previous_;
  };
  // The simulated app's own writes: the workload, not SQL the framework adds around the core.
  class WorkloadSql : SqlRegion {
   public:
    explicit WorkloadSql(Database& db) : SqlRegion(db, sim::kCostWorkloadSql) {}
  };
  // SQL the SDK itself issues, the same statements the published SDK issues (its write
  // transaction around every control call, its upload and target statements): the client engine
  // under test, not framework overhead (docs/performance-framework.md "(perf19)").
  class SdkSql : SqlRegion {
   public:
    explicit SdkSql(Database& db) : SqlRegion(db, sim::kCostSdkSql) {}
  };
  // Of that SQL, the write transaction around one control call (its BEGIN, COMMIT or ROLLBACK):
  // apart, so (b) can count it with the call or not (docs/performance-framework-2.md "(perf20)").
  class SdkTxn : SqlRegion {
   public:
    explicit SdkTxn(Database& db) : SqlRegion(db, sim::kCostSdkTxn) {}
  };

 private:
  Statement& cached(const std::string& sql);
  // Steps a statement without results to completion; errors as exec() reports them.
  void run_once(Statement& st, const char* sql);
  static void on_update(void* self, int op, const char* db, const char* table, sqlite3_int64);

  sim::CostMeter* meter_ = nullptr;
  int sql_region_ = sim::kCostFrameworkSql;  // the region of exec/query*/begin/commit
  // What the hooks count; a member, so it outlives sqlite3_close (whose rollback of a
  // transaction a kill left open calls the rollback hook).
  std::unique_ptr<ConnectionWatch> watch_;
  sqlite3* db_ = nullptr;
  void* lookaside_ = nullptr;  // the connection's lookaside buffer (engine/database.cpp's pool)
  std::unordered_map<std::string, std::unique_ptr<Statement>, SqlTextHash> statements_;
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  TouchedTables touched_;
  uint64_t control_calls_ = 0;
};

}  // namespace syncsim::engine
