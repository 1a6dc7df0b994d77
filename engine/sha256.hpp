// SHA-256 of core binaries given with --core-path (docs/architecture.md §3: an unreleased
// build's sha256 is printed in every result and report), through OpenSSL's libcrypto (EVP
// digests, Debian libssl-dev).  Tested against the FIPS vectors and the pinned binaries'
// known hashes (tests/core_matrix_test.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace syncsim::engine {

// An incremental digest (EVP_sha256).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  // finish() as 64 lowercase hex digits.
  std::string finish_hex();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

std::string sha256_hex(std::string_view data);
// Hashes a file's contents; throws std::runtime_error if it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace syncsim::engine
