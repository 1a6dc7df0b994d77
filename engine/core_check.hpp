// Run-time integrity of core extension binaries (docs/architecture.md §3, issue 19): a file that
// was modified or truncated after the build extracted it must be refused with a message, not loaded
// silently or crash dlopen with SIGBUS.
//  - a pinned core: its sha256 must equal the pinned one (hashed once per process);
//  - any core (also a --core-path build, which has no known hash): the file must be a
//    complete ELF shared object for this machine (header, class, machine, and every
//    program header's file extent within the file's size).
#pragma once

#include <stdexcept>
#include <string>

#include "engine/core_registry.hpp"

namespace syncsim::engine {

// The file at a core's path is not the binary it should be.  Not a simulation failure:
// the CLI reports it and exits 3.
class CoreIntegrityError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws CoreIntegrityError unless `path` is a complete ELF shared object for this
// machine; the message names the path and what is wrong.
void check_elf_file(const std::string& path);

// check_elf_file, plus the pinned sha256 for a verified core.  Each path is checked once
// per process (the answer, good or bad, is remembered); call before loading the core.
void verify_core_file(const CoreVersion& core);

}  // namespace syncsim::engine
