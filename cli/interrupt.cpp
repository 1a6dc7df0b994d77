#include "cli/interrupt.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace syncsim::cli {

namespace {

volatile sig_atomic_t g_signal = 0;
struct sigaction g_old_int {
}, g_old_term{};

extern "C" void on_interrupt(int sig) { g_signal = sig; }

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking poll/read returns EINTR
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int InterruptGuard::signal_received() { return g_signal; }

void stop_workers(const std::vector<pid_t>& pids, int grace_ms) {
  for (const pid_t pid : pids) ::kill(pid, SIGTERM);
  std::vector<pid_t> running = pids;
  for (int waited = 0; !running.empty(); waited += 10) {
    std::erase_if(running, [](pid_t pid) {
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      return r == pid || (r < 0 && errno == ECHILD);
    });
    if (running.empty()) break;
    if (waited >= grace_ms) {
      for (const pid_t pid : running) ::kill(pid, SIGKILL);
      for (const pid_t pid : running) ::waitpid(pid, nullptr, 0);
      break;
    }
    ::usleep(10'000);
  }
}

void die_with_parent(pid_t parent) {
  if (parent <= 0) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The parent may have died before prctl: then we were re-parented already.
  if (::getppid() != parent) std::_Exit(kExitInterrupted);
}

std::vector<std::string> compact_ranges(const std::vector<uint64_t>& sorted) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    out.push_back(i == j ? std::to_string(sorted[i])
                         : std::to_string(sorted[i]) + ".." + std::to_string(sorted[j]));
    i = j + 1;
  }
  return out;
}

}  // namespace syncsim::cli
