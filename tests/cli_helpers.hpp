// Running the syncsim binary from a test: exit code and output, temp files.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace syncsim::testing {

struct Outcome {
  int exit_code = -1;
  std::string output;  // what the command printed (stdout, and stderr unless redirected)
};

// `args` go through the shell; stderr joins stdout unless `stderr_to` names a file.
inline Outcome syncsim(const std::string& args, const std::string& stderr_to = "&1") {
  const std::string cmd = std::string(SYNCSIM_BINARY) + " " + args + " 2>" + stderr_to;
  Outcome o;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return o;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) o.output += buf.data();
  int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

inline std::string catalog(const std::string& name) {
  return std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json";
}

// The temp directory of this build tree: gtest's TempDir() (/tmp/) plus a name derived from the
// syncsim binary's path.  Two checkouts running their suites at once (a fresh-clone .ci/run
// beside a worktree's) used to share /tmp/<name> and remove each other's hunt findings
// directories mid-run; tests of one build share it, and their names are distinct.
inline const std::string& build_temp_dir() {
  static const std::string dir = [] {
    std::uint64_t h = 14695981039346656037ULL;  // FNV-1a: stable across runs, unlike std::hash
    for (const char c : std::string(SYNCSIM_BINARY)) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    const std::string d =
        ::testing::TempDir() + "syncsim-" + std::to_string(h % 1000000007ULL) + "/";
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// A path in this build's temp directory.  For inputs the test writes itself; a path the CLI
// (or code under test) writes to goes through absent_temp_path.
inline std::string temp_path(const std::string& name) { return build_temp_dir() + name; }

// temp_path(name) with nothing there: the file or directory (recursively) is removed, and so
// are the `name.<seed>` files a `--trace name` over a seed range writes (docs/cli.md §2).
// For outputs a test reads back: the stable temp directory outlives a run, so an output left
// by an earlier run would let a test pass although the CLI no longer writes it.
inline std::string absent_temp_path(const std::string& name) {
  namespace fs = std::filesystem;
  const std::string path = temp_path(name);
  std::error_code ec;
  fs::remove_all(path, ec);
  const std::string prefix = name + ".";
  for (const auto& entry : fs::directory_iterator(build_temp_dir(), ec)) {
    const std::string file = entry.path().filename().string();
    const bool seed_file = file.size() > prefix.size() && file.rfind(prefix, 0) == 0 &&
                           file.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
    if (seed_file) fs::remove_all(entry.path(), ec);
  }
  if (fs::exists(fs::symlink_status(path))) ADD_FAILURE() << "could not remove " << path;
  return path;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

}  // namespace syncsim::testing
