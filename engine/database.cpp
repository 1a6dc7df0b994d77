#include "engine/database.hpp"

#include <fmt/format.h>

#include <dlfcn.h>
#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "engine/core_check.hpp"
#include "engine/watched_read.hpp"
#include "engine/watched_rows.hpp"
#include "sim/cost_region.hpp"

namespace syncsim::engine {

namespace {

// ~240 KB per connection: 151 slots of 1200 bytes and 459 of 128 (SQLite's two-size lookaside).
// scale23 tried 128 slots (the same instructions, 86 KB less per client), but it cost 19 % more
// task-clock on basic.json (perf stat -r 4, 30 seeds: 1,969 -> 2,353 ms; docs/performance-scale.md
// "Session 23"), so it stays at perf15's 200.
constexpr int kLookasideSlotSize = 1200;
constexpr int kLookasideSlots = 200;
constexpr std::size_t kLookasideBytes = std::size_t{kLookasideSlotSize} * kLookasideSlots;

// The connections' lookaside buffers, carved from slabs advised for transparent huge pages and
// reused after a close (docs/performance-scale.md "(mem18, issue 20 (d))").  SQLite links
// every slot when a connection opens, so a buffer is resident at once: from malloc that is 59
// page faults per connection, and its hot slots spread over as many TLB entries; a 2 MiB page
// holds eight.  Memory only, no result depends on where the buffer is.  Shared by a sweep's
// workers, hence the mutex (opens and closes only).
class LookasidePool {
 public:
  static LookasidePool& instance() {
    static auto* pool = new LookasidePool;  // never destroyed: connections may close at exit
    return *pool;
  }
  // A buffer of kLookasideBytes, or null (SQLite then allocates its own).
  void* acquire() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      void* p = free_.back();
      free_.pop_back();
      return p;
    }
    if (left_ < kLookasideBytes && !new_slab()) return nullptr;
    void* p = next_;
    next_ += kLookasideBytes;
    left_ -= kLookasideBytes;
    return p;
  }
  void release(void* p) {
    const std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(p);
  }

 private:
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;
  static constexpr std::size_t kSlab = 4 * kHugePage;  // 34 buffers

  // A kSlab region aligned to kHugePage (mapped with a huge page's slack, the rest unmapped).
  bool new_slab() {
    void* m = mmap(nullptr, kSlab + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED) return false;
    auto* raw = static_cast<char*>(m);
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    char* start = raw + ((kHugePage - addr % kHugePage) % kHugePage);
    if (start > raw) munmap(raw, static_cast<std::size_t>(start - raw));
    char* end = raw + kSlab + kHugePage;
    if (end > start + kSlab) munmap(start + kSlab, static_cast<std::size_t>(end - start - kSlab));
    madvise(start, kSlab, MADV_HUGEPAGE);  // a hint: without THP, ordinary pages
    next_ = start;
    left_ = kSlab;
    return true;
  }

  std::mutex mutex_;
  std::vector<void*> free_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

void check(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
    throw SqlError(rc, fmt::format("{}: {}", what, sqlite3_errmsg(db)));
  }
}

// The core's uuid()/gen_random_uuid() read the OS RNG (getrandom), bypassing the VFS; a
// run must be a function of its seed, so route them through SQLite's PRNG, which the sim
// VFS seeds (docs/architecture.md §2).
void deterministic_uuid(sqlite3_context* ctx, int, sqlite3_value**) {
  unsigned char b[16];
  sqlite3_randomness(sizeof b, b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string s = fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:"
      "02x}"
      "{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
  sqlite3_result_text(ctx, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

// SQLite dlcloses an extension with the last connection that loaded it, and lifecycle
// scenarios load and unload core versions seed after seed in one process.  Each core stays
// loaded for the process's lifetime instead (one extra RTLD_NODELETE reference per path,
// never released; a process-wide cache like the integrity check's): no load/unload churn in
// a worker, the core's statics stay reachable, and a leak report names the core's module
// (tests/san/lsan.supp) rather than "<unknown module>".
void keep_core_loaded(const std::string& path) {
  static std::set<std::string> pinned;
  if (pinned.count(path) != 0) return;
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) != nullptr) pinned.insert(path);
  // A failure is left to sqlite3_load_extension, which reports it with dlerror's message.
}

void bind_args(sqlite3* db, sqlite3_stmt* stmt, const std::vector<std::string>& args) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  for (std::size_t i = 0; i < args.size(); ++i) {
    check(db,
          sqlite3_bind_text(stmt, static_cast<int>(i + 1), args[i].data(),
                            static_cast<int>(args[i].size()), SQLITE_TRANSIENT),
          "bind");
  }
}

