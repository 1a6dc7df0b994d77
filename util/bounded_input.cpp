#include "util/bounded_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace syncsim::util {

namespace {

InputError cannot_read(const std::string& path, const std::string& reason) {
  return InputError("cannot read " + path + ": " + reason);
}

std::string limit_text(std::size_t max_bytes) {
  return max_bytes % (1 << 20) == 0 ? std::to_string(max_bytes >> 20) + " MiB"
                                    : std::to_string(max_bytes) + " bytes";
}

}  // namespace

std::string read_bounded_file(const std::string& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer must not block.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw cannot_read(path, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw cannot_read(path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw cannot_read(path, std::strerror(EISDIR));
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    throw cannot_read(path, "a FIFO or socket; allowed: a regular file");
  }
  const std::string too_big =
      "larger than the input limit; allowed: at most " + limit_text(max_bytes);
  if (S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) > max_bytes) {
    throw cannot_read(path, too_big);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw cannot_read(path, std::strerror(errno));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) throw cannot_read(path, too_big);
  }
  return text;
}

std::size_t json_depth(const std::string& text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string json_depth_error(const std::string& text) {
  if (json_depth(text) <= kMaxJsonDepth) return "";
  return "nested more than " + std::to_string(kMaxJsonDepth) + " levels deep; allowed: at most " +
         std::to_string(kMaxJsonDepth) + " levels of [ and {";
}

}  // namespace syncsim::util
