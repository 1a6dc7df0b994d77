#include "engine/core_registry.hpp"

// SYNCSIM_CORE_<v>_PATH / _SHA256 come from syncsim_core() in cmake/Deps.cmake.
#define SYNCSIM_PINNED_CORE(v) SYNCSIM_CORE_##v##_PATH, SYNCSIM_CORE_##v##_SHA256

namespace syncsim::engine {

const std::vector<CoreVersion>& core_versions() {
  // name, file + sha256, migration level, checkpoint requests, SDK behaviour, package.
  // Migration levels and capabilities were checked by loading each binary
  // (tests/core_matrix_test.cpp).
  static const std::vector<CoreVersion> versions = {
      {"0.5.3", SYNCSIM_PINNED_CORE(0_5_3), 14, true, kSdkJs130, "@powersync/node@1.1.0"},
      {"0.5.2", SYNCSIM_PINNED_CORE(0_5_2), 14, true, kSdkJs130, "@powersync/node@1.0.0"},
      {"0.4.12", SYNCSIM_PINNED_CORE(0_4_12), 12, false, kSdkJsLegacy, "@powersync/node@0.18.8"},
      {"0.4.11", SYNCSIM_PINNED_CORE(0_4_11), 12, false, kSdkJsLegacy, "@powersync/node@0.17.1"},
      {"0.4.6", SYNCSIM_PINNED_CORE(0_4_6), 11, false, kSdkJsLegacy, "@powersync/node@0.14.3"},
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