std::optional<std::string> column_text(sqlite3_stmt* stmt, int i) {
  if (sqlite3_column_type(stmt, i) == SQLITE_NULL) return std::nullopt;
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
}
}  // namespace

// The hooks' state (engine/watched_read.hpp): the touched tables are the Database's, the change
// counters and cached reads are query_int_watched()'s.
struct ConnectionWatch {
  explicit ConnectionWatch(Database* owner) : db(owner) {}
  Database* db;
  uint64_t changes[4] = {0, 0, 0, 0};  // by Watched
  uint64_t seen_changes = 0;           // every update hook call
  uint64_t rollbacks = 0;
  std::unordered_map<std::string, WatchedRead> reads;
  std::unordered_map<std::string, WatchedRowRead> row_reads;
  std::map<std::string, DataRows> data_rows;  // by statement (query_row_watched, Data)
  std::set<std::string> not_data_rows;        // statements of that shape over no rowid table
  // query_description's statement per table, and its rows (null: not an app table, read through
  // query_row_watched into other_row).  A handful of tables: searched in order.
  struct TableRows {
    std::string table;
    std::string sql;
    DataRows* rows;  // into data_rows (a std::map: the pointer stays valid)
  };
  std::vector<TableRows> tables;
  std::optional<std::optional<std::string>> other_row;
  int64_t data_unseen = 0;  // unseen changes and rollbacks data_rows reflect
  uint64_t data_rollbacks = 0;
  KvRows kv;  // query_kv_int's

  // The cache key of a read: the statement and its arguments.
  static std::string key(const std::string& sql, const std::vector<std::string>& args) {
    std::string k;
    key_into(k, sql, args);
    return k;
  }
  static void key_into(std::string& k, const std::string& sql,
                       const std::vector<std::string>& args) {
    k.assign(sql);
    for (const auto& a : args) (k += '\x1f') += a;
  }
  std::string scratch;  // query_int_watched's key, reused: a cache hit allocates nothing
  // Whether a read made at (changes, unseen, rollbacks) is still the table's content.
  template <class Read>
  bool fresh(const Read& r, Watched table, int64_t unseen) const {
    return r.table_changes == changes[static_cast<int>(table)] && r.unseen_changes == unseen &&
           r.rollbacks == rollbacks;
  }
};

