#include "engine/js/read_connections.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cctype>
#include <cmath>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "engine/database.hpp"
#include "engine/js/bridge.hpp"
#include "engine/js/host_message.hpp"

namespace syncsim::engine::js {
namespace {

void bind(sqlite3_stmt* stmt, int index, const nlohmann::json& v) {
  if (v.is_null()) {
    sqlite3_bind_null(stmt, index);
  } else if (v.is_boolean()) {
    sqlite3_bind_int64(stmt, index, v.get<bool>() ? 1 : 0);
  } else if (v.is_number_integer()) {
    sqlite3_bind_int64(stmt, index, v.get<int64_t>());
  } else if (v.is_number()) {
    sqlite3_bind_double(stmt, index, v.get<double>());
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    sqlite3_bind_text(stmt, index, s.data(), int(s.size()), SQLITE_TRANSIENT);
  } else if (v.is_binary()) {  // bytes from the fast message parser (host_message.hpp)
    const auto& b = v.get_binary();
    sqlite3_bind_blob(stmt, index, b.data(), int(b.size()), SQLITE_TRANSIENT);
  } else if (auto bytes = as_bytes(v)) {
    sqlite3_bind_blob(stmt, index, bytes->data(), int(bytes->size()), SQLITE_TRANSIENT);
  } else {
    throw std::invalid_argument("js-real: unsupported SQL parameter " + v.dump());
  }
}

nlohmann::json column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      return nullptr;
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, i);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      return bytes_value(std::string(p ? p : "", std::size_t(sqlite3_column_bytes(stmt, i))));
    }
    default: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p ? p : "", std::size_t(sqlite3_column_bytes(stmt, i)));
    }
  }
}

// Column i of the current row appended to `out` as JSON text, as column_value(...).dump()
// would give it to JSON.parse() (finite doubles in the shortest text that reads back the same).
// Row 0, column 0 as text or bytes goes to `first` too.
void append_column(std::string& out, sqlite3_stmt* stmt, int i, std::optional<std::string>* first) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      out += "null";
      return;
    case SQLITE_INTEGER:
      fmt::format_to(std::back_inserter(out), "{}", sqlite3_column_int64(stmt, i));
      return;
    case SQLITE_FLOAT: {
      const double d = sqlite3_column_double(stmt, i);
      if (!std::isfinite(d)) {
        out += "null";  // as dump() writes it
      } else {
        fmt::format_to(std::back_inserter(out), "{}", d);
      }
      return;
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      std::string bytes(p ? p : "", std::size_t(sqlite3_column_bytes(stmt, i)));
      out += R"({"b64":")";
      out += base64_encode(bytes);
      out += "\"}";
      if (first) *first = std::move(bytes);
      return;
    }
    default: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      const std::string_view text(p ? p : "", std::size_t(sqlite3_column_bytes(stmt, i)));
      append_json_string(out, text);
      if (first) *first = std::string(text);
    }
  }
}

// The statement's keyword, upper-cased ("BEGIN", "COMMIT", ...).
std::string keyword(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string word;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
    word += char(std::toupper(static_cast<unsigned char>(text[i++])));
  }
  return word;
}

sqlite3_file* main_file(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
      !file->pMethods) {
    throw SqlError(SQLITE_INTERNAL, "js-real read connections: no database file");
  }
  return file;
}

void exec_or_throw(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    throw SqlError(sqlite3_errcode(db), message);
  }
}

}  // namespace

