// Ctrl-C during `sweep` (issue 19, review SIG1/SIG2): a sweep interrupted mid-way stops its
// workers, writes what finished as a valid partial results document (`partial`,
// `seeds_not_run`), prints the summary and exits 130; no worker outlives it, also when only
// the parent gets the signal, or when the parent is killed outright.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_helpers.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kSeeds = 20000;  // never finishes before the signal on a fast, idle machine

struct Sweep {
  std::string marker;  // unique: in the scenario path, so in every worker's command line
  std::string dir, results, junit, out, err;
  pid_t pid = -1;
};

// A short scenario under a directory named by a unique marker, swept over kSeeds seeds with
// 2 workers in a new process group (the group a terminal's Ctrl-C would reach).
Sweep start_sweep(const std::string& name, int duration_s = 5) {
  Sweep s;
  s.marker = "interrupt-marker-" + name + "-" + std::to_string(getpid());
  s.dir = testing::absent_temp_path(s.marker);
  fs::create_directories(s.dir);
  auto j = json::parse(testing::read_file(testing::catalog("basic")));
  j["name"] = "tiny";
  j["clients"]["count"] = duration_s > 5 ? 3 : 1;
  j["duration_s"] = duration_s;
  j["faults"] = json::array();
  j.erase("sometimes");
  const std::string scenario = s.dir + "/tiny.json";
  std::ofstream(scenario) << j.dump(2);
  s.results = s.dir + "/r.json";
  s.junit = s.dir + "/j.xml";
  s.out = s.dir + "/out.txt";
  s.err = s.dir + "/err.txt";
  const std::string seeds = "1.." + std::to_string(kSeeds);
  s.pid = fork();
  if (s.pid == 0) {
    setpgid(0, 0);
    setenv("SYNCSIM_PROGRESS_MS", "50", 1);
    if (!freopen(s.out.c_str(), "w", stdout) || !freopen(s.err.c_str(), "w", stderr)) _exit(127);
    execl(SYNCSIM_BINARY, SYNCSIM_BINARY, "sweep", scenario.c_str(), "--seeds", seeds.c_str(),
          "--jobs", "2", "--results", s.results.c_str(), "--junit", s.junit.c_str(), nullptr);
    _exit(127);
  }
  setpgid(s.pid, s.pid);
  return s;
}

// Waits for the first progress line that reports a finished seed and returns how many
// seeds it reports done (0: none within 60 s).  The sweep logs progress every 50 ms
// (SYNCSIM_PROGRESS_MS, start_sweep) instead of every 5 s when stderr is not a terminal, so
// the wait ends at that event rather than after a fixed 5 s of two busy workers (perf10).
uint64_t wait_for_progress(const Sweep& s) {
  static const std::regex kProgress(R"(sweep: (\d+)/\d+ seeds)");
  for (int i = 0; i < 3000; ++i) {
    const std::string err = testing::read_file(s.err);
    for (std::sregex_iterator it(err.begin(), err.end(), kProgress), end; it != end; ++it) {
      if (const uint64_t done = std::stoull((*it)[1]); done > 0) return done;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

// Processes whose command line holds the marker (a reaped or zombie process has none).
int processes_with(const std::string& marker) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = testing::read_file(e.path().string() + "/cmdline");
    if (cmdline.find(marker) != std::string::npos) ++n;
  }
  return n;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t count_ranges(const json& list) {
  uint64_t n = 0;
  for (const auto& r : list) {
    const auto text = r.get<std::string>();
    const auto dots = text.find("..");
    n += dots == std::string::npos
             ? 1
             : std::stoull(text.substr(dots + 2)) - std::stoull(text.substr(0, dots)) + 1;
  }
  return n;
}

// The partial document: valid, marked, and every seed either ran or is listed as not run.
void expect_partial_document(const Sweep& s) {
  const json doc = json::parse(testing::read_file(s.results));
  EXPECT_EQ(doc.value("partial", false), true);
  ASSERT_TRUE(doc.contains("seeds_not_run")) << doc.dump().substr(0, 300);
  const uint64_t ran = doc["runs"].size();
  EXPECT_GE(ran, 1u) << "the seeds that finished before the interrupt are kept";
  const uint64_t not_run = count_ranges(doc["seeds_not_run"].value("tiny", json::array()));
  EXPECT_GE(not_run, 1u);
  EXPECT_EQ(ran + not_run, kSeeds);
  EXPECT_EQ(doc["passed"].get<uint64_t>() + doc["failed"].get<uint64_t>(), ran);
  EXPECT_NE(testing::read_file(s.junit).find("<testsuites"), std::string::npos);
  // The summary was printed, and merge reads the partial document.
  EXPECT_NE(testing::read_file(s.out).find("sweep: " + std::to_string(ran) + " runs"),
            std::string::npos)
      << testing::read_file(s.out);
  EXPECT_NE(testing::read_file(s.err).find("interrupted by signal"), std::string::npos);
  EXPECT_EQ(testing::syncsim("merge " + s.results + " --results " + s.dir + "/m.json").exit_code,
            0);
}

TEST(Interrupt, CtrlCToTheProcessGroupLeavesAPartialDocumentAndNoWorkers) {
  Sweep s = start_sweep("group");
  const uint64_t done = wait_for_progress(s);
  ASSERT_GT(done, 0u) << testing::read_file(s.err);
  ASSERT_LT(done, kSeeds) << "the sweep finished before it could be interrupted";
  kill(-s.pid, SIGINT);  // what a terminal's Ctrl-C does
  EXPECT_EQ(wait_exit(s.pid), 130) << testing::read_file(s.err);
  EXPECT_EQ(processes_with(s.marker), 0) << "a worker outlived the sweep";
  expect_partial_document(s);
}

TEST(Interrupt, SigtermToTheParentOnlyStopsItsWorkers) {
  Sweep s = start_sweep("parent");
  ASSERT_GT(wait_for_progress(s), 0u) << testing::read_file(s.err);
  kill(s.pid, SIGTERM);
  EXPECT_EQ(wait_exit(s.pid), 130) << testing::read_file(s.err);
  EXPECT_EQ(processes_with(s.marker), 0) << "a worker outlived the sweep";
  expect_partial_document(s);
}

TEST(Interrupt, WorkersDieWithAKilledParent) {
  // Long seeds (basic's 60 s on 3 clients): a worker that did not die with its parent would
  // live on until it next writes a result to the closed pipe, seconds later.
  Sweep s = start_sweep("killed", 60);
  for (int i = 0; i < 200 && processes_with(s.marker) < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(processes_with(s.marker), 3) << "the parent and its 2 workers run";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the workers are in a seed
  kill(s.pid, SIGKILL);  // no handler runs: the workers' parent-death signal must stop them
  wait_exit(s.pid);
  int left = 0;
  for (int i = 0; i < 10 && (left = processes_with(s.marker)) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0) << "workers outlived their killed parent";
}

}  // namespace
}  // namespace syncsim
