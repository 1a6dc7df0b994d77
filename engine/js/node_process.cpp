#include "engine/js/node_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace syncsim::engine::js {

NodeProcess::NodeProcess(const std::vector<std::string>& argv) {
  int in[2];
  int out[2];
  // Close-on-exec: a second host process (HostProcesses keeps one per SDK project) must not
  // inherit this one's pipe ends, or this host never sees end of input when its owner closes
  // the pipe, and the owner's waitpid() hangs (js_real_test with two projects in one process).
  // The dup2'd stdin/stdout of the child are not close-on-exec.
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    throw HostGone(std::string("pipe: ") + strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  if (rc != 0) {
    close(to_child_);
    close(from_child_);
    throw HostGone("cannot start " + argv[0] + ": " + strerror(rc));
  }
  signal(SIGPIPE, SIG_IGN);  // a dead host shows up as a write error, not a signal
}

NodeProcess::~NodeProcess() {
  close(to_child_);  // the host's readMessage() sees end of input and exits
  close(from_child_);
  int status = 0;
  waitpid(pid_, &status, 0);
}

void NodeProcess::write_line(const std::string& line) {
  std::string data = line + "\n";
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = write(to_child_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw HostGone(std::string("js host: write failed: ") + strerror(errno));
    off += std::size_t(n);
  }
}

std::string NodeProcess::read_line() {
  for (;;) {
    const auto nl = buffer_.find('\n', start_);
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(start_, nl - start_);
      start_ = nl + 1;
      return line;
    }
    // The host's queued lines arrive in one read: consumed ones are dropped only here, once.
    buffer_.erase(0, start_);
    start_ = 0;
    char chunk[65536];
    const ssize_t n = read(from_child_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw HostGone("js host: the Node.js process ended (see its stderr)");
    buffer_.append(chunk, std::size_t(n));
  }
}

}  // namespace syncsim::engine::js
