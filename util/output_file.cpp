#include "util/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace syncsim::util {

namespace {

std::string reason(int err) { return std::strerror(err); }

// Devices, /proc files and /dev/stdout are written in place: a temp file and a rename there
// would be wrong (or impossible).
bool is_stream_target(const std::string& path, struct stat* st) {
  if (path.starts_with("/dev/") || path.starts_with("/proc/")) return true;
  return ::stat(path.c_str(), st) == 0 && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode);
}

std::string parent_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Follows a symlink so that the rename replaces the file it points to, not the link.
std::string resolved_target(const std::string& path) {
  std::array<char, PATH_MAX> buf{};
  if (::realpath(path.c_str(), buf.data()) != nullptr) return buf.data();
  return path;  // does not exist yet
}

int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

// A streambuf over a file descriptor that remembers the first write error.
class OutputFile::Buffer : public std::streambuf {
 public:
  explicit Buffer(int fd) : fd_(fd) { setp(data_.data(), data_.data() + data_.size()); }
  [[nodiscard]] int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (flush_buffer() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_buffer() == 0 ? 0 : -1; }

 private:
  int flush_buffer() {
    if (error_ != 0) return error_;
    const auto size = static_cast<std::size_t>(pptr() - pbase());
    error_ = write_all(fd_, pbase(), size);
    setp(data_.data(), data_.data() + data_.size());
    return error_;
  }

  int fd_;
  int error_ = 0;
  std::array<char, 1 << 16> data_{};
};

std::string output_path_error(const std::string& path) {
  struct stat st {};
  if (path.empty()) return "an empty path";
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return reason(EISDIR);
  if (is_stream_target(path, &st)) {
    if (::access(path.c_str(), W_OK) != 0) return reason(errno);
    // access() says yes to root for anything; a file nobody may write (/proc/version) is
    // still refused.
    if ((st.st_mode & 0222) == 0) return reason(EACCES);
    if (S_ISFIFO(st.st_mode)) return "";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return reason(errno);
    ::close(fd);
    return "";
  }
  const std::string dir = parent_of(resolved_target(path));
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) return "directory " + dir + ": " + reason(errno);
  if (!S_ISDIR(dst.st_mode)) return "directory " + dir + ": " + reason(ENOTDIR);
  // The only real test of a directory being writable is to create a file in it.
  std::string probe = dir + "/.syncsim-probe-XXXXXX";
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) return "directory " + dir + ": " + reason(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)), stream_(nullptr) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail(EISDIR);
  if (is_stream_target(path_, &st)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
  } else {
    target_ = resolved_target(path_);
    const auto name = std::filesystem::path(target_).filename().string();
    temp_ = parent_of(target_) + "/." + name + ".tmp-XXXXXX";
    fd_ = ::mkstemp(temp_.data());
    if (fd_ >= 0) {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      ::fchmod(fd_, 0666 & ~mask);
    }
  }
  if (fd_ < 0) {
    const int err = errno;
    temp_.clear();
    fail(err);
  }
  buffer_ = std::make_unique<Buffer>(fd_);
  stream_.rdbuf(buffer_.get());
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::fail(int err) { throw OutputError("cannot write " + path_ + ": " + reason(err)); }

void OutputFile::commit() {
  stream_.flush();
  if (buffer_->error() != 0) fail(buffer_->error());
  if (!stream_) fail(EIO);
  if (!temp_.empty() && ::fsync(fd_) != 0) fail(errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno);
  if (temp_.empty()) {
    committed_ = true;
    return;
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail(errno);
  committed_ = true;
  // Make the rename itself durable; a failure here loses nothing already visible.
  const int dir = ::open(parent_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_output_file(const std::string& path, const std::string& text) {
  OutputFile out(path);
  out.stream() << text;
  out.commit();
}

}  // namespace syncsim::util