StatementCache::~StatementCache() {
  for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::find(const std::string& text) const {
  auto it = statements_.find(text);
  return it == statements_.end() ? nullptr : it->second;
}

namespace {

// Binds (first statement only) and steps one prepared statement to completion into `out`.
// The statement is left reset, so a kept one holds no lock and no bound value.
void step_statement(sqlite3* db, sqlite3_stmt* raw, bool first, const nlohmann::json& params,
                    bool read_only, StatementRows& out) {
  struct ResetAfter {
    sqlite3_stmt* stmt;
    ~ResetAfter() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } reset{raw};
  if (read_only && !sqlite3_stmt_readonly(raw)) {
    throw SqlError(SQLITE_READONLY, "attempt to write a readonly database");
  }
  if (first) {
    for (std::size_t i = 0; i < params.size(); ++i) bind(raw, int(i + 1), params[i]);
  }
  int rc = SQLITE_OK;
  const int n = sqlite3_column_count(raw);
  if (out.as_text) {
    if (n == 0) {
      while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      }
      if (rc != SQLITE_DONE) throw SqlError(rc, sqlite3_errmsg(db));
      return;
    }
    out.columns_text = "[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) out.columns_text += ',';
      append_json_string(out.columns_text, sqlite3_column_name(raw, i));
    }
    out.columns_text += ']';
    out.rows_text = "[";
    bool first_row = true;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      if (!first_row) out.rows_text += ',';
      if (first_row) out.first_value.reset();  // as the tree path: a number is no text
      out.rows_text += '[';
      for (int i = 0; i < n; ++i) {
        if (i > 0) out.rows_text += ',';
        append_column(out.rows_text, raw, i, first_row && i == 0 ? &out.first_value : nullptr);
      }
      out.rows_text += ']';
      first_row = false;
    }
    out.rows_text += ']';
    if (rc != SQLITE_DONE) throw SqlError(rc, sqlite3_errmsg(db));
    return;
  }
  if (n > 0) {
    out.columns = nlohmann::json::array();
    for (int i = 0; i < n; ++i) out.columns.push_back(sqlite3_column_name(raw, i));
    out.rows = nlohmann::json::array();
  }
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    nlohmann::json row = nlohmann::json::array();
    for (int i = 0; i < n; ++i) row.push_back(column_value(raw, i));
    if (out.rows.empty() && n > 0) out.first_value = text_or_bytes(row[0]);
    out.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) throw SqlError(rc, sqlite3_errmsg(db));
}

bool only_blank(const char* from, const char* end) {
  for (; from < end; ++from) {
    if (!std::isspace(static_cast<unsigned char>(*from)) && *from != ';') return false;
  }
  return true;
}

}  // namespace

StatementRows run_statements(sqlite3* db, const std::string& text, const nlohmann::json& params,
                             bool read_only, StatementCache* cache, RowsAs as) {
  StatementRows out;
  out.as_text = as == RowsAs::Text;
  if (cache && cache->db() != db) cache = nullptr;
  if (cache) {
    if (sqlite3_stmt* kept = cache->find(text)) {
      step_statement(db, kept, true, params, read_only, out);
      return out;
    }
  }
  const char* tail = text.c_str();
  const char* end = tail + text.size();
  for (bool first = true; tail < end; first = false) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, int(end - tail), &raw, &tail);
    if (rc != SQLITE_OK) throw SqlError(rc, sqlite3_errmsg(db));
    if (!raw) break;
    if (first && cache && only_blank(tail, end)) {
      cache->keep(text, raw);
      step_statement(db, raw, first, params, read_only, out);
      return out;
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    step_statement(db, raw, first, params, read_only, out);
  }
  return out;
}

// An in-memory, read-only copy of the committed database with the core loaded.
struct ReadConnections::Snapshot {
  uint32_t generation = 0;
  sqlite3* db = nullptr;
  ~Snapshot() { sqlite3_close(db); }
};

ReadConnections::ReadConnections(sqlite3* writer, std::string core_path,
                                 StatementCache* writer_statements)
    : writer_(writer), core_path_(std::move(core_path)), writer_statements_(writer_statements) {
  assert(writer_ != nullptr);
}

ReadConnections::~ReadConnections() = default;

uint32_t ReadConnections::generation() const {
  sqlite3_file* file = main_file(writer_);
  unsigned char header[4] = {0, 0, 0, 0};
  const int rc = file->pMethods->xRead(file, header, 4, 24);
  if (rc == SQLITE_IOERR_SHORT_READ) return 0;  // a new, empty file
  if (rc != SQLITE_OK) throw SqlError(rc, "js-real read connections: reading the file header");
  return (uint32_t(header[0]) << 24) | (uint32_t(header[1]) << 16) | (uint32_t(header[2]) << 8) |
         uint32_t(header[3]);
}

