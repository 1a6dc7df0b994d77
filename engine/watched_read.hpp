// Cached reads of the checkpoint state that barrier-holds reads around every control call
// (issue 20): one integer from one table, answered from a cache while no row of that table
// changed; the same for the rows the invariants read back (one text column of one row of the
// app's tables, `Data`: any ps_data__* table).  The connection's update hook (engine/database.cpp)
// counts changes per watched table; a change it does not see (the truncate optimisation of an
// unqualified DELETE, a virtual or WITHOUT ROWID table) still counts in sqlite3_total_changes64,
// and a rollback restores rows without the hook: either one makes every cached read stale.  DDL is
// not a change either counts (a view or table replaced under a cached read): the shim replaces its
// schema only when it opens a connection, before any cached read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/database.hpp"

namespace syncsim::engine {

enum class Watched { Crud, Kv, Buckets, Data };

std::optional<int64_t> query_int_watched(Database& db, Watched table, const std::string& sql,
                                         const std::vector<std::string>& args = {});

// `SELECT CAST(value AS INTEGER) FROM ps_kv WHERE key = ?`, cached per key
// (engine/watched_rows.hpp's KvRows): a change of ps_kv keeps the other keys' reads.
std::optional<int64_t> query_kv_int(Database& db, std::string_view key);

// The first column of the first row: nullopt for no row, an empty inner optional for NULL.
std::optional<std::optional<std::string>> query_row_watched(
    Database& db, Watched table, const std::string& sql, const std::vector<std::string>& args = {});

// `SELECT description FROM <table> WHERE id = ?` as query_row_watched answers it, without building
// the statement or copying the row: the row's cached description (nullptr: no row; an empty
// optional: NULL), valid until the database next changes or the next call.
const std::optional<std::string>* query_description(Database& db, std::string_view table,
                                                    std::string_view id);

}  // namespace syncsim::engine
