// The order in which sweep hands chunks of seeds to its workers, and what a budgeted sweep
// covered.  Chunks are made lazily, so that `--budget 1h --seeds 1..1000000000` costs only the
// chunks it runs.
//   - Without a budget: scenario by scenario, seeds in order (the whole range is run).
//   - With --budget: seed block by seed block, every scenario for each block, so that when
//     the time is up every scenario has covered the same prefix of the shard's seeds (up to
//     one block).  Chunks already started finish; no chunk starts after the budget is spent,
//     so the covered seeds are a prefix of the shard's sequence first, first+n, ...
// The budget decides how far the sweep gets, never what a seed does: every run is the same
// as in an unbudgeted sweep of that seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/seed_range.hpp"
#include "cli/worker_pool.hpp"  // Chunk

namespace syncsim::cli {

class ChunkPlan {
 public:
  ChunkPlan(std::vector<std::string> paths, SeedRange range, Shard shard, int jobs,
            bool seed_major);
  // The index of the next chunk to run, or nullopt when every chunk has been handed out.
  std::optional<std::size_t> next();
  [[nodiscard]] const Chunk& chunk(std::size_t index) const { return chunks_.at(index); }
  // How many seeds of the range the shard takes, and its first (the range's first if none).
  [[nodiscard]] uint64_t shard_seeds() const { return shard_seeds_; }
  [[nodiscard]] uint64_t first_seed() const;

 private:
  std::vector<std::string> paths_;
  SeedRange range_;
  Shard shard_;
  bool seed_major_;
  uint64_t shard_seeds_ = 0;
  std::size_t chunk_size_ = 1;
  uint64_t blocks_ = 0;
  uint64_t outer_ = 0, inner_ = 0;  // the next (scenario, block) or (block, scenario)
  std::vector<Chunk> chunks_;       // handed out so far
};

// What a budgeted shard covered, for its results document and for merge:
//   {"shard": "i/n", "budget_s": s, "range": "A..B", "complete": bool,
//    "scenarios": {"<name>": {"seeds": k, "first": a, "last": b, "step": n}}}
// with "first"/"last" absent for a scenario that covered no seed.
nlohmann::json coverage_json(const nlohmann::json& runs, const std::vector<std::string>& names,
                             const SeedRange& range, const Shard& shard, uint64_t shard_seeds,
                             double budget_s);
// One line per scenario for the console.
std::string coverage_text(const nlohmann::json& coverage);

}  // namespace syncsim::cli
