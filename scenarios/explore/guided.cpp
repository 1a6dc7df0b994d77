#include "scenarios/explore/guided.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "scenarios/explore/abstract_state.hpp"
#include "sim/prng.hpp"

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

namespace {

// Cells one component ("mode|gate|record|phase") away from `cell`.
bool one_apart(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& c) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= c.size(); ++i) {
      if (i == c.size() || c[i] == '|') {
        out.push_back(c.substr(start, i - start));
        start = i + 1;
      }
    }
    return out;
  };
  const auto pa = parts(a), pb = parts(b);
  if (pa.size() != pb.size()) return false;
  int differ = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) differ += pa[i] != pb[i] ? 1 : 0;
  return differ == 1;
}

}  // namespace

nlohmann::json guided_pins(const std::vector<GuidedRun>& runs, const std::vector<uint64_t>& seeds,
                           uint64_t batch, std::map<uint64_t, uint64_t>& parents) {
  nlohmann::json pins = nlohmann::json::object();
  if (runs.empty()) return pins;
  std::map<std::string, uint64_t> reached_by;
  std::map<std::string, std::size_t> first_by;  // cell -> index of the first run reaching it
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (const auto& c : runs[i].cells) {
      ++reached_by[c];
      first_by.try_emplace(c, i);
    }
  }
  // A cell's worth: rare, and next to cells nobody reached yet (the frontier).
  std::vector<std::string> unreached;
  for (const auto& c : abstract_state_cells()) {
    if (!reached_by.contains(c) && !abstract_state_unreachable().contains(c)) {
      unreached.push_back(c);
    }
  }
  std::map<std::string, double> worth;
  for (const auto& [c, n] : reached_by) {
    const auto near = std::count_if(unreached.begin(), unreached.end(),
                                    [&c = c](const std::string& u) { return one_apart(c, u); });
    worth[c] = (1.0 + static_cast<double>(near)) / static_cast<double>(n);
  }
  // Children per parent that reached nothing new (a cell no run before them reached).
  std::map<uint64_t, uint64_t> barren;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].parent == 0) continue;
    const bool found = std::any_of(runs[i].cells.begin(), runs[i].cells.end(),
                                   [&](const std::string& c) { return first_by.at(c) == i; });
    if (!found) ++barren[runs[i].parent];
  }
  std::vector<double> energy(runs.size(), 0);
  double total = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    double rarity = 0;
    uint64_t firsts = 0;
    for (const auto& c : runs[i].cells) {
      rarity += worth.at(c);
      if (first_by.at(c) == i) ++firsts;
    }
    const auto b = barren.find(runs[i].seed);
    energy[i] = rarity * (1.0 + static_cast<double>(firsts)) /
                (1.0 + static_cast<double>(b == barren.end() ? 0 : b->second));
    total += energy[i];
  }
  if (total <= 0) return pins;
  sim::Prng rng = sim::Prng(batch).split("guided-pins");
  std::vector<uint64_t> chosen(runs.size(), 0);  // children given in this batch
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    if (k % 4 >= kChildrenPerFour) continue;  // drawn freely
    // A parent by energy, divided by sqrt(1 + its children in this batch) so a batch
    // spreads over several parents (integer weights: the choice is exact and portable).
    std::vector<uint64_t> weights(runs.size());
    uint64_t sum = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      weights[i] = static_cast<uint64_t>(
          std::llround(energy[i] / total / std::sqrt(static_cast<double>(1 + chosen[i])) * 1e9));
      sum += weights[i];
    }
    if (sum == 0) break;
    uint64_t r = rng.uniform(sum);
    std::size_t parent = 0;
    while (r >= weights[parent]) r -= weights[parent++];
    // The parent's picks by key, in draw order; 1..3 keys left out (drawn afresh).
    nlohmann::json keep = nlohmann::json::object();
    for (const auto& [key, cls] : runs[parent].picks) {
      if (key.starts_with("count.")) {
        keep[key].push_back(std::stoll(cls));
      } else {
        keep[key].push_back(cls);
      }
    }
    const auto drop = 1 + rng.uniform(3);
    for (uint64_t d = 0; d < drop && !keep.empty(); ++d) {
      auto it = keep.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng.uniform(keep.size())));
      keep.erase(it.key());
    }
    pins[std::to_string(seeds[k])] = std::move(keep);
    parents[seeds[k]] = runs[parent].seed;
    ++chosen[parent];
  }
  return pins;
}

}  // namespace syncsim::scenarios
