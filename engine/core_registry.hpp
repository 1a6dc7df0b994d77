// Released core extension binaries, one line each (DESIGN.md §4): name -> pinned file,
// migration level, supported checkpoint modes, SDK behaviour.  More versions come with
// the client-engines issue; adding one is a line here plus a pin in cmake/Deps.cmake.
#pragma once

#include <string>
#include <vector>

namespace syncsim::engine {

struct CoreVersion {
  std::string name;  // "0.5.3"
  std::string path;  // extracted, sha256-verified file in the build tree
  std::string sha256;
  int migration_level = 0;         // LATEST_VERSION of the binary (sdk.md §5)
  bool supports_requests = false;  // checkpoint-request ops (core >= 0.5.0)
  std::string sdk;                 // which SDK behaviour drives it
};

const std::vector<CoreVersion>& core_versions();
const CoreVersion* find_core(const std::string& name);
std::vector<std::string> core_names();

}  // namespace syncsim::engine
