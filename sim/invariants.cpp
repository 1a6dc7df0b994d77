#include "sim/invariants.hpp"

#include <algorithm>
#include <stdexcept>

#include "sim/trace.hpp"

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
  for (const auto& id : enabled_) slots_[id].enabled = true;
}

const std::map<std::string, uint64_t>& Verdicts::checks() const {
  checks_.clear();
  for (const auto& [id, slot] : slots_) checks_[id] = slot.checks;
  return checks_;
}

void log_explanation(Trace& trace, const Violation& v) {
  for (const auto& in : v.inputs) {
    trace.log("why", "INPUT {} = {} (from {}{})", in.name, in.value, in.source,
              in.line ? fmt::format(", trace line {}", in.line) : std::string());
  }
  for (std::size_t i = 0; i < v.chain.size(); ++i) {
    const auto& c = v.chain[i];
    trace.log("why", "CAUSE {}/{} {}{}", i + 1, v.chain.size(), c.what,
              c.line ? fmt::format(" (trace line {})", c.line) : std::string());
  }
}

void Verdicts::violate(Violation v) {
  if (!first_) first_ = std::move(v);
}

}  // namespace syncsim::sim