Statement::Statement(sqlite3* db, const std::string& sql) {
  check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr), "prepare " + sql);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Database::Database(const std::string& file_name, const CoreVersion& core, sim::CostMeter* meter)
    : meter_(meter), watch_(std::make_unique<ConnectionWatch>(this)) {
  const sim::CostRegionScope cost(meter_, sim::kCostFrameworkSql);
  // A modified or truncated core is refused here, before dlopen (which would load it
  // silently or die with SIGBUS).
  verify_core_file(core);
  keep_core_loaded(core.path);
  // The sim VFS is the default VFS, so no VFS name is passed (the core's own connections
  // would use the default too).
  int rc =
      sqlite3_open_v2(file_name.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw SqlError(rc, "open " + file_name + ": " + msg);
  }
  // A larger lookaside than SQLite's default (1200 x 40): the core prepares its statements in
  // every powersync_control call, and with the default most of the parser's allocations missed
  // the lookaside and went to malloc (docs/performance-framework.md "(perf15)").  Memory only: no
  // result depends on it.  The buffer is the pool's (above), SQLite's own if the pool has none.
  lookaside_ = LookasidePool::instance().acquire();
  if (sqlite3_db_config(db_, SQLITE_DBCONFIG_LOOKASIDE, lookaside_, kLookasideSlotSize,
                        kLookasideSlots) != SQLITE_OK &&
      lookaside_ != nullptr) {
    LookasidePool::instance().release(lookaside_);
    lookaside_ = nullptr;
  }
  sqlite3_enable_load_extension(db_, 1);
  char* err = nullptr;
  rc = sqlite3_load_extension(db_, core.path.c_str(), "sqlite3_powersync_init", &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if (sqlite3_close(db_) == SQLITE_OK && lookaside_ != nullptr) {
      LookasidePool::instance().release(lookaside_);
    }
    throw SqlError(rc, fmt::format("loading core {} from {}: {}", core.name, core.path, msg));
  }
  for (const char* name : {"uuid", "gen_random_uuid"}) {
    sqlite3_create_function_v2(db_, name, 0, SQLITE_UTF8, nullptr, deterministic_uuid, nullptr,
                               nullptr, nullptr);
  }
  sqlite3_update_hook(db_, &Database::on_update, watch_.get());
  sqlite3_rollback_hook(
      db_, [](void* p) { ++static_cast<ConnectionWatch*>(p)->rollbacks; }, watch_.get());
  exec("PRAGMA journal_mode = DELETE");  // rollback journal, docs/architecture.md §2
  exec("PRAGMA synchronous = FULL");
  begin_ = std::make_unique<Statement>(db_, "BEGIN IMMEDIATE");
  commit_ = std::make_unique<Statement>(db_, "COMMIT");
}

