// Core extension binaries, one line each (docs/architecture.md §3): name -> pinned file, migration
// level, supported checkpoint modes, SDK behaviour.  Adding a released version is one
// syncsim_core() pin in cmake/Deps.cmake plus one line in core_registry.cpp.  An
// unreleased build at a user path (--core-path) is described by core_from_path().
#pragma once

#include <string>
#include <vector>

namespace syncsim::engine {

// SDK behaviours that drive a core by default.
//  - kSdkJs130: @powersync/shared-internals 1.3.0 with @powersync/common 2.3.0, the
//    behaviour docs/protocol.md §2 specifies and engine/sdk_shim models (legacy or requests mode,
//    target set through powersync_control).  It accepts cores >=0.5.2 <0.6.0.
//  - kSdkJsLegacy: the @powersync/common 1.x client bundled with @powersync/node < 1.0
//    (0.14.3: 1.43.1, 0.17.1: 1.47.0, 0.18.8: 1.54.0): calls powersync_init() itself,
//    legacy write checkpoints only, target written as `UPDATE ps_buckets SET target_op`
//    on the `$local` row (pre-#1049; docs/protocol.md §2.5, docs/protocol.md §1.3.9).  Not modelled
//    yet.
inline constexpr const char* kSdkJs130 = "js-1.3.0";
inline constexpr const char* kSdkJsLegacy = "js-legacy";
// The published JS SDK run by engine/js/ (issue 16), paired with the client's core.
inline constexpr const char* kSdkJsReal = "js-real";

struct CoreVersion {
  std::string name;  // "0.5.3"; for a --core-path build, what powersync_rs_version() says
  std::string path;  // extracted, sha256-verified file in the build tree (or the user's)
  std::string sha256;
  int migration_level = 0;  // LATEST_VERSION of the binary (docs/protocol.md §1.1.2)
  bool supports_requests =
      false;             // checkpoint-request ops (core >= 0.5.0, docs/protocol.md §1.2.2)
  std::string sdk;       // which SDK behaviour drives it (kSdk*)
  std::string package;   // npm package it is pinned from; empty if not pinned
  bool verified = true;  // false: a --core-path build, not a pinned release
};

const std::vector<CoreVersion>& core_versions();
const CoreVersion* find_core(const std::string& name);
std::vector<std::string> core_names();

// Describes the core extension at `path` (an unreleased build, --core-path): marked
// unverified, sha256 computed from the file, name = its powersync_rs_version() (e.g.
// "0.5.4/0123abcd"), migration level measured by running powersync_init() on an
// in-memory database, supports_requests and sdk inferred from the version (>= 0.5.0;
// if the version does not parse, from migration level >= 14).  Loads the file through
// the real "unix" VFS without drawing from SQLite's PRNG, so it works with or without a
// simulation bound to the sim VFS and leaves a bound simulation's random stream alone.
// Throws std::runtime_error if the file cannot be read or loaded as a core, and
// CoreIntegrityError (engine/core_check.hpp) if it is not a complete ELF shared object for
// this machine (e.g. truncated): that one is refused before dlopen.
CoreVersion core_from_path(const std::string& path);

// Sets supports_requests and sdk from name and migration_level, as core_from_path does.
void infer_capabilities(CoreVersion& core);

}  // namespace syncsim::engine
