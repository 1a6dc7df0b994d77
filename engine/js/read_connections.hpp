// The read connections of a js-real client (issue 16).  `@powersync/node` 1.1.0 serves
// reads from a pool of read-only connections next to its one write connection
// (lib/db/WorkerConnectionPool.js: `readConnections = new Semaphore(...)` of
// READ_CONNECTIONS = 5 workers opened `readonly: !options.isWriter`
// (lib/db/BetterSqliteWorker.js openDatabase), the writer in WAL mode), so a read never
// queues behind a write transaction and sees the last committed state; a readTransaction
// (`BEGIN IMMEDIATE` on a read-only connection, a read transaction) keeps the state of its
// BEGIN.  The sim's client database is one connection with a rollback journal on a VFS
// without shared memory, so this class gives the same answers without a second connection
// on the file:
//   - a read while the write connection is in autocommit mode (no write transaction open)
//     runs on that connection: what it sees is exactly the committed state;
//   - otherwise the read runs on a snapshot: an in-memory, read-only copy of the database
//     file as committed (a rollback-journal writer changes the file only at COMMIT, unless
//     its page cache spills, which is checked), with the core loaded, made at most once per
//     committed generation (the file change counter);
//   - a read transaction is pinned to the generation of its BEGIN: before the write
//     connection commits, each open one that has no snapshot yet gets one.
// Read statements that would write fail as on a read-only connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

namespace syncsim::engine::js {

// Prepared statements of one connection, keyed by SQL text: the SDK issues a few dozen
// distinct texts thousands of times a run, and preparing each anew was a visible share of
// a js-real seed's C++ time (docs/performance-js-real.md, "The real JS SDK").  Only a text that is
// exactly one statement is kept.  The owner destroys the cache before the connection closes.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  [[nodiscard]] sqlite3* db() const { return db_; }
  // The kept statement for `text`, or nullptr.
  sqlite3_stmt* find(const std::string& text) const;
  void keep(const std::string& text, sqlite3_stmt* stmt) { statements_.emplace(text, stmt); }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// How run_statements() gives the rows: as trees, or as the JSON text of the bridge's reply (no
// tree per value: js_real_client.cpp sql(), docs/performance-js-real.md "(js20)").
enum class RowsAs { Json, Text };

// Rows of one SQL text (several statements: the last one with columns gives them).
struct StatementRows {
  nlohmann::json columns = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::array();
  std::optional<std::string> first_value;  // row 0, column 0 as text or bytes
  // RowsAs::Text: `columns` and `rows` stay empty; their JSON text is here instead (bytes as
  // {"b64": ...}, as bytes_value() writes them).
  bool as_text = false;
  std::string columns_text = "[]";
  std::string rows_text = "[]";
};
// Prepares and steps every statement of `text` on `db`, binding `params` to the first.
// `read_only`: a statement that would write fails with SQLITE_READONLY, as on a read-only
// connection.  `cache`: prepared statements of `db` to reuse (nullptr, or another
// connection's: prepare anew).  Throws SqlError.
StatementRows run_statements(sqlite3* db, const std::string& text, const nlohmann::json& params,
                             bool read_only, StatementCache* cache = nullptr,
                             RowsAs as = RowsAs::Json);

class ReadConnections {
 public:
  // `writer`: the client's connection (the real core loaded); `core_path`: that core, for
  // the snapshots.
  // `writer_statements`: the writer's statement cache (reads served on the writer use it).
  ReadConnections(sqlite3* writer, std::string core_path,
                  StatementCache* writer_statements = nullptr);
  ~ReadConnections();
  ReadConnections(const ReadConnections&) = delete;
  ReadConnections& operator=(const ReadConnections&) = delete;

  // One statement on read connection `slot` (1..): BEGIN/COMMIT/END/ROLLBACK open and close
  // its read transaction; anything else runs where the committed state is (see above).
  StatementRows run(int slot, const std::string& text, const nlohmann::json& params,
                    RowsAs as = RowsAs::Json);
  // Before the write connection runs `text`: pins every open read transaction that has no
  // snapshot if this statement may commit (autocommit mode, or COMMIT/END).
  void before_write(const std::string& text);
  // Counters for the trace and the bench: reads served on the writer / on a snapshot, and
  // snapshots made.
  [[nodiscard]] uint64_t on_writer() const { return on_writer_; }
  [[nodiscard]] uint64_t on_snapshot() const { return on_snapshot_; }
  [[nodiscard]] uint64_t snapshots() const { return snapshots_; }

 private:
  struct Snapshot;
  struct ReadTransaction {
    uint32_t generation = 0;
    std::shared_ptr<Snapshot> snapshot;
  };
  // The file change counter of the committed database (header bytes 24..27).
  uint32_t generation() const;
  std::shared_ptr<Snapshot> snapshot();  // of the committed state now
  StatementRows run_on(sqlite3* db, bool in_transaction, const std::string& text,
                       const nlohmann::json& params, RowsAs as);

  sqlite3* writer_;
  std::string core_path_;
  StatementCache* writer_statements_;
  std::map<int, ReadTransaction> open_;  // slot -> its read transaction
  std::shared_ptr<Snapshot> latest_;     // the last snapshot made (reused while current)
  uint64_t on_writer_ = 0;
  uint64_t on_snapshot_ = 0;
  uint64_t snapshots_ = 0;
};

}  // namespace syncsim::engine::js
