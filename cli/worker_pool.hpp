// Worker processes for sweep and hunt: each chunk of seeds of one scenario runs in this
// binary's hidden `sweep-worker` subcommand (docs/architecture.md §2: no threads inside a
// simulation), which prints one JSON result per line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace syncsim::cli {

struct Chunk {
  std::string path;
  std::vector<uint64_t> seeds;
};

struct WorkerPoolOptions {
  int jobs = 1;
  bool check_determinism = false;
  bool swarm = false;
  uint64_t timeline_seed = 0;
  // With an InterruptGuard alive: on SIGINT/SIGTERM stop every worker and return what came
  // back so far (cli/interrupt.hpp).
  bool stop_on_interrupt = false;
  std::vector<std::string> sets;  // --set overrides every worker applies (issue 18)
};

// Runs the chunks `next_chunk` hands out (nullopt: none left, or the budget is spent), at
// most options.jobs at a time; `on_result` gets each result as it arrives, `on_tick` is
// called at least once a second.  Returns one line per failed worker.
std::vector<std::string> run_worker_pool(const std::function<std::optional<Chunk>()>& next_chunk,
                                         const WorkerPoolOptions& options,
                                         const std::function<void(nlohmann::json)>& on_result,
                                         const std::function<void()>& on_tick);
// The same over a fixed list of chunks.
std::vector<std::string> run_worker_pool(const std::vector<Chunk>& chunks,
                                         const WorkerPoolOptions& options,
                                         const std::function<void(nlohmann::json)>& on_result,
                                         const std::function<void()>& on_tick);

// Chunks of `seeds` of `path` small enough to keep `jobs` workers busy.
std::vector<Chunk> make_chunks(const std::string& path, const std::vector<uint64_t>& seeds,
                               int jobs);

std::string duration_text(double seconds);

// Progress and an ETA on stderr (a line every 5 s, or one updated line on a terminal).
class Progress {
 public:
  Progress(std::string name, uint64_t total);
  void update(uint64_t done, uint64_t failures, bool final = false);
  void set_total(uint64_t total) { total_ = total; }
  [[nodiscard]] double elapsed() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::string name_;
  uint64_t total_;
  bool tty_;
  // Between lines when stderr is not a terminal: 5 s, or SYNCSIM_PROGRESS_MS (tests that
  // wait for a first finished seed, docs/performance-ci.md "Quick suite toward 60 s (perf10)").
  std::chrono::milliseconds log_interval_;
  Clock::time_point start_, last_;
};

}  // namespace syncsim::cli
