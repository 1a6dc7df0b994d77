// Merge at scale (issue 21): writes S synthetic shard documents of M seeds each (shard i takes
// the seeds = i-1 mod S, as `--shard i/S`), then times `syncsim merge` over them (results,
// JUnit and findings) in a child process and reads its peak RSS from wait4().  Runs S = 10 and
// S = 100 (or --shards) so that the memory can be compared across run counts.  JSON on stdout.
//   merge_bench [--shards 100] [--seeds-per-shard 1000] [--dir /tmp/...]
// Synthetic runs have the members and size of real ones (result_json); every 50th fails with
// a violation and keeps a 150-event timeline, as a sweep keeps failing runs' timelines.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/results/results.hpp"

namespace {

using nlohmann::json;

json synthetic_run(uint64_t seed) {
  const bool fails = seed % 50 == 0;
  json sometimes = json::object();
  for (const char* id :
       {"barrier-blocked", "duplicate-record", "duplicate-request", "newer-hides-older",
        "priority0-bypass", "reconnect-with-pending-target", "record-deleted-then-request",
        "request-reposted", "seed-raised", "upload-retried"}) {
    sometimes[id] = (seed * 7 + std::strlen(id)) % 5;
  }
  json run = {
      {"scenario", "synthetic"},
      {"seed", seed},
      {"expectation_met", !fails},
      {"trace_hash", fmt::format("{:016x}{:016x}", seed * 0x9e3779b97f4a7c15ULL, ~seed)},
      {"repro", fmt::format("syncsim:synthetic:{}:build-bench:{:016x}", seed, seed * 31)},
      {"stop", fails ? "invariant violated" : "finished"},
      {"stop_kind", fails ? "failure" : "finished"},
      {"wall_s", 0.01},
      {"virtual_s", 120.5},
      {"events", 4000 + seed % 1000},
      {"sometimes", sometimes},
      {"sometimes_listed", {"barrier-blocked", "seed-raised"}},
      {"stats", {{"uploads", seed % 40}, {"checkpoints", seed % 90}, {"reconnects", seed % 7}}},
  };
  if (fails) {
    run["violation"] = {{"invariant", seed % 100 == 0 ? "barrier-holds" : "no-lost-writes"},
                        {"at_s", 61.25},
                        {"subject", "client 2"},
                        {"message", "a synthetic violation"}};
    json events = json::array();
    for (int i = 0; i < 150; ++i) {
      events.push_back({{"t", i * 0.5},
                        {"actor", "client " + std::to_string(i % 3)},
                        {"kind", "sync-line"},
                        {"text", "checkpoint_complete last_op_id=" + std::to_string(i)}});
    }
    run["timeline"] = {{"events", events}};
  }
  return run;
}

struct Measure {
  double wall_s = 0;
  double cpu_s = 0;  // user + system: the wall time depends on what else the machine runs
  long peak_rss_kb = 0;
  int exit_code = -1;
};

Measure run_merge(const std::vector<std::string>& inputs, const std::string& dir) {
  std::vector<std::string> argv_s = {SYNCSIM_BINARY, "merge"};
  argv_s.insert(argv_s.end(), inputs.begin(), inputs.end());
  for (const auto& a :
       {"--results", "merged.json", "--junit", "junit.xml", "--findings", "findings.json"}) {
    argv_s.emplace_back(a);
  }
  for (std::size_t i = 2 + inputs.size(); i < argv_s.size(); i += 2) {
    argv_s[i + 1] = dir + "/" + argv_s[i + 1];
  }
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  Measure m;
  m.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.peak_rss_kb = ru.ru_maxrss;
  m.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

void write_shards(int shards, int per_shard, const std::string& dir) {
  for (int i = 1; i <= shards; ++i) {
    json runs = json::array();
    for (int k = 0; k < per_shard; ++k) {
      runs.push_back(synthetic_run(static_cast<uint64_t>(i) + static_cast<uint64_t>(k) * shards));
    }
    auto doc = syncsim::scenarios::sweep_document("build-bench", std::move(runs));
    doc["shard"] = fmt::format("{}/{}", i, shards);
    std::ofstream(fmt::format("{}/shard-{}.json", dir, i)) << doc.dump(2) << "\n";
  }
}

json bench(int shards, int per_shard, const std::string& dir) {
  std::filesystem::create_directories(dir);
  // The documents are made in a child process: a child forked later for the merge would
  // otherwise start with this process's heap, and its peak RSS (which exec keeps) with it.
  const pid_t writer = fork();
  if (writer == 0) {
    write_shards(shards, per_shard, dir);
    _exit(0);
  }
  int status = 0;
  waitpid(writer, &status, 0);
  std::vector<std::string> inputs;
  uint64_t bytes = 0;
  for (int i = 1; i <= shards; ++i) {
    const auto path = fmt::format("{}/shard-{}.json", dir, i);
    bytes += std::filesystem::file_size(path);
    inputs.push_back(path);
  }
  const auto m = run_merge(inputs, dir);
  const double runs = static_cast<double>(shards) * per_shard;
  return {
      {"shards", shards},
      {"seeds_per_shard", per_shard},
      {"runs", shards * per_shard},
      {"input_mb", static_cast<double>(bytes) / 1e6},
      {"merged_mb", static_cast<double>(std::filesystem::file_size(dir + "/merged.json")) / 1e6},
      {"merge_exit_code", m.exit_code},
      {"merge_wall_s", m.wall_s},
      {"merge_cpu_s", m.cpu_s},
      {"merge_runs_per_s", runs / m.wall_s},
      {"merge_peak_rss_mb", static_cast<double>(m.peak_rss_kb) / 1024}};
}

}  // namespace

int main(int argc, char** argv) {
  int shards = 100, per_shard = 1000;
  bool keep = false;  // --keep 1: leave the documents (to rerun merge by hand)
  std::string dir =
      std::filesystem::temp_directory_path() / fmt::format("syncsim-merge-bench-{}", getpid());
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--shards")
      shards = std::stoi(argv[i + 1]);
    else if (k == "--seeds-per-shard")
      per_shard = std::stoi(argv[i + 1]);
    else if (k == "--dir")
      dir = argv[i + 1];
    else if (k == "--keep")
      keep = std::string(argv[i + 1]) == "1";
    else {
      std::cerr << "unknown argument " << k << "\n";
      return 2;
    }
  }
  json out = json::array();
  for (int s : {std::max(1, shards / 10), shards}) {
    const auto d = fmt::format("{}/{}", dir, s);
    out.push_back(bench(s, per_shard, d));
    if (!keep) std::filesystem::remove_all(d);
  }
  if (!keep) std::filesystem::remove_all(dir);
  std::cout << json({{"benchmark", "merge"}, {"results", out}}).dump(2) << "\n";
  return 0;
}