Database::~Database() {
  const sim::CostRegionScope cost(meter_, sim::kCostFrameworkSql);
  statements_.clear();
  begin_.reset();
  commit_.reset();
  // The core prepares statements of its own for a sync iteration (its storage adapter) and
  // finalises them only when the iteration is torn down.  A life closed while the core still
  // runs one (a lifecycle fault with down_ms 0 closes before the loops' finally blocks reach
  // powersync_control('stop'); a kill) made sqlite3_close return SQLITE_BUSY, and the
  // connection leaked with its page cache and file (issue 19).  Finalising them here would
  // leave the core dangling pointers; its own teardown, as the SDK's finally block calls it,
  // releases them.
  if (sqlite3_next_stmt(db_, nullptr) != nullptr) {
    // In a transaction, as every powersync_control call is (the core refuses it otherwise);
    // a kill may leave one open, which the close then rolls back.
    const bool own_transaction = sqlite3_get_autocommit(db_) != 0;
    if (own_transaction) sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_exec(db_, "SELECT powersync_control('stop', NULL)", nullptr, nullptr, nullptr);
    if (own_transaction) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  // The close rolls back a transaction a kill left open and calls the rollback hook: its
  // state is watch_, destroyed only after this body.
  const int rc = sqlite3_close(db_);
  assert(rc == SQLITE_OK && "the core still holds prepared statements");
  // The lookaside buffer is free once the connection is; a leaked connection keeps it.
  if (rc == SQLITE_OK && lookaside_ != nullptr) LookasidePool::instance().release(lookaside_);
  if (rc != SQLITE_OK) {
    // The connection stays open (leaked): it must not call into watch_ once it is gone.
    sqlite3_update_hook(db_, nullptr, nullptr);
    sqlite3_rollback_hook(db_, nullptr, nullptr);
  }
}

void Database::on_update(void* self, int op, const char*, const char* table, sqlite3_int64 rowid) {
  auto* w = static_cast<ConnectionWatch*>(self);
  Database* d = w->db;
  ++w->seen_changes;
  if (std::strcmp(table, "ps_crud") == 0) {
    d->touched_.ps_crud = true;
    ++w->changes[static_cast<int>(Watched::Crud)];
  } else if (std::strncmp(table, "ps_data__", 9) == 0) {
    d->touched_.data_tables = true;
    ++w->changes[static_cast<int>(Watched::Data)];
    for (auto& [sql, rows] : w->data_rows) {
      if (rows.base == table) rows.changed(op, rowid);
    }
  } else if (std::strcmp(table, "ps_kv") == 0) {
    ++w->changes[static_cast<int>(Watched::Kv)];
    w->kv.changed(op, rowid);
  } else if (std::strcmp(table, "ps_buckets") == 0) {
    ++w->changes[static_cast<int>(Watched::Buckets)];
  }
}

std::optional<int64_t> query_int_watched(Database& db, Watched table, const std::string& sql,
                                         const std::vector<std::string>& args) {
  ConnectionWatch* w = &db.watch();
  assert(w->db == &db);
  ConnectionWatch::key_into(w->scratch, sql, args);
  const int64_t unseen = sqlite3_total_changes64(db.raw()) - static_cast<int64_t>(w->seen_changes);
  auto it = w->reads.find(w->scratch);
  if (it != w->reads.end() && w->fresh(it->second, table, unseen)) {
    // Debug builds (the sanitizer build's san_quick) compare every hit with the table.
    assert(it->second.value == db.query_int(sql, args) &&
           "a cached checkpoint-state read is stale");
    return it->second.value;
  }
  WatchedRead r{db.query_int(sql, args), w->changes[static_cast<int>(table)], unseen, w->rollbacks};
  w->reads.insert_or_assign(w->scratch, r);
  return r.value;
}

std::optional<int64_t> query_kv_int(Database& db, std::string_view key) {
  static const std::string kRead = "SELECT CAST(value AS INTEGER), rowid FROM ps_kv WHERE key = ?";
  static const std::string kByRowid =
      "SELECT key, CAST(value AS INTEGER) FROM ps_kv WHERE rowid = ?";
  ConnectionWatch& w = db.watch();
  assert(w.db == &db);
  KvRows& kv = w.kv;
  // The row at `rowid` now into its key's entry (a key not read yet is added: it costs nothing
  // to keep); false for no row there.
  auto read_back = [&](int64_t rowid) {
    return db.query_row_int(kByRowid, rowid, [&](sqlite3_stmt* st) {
      const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (name == nullptr) return;
      KvRows::Key& k = kv.named({name, static_cast<std::size_t>(sqlite3_column_bytes(st, 0))});
      k.known = true;
      k.rowid = rowid;
      k.value = sqlite3_column_type(st, 1) == SQLITE_NULL
                    ? std::nullopt
                    : std::optional<int64_t>(sqlite3_column_int64(st, 1));
    });
  };
  const int64_t unseen = sqlite3_total_changes64(db.raw()) - static_cast<int64_t>(w.seen_changes);
  if (w.rollbacks != kv.rollbacks) {
    kv.clear();  // rows restored without the hook
  } else if (unseen != kv.unseen) {
    // Changes the hook did not see (the core's WITHOUT ROWID ps_updated_rows, every sync_local);
    // of ps_kv it misses only a truncation: a known present key still at its rowid rules one out
    // (read_data_row's check; a written rowid's key is not known, KvRows::changed).  Only absent
    // keys known: a truncation keeps them so.
    const auto witness = std::find_if(kv.keys.begin(), kv.keys.end(),
                                      [](const KvRows::Key& k) { return k.known && k.rowid; });
    if (witness != kv.keys.end()) {
      const auto at = static_cast<std::size_t>(witness - kv.keys.begin());
      witness->known = false;
      // read_back may add a key (another row at that rowid): an index, not the iterator.
      if (!read_back(*witness->rowid) || !kv.keys[at].known) kv.clear();
    }
  }
  kv.unseen = unseen;
  kv.rollbacks = w.rollbacks;
  for (const int64_t rowid : kv.pending) read_back(rowid);
  kv.pending.clear();
  KvRows::Key& k = kv.named(key);
  if (k.known) {
    // Debug builds (the sanitizer build's san_quick) compare every hit with the table.
    assert([&] {
      std::optional<int64_t> row[2];
      return (db.query_ints_arg(kRead, key, row, 2) ? row[0] : std::nullopt) == k.value;
    }() && "a cached ps_kv read is stale");
    return k.value;
  }
  std::optional<int64_t> row[2];
  k.known = true;
  k.value = std::nullopt;
  k.rowid = std::nullopt;
  if (db.query_ints_arg(kRead, key, row, 2)) {
    k.value = row[0];
    k.rowid = row[1];
  }
  return k.value;
}

namespace {

// `SELECT <column> FROM <view> WHERE id = ?`'s view, or empty for another shape.
std::string data_view(const std::string& sql) {
  static const std::string kSelect = "SELECT ", kFrom = " FROM ", kWhere = " WHERE id = ?";
  if (sql.rfind(kSelect, 0) != 0 || sql.size() <= kWhere.size() ||
      sql.compare(sql.size() - kWhere.size(), kWhere.size(), kWhere) != 0) {
    return {};
  }
  const auto from = sql.find(kFrom);
  if (from == std::string::npos) return {};
  const auto begin = from + kFrom.size();
  std::string view = sql.substr(begin, sql.size() - kWhere.size() - begin);
  const bool plain = !view.empty() && std::all_of(view.begin(), view.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
  return plain ? view : std::string();
}

// The cached rows of a `SELECT <column> FROM <view> WHERE id = ?` statement over an app table (a
// rowid table ps_data__<view>), made on its first read; null for any other statement.  A "no" is
// kept (the shim replaces its schema only when it opens a connection; a table made later would miss
// only the per-row cache, whose answers the per-table one gives too).
DataRows* data_rows_of(Database& db, ConnectionWatch& w, const std::string& sql) {
  if (auto known = w.data_rows.find(sql); known != w.data_rows.end()) return &known->second;
  if (w.not_data_rows.count(sql) != 0) return nullptr;
  const std::string view = data_view(sql);
  const std::string base = view.rfind("ps_data__", 0) == 0 ? view : "ps_data__" + view;
  if (view.empty() ||
      !db.query_int("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? AND sql NOT "
                    "LIKE '%WITHOUT ROWID%'",
                    {base})) {
    w.not_data_rows.insert(sql);
    return nullptr;
  }
  DataRows& t = w.data_rows[sql];
  t.base = base;
  // `sql` with ?1 for its one ? (a bare ? after ?1 would be ?2).
  const auto from = sql.find(" FROM ");
  t.read_sql = sql.substr(0, from) + ", (SELECT rowid FROM " + t.base + " WHERE id = ?1)" +
               sql.substr(from, sql.size() - from - 1) + "?1";
  t.resolve_sql = "SELECT id FROM " + t.base + " WHERE rowid = CAST(? AS INTEGER)";
  return &t;
}

// One row of an app table, cached per row (engine/watched_rows.hpp's DataRows): the cache's entry,
// valid until the database next changes.
const std::optional<std::optional<std::string>>& read_data_row(Database& db, ConnectionWatch& w,
                                                               DataRows& t, std::string_view id) {
  const int64_t unseen = sqlite3_total_changes64(db.raw()) - static_cast<int64_t>(w.seen_changes);
  if (w.rollbacks != w.data_rollbacks) {
    for (auto& [s, rows] : w.data_rows) rows.clear();  // rows restored without the hook
  } else if (unseen != w.data_unseen) {
    // Changes the hook did not see: the core empties ps_updated_rows (WITHOUT ROWID, unhooked) in
    // every sync_local.  Of an app table (a rowid table) the hook misses only a truncation, which
    // empties it: a cached row still at its rowid, not written since, shows it was not truncated.
    for (auto& [s, rows] : w.data_rows) {
      if (!rows.survived(db)) rows.clear();
    }
  }
  w.data_unseen = unseen;
  w.data_rollbacks = w.rollbacks;
  if (t.pending.size() > t.rows.size()) t.clear();  // resolving would cost more than re-reading
  for (const int64_t rowid : t.pending) {
    db.query_row_int(t.resolve_sql, rowid, [&](sqlite3_stmt* st) {
      const auto* changed = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (changed != nullptr) {
        t.forget({changed, static_cast<std::size_t>(sqlite3_column_bytes(st, 0))});
      }
    });
  }
  t.pending.clear();
  // The row: its column (outer nullopt for no row) and its rowid.
  auto read = [&](DataRows::Row& row) {
    db.query_row_text(t.read_sql, id, [&](sqlite3_stmt* st) {
      row.value = column_text(st, 0);
      if (sqlite3_column_type(st, 1) != SQLITE_NULL) row.rowid = sqlite3_column_int64(st, 1);
    });
  };
  if (auto hit = t.rows.find(id); hit != t.rows.end()) {
    // Debug builds (the sanitizer build's san_quick) compare every hit with the table.
    assert([&] {
      DataRows::Row now;
      read(now);
      return now.value == hit->second.value;
    }() && "a cached row read is stale");
    return hit->second.value;
  }
  DataRows::Row row;
  read(row);
  if (row.rowid) t.by_rowid[*row.rowid] = std::string(id);
  return t.rows.insert_or_assign(std::string(id), std::move(row)).first->second.value;
}

}  // namespace

const std::optional<std::string>* query_description(Database& db, std::string_view table,
                                                    std::string_view id) {
  ConnectionWatch& w = db.watch();
  assert(w.db == &db);
  auto t = std::find_if(w.tables.begin(), w.tables.end(),
                        [&](const ConnectionWatch::TableRows& r) { return r.table == table; });
  if (t == w.tables.end()) {
    std::string sql = "SELECT description FROM " + std::string(table) + " WHERE id = ?";
    DataRows* rows = data_rows_of(db, w, sql);
    t = w.tables.insert(w.tables.end(), {std::string(table), std::move(sql), rows});
  }
  if (t->rows == nullptr) {
    w.other_row = query_row_watched(db, Watched::Data, t->sql, {std::string(id)});
    return w.other_row ? &*w.other_row : nullptr;
  }
  const auto& row = read_data_row(db, w, *t->rows, id);
  return row ? &*row : nullptr;
}

std::optional<std::optional<std::string>> query_row_watched(Database& db, Watched table,
                                                            const std::string& sql,
                                                            const std::vector<std::string>& args) {
  ConnectionWatch* w = &db.watch();
  assert(w->db == &db);
  if (table == Watched::Data && args.size() == 1) {
    if (DataRows* rows = data_rows_of(db, *w, sql)) return read_data_row(db, *w, *rows, args[0]);
  }
  std::string key = ConnectionWatch::key(sql, args);
  const int64_t unseen = sqlite3_total_changes64(db.raw()) - static_cast<int64_t>(w->seen_changes);
  auto read = [&]() -> std::optional<std::optional<std::string>> {
    auto rows = db.query_rows(sql, args);
    if (rows.empty()) return std::nullopt;
    return rows[0][0];
  };
  auto it = w->row_reads.find(key);
  if (it != w->row_reads.end() && w->fresh(it->second, table, unseen)) {
    assert(it->second.value == read() && "a cached row read is stale");
    return it->second.value;
  }
  WatchedRowRead r{read(), w->changes[static_cast<int>(table)], unseen, w->rollbacks};
  auto& slot = w->row_reads.insert_or_assign(std::move(key), std::move(r)).first->second;
  return slot.value;
}

Statement& Database::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  }
  return *it->second;
}

