#include "cli/worker_pool.hpp"

#include "cli/interrupt.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <stdexcept>

extern char** environ;

namespace syncsim::cli {

namespace {

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::size_t chunk = 0;
  std::string buffer;
  std::size_t received = 0;
};

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find this program's path: " + ec.message());
  return p.string();
}

Worker spawn_worker(const std::string& exe, const Chunk& c, std::size_t index, bool check,
                    bool swarm, uint64_t timeline_seed, const std::vector<std::string>& sets) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::string seeds;
  for (auto s : c.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(s);
  std::vector<std::string> argv_s = {exe,
                                     "sweep-worker",
                                     c.path,
                                     "--seeds",
                                     seeds,
                                     "--timeline-seed",
                                     std::to_string(timeline_seed),
                                     "--parent-pid",
                                     std::to_string(getpid())};
  if (check) argv_s.emplace_back("--check-determinism");
  if (swarm) argv_s.emplace_back("--swarm");
  for (const auto& set : sets) {
    argv_s.emplace_back("--set");
    argv_s.push_back(set);
  }
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error(fmt::format("cannot start a worker: {}", std::strerror(rc)));
  }
  return Worker{pid, fds[0], index, {}, 0};
}

}  // namespace

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
}

namespace {

// SYNCSIM_PROGRESS_MS: 1 to 7 digits of milliseconds; anything else is named on stderr and the
// default (5 s) kept, so a typo never stops a sweep.
std::chrono::milliseconds progress_interval() {
  const char* text = std::getenv("SYNCSIM_PROGRESS_MS");
  if (text == nullptr) return std::chrono::seconds(5);
  const std::string value(text);
  if (value.empty() || value.size() > 7 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::cerr << fmt::format(
        "syncsim: SYNCSIM_PROGRESS_MS='{}' is not a number of milliseconds (0 to 9999999); "
        "progress lines stay 5 s apart\n",
        value);
    return std::chrono::seconds(5);
  }
  return std::chrono::milliseconds(std::stoll(value));
}

}  // namespace

Progress::Progress(std::string name, uint64_t total)
    : name_(std::move(name)),
      total_(total),
      tty_(isatty(STDERR_FILENO) != 0),
      log_interval_(progress_interval()),
      start_(Clock::now()),
      last_(start_) {}

void Progress::update(uint64_t done, uint64_t failures, bool final) {
  const auto now = Clock::now();
  if (!final && !tty_ && now - last_ < log_interval_) return;
  if (!final && tty_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta =
      done > 0 && total_ > done ? elapsed * static_cast<double>(total_ - done) / done : 0;
  const auto line = fmt::format("{}: {}/{} seeds, {} failed, {} elapsed{}", name_, done, total_,
                                failures, duration_text(elapsed),
                                final ? "" : ", ETA " + (done ? duration_text(eta) : "?"));
  if (tty_) {
    std::cerr << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
  } else {
    std::cerr << line << "\n";
  }
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

std::vector<Chunk> make_chunks(const std::string& path, const std::vector<uint64_t>& seeds,
                               int jobs) {
  // Chunks small enough to keep every worker busy and the progress moving.
  const std::size_t chunk_size =
      std::clamp<std::size_t>(seeds.size() / (static_cast<std::size_t>(jobs) * 4), 1, 20);
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < seeds.size(); i += chunk_size) {
    chunks.push_back(
        {path,
         {seeds.begin() + static_cast<std::ptrdiff_t>(i),
          seeds.begin() + static_cast<std::ptrdiff_t>(std::min(seeds.size(), i + chunk_size))}});
  }
  return chunks;
}

std::vector<std::string> run_worker_pool(const std::vector<Chunk>& chunks,
                                         const WorkerPoolOptions& options,
                                         const std::function<void(nlohmann::json)>& on_result,
                                         const std::function<void()>& on_tick) {
  std::size_t next = 0;
  return run_worker_pool(
      [&]() -> std::optional<Chunk> {
        if (next == chunks.size()) return std::nullopt;
        return chunks[next++];
      },
      options, on_result, on_tick);
}

std::vector<std::string> run_worker_pool(const std::function<std::optional<Chunk>()>& next_chunk,
                                         const WorkerPoolOptions& options,
                                         const std::function<void(nlohmann::json)>& on_result,
                                         const std::function<void()>& on_tick) {
  const std::string exe = self_exe();
  std::vector<std::string> worker_errors;
  std::vector<Chunk> started;  // every chunk handed out, indexed by Worker::chunk
  std::vector<Worker> active;
  bool planned_all = false;
  const auto interrupted = [&] {
    return options.stop_on_interrupt && InterruptGuard::signal_received() != 0;
  };
  while ((!planned_all || !active.empty()) && !interrupted()) {
    while (!planned_all && active.size() < static_cast<std::size_t>(options.jobs)) {
      auto c = next_chunk();
      if (!c) {
        planned_all = true;
        break;
      }
      started.push_back(std::move(*c));
      active.push_back(spawn_worker(exe, started.back(), started.size() - 1,
                                    options.check_determinism, options.swarm, options.timeline_seed,
                                    options.sets));
    }
    if (active.empty()) break;
    std::vector<pollfd> pfds;
    pfds.reserve(active.size());
    for (const auto& w : active) pfds.push_back({w.fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), 1000) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    for (std::size_t i = 0; i < active.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      auto& w = active[i];
      char buf[65536];
      const ssize_t n = read(w.fd, buf, sizeof buf);
      if (n > 0) {
        w.buffer.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = w.buffer.find('\n')) != std::string::npos) {
          auto j = nlohmann::json::parse(w.buffer.substr(0, nl));
          w.buffer.erase(0, nl + 1);
          ++w.received;
          on_result(std::move(j));
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      close(w.fd);
      w.fd = -1;
      int status = 0;
      waitpid(w.pid, &status, 0);
      const auto& c = started[w.chunk];
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || w.received != c.seeds.size()) {
        worker_errors.push_back(
            fmt::format("worker for {} seeds {}..{} {} after {} of {} seeds", c.path,
                        c.seeds.front(), c.seeds.back(),
                        WIFSIGNALED(status) ? fmt::format("died of signal {}", WTERMSIG(status))
                                            : fmt::format("exited with {}", WEXITSTATUS(status)),
                        w.received, c.seeds.size()));
      }
    }
    std::erase_if(active, [](const Worker& w) { return w.fd < 0; });
    on_tick();
  }
  if (interrupted()) {
    // Stop the workers (a Ctrl-C reaches them too; a signal to this process alone does not);
    // workers killed by the interrupt are not failures.
    std::vector<pid_t> pids;
    for (auto& w : active) {
      pids.push_back(w.pid);
      if (w.fd >= 0) close(w.fd);
    }
    stop_workers(pids);
    worker_errors.clear();
  }
  return worker_errors;
}

}  // namespace syncsim::cli
