// Reads a results document ({"build": ..., "runs": [...], ...}) one run at a time, so that
// merging many large shard documents needs memory for one run per input, not for all runs.
// Members other than "runs" are small and parsed whole; each element of "runs" is cut out of
// the text by a small scanner (strings, escapes, nesting) and parsed with nlohmann::json.
#pragma once

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace syncsim::scenarios {

class DocumentReader {
 public:
  // Throws MergeError (scenarios/results/results.hpp) if the file cannot be read or is not a JSON
  // object.  After construction, members() holds the members before "runs".
  explicit DocumentReader(std::string path);
  ~DocumentReader();
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;

  // The next element of "runs", or nullopt after the last (then members() holds every
  // other member, and the rest of the file has been checked).  Throws MergeError on bad JSON.
  std::optional<nlohmann::json> next_run();
  [[nodiscard]] const nlohmann::json& members() const { return members_; }
  [[nodiscard]] bool has_runs() const { return saw_runs_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int peek();
  int get();
  void skip_ws();
  void expect(char c);
  void capture_string(std::string& out);
  void capture_value(std::string& out);
  void read_members();  // up to the "runs" array or the end of the object
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buf_;
  std::size_t pos_ = 0, len_ = 0;
  uint64_t offset_ = 0;  // bytes consumed before buf_, for messages
  nlohmann::json members_ = nlohmann::json::object();
  bool saw_runs_ = false, in_runs_ = false, first_run_ = true;
};

}  // namespace syncsim::scenarios
