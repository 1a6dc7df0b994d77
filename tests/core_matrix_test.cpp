// The core version matrix (issue 4): every registered core binary is loaded into
// engine::Database (real SQLite + sim VFS) and must report the registered version,
// migrate to the registered level and have checkpoint-request ops exactly when the
// registry says so.  Also the sha256 used for --core-path builds, core_from_path(), and the
// run-time integrity checks of core files (engine/core_check.hpp).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core_check.hpp"
#include "engine/core_registry.hpp"
#include "engine/database.hpp"
#include "engine/sha256.hpp"
#include "sim/vfs.hpp"
#include "tests/cli_helpers.hpp"
#include "tests/support/sim_env.hpp"

namespace syncsim::engine {
namespace {

using test_support::SimEnv;

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
  const std::string path = syncsim::testing::temp_path("core_matrix_sha256.txt");
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(sha256_file_hex(path),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::remove(path.c_str());
  EXPECT_THROW(sha256_file_hex(path), std::runtime_error);
  EXPECT_THROW(sha256_file_hex(::testing::TempDir()), std::runtime_error);  // a directory
}

// ---- the registry ---------------------------------------------------------------

// The pins of docs/architecture.md §3, typed in again here so a wrong pin in cmake/Deps.cmake
// (where the registry's sha256 comes from) fails a test.
const std::map<std::string, std::string>& design_pins() {
  static const std::map<std::string, std::string> pins = {
      {"0.5.3", "a6de0c79151ad6243ca18633f0df10bed32b692095fdf0f01ebdac6eb01d2edf"},
      {"0.5.2", "e3288d3e1e2bfc5ccee4fb66d5afb9c691e7da7010b3a561892857a922659819"},
      {"0.4.12", "c15d5a069200c823c95435bbad38a9dc12743deca42b30b0c40557b2bc32ac5d"},
      {"0.4.11", "f07c22893888162bc6d193a0771859f7b44a78f41d6763905f8fe2007b3f5429"},
      {"0.4.6", "e9d78620d69d3cf7d57353891fe0bf85b79d326b42c4669b9500b9e610388f76"},
  };
  return pins;
}

TEST(CoreRegistry, HoldsExactlyTheDesignPinsInOrder) {
  EXPECT_EQ(core_names(),
            (std::vector<std::string>{"0.5.3", "0.5.2", "0.4.12", "0.4.11", "0.4.6"}));
  for (const auto& [name, sha] : design_pins()) {
    const CoreVersion* v = find_core(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_EQ(v->name, name);
    EXPECT_EQ(v->sha256, sha) << name;
    EXPECT_TRUE(v->verified) << name;
    EXPECT_EQ(v->package.rfind("@powersync/node@", 0), 0u) << v->package;
  }
  EXPECT_EQ(find_core("0.4.1"), nullptr);
  EXPECT_EQ(find_core("0.5"), nullptr);
  EXPECT_EQ(find_core(""), nullptr);
}

// The SDK 1.3.0 behaviour only accepts cores >=0.5.2 <0.6.0 (docs/protocol.md §2.1.1).
TEST(CoreRegistry, SdkBehaviourFollowsTheCoreGeneration) {
  for (const auto& v : core_versions()) {
    EXPECT_EQ(v.sdk, v.supports_requests ? kSdkJs130 : kSdkJsLegacy) << v.name;
    EXPECT_EQ(v.supports_requests, v.name.rfind("0.5.", 0) == 0) << v.name;
  }
}

class CoreMatrix : public ::testing::TestWithParam<std::string> {
 protected:
  const CoreVersion& core() const { return *find_core(GetParam()); }
};

// The pinned file is the one docs/architecture.md names: hashed here with engine/sha256, not cmake.
TEST_P(CoreMatrix, PinnedFileHasTheDesignHash) {
  EXPECT_EQ(sha256_file_hex(core().path), design_pins().at(core().name));
}

TEST_P(CoreMatrix, ReportsTheRegisteredVersion) {
  SimEnv sim(1);
  Database db("matrix.db", core());
  const auto version = db.query_text("SELECT powersync_rs_version()");
  ASSERT_TRUE(version);
  // "0.4.1" must not match "0.4.12/…": the version ends at the slash.
  EXPECT_EQ(version->rfind(core().name + "/", 0), 0u) << *version;
}

// powersync_init() migrates a fresh database to the binary's LATEST_VERSION, one
// ps_migration row per level (docs/protocol.md §1.1.2).
TEST_P(CoreMatrix, InitMigratesToTheRegisteredLevel) {
  SimEnv sim(2);
  Database db("matrix.db", core());
  db.begin();  // 0.5.x refuses powersync_init() outside a transaction
  db.query_text("SELECT powersync_init()");
  db.commit();
  EXPECT_EQ(db.query_int("SELECT max(id) FROM ps_migration"), core().migration_level);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM ps_migration"), core().migration_level);
  // Schema ≤ v13 keeps the write gate in ps_buckets.target_op ($local); v14 drops it.
  EXPECT_EQ(db.query_int("SELECT count(*) FROM pragma_table_info('ps_buckets') "
                         "WHERE name = 'target_op'"),
            core().migration_level >= 14 ? 0 : 1);
}

// The checkpoint-request control ops exist exactly in 0.5.x; 0.4.x answers them with
// "invalid argument: Unknown operation" (docs/protocol.md §1.2.2).
TEST_P(CoreMatrix, CheckpointRequestOpsExistExactlyWhenRegistered) {
  SimEnv sim(3);
  Database db("matrix.db", core());
  db.begin();
  db.query_text("SELECT powersync_init()");
  if (core().supports_requests) {
    EXPECT_EQ(db.control("current_checkpoint_request_id", std::nullopt), std::nullopt);
    EXPECT_EQ(db.control("target_checkpoint_request_id", "5"), std::nullopt);  // previous
    EXPECT_EQ(db.control("target_checkpoint_request_id", std::nullopt), "5");
    EXPECT_EQ(db.query_int("SELECT CAST(value AS INTEGER) FROM ps_kv "
                           "WHERE key = 'target_checkpoint_request_id'"),
              5);
  } else {
    for (const char* op : {"current_checkpoint_request_id", "next_checkpoint_request_id",
                           "seed_checkpoint_request_id", "target_checkpoint_request_id"}) {
      try {
        db.control(op, std::nullopt);
        ADD_FAILURE() << op << " accepted by core " << core().name;
      } catch (const SqlError& e) {
        EXPECT_NE(std::string(e.what()).find("Unknown operation"), std::string::npos)
            << op << ": " << e.what();
      }
    }
  }
  // Ops every version has still work after the probes.
  EXPECT_EQ(db.control("stop", std::nullopt), "[]");
  db.commit();
}

// ---- --core-path builds ---------------------------------------------------------

// Treating each pinned binary as an unknown build must rediscover the registry line.
TEST_P(CoreMatrix, CoreFromPathRediscoversTheRegistryLine) {
  const CoreVersion c = core_from_path(core().path);
  EXPECT_FALSE(c.verified);
  EXPECT_EQ(c.path, core().path);
  EXPECT_EQ(c.sha256, core().sha256);
  EXPECT_EQ(c.name.rfind(core().name + "/", 0), 0u) << c.name;
  EXPECT_EQ(c.migration_level, core().migration_level);
  EXPECT_EQ(c.supports_requests, core().supports_requests);
  EXPECT_EQ(c.sdk, core().sdk);
  EXPECT_TRUE(c.package.empty());
}

INSTANTIATE_TEST_SUITE_P(Registered, CoreMatrix, ::testing::ValuesIn(core_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = "v" + info.param;
                           for (char& ch : n) {
                             if (ch == '.') ch = '_';
                           }
                           return n;
                         });

// Works while a simulation is bound too, leaves its random stream alone, and the result
// drives a Database.
TEST(CoreFromPath, WorksInsideASimulationAndLoadsIntoADatabase) {
  const CoreVersion& pinned = *find_core("0.5.3");
  auto draw = [] {
    uint64_t x = 0;
    sqlite3_randomness(sizeof x, &x);
    return x;
  };
  uint64_t expected = 0;
  {
    SimEnv sim(4);
    expected = draw();
  }
  SimEnv sim(4);
  const CoreVersion c = core_from_path(pinned.path);
  EXPECT_EQ(draw(), expected) << "core_from_path drew from the simulation's PRNG";
  EXPECT_EQ(c.name, "0.5.3/2ba6b280");
  Database db("user_core.db", c);
  EXPECT_EQ(db.query_text("SELECT powersync_rs_version()"), c.name);
  EXPECT_EQ(sim.files.names(), std::vector<std::string>{"user_core.db"});  // probe left nothing
}

// Once a simulation has ended, the sim VFS is still the default but unbound: any use of
// it aborts (sim/vfs.hpp).  The CLI calls core_from_path outside any simulation.
TEST(CoreFromPath, WorksAfterASimulationEnded) {
  { SimEnv sim(5); }
  for (const auto& v : core_versions()) {
    EXPECT_EQ(core_from_path(v.path).migration_level, v.migration_level) << v.name;
  }
}

TEST(CoreFromPath, RejectsMissingAndNonCoreFiles) {
  const std::string missing = syncsim::testing::absent_temp_path("no_such_core.so");
  EXPECT_THROW(core_from_path(missing), std::runtime_error);

  const std::string text = syncsim::testing::temp_path("not_a_core.so");
  std::ofstream(text) << "not an ELF file\n";
  try {
    core_from_path(text);
    ADD_FAILURE() << "a text file was accepted as a core";
  } catch (const CoreIntegrityError& e) {  // refused before dlopen
    EXPECT_NE(std::string(e.what()).find("not a usable shared object"), std::string::npos)
        << e.what();
  }
  std::remove(text.c_str());
}

// ---- run-time integrity (issue 19) ------------------------------------------------

// A copy of a pinned core in a fresh temp directory (never the build tree's file),
// changed by `mutate`.
std::string changed_copy(const std::string& name, const CoreVersion& core,
                         const std::function<void(std::string&)>& mutate) {
  std::ifstream in(core.path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_GT(bytes.size(), 200'000u);
  mutate(bytes);
  // The build's temp directory: two checkouts running their suites at once do not share it.
  const std::string path = syncsim::testing::temp_path(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

std::string load_error(const CoreVersion& core) {
  SimEnv sim(1);
  try {
    Database db("integrity.db", core);
  } catch (const CoreIntegrityError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a CoreIntegrityError: ") + e.what();
  }
  return "loaded";
}

TEST(CoreIntegrity, EveryPinnedCorePassesItsCheck) {
  for (const auto& v : core_versions()) EXPECT_NO_THROW(verify_core_file(v)) << v.name;
}

TEST(CoreIntegrity, PinnedCoreWithAFlippedByteIsRefusedBeforeLoading) {
  CoreVersion core = *find_core("0.5.3");
  core.path = changed_copy("flipped-0.5.3.so", core, [](std::string& b) { b[b.size() / 2] ^= 1; });
  const std::string actual = sha256_file_hex(core.path);
  ASSERT_NE(actual, core.sha256);
  const std::string msg = load_error(core);
  EXPECT_NE(msg.find(core.path), std::string::npos) << msg;
  EXPECT_NE(msg.find("has sha256 " + actual), std::string::npos) << msg;
  EXPECT_NE(msg.find(core.sha256 + " is pinned"), std::string::npos) << msg;
  EXPECT_NE(msg.find("re-run cmake"), std::string::npos) << msg;
  std::remove(core.path.c_str());
}

TEST(CoreIntegrity, TruncatedPinnedCoreIsRefusedWithoutCrashingDlopen) {
  CoreVersion core = *find_core("0.5.3");
  core.path = changed_copy("truncated-0.5.3.so", core, [](std::string& b) { b.resize(100'000); });
  const std::string msg = load_error(core);
  EXPECT_NE(msg.find(core.path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find(core.sha256), std::string::npos) << msg;
  EXPECT_NE(msg.find("re-run cmake"), std::string::npos) << msg;
  std::remove(core.path.c_str());
}

TEST(CoreIntegrity, CorePathFilesGetTheElfChecks) {
  const CoreVersion& pinned = *find_core("0.5.3");
  const std::string truncated =
      changed_copy("truncated-user.so", pinned, [](std::string& b) { b.resize(100'000); });
  const std::string header_only =
      changed_copy("header-only.so", pinned, [](std::string& b) { b.resize(64); });
  const std::string other_machine = changed_copy("arm.so", pinned, [](std::string& b) {
    b[18] = 0xb7;  // e_machine = EM_AARCH64 (183)
    b[19] = 0;
  });
  for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
           {truncated, "truncated"},
           {header_only, "program headers end at"},
           {other_machine, "built for ELF machine 183"}}) {
    try {
      core_from_path(path);
      ADD_FAILURE() << path << " was accepted";
    } catch (const CoreIntegrityError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
    std::remove(path.c_str());
  }
}

TEST(CoreIntegrity, CliRefusesATruncatedCorePathWithExit3AndAMessage) {
  const std::string truncated = changed_copy("truncated-cli.so", *find_core("0.5.3"),
                                             [](std::string& b) { b.resize(100'000); });
  const std::string cmd = std::string(SYNCSIM_BINARY) + " run " + SYNCSIM_SOURCE_DIR +
                          "/scenarios/catalog/basic.json --seed 1 --core-path " + truncated +
                          " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal (SIGBUS in dlopen?): " << out;
  EXPECT_EQ(WEXITSTATUS(status), 3) << out;
  EXPECT_NE(out.find(truncated), std::string::npos) << out;
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
  EXPECT_EQ(out.find(".so.so"), std::string::npos) << out;
  std::remove(truncated.c_str());
}

TEST(CoreFromPath, InfersCapabilitiesFromVersionThenMigrationLevel) {
  struct Case {
    std::string name;
    int level;
    bool requests;
  };
  for (const Case& k : std::vector<Case>{{"0.4.14/abc", 12, false},
                                         {"0.5.0/abc", 14, true},
                                         {"0.6.1/abc", 15, true},
                                         {"1.0.0/abc", 14, true},
                                         {"0.4.99/abc", 14, false},  // the version decides
                                         {"dev", 14, true},
                                         {"dev", 12, false}}) {
    CoreVersion c;
    c.name = k.name;
    c.migration_level = k.level;
    infer_capabilities(c);
    EXPECT_EQ(c.supports_requests, k.requests) << k.name << " " << k.level;
    EXPECT_EQ(c.sdk, k.requests ? kSdkJs130 : kSdkJsLegacy) << k.name;
  }
}

}  // namespace
}  // namespace syncsim::engine