std::shared_ptr<ReadConnections::Snapshot> ReadConnections::snapshot() {
  const uint32_t now = generation();
  if (latest_ && latest_->generation == now) return latest_;
  // The file holds the committed state only while the writer has not spilled dirty pages
  // into it mid-transaction (a rollback journal writes the file at COMMIT otherwise).
  int spilled = 0;
  int high = 0;
  sqlite3_db_status(writer_, SQLITE_DBSTATUS_CACHE_SPILL, &spilled, &high, 0);
  if (spilled != 0 && sqlite3_get_autocommit(writer_) == 0) {
    throw SqlError(SQLITE_INTERNAL,
                   "js-real read connections: the writer spilled its cache mid-transaction, so "
                   "the file no longer holds the committed state");
  }
  sqlite3_file* file = main_file(writer_);
  sqlite3_int64 size = 0;
  if (file->pMethods->xFileSize(file, &size) != SQLITE_OK) {
    throw SqlError(SQLITE_IOERR, "js-real read connections: file size");
  }
  auto* bytes = static_cast<unsigned char*>(sqlite3_malloc64(sqlite3_uint64(size > 0 ? size : 1)));
  if (!bytes) throw SqlError(SQLITE_NOMEM, "js-real read connections: out of memory");
  if (size > 0 && file->pMethods->xRead(file, bytes, int(size), 0) != SQLITE_OK) {
    sqlite3_free(bytes);
    throw SqlError(SQLITE_IOERR, "js-real read connections: reading the file");
  }
  auto snap = std::make_shared<Snapshot>();
  snap->generation = now;
  if (sqlite3_open_v2(":memory:", &snap->db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_free(bytes);
    throw SqlError(SQLITE_CANTOPEN, "js-real read connections: open a snapshot");
  }
  sqlite3_enable_load_extension(snap->db, 1);
  char* error = nullptr;
  if (sqlite3_load_extension(snap->db, core_path_.c_str(), "sqlite3_powersync_init", &error) !=
      SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_free(bytes);
    throw SqlError(SQLITE_ERROR, "js-real read connections: loading the core: " + message);
  }
  const int rc = sqlite3_deserialize(
      snap->db, "main", bytes, size, size,
      SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);  // frees bytes on failure
  if (rc != SQLITE_OK) throw SqlError(rc, "js-real read connections: deserialize");
  ++snapshots_;
  latest_ = snap;
  return snap;
}

void ReadConnections::before_write(const std::string& text) {
  if (open_.empty()) return;
  const std::string word = keyword(text);
  if (sqlite3_get_autocommit(writer_) == 0 && word != "COMMIT" && word != "END") return;
  for (auto& [slot, tx] : open_) {
    if (tx.snapshot) continue;
    auto snap = snapshot();
    if (snap->generation != tx.generation) {
      throw SqlError(SQLITE_INTERNAL,
                     fmt::format("js-real read connections: read transaction on connection {} "
                                 "began at generation {}, the file is at {}",
                                 slot, tx.generation, snap->generation));
    }
    tx.snapshot = std::move(snap);
  }
}

StatementRows ReadConnections::run_on(sqlite3* db, bool in_transaction, const std::string& text,
                                      const nlohmann::json& params, RowsAs as) {
  if (!in_transaction) return run_statements(db, text, params, true, writer_statements_, as);
  // A read transaction, as the read-only connection runs the statement inside its
  // BEGIN IMMEDIATE (the core refuses powersync_control outside a transaction).
  exec_or_throw(db, "BEGIN DEFERRED");
  try {
    auto rows = run_statements(db, text, params, true, writer_statements_, as);
    exec_or_throw(db, "COMMIT");
    return rows;
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

StatementRows ReadConnections::run(int slot, const std::string& text, const nlohmann::json& params,
                                   RowsAs as) {
  const std::string word = keyword(text);
  auto open = open_.find(slot);
  if (word == "BEGIN") {
    if (open != open_.end()) {
      throw SqlError(SQLITE_ERROR, "cannot start a transaction within a transaction");
    }
    open_[slot] = ReadTransaction{generation(), nullptr};
    StatementRows none;
    none.as_text = as == RowsAs::Text;
    return none;
  }
  if (word == "COMMIT" || word == "END" || word == "ROLLBACK") {
    if (open == open_.end()) {
      throw SqlError(SQLITE_ERROR, word == "ROLLBACK" ? "cannot rollback - no transaction is active"
                                                      : "cannot commit - no transaction is active");
    }
    open_.erase(open);
    StatementRows none;
    none.as_text = as == RowsAs::Text;
    return none;
  }
  const bool writer_free = sqlite3_get_autocommit(writer_) != 0;
  if (open == open_.end()) {
    if (writer_free) {
      ++on_writer_;
      return run_on(writer_, false, text, params, as);
    }
    ++on_snapshot_;
    return run_on(snapshot()->db, false, text, params, as);
  }
  ReadTransaction& tx = open->second;
  if (!tx.snapshot) {
    if (writer_free && generation() == tx.generation) {
      ++on_writer_;
      return run_on(writer_, true, text, params, as);
    }
    tx.snapshot = snapshot();
    if (tx.snapshot->generation != tx.generation) {
      throw SqlError(SQLITE_INTERNAL,
                     fmt::format("js-real read connections: read transaction on connection {} "
                                 "began at generation {}, the file is at {}",
                                 slot, tx.generation, tx.snapshot->generation));
    }
  }
  ++on_snapshot_;
  return run_on(tx.snapshot->db, true, text, params, as);
}

}  // namespace syncsim::engine::js
