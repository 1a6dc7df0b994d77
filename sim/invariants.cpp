#include "sim/invariants.hpp"

#include <algorithm>
#include <stdexcept>

namespace syncsim::sim {

void InvariantCatalog::add(InvariantInfo info) {
  auto id = info.id;
  if (!by_id_.emplace(id, std::move(info)).second) {
    throw std::logic_error("invariant registered twice: " + id);
  }
}

const InvariantInfo* InvariantCatalog::find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::vector<std::string> InvariantCatalog::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, info] : by_id_) out.push_back(id);
  return out;
}

Verdicts::Verdicts(std::vector<std::string> enabled) : enabled_(std::move(enabled)) {
  std::sort(enabled_.begin(), enabled_.end());
  for (const auto& id : enabled_) checks_[id] = 0;
}

bool Verdicts::enabled(const std::string& id) const {
  return std::binary_search(enabled_.begin(), enabled_.end(), id);
}

void Verdicts::violate(Violation v) {
  if (!first_) first_ = std::move(v);
}

}  // namespace syncsim::sim
