// Cached reads of the checkpoint state that barrier-holds reads around every control call
// (issue 20): one integer from one table, answered from a cache while no row of that table
// changed.  The connection's update hook (engine/database.cpp) counts changes per watched
// table; a change it does not see (the truncate optimisation of an unqualified DELETE, a
// virtual or WITHOUT ROWID table) still counts in sqlite3_total_changes64, and a rollback
// restores rows without the hook: either one makes every cached read stale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/database.hpp"

namespace syncsim::engine {

enum class Watched { Crud, Kv, Buckets };

std::optional<int64_t> query_int_watched(Database& db, Watched table, const std::string& sql,
                                         const std::vector<std::string>& args = {});

}  // namespace syncsim::engine
