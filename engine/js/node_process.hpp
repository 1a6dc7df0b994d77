// A child process spoken to over its stdin/stdout, one line per message, with blocking
// reads: the js-real host (engine/js/host.mjs).  Its stderr is inherited (a host crash
// prints its own stack).  Not a thread: the simulation waits for each reply.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace syncsim::engine::js {

class HostGone : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class NodeProcess {
 public:
  explicit NodeProcess(const std::vector<std::string>& argv);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  void write_line(const std::string& line);
  std::string read_line();  // throws HostGone at end of output

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
  std::size_t start_ = 0;  // buffer_ before it was read already
};

}  // namespace syncsim::engine::js