void Database::exec(const std::string& sql) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw SqlError(rc, fmt::format("{}: {}", sql, msg));
  }
}

void Database::run_once(Statement& st, const char* sql) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  sqlite3_reset(st.get());
  const int rc = sqlite3_step(st.get());
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    // As sqlite3_exec reports it: the step's result code (reset would return it too).
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_reset(st.get());
    throw SqlError(rc, fmt::format("{}: {}", sql, msg));
  }
  sqlite3_reset(st.get());
}

void Database::rollback() {
  const sim::CostRegionScope cost(meter_, sql_region_);
  if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");
}

std::vector<std::vector<std::optional<std::string>>> Database::query_rows(
    const std::string& sql, const std::vector<std::string>& args) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  Statement& st = cached(sql);
  bind_args(db_, st.get(), args);
  std::vector<std::vector<std::optional<std::string>>> rows;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    std::vector<std::optional<std::string>> row;
    const int columns = sqlite3_column_count(st.get());
    row.reserve(static_cast<size_t>(columns));
    for (int i = 0; i < columns; ++i) row.push_back(column_text(st.get(), i));
    rows.push_back(std::move(row));
  }
  int final_rc = rc;
  sqlite3_reset(st.get());
  check(db_, final_rc, sql);
  return rows;
}

std::optional<std::string> Database::query_text(const std::string& sql,
                                                const std::vector<std::string>& args) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  Statement& st = cached(sql);
  bind_args(db_, st.get(), args);
  int rc = sqlite3_step(st.get());
  std::optional<std::string> out;
  if (rc == SQLITE_ROW) out = column_text(st.get(), 0);
  sqlite3_reset(st.get());
  check(db_, rc, sql);
  return out;
}

