// The per-row and per-key caches behind engine/watched_read.hpp's reads (engine/database.cpp's
// ConnectionWatch holds them; only engine/database.cpp includes this).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/database.hpp"

namespace syncsim::engine {

// Whether column `i` of a statement's row is the text `s` (false for NULL).
inline bool column_is(sqlite3_stmt* st, int i, std::string_view s) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p != nullptr &&
         std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i))) == s;
}

struct WatchedRead {
  std::optional<int64_t> value;
  uint64_t table_changes = 0;  // changes of its table when read
  int64_t unseen_changes = 0;  // changes the hook did not see, when read
  uint64_t rollbacks = 0;
};

struct WatchedRowRead {
  std::optional<std::optional<std::string>> value;
  uint64_t table_changes = 0;
  int64_t unseen_changes = 0;
  uint64_t rollbacks = 0;
};

// The rows of one app table read by one statement shape, `SELECT <column> FROM <view> WHERE id =
// ?` (engine/watched_read.hpp): cached per row.  The update hook names a changed row by rowid, so a
// present row's read keeps its rowid; an inserted or updated rowid (a REPLACE moves a row to a new
// rowid and deletes the old one without a hook call) is resolved to its id before the next read.
struct DataRows {
  std::string base;         // ps_data__<view>
  std::string read_sql;     // the column and the row's rowid
  std::string resolve_sql;  // a rowid's id
  struct Row {
    std::optional<std::optional<std::string>> value;
    std::optional<int64_t> rowid;  // when present
  };
  // Looked up by a string_view (query_data_row): no id copied for a hit.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, Row, IdHash, std::equal_to<>> rows;  // by id
  std::unordered_map<int64_t, std::string> by_rowid;                   // present rows' ids
  std::vector<int64_t> pending;  // changed rowids, ids not read yet
  void forget(std::string_view id) {
    auto it = rows.find(id);
    if (it == rows.end()) return;
    if (it->second.rowid) by_rowid.erase(*it->second.rowid);
    rows.erase(it);
  }
  void clear() {
    rows.clear();
    by_rowid.clear();
    pending.clear();
  }
  // Whether a cached present row not written since is still there (no truncation emptied it).
  bool survived(Database& db) const {
    for (const auto& entry : by_rowid) {
      const int64_t rowid = entry.first;
      if (std::find(pending.begin(), pending.end(), rowid) != pending.end()) continue;
      const auto& id = entry.second;  // a named reference: lambdas capture no structured binding
      bool same = false;
      db.query_row_int(resolve_sql, rowid, [&](sqlite3_stmt* st) { same = column_is(st, 0, id); });
      return same;
    }
    return by_rowid.empty();  // only absent rows cached: a truncation inserts nothing
  }
  // The update hook's change of row `rowid` of `base`.
  void changed(int op, int64_t rowid) {
    if (auto it = by_rowid.find(rowid); it != by_rowid.end()) {
      rows.erase(it->second);
      by_rowid.erase(it);
    }
    if (op == SQLITE_DELETE) {
      // A row inserted since the last read and deleted again: its id is gone with it, and a
      // REPLACE may have moved a cached row there.
      if (std::find(pending.begin(), pending.end(), rowid) != pending.end()) clear();
    } else if (!rows.empty()) {
      pending.push_back(rowid);
    }
  }
};

// ps_kv's rows read by key (Client::kv_int, query_kv_int): cached per key, as DataRows is per
// row.  The core changes ps_kv in most control calls (perf20: 2,120 changes in 3,213 calls), one
// key at a time, so a per-table cache kept nothing.  Here a changed rowid is read back by rowid
// before the next read -- its key and value, cheaper than a read by key -- and refreshes that key
// alone: an upsert in place, an insert, and an INSERT OR REPLACE that moves a key to a new rowid
// without a hook call for its old row all end as the key's row at its rowid now.
struct KvRows {
  struct Key {
    std::string name;
    bool known = false;            // value and rowid are the table's
    std::optional<int64_t> value;  // CAST(value AS INTEGER); nullopt for no row or NULL
    std::optional<int64_t> rowid;  // when present
  };
  std::vector<Key> keys;         // a handful (the checkpoint-request keys); never shrinks
  std::vector<int64_t> pending;  // changed rowids, not read back yet
  int64_t unseen = 0;            // unseen changes the cache reflects
  uint64_t rollbacks = 0;
  Key* at_rowid(int64_t rowid) {
    for (auto& k : keys) {
      if (k.known && k.rowid == rowid) return &k;
    }
    return nullptr;
  }
  Key& named(std::string_view name) {
    for (auto& k : keys) {
      if (k.name == name) return k;
    }
    return keys.emplace_back(Key{std::string(name), false, std::nullopt, std::nullopt});
  }
  void clear() {
    for (auto& k : keys) k.known = false;
    pending.clear();
  }
  // The update hook's change of ps_kv's row `rowid`.
  void changed(int op, int64_t rowid) {
    const bool was_pending = std::find(pending.begin(), pending.end(), rowid) != pending.end();
    if (op == SQLITE_DELETE && was_pending) {
      // A row written since the last read and deleted again: its key is unknown, and a REPLACE
      // may have moved a cached key there.
      clear();
      return;
    }
    if (Key* k = at_rowid(rowid)) {
      if (op == SQLITE_DELETE) {
        *k = Key{std::move(k->name), true, std::nullopt,
                 std::nullopt};  // the key's one row is gone: absent, and known so
        return;
      }
      k->known = false;  // read back below, whatever key the row holds now
    }
    if (op != SQLITE_DELETE && !was_pending) pending.push_back(rowid);
  }
};

}  // namespace syncsim::engine
