// Reading input files with bounds (issue 19): a size cap so that /dev/zero, a FIFO or a huge
// file is refused quickly instead of read forever, and a nesting-depth cap checked before a
// JSON parser (or a parser callback) walks the text.  Below every other layer.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace syncsim::util {

// Scenario files and results documents are far below this; a bigger input is a mistake.
constexpr std::size_t kMaxInputBytes = std::size_t{16} << 20;  // 16 MiB
// The deepest scenario or results document nests about 8 levels.
constexpr std::size_t kMaxJsonDepth = 256;

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The whole file, or InputError("cannot read PATH: <reason>") when it cannot be opened, is a
// directory, a FIFO or socket (reading one could block forever), or holds more than
// `max_bytes` (read up to max_bytes + 1 only).
std::string read_bounded_file(const std::string& path, std::size_t max_bytes = kMaxInputBytes);

// The deepest nesting of [ and { in `text` (outside strings); stops counting past `limit`.
std::size_t json_depth(const std::string& text, std::size_t limit = kMaxJsonDepth);

// "" when `text` nests at most kMaxJsonDepth deep, else a message naming the limit.
std::string json_depth_error(const std::string& text);

}  // namespace syncsim::util