namespace {

// The first column of a bound statement's first row, null for no row or NULL; the statement is
// reset after the step either way.
std::optional<int64_t> step_int(sqlite3* db, sqlite3_stmt* st, const std::string& sql) {
  const int rc = sqlite3_step(st);
  std::optional<int64_t> out;
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    out = sqlite3_column_int64(st, 0);
  }
  sqlite3_reset(st);
  check(db, rc, sql);
  return out;
}

}  // namespace

std::optional<int64_t> Database::query_int(const std::string& sql,
                                           const std::vector<std::string>& args) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  Statement& st = cached(sql);
  bind_args(db_, st.get(), args);
  return step_int(db_, st.get(), sql);
}

bool Database::query_ints_arg(const std::string& sql, std::string_view arg,
                              std::optional<int64_t>* out, int columns) {
  return query_row_text(sql, arg, [&](sqlite3_stmt* st) {
    for (int i = 0; i < columns; ++i) {
      out[i] = sqlite3_column_type(st, i) == SQLITE_NULL
                   ? std::nullopt
                   : std::optional<int64_t>(sqlite3_column_int64(st, i));
    }
  });
}

bool Database::query_row_text(const std::string& sql, std::string_view arg,
                              const std::function<void(sqlite3_stmt*)>& row) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  sqlite3_stmt* st = cached(sql).get();
  sqlite3_reset(st);
  check(db_, sqlite3_bind_text(st, 1, arg.data(), static_cast<int>(arg.size()), SQLITE_TRANSIENT),
        "bind");
  const int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) row(st);
  sqlite3_reset(st);
  check(db_, rc, sql);
  return rc == SQLITE_ROW;
}

