#include "engine/core_check.hpp"

#include <elf.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

#include "engine/sha256.hpp"

namespace syncsim::engine {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#else
#error "syncsim loads PowerSync core binaries only on x86_64 and aarch64"
#endif

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw CoreIntegrityError(
      fmt::format("core file {} is not a usable shared object: {}", path, why));
}

template <typename T>
T read_at(std::ifstream& in, const std::string& path, uint64_t offset) {
  T value{};
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  if (!in) refuse(path, fmt::format("cannot read {} bytes at offset {}", sizeof value, offset));
  return value;
}

}  // namespace

void check_elf_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) refuse(path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse(path, "not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(Elf64_Ehdr)) {
    refuse(path, fmt::format("{} bytes, shorter than an ELF header (truncated?)", size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) refuse(path, std::string("cannot open: ") + std::strerror(errno));
  const auto eh = read_at<Elf64_Ehdr>(in, path, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) refuse(path, "no ELF magic (not a binary)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) refuse(path, "not a 64-bit ELF file");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) refuse(path, "not a little-endian ELF file");
  if (eh.e_type != ET_DYN) refuse(path, fmt::format("ELF type {}, not a shared object", eh.e_type));
  if (eh.e_machine != kHostMachine) {
    refuse(path,
           fmt::format("built for ELF machine {}, this machine is {}", eh.e_machine, kHostMachine));
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0) {
    refuse(path, "no usable program headers");
  }
  const uint64_t ph_end = eh.e_phoff + uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > size || ph_end > size) {
    refuse(path, fmt::format("program headers end at byte {}, the file has {} (truncated?)", ph_end,
                             size));
  }
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    const auto ph = read_at<Elf64_Phdr>(in, path, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    // Mapping a segment past the end of the file is what crashes dlopen with SIGBUS.
    if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset) {
      refuse(path, fmt::format("segment {} needs bytes {}..{}, the file has {} (truncated?)", i,
                               ph.p_offset, ph.p_offset + ph.p_filesz, size));
    }
  }
}

void verify_core_file(const CoreVersion& core) {
  // path -> "" (good) or the refusal; a process hashes each core at most once.
  // Keyed by path and the hash it must have (a --core-path file has none).
  static std::map<std::string, std::string> checked;
  const std::string key = core.path + '\n' + (core.verified ? core.sha256 : "");
  auto it = checked.find(key);
  if (it == checked.end()) {
    std::string error;
    try {
      check_elf_file(core.path);
      if (core.verified) {
        const std::string actual = sha256_file_hex(core.path);
        if (actual != core.sha256) {
          error = fmt::format(
              "core {} at {} has sha256 {}, but {} is pinned: the file changed after the "
              "build extracted and verified it.  Rebuild: delete it and re-run cmake "
              "(cmake -S <source> -B <build>), which re-extracts it from the cached package",
              core.name, core.path, actual, core.sha256);
        }
      }
    } catch (const CoreIntegrityError& e) {
      error = e.what();
      if (core.verified) {
        error += fmt::format(
            ".  It should be core {} with sha256 {}; rebuild: delete it and re-run cmake "
            "(cmake -S <source> -B <build>), which re-extracts it",
            core.name, core.sha256);
      }
    } catch (const std::exception& e) {  // sha256_file_hex: unreadable
      error = fmt::format("core {} at {}: {}", core.name, core.path, e.what());
    }
    it = checked.emplace(key, std::move(error)).first;
  }
  if (!it->second.empty()) throw CoreIntegrityError(it->second);
}

}  // namespace syncsim::engine
