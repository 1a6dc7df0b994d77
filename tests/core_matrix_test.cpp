// The core version matrix (issue 4).  So far: the sha256 used for --core-path builds.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "engine/sha256.hpp"

namespace syncsim::engine {
namespace {

// ---- sha256 ---------------------------------------------------------------------

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundary: 55 bytes fit the length in the last block, 56..63
// need an extra block, 64 is exactly one block.
TEST(Sha256, PaddingBoundaries) {
  const std::map<std::size_t, std::string> expected = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
  };
  for (const auto& [n, hex] : expected) EXPECT_EQ(sha256_hex(std::string(n, 'a')), hex) << n;
}

TEST(Sha256, StreamingInAnyChunksEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>((i * 37 + 11) & 0xff);
  const std::string whole = sha256_hex(data);
  for (std::size_t chunk : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Sha256 h;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
      h.update(std::string_view(data).substr(at, chunk));
    }
    EXPECT_EQ(h.finish_hex(), whole) << "chunk " << chunk;
  }
  EXPECT_NE(sha256_hex(data.substr(1)), whole);
}

TEST(Sha256, FileHashAndErrors) {
  const std::string path = testing::TempDir() + "core_matrix_sha256.txt";
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(sha256_file_hex(path),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::remove(path.c_str());
  EXPECT_THROW(sha256_file_hex(path), std::runtime_error);
  EXPECT_THROW(sha256_file_hex(testing::TempDir()), std::runtime_error);  // a directory
}

}  // namespace
}  // namespace syncsim::engine
