// `--shard auto` and `--budget DURATION`: the shard of a seed range a job of an existing
// engine runs, read from that engine's environment, and a wall-time budget for it.
//
// Engines and their variables (index is 0-based; syncsim's shards are 1-based, i/n):
//   SYNCSIM_SHARD_INDEX / SYNCSIM_SHARD_COUNT     set by .github/workflows/syncsim.yml from
//                                                 its matrix (or by hand); checked first
//   SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT  `sbatch --array=A-B[:S]`; the index is
//                                                 (ID - SLURM_ARRAY_TASK_MIN) / STEP
//   JOB_COMPLETION_INDEX / JOB_COMPLETIONS        a Kubernetes Indexed Job; the count is set
//                                                 in the manifest (ci/k8s/) from
//                                                 spec.completions, which k8s does not export
// Shard i/n takes the seeds s of A..B with (s - A) mod n = i - 1 (cli/seed_range.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "cli/seed_range.hpp"

namespace syncsim::cli {

// Looks an environment variable up; std::getenv in the CLI, a map in tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

struct ShardFromEnv {
  Shard shard;
  std::string source;  // e.g. "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4"
};

// The shard from the first engine whose index variable is set; an error message (naming the
// variables, their values and what is allowed) when none is set or the values are bad.
std::variant<ShardFromEnv, std::string> shard_from_env(const EnvLookup& env);

// `--shard` as given: "i/n" or "auto".  The text written into results documents is
// always the resolved "i/n".
std::variant<ShardFromEnv, std::string> resolve_shard(const std::string& text,
                                                      const EnvLookup& env);

// "90s", "15m", "2h" (1 s .. 30 days) -> seconds; nullopt otherwise.
std::optional<double> parse_budget(const std::string& text);

}  // namespace syncsim::cli