bool Database::query_row_int(const std::string& sql, int64_t arg,
                             const std::function<void(sqlite3_stmt*)>& row) {
  const sim::CostRegionScope cost(meter_, sql_region_);
  sqlite3_stmt* st = cached(sql).get();
  sqlite3_reset(st);
  check(db_, sqlite3_bind_int64(st, 1, arg), "bind");
  const int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) row(st);
  sqlite3_reset(st);
  check(db_, rc, sql);
  return rc == SQLITE_ROW;
}

std::optional<std::string> Database::control(const std::string& op,
                                             const std::optional<std::string>& payload) {
  ++control_calls_;
  const sim::CostRegionScope cost(meter_, sim::kCostControl);
  Statement& st = cached("SELECT powersync_control(?, ?)");
  sqlite3_reset(st.get());
  sqlite3_clear_bindings(st.get());
  sqlite3_bind_text(st.get(), 1, op.data(), static_cast<int>(op.size()), SQLITE_TRANSIENT);
  if (payload && op == "line_binary") {
    // A BSON document, as the SDK passes its Uint8Array; the core refuses text here.
    sqlite3_bind_blob(st.get(), 2, payload->data(), static_cast<int>(payload->size()),
                      SQLITE_TRANSIENT);
  } else if (payload) {
    sqlite3_bind_text(st.get(), 2, payload->data(), static_cast<int>(payload->size()),
                      SQLITE_TRANSIENT);
  }
  int rc = sqlite3_step(st.get());
  std::optional<std::string> out;
  if (rc == SQLITE_ROW) out = column_text(st.get(), 0);
  std::string msg = rc == SQLITE_ROW ? "" : sqlite3_errmsg(db_);
  int ext = sqlite3_extended_errcode(db_);
  sqlite3_reset(st.get());
  if (rc != SQLITE_ROW) throw SqlError(ext, msg);
  return out;
}

}  // namespace syncsim::engine
