#include "model/source_db.hpp"

#include <cassert>

namespace syncsim::model {

std::string to_string(SourceFlavour f) {
  switch (f) {
    case SourceFlavour::Postgres:
      return "postgres";
    case SourceFlavour::Mongodb:
      return "mongodb";
    case SourceFlavour::Mysql:
      return "mysql";
  }
  return "?";
}

Lsn SourceDb::commit(sim::Micros now, CommitKind kind, std::vector<RowChange> changes) {
  assert((kind == CommitKind::Data) != changes.empty() && "markers carry no rows");
  ++head_;
  for (const auto& c : changes) {
    if (c.after) {
      rows_[c.key] = *c.after;
    } else {
      rows_.erase(c.key);
    }
  }
  log_.push_back(Commit{head_, now, kind, std::move(changes)});
  return head_;
}

std::optional<Row> SourceDb::row(const RowKey& key) const {
  auto it = rows_.find(key);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

}  // namespace syncsim::model
