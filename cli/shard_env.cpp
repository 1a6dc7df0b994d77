#include "cli/shard_env.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <regex>

namespace syncsim::cli {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {

// A non-negative decimal of at most 9 digits, or nullopt.
std::optional<uint64_t> parse_count(const std::string& text) {
  static const std::regex kNumber("^[0-9]{1,9}$");
  if (!std::regex_match(text, kNumber)) return std::nullopt;
  return std::stoull(text);
}

struct Engine {
  const char* name;
  const char* index_var;
  const char* count_var;
};

constexpr Engine kEngines[] = {
    {"syncsim workflow", "SYNCSIM_SHARD_INDEX", "SYNCSIM_SHARD_COUNT"},
    {"Slurm job array", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
    {"Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS"},
};

std::string bad_value(const std::string& var, const std::string& value, const char* allowed) {
  return fmt::format("--shard auto: {}='{}' is not {}", var, value, allowed);
}

}  // namespace

std::variant<ShardFromEnv, std::string> shard_from_env(const EnvLookup& env) {
  for (const auto& e : kEngines) {
    const auto index_text = env(e.index_var);
    if (!index_text) continue;
    const auto count_text = env(e.count_var);
    if (!count_text) {
      return fmt::format("--shard auto: {} is set ({}) but {} is not; both are needed ({})",
                         e.index_var, *index_text, e.count_var, e.name);
    }
    auto raw = parse_count(*index_text);
    if (!raw) return bad_value(e.index_var, *index_text, "a non-negative integer");
    const auto count = parse_count(*count_text);
    if (!count || *count == 0 || *count > 999999) {
      return bad_value(e.count_var, *count_text, "an integer from 1 to 999999");
    }
    std::string source =
        fmt::format("{}={} {}={}", e.index_var, *index_text, e.count_var, *count_text);
    uint64_t index = *raw;
    if (std::string(e.index_var) == "SLURM_ARRAY_TASK_ID") {
      // --array=A-B:S numbers its tasks A, A+S, ...; the shard is the task's position.
      uint64_t min = 0, step = 1;
      if (const auto t = env("SLURM_ARRAY_TASK_MIN")) {
        const auto v = parse_count(*t);
        if (!v) return bad_value("SLURM_ARRAY_TASK_MIN", *t, "a non-negative integer");
        min = *v;
        source += fmt::format(" SLURM_ARRAY_TASK_MIN={}", *t);
      }
      if (const auto t = env("SLURM_ARRAY_TASK_STEP")) {
        const auto v = parse_count(*t);
        if (!v || *v == 0) return bad_value("SLURM_ARRAY_TASK_STEP", *t, "a positive integer");
        step = *v;
      }
      if (index < min || (index - min) % step != 0) {
        return fmt::format(
            "--shard auto: SLURM_ARRAY_TASK_ID={} is not on the array's "
            "range (MIN {}, STEP {})",
            *index_text, min, step);
      }
      index = (index - min) / step;
    }
    if (index >= *count) {
      return fmt::format("--shard auto: {} is {} but {}={}; the index must be below the count",
                         source, index, e.count_var, *count_text);
    }
    return ShardFromEnv{Shard{index + 1, *count}, source};
  }
  return std::string(
      "--shard auto: no shard index in the environment; set one of SYNCSIM_SHARD_INDEX + "
      "SYNCSIM_SHARD_COUNT (0-based index), SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT "
      "(sbatch --array), JOB_COMPLETION_INDEX + JOB_COMPLETIONS (Kubernetes Indexed Job), "
      "or give --shard i/n");
}

std::variant<ShardFromEnv, std::string> resolve_shard(const std::string& text,
                                                      const EnvLookup& env) {
  if (text == "auto") return shard_from_env(env);
  auto s = parse_shard(text);
  if (!s) return fmt::format("--shard: '{}' is not i/n with 1 <= i <= n, nor auto", text);
  return ShardFromEnv{*s, "--shard " + text};
}

std::optional<double> parse_budget(const std::string& text) {
  static const std::regex kBudget("^([0-9]{1,7})(s|m|h)$");
  std::smatch m;
  if (!std::regex_match(text, m, kBudget)) return std::nullopt;
  const double n = std::stod(m[1]);
  const double s = n * (m[2] == "h" ? 3600 : m[2] == "m" ? 60 : 1);
  if (s < 1 || s > 30 * 24 * 3600) return std::nullopt;
  return s;
}

}  // namespace syncsim::cli
