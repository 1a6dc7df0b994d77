#include "cli/sweep_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <map>

namespace syncsim::cli {

ChunkPlan::ChunkPlan(std::vector<std::string> paths, SeedRange range, Shard shard, int jobs,
                     bool seed_major)
    : paths_(std::move(paths)), range_(range), shard_(shard), seed_major_(seed_major) {
  assert(shard_.index >= 1 && shard_.index <= shard_.count && range_.first <= range_.last);
  const uint64_t offset = shard_.index - 1;
  if (range_.last - range_.first >= offset) {
    shard_seeds_ = (range_.last - range_.first - offset) / shard_.count + 1;
  }
  // Chunks small enough to keep every worker busy and the progress moving; with a budget,
  // smaller still, so that the sweep stops soon after the time is up.
  const uint64_t per_worker = shard_seeds_ / (static_cast<uint64_t>(jobs) * 4);
  chunk_size_ = static_cast<std::size_t>(std::clamp<uint64_t>(per_worker, 1, seed_major ? 4 : 20));
  blocks_ = (shard_seeds_ + chunk_size_ - 1) / chunk_size_;
}

uint64_t ChunkPlan::first_seed() const {
  return shard_seeds_ == 0 ? range_.first : range_.first + shard_.index - 1;
}

std::optional<std::size_t> ChunkPlan::next() {
  const uint64_t outer_count = seed_major_ ? blocks_ : paths_.size();
  const uint64_t inner_count = seed_major_ ? paths_.size() : blocks_;
  if (inner_count == 0 || outer_ >= outer_count) return std::nullopt;
  const uint64_t block = seed_major_ ? outer_ : inner_;
  const std::size_t path = static_cast<std::size_t>(seed_major_ ? inner_ : outer_);
  if (++inner_ == inner_count) {
    inner_ = 0;
    ++outer_;
  }
  Chunk c{paths_[path], {}};
  const uint64_t begin = block * chunk_size_;
  const uint64_t end = std::min<uint64_t>(shard_seeds_, begin + chunk_size_);
  for (uint64_t k = begin; k < end; ++k) {
    const uint64_t seed = range_.first + (shard_.index - 1) + k * shard_.count;
    assert(seed <= range_.last && shard_.takes(range_, seed));
    c.seeds.push_back(seed);
  }
  chunks_.push_back(std::move(c));
  return chunks_.size() - 1;
}

nlohmann::json coverage_json(const nlohmann::json& runs, const std::vector<std::string>& names,
                             const SeedRange& range, const Shard& shard, uint64_t shard_seeds,
                             double budget_s) {
  struct Seen {
    uint64_t seeds = 0, first = 0, last = 0;
  };
  std::map<std::string, Seen> seen;
  for (const auto& name : names) seen[name];
  for (const auto& r : runs) {
    auto& s = seen[r.at("scenario").get<std::string>()];
    const auto seed = r.at("seed").get<uint64_t>();
    if (s.seeds == 0 || seed < s.first) s.first = seed;
    if (s.seeds == 0 || seed > s.last) s.last = seed;
    ++s.seeds;
  }
  bool complete = true;
  nlohmann::json scenarios = nlohmann::json::object();
  for (const auto& [name, s] : seen) {
    complete = complete && s.seeds == shard_seeds;
    nlohmann::json j = {{"seeds", s.seeds}, {"step", shard.count}};
    if (s.seeds > 0) {
      j["first"] = s.first;
      j["last"] = s.last;
      // A prefix of the shard's sequence (see ChunkPlan): no seed missing in between.
      j["gaps"] = (s.last - s.first) / shard.count + 1 != s.seeds;
    }
    scenarios[name] = std::move(j);
  }
  return {{"shard", fmt::format("{}/{}", shard.index, shard.count)},
          {"budget_s", budget_s},
          {"range", fmt::format("{}..{}", range.first, range.last)},
          {"shard_seeds", shard_seeds},
          {"complete", complete},
          {"scenarios", std::move(scenarios)}};
}

std::string coverage_text(const nlohmann::json& c) {
  std::string out;
  for (const auto& [name, s] : c.at("scenarios").items()) {
    const auto seeds = s.at("seeds").get<uint64_t>();
    out += fmt::format("  shard {} {}: {} of {} seeds", c.at("shard").get<std::string>(), name,
                       seeds, c.at("shard_seeds").get<uint64_t>());
    if (seeds > 0) {
      out += fmt::format(" ({}..{} step {}{})", s.at("first").get<uint64_t>(),
                         s.at("last").get<uint64_t>(), s.at("step").get<uint64_t>(),
                         s.at("gaps").get<bool>() ? ", WITH GAPS" : "");
    }
    out += "\n";
  }
  return out;
}

}  // namespace syncsim::cli
