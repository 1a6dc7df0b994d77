#include "engine/core_registry.hpp"

namespace syncsim::engine {

const std::vector<CoreVersion>& core_versions() {
  static const std::vector<CoreVersion> versions = {
      {"0.5.3", SYNCSIM_CORE_0_5_3_PATH, SYNCSIM_CORE_0_5_3_SHA256, 14, true,
       "js-1.3.0 (@powersync/node 1.1.0)"},
  };
  return versions;
}

const CoreVersion* find_core(const std::string& name) {
  for (const auto& v : core_versions()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> core_names() {
  std::vector<std::string> out;
  for (const auto& v : core_versions()) out.push_back(v.name);
  return out;
}

}  // namespace syncsim::engine
