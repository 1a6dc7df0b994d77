// SHA-256 (FIPS 180-4), for hashing core binaries given with --core-path (docs/architecture.md §3:
// an unreleased build's sha256 is printed in every result and report).  No crypto
// library is among the allowed dependencies; this is small and tested against the
// FIPS vectors and the pinned binaries' known hashes (tests/core_matrix_test.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncsim::engine {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  // finish() as 64 lowercase hex digits.
  std::string finish_hex();

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes
};

std::string sha256_hex(std::string_view data);
// Hashes a file's contents; throws std::runtime_error if it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace syncsim::engine
