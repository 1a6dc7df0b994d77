// Writing output files without losing or tearing them (issue 19).  A regular file is written
// to a temp file beside the target, fsynced and renamed over it, so a failed write leaves any
// earlier file untouched; a device, FIFO or /dev/stdout is streamed.  Every write, flush,
// fsync, close and rename is checked and a failure names the path and errno's reason.
// Below every other layer, so cli and any caller can use it.
#pragma once

#include <memory>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>

namespace syncsim::util {

// "cannot write PATH: <reason>"; the CLI reports it as an I/O failure (exit 3).
struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Checked before any work starts: "" when `path` can be written (a new or existing regular
// file in an existing writable directory, or a writable device/FIFO), else why not.
std::string output_path_error(const std::string& path);

class OutputFile {
 public:
  // Opens the temp file (or the stream); throws OutputError.
  explicit OutputFile(std::string path);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Not committed: the temp file is removed and the target left as it was.
  ~OutputFile();

  std::ostream& stream() { return stream_; }
  const std::string& path() const { return path_; }
  // Flushes, fsyncs, closes and renames the temp file over the target; throws OutputError.
  void commit();

 private:
  class Buffer;
  [[noreturn]] void fail(int err);

  std::string path_;    // as given, for messages
  std::string target_;  // the file the rename replaces (symlinks resolved)
  std::string temp_;    // empty when streaming
  int fd_ = -1;
  std::unique_ptr<Buffer> buffer_;
  std::ostream stream_;
  bool committed_ = false;
};

// The whole of `text` to `path` through an OutputFile; throws OutputError.
void write_output_file(const std::string& path, const std::string& text);

}  // namespace syncsim::util
