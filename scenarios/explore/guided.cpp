#include "scenarios/explore/guided.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace syncsim::scenarios {

nlohmann::json guided_weights(const nlohmann::json& world, const std::vector<GuidedRun>& runs,
                              const ValidationContext& ctx) {
  nlohmann::json weights = world_weights(world, ctx);
  if (runs.empty()) return weights;
  std::map<std::string, uint64_t> reached_by;  // cell -> runs that reached it
  for (const auto& r : runs) {
    for (const auto& c : r.cells) ++reached_by[c];
  }
  // Per (dimension, class): the novelty sum and count of the runs that picked it (a run
  // counts once per class however often it picked it).
  std::map<std::string, std::map<std::string, std::pair<double, uint64_t>>> stats;
  std::map<std::string, std::pair<double, uint64_t>> dim_stats;
  for (const auto& r : runs) {
    double novelty = 0;
    // 1 / runs^2: a cell most runs reach adds next to nothing, so the rare ones decide.
    for (const auto& c : r.cells) {
      const auto n = static_cast<double>(reached_by.at(c));
      novelty += 1.0 / (n * n);
    }
    std::set<std::pair<std::string, std::string>> once(r.picks.begin(), r.picks.end());
    std::set<std::string> dims;
    for (const auto& [dim, cls] : once) {
      auto& s = stats[dim][cls];
      s.first += novelty;
      ++s.second;
      dims.insert(dim);
    }
    for (const auto& dim : dims) {
      dim_stats[dim].first += novelty;
      ++dim_stats[dim].second;
    }
  }
  for (auto& [dim, classes] : weights.items()) {
    int64_t max_base = 0;
    for (const auto& [cls, w] : classes.items()) max_base = std::max(max_base, w.get<int64_t>());
    if (max_base == 0) continue;
    // Scale up for resolution, within the format's 0..1000 bound at the largest factor.
    const double scale = std::min(10.0, 1000.0 / (static_cast<double>(max_base) * 5));
    const auto ds = dim_stats.find(dim);
    const double dim_mean = ds == dim_stats.end() || ds->second.second == 0
                                ? 0
                                : ds->second.first / static_cast<double>(ds->second.second);
    for (auto& [cls, w] : classes.items()) {
      const int64_t base = w.get<int64_t>();
      if (base == 0) continue;
      double factor = 2;  // never picked: explore it
      const auto dit = stats.find(dim);
      if (dit != stats.end()) {
        const auto cit = dit->second.find(cls);
        if (cit != dit->second.end() && cit->second.second > 0) {
          const double mean = cit->second.first / static_cast<double>(cit->second.second);
          factor = dim_mean > 0 ? std::clamp(mean / dim_mean, 0.2, 5.0) : 1.0;
        }
      }
      w = std::clamp<int64_t>(std::llround(static_cast<double>(base) * factor * scale), 1, 1000);
    }
  }
  return weights;
}

}  // namespace syncsim::scenarios
