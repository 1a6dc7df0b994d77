// `syncsim run --core-path` and `syncsim diff` as CI sees them: output, exit codes and
// errors naming the option, the value and what is allowed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/core_registry.hpp"
#include "tests/cli_helpers.hpp"

namespace {

using syncsim::testing::catalog;
using syncsim::testing::Outcome;
using syncsim::testing::syncsim;

// A pinned binary copied elsewhere stands in for an unreleased build.
std::string copied_core(const std::string& version) {
  const auto* core = syncsim::engine::find_core(version);
  EXPECT_NE(core, nullptr);
  const std::string path = syncsim::testing::temp_path("unreleased-" + version + ".so");
  std::filesystem::copy_file(core->path, path, std::filesystem::copy_options::overwrite_existing);
  return path;
}

bool has(const Outcome& o, const std::string& text) {
  return o.output.find(text) != std::string::npos;
}

TEST(CorePath, RunsTheBuildAndPrintsItOnceAsUnverifiedWithItsSha256) {
  const std::string path = copied_core("0.5.2");
  Outcome o = syncsim("run " + catalog("basic") + " --seeds 1..2 --core-path " + path);
  EXPECT_EQ(o.exit_code, 0) << o.output;
  const std::string line =
      "core 0.5.2/c5c23134 (unverified) sha256 " + syncsim::engine::find_core("0.5.2")->sha256;
  EXPECT_TRUE(has(o, line)) << o.output;
  EXPECT_EQ(o.output.find(line), o.output.rfind(line)) << "printed once";
  EXPECT_TRUE(has(o, "2 passed, 0 failed")) << o.output;

  Outcome j =
      syncsim("run " + catalog("basic") + " --seed 1 --json --core-path " + path, "/dev/null");
  ASSERT_EQ(j.exit_code, 0) << j.output;
  auto doc = nlohmann::json::parse(j.output);
  EXPECT_EQ(doc["unverified_core"]["name"], "0.5.2/c5c23134");
  EXPECT_EQ(doc["unverified_core"]["path"], path);
}

TEST(CorePath, ABadFileExitsTwoNamingTheOption) {
  Outcome missing = syncsim("run " + catalog("basic") + " --core-path /nonexistent/core.so");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(has(missing, "--core-path: '/nonexistent/core.so' is not a usable core"))
      << missing.output;
  Outcome not_a_core = syncsim("run " + catalog("basic") + " --core-path " + catalog("basic"));
  // Not a shared object at all: refused before dlopen as a damaged core (issue 19: exit 3).
  EXPECT_EQ(not_a_core.exit_code, 3) << not_a_core.output;
  EXPECT_TRUE(has(not_a_core, "refusing to load a core")) << not_a_core.output;
}

TEST(CorePath, TheNamePathNeedsTheOption) {
  Outcome o = syncsim("diff " + catalog("basic") + " --a core=path");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_TRUE(has(o, "clients.core")) << o.output;
  EXPECT_TRUE(has(o, "\"path\"")) << o.output;
}

TEST(DiffCli, TxIdExperimentExitsOneWithoutAndZeroWithTheAllowList) {
  const std::string common =
      "diff " + catalog("insert-only-tx") + " --seed 2 --a core=0.5.2 --b core=0.5.3";
  Outcome strict = syncsim(common);
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_TRUE(has(strict, "DIVERGED tx-id at client")) << strict.output;
  EXPECT_TRUE(has(strict, "1 diverged, tx-id 1, 0 same")) << strict.output;

  Outcome allowed = syncsim(common + " --allow tx-id --json", "/dev/null");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
  auto doc = nlohmann::json::parse(allowed.output);
  EXPECT_EQ(doc["diverged"], 0);
  EXPECT_EQ(doc["seeds_with_allowed_class"]["tx-id"], 1);
  EXPECT_GT(doc["seeds"][0]["allowed"]["tx-id"].get<int>(), 0);
}

TEST(DiffCli, UnreleasedBuildAgainstItsPinnedTwinDoesNotDiverge) {
  Outcome o = syncsim("diff " + catalog("insert-only-tx") + " --seed 1 --core-path " +
                      copied_core("0.5.3") + " --a core=0.5.3 --b core=path");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_TRUE(has(o, "(unverified) sha256")) << o.output;
  EXPECT_TRUE(has(o, "0 diverged")) << o.output;
}

TEST(DiffCli, BadInputExitsTwoNamingWhatIsAllowed) {
  Outcome key = syncsim("diff " + catalog("basic") + " --a colour=blue");
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_TRUE(has(key,
                  "--a: 'colour=blue' is not KEY=VALUE with KEY one of: core, "
                  "checkpoint_mode"))
      << key.output;
  Outcome value = syncsim("diff " + catalog("basic") + " --b checkpoint_mode=sometimes");
  EXPECT_EQ(value.exit_code, 2);
  EXPECT_TRUE(has(value, "clients.checkpoint_mode")) << value.output;
  Outcome allow = syncsim("diff " + catalog("basic") + " --allow everything");
  EXPECT_EQ(allow.exit_code, 2);
  EXPECT_TRUE(has(allow, "--allow: 'everything' is not a divergence class; allowed: tx-id"))
      << allow.output;
  Outcome seeds = syncsim("diff " + catalog("basic") + " --seeds 5..1");
  EXPECT_EQ(seeds.exit_code, 2);
}

}  // namespace
