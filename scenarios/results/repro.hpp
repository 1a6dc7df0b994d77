// Repro strings (docs/cli.md §1): everything needed to rerun one failure bit for bit.
//   syncsim:<name>:<scenario path>:seed=<n>:build=<build id>[:hash=<trace hash>]
//           [:scenario=<content hash>][:swarm]
// `scenario` names the scenario file by content (the first 16 hex digits of its sha256), so
// a moved or copied file can be checked to be the same one (replay --scenario).
// The path may itself contain ':' (it runs up to the last ":seed="); the name may not.
// `hash` is optional (older repro strings have none); with it, a replay can say whether
// it reproduced the run bit for bit.  `:swarm` marks a swarm run (--swarm): the replay
// draws the same concrete scenario from the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace syncsim::scenarios {

struct Repro {
  std::string name;
  std::string path;
  uint64_t seed = 0;
  std::string build;
  std::optional<std::string> hash;
  bool swarm = false;
  std::optional<std::string> scenario_hash{};

  bool operator==(const Repro&) const = default;
};

// The content hash a repro names a scenario file by; nullopt when the file cannot be read.
std::optional<std::string> scenario_content_hash(const std::string& path);

// Thrown by parse_repro; what() says what is wrong and shows the expected form.
class ReproError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

std::string format_repro(const Repro& r);
Repro parse_repro(const std::string& text);

}  // namespace syncsim::scenarios
