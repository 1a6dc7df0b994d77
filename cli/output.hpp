// Output flags of the subcommands (issue 19): every path is checked before any work starts,
// and written through util::OutputFile (temp file + fsync + rename, or streamed), so that a
// failed write says why (exit 3) and never leaves a torn file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/output_file.hpp"

namespace syncsim::cli {

// "" when every non-empty path can be written, else "--flag: cannot write PATH: reason" for
// the first that cannot.  `flags` holds (flag, path) pairs.
inline std::string output_flags_error(
    const std::vector<std::pair<std::string, std::string>>& flags) {
  for (const auto& [flag, path] : flags) {
    if (path.empty()) continue;
    if (auto error = util::output_path_error(path); !error.empty()) {
      return flag + ": cannot write " + path + ": " + error;
    }
  }
  return "";
}

// Commits `file`; an OutputError names the flag.
inline void commit_output(const std::string& flag, util::OutputFile& file) {
  try {
    file.commit();
  } catch (const util::OutputError& e) {
    throw util::OutputError(flag + ": " + e.what());
  }
}

// Writes `text` to `path` for `flag`; an OutputError names the flag (exit 3 in main).
inline void write_output(const std::string& flag, const std::string& path,
                         const std::string& text) {
  try {
    util::write_output_file(path, text);
  } catch (const util::OutputError& e) {
    throw util::OutputError(flag + ": " + e.what());
  }
}

}  // namespace syncsim::cli
