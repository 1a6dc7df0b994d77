#include "engine/core_registry.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <stdexcept>

#include "engine/core_check.hpp"
#include "engine/sha256.hpp"

// SYNCSIM_CORE_<v>_PATH / _SHA256 come from syncsim_core() in cmake/Deps.cmake.
#define SYNCSIM_PINNED_CORE(v) SYNCSIM_CORE_##v##_PATH, SYNCSIM_CORE_##v##_SHA256

namespace syncsim::engine {

const std::vector<CoreVersion>& core_versions() {
  // name, file + sha256, migration level, checkpoint requests, SDK behaviour, package.
  // Migration levels and capabilities were checked by loading each binary
  // (tests/core_matrix_test.cpp).
  static const std::vector<CoreVersion> versions = {
      {"0.5.3", SYNCSIM_PINNED_CORE(0_5_3), 14, true, kSdkJs130, "@powersync/node@1.1.0"},
      {"0.5.2", SYNCSIM_PINNED_CORE(0_5_2), 14, true, kSdkJs130, "@powersync/node@1.0.0"},
      {"0.4.12", SYNCSIM_PINNED_CORE(0_4_12), 12, false, kSdkJsLegacy, "@powersync/node@0.18.8"},
      {"0.4.11", SYNCSIM_PINNED_CORE(0_4_11), 12, false, kSdkJsLegacy, "@powersync/node@0.17.1"},
      {"0.4.6", SYNCSIM_PINNED_CORE(0_4_6), 11, false, kSdkJsLegacy, "@powersync/node@0.14.3"},
  };
  return versions;
}

const CoreVersion* find_core(const std::string& name) {
  for (const auto& v : core_versions()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> core_names() {
  std::vector<std::string> out;
  for (const auto& v : core_versions()) out.push_back(v.name);
  return out;
}

namespace {

// An in-memory connection on the real unix VFS with the core loaded.
class ProbeConnection {
 public:
  explicit ProbeConnection(const std::string& path) {
    if (sqlite3_vfs_find("unix") == nullptr) fail("SQLite has no unix VFS");
    if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "unix") !=
        SQLITE_OK) {
      fail("cannot open an in-memory database");
    }
    sqlite3_enable_load_extension(db_, 1);
    char* err = nullptr;
    if (sqlite3_load_extension(db_, path.c_str(), "sqlite3_powersync_init", &err) != SQLITE_OK) {
      const std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      fail("cannot load " + path + " as a PowerSync core: " + msg);
    }
    // No journal and no temp file (the core's SQL also uses the temp database): a journal
    // header's nonce and a temp file's name come from SQLite's PRNG, which is seeded from
    // the default VFS (the sim VFS, which aborts when unbound) and shared with a bound
    // simulation, whose random stream would shift.
    exec("PRAGMA temp_store = MEMORY; PRAGMA journal_mode = OFF; PRAGMA temp.journal_mode = OFF");
  }
  ~ProbeConnection() { sqlite3_close(db_); }
  ProbeConnection(const ProbeConnection&) = delete;
  ProbeConnection& operator=(const ProbeConnection&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      fail(sql + ": " + msg);
    }
  }

  // First column of the first row as text ("" for no row or NULL).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      fail(sql + ": " + sqlite3_errmsg(db_));
    }
    std::string out;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(sql + ": " + msg);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("core_from_path: " + what);
  }

  sqlite3* db_ = nullptr;
};

}  // namespace

CoreVersion core_from_path(const std::string& path) {
  CoreVersion v;
  v.path = path;
  v.verified = false;
  v.sha256 = sha256_file_hex(path);  // throws for a missing or unreadable file
  check_elf_file(path);              // a truncated file would crash dlopen (SIGBUS)
  ProbeConnection db(path);
  v.name = db.text("SELECT powersync_rs_version()");
  if (v.name.empty()) throw std::runtime_error("core_from_path: " + path + " reports no version");
  // 0.5.x requires a transaction for powersync_init() (docs/protocol.md §1.1.2); 0.4.x accepts one.
  db.exec("BEGIN; SELECT powersync_init(); COMMIT;");
  v.migration_level = std::stoi(db.text("SELECT ifnull(max(id), 0) FROM ps_migration"));
  infer_capabilities(v);
  return v;
}

void infer_capabilities(CoreVersion& core) {
  // Checkpoint requests and schema v14 arrived together in 0.5.0 (docs/protocol.md §1.0, §1.1.2).
  int major = 0, minor = 0;
  if (std::sscanf(core.name.c_str(), "%d.%d.", &major, &minor) == 2) {
    core.supports_requests = major > 0 || minor >= 5;
  } else {
    core.supports_requests = core.migration_level >= 14;
  }
  core.sdk = core.supports_requests ? kSdkJs130 : kSdkJsLegacy;
}

}  // namespace syncsim::engine
