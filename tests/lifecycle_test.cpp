// Client lifecycle against the real binaries on one VFS file: docs/protocol.md §2.5 (downgrade
// 0.5.3 -> 0.4.11 -> 0.5.3 through the shim, items 2-4), app kills and power loss
// (docs/architecture.md §2), and the js-legacy SDK behaviour (docs/protocol.md §2.5 item 7,
// docs/protocol.md §1.3.9).
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/core_registry.hpp"
#include "engine/sdk_shim.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/trace.hpp"
#include "sim/vfs.hpp"
#include "tests/support/scripted_server.hpp"

namespace syncsim {
namespace {

using nlohmann::json;

constexpr int64_t kMax = 9223372036854775807;
constexpr const char* kClientId = "lifecycle-client-1";

using test_support::ControlRecorder;
using namespace test_support::sync_lines;  // NOLINT(google-build-using-namespace)

// One app on one database file; each life is a new shim Client on the same VFS file.
struct App : test_support::ScriptedWorld {
  App() : ScriptedWorld(/*track_durability=*/true) {
    server.hold_uploads = false;  // a test holds them when it needs to
  }
  ~App() { loop.shutdown(); }

  // Opens (and connects) a new life with `core`, its own SDK behaviour and `mode`.
  engine::Client& life(const std::string& core_name, engine::CheckpointMode mode,
                       bool connect = true) {
    const engine::CoreVersion* core = engine::find_core(core_name);
    if (!core) throw std::runtime_error("core " + core_name + " not registered");
    engine::ClientOptions o;
    o.index = 1;
    o.user = "u1";
    o.client_id = kClientId;
    o.checkpoint_mode = mode;
    o.sdk = engine::sdk_behaviour_from_name(core->sdk);
    lives.push_back(std::make_unique<engine::Client>(loop, trace, sim::Prng(11 + lives.size()),
                                                     link, *core, o, &recorder, nullptr));
    recorder.calls.clear();
    lives.back()->open();
    if (connect) lives.back()->connect();
    return *lives.back();
  }
  // A graceful close: the loops wind down (finally blocks run), then the file is closed.
  void close() {
    lives.back()->begin_close("test closes the app");
    run_for(1 * sim::kSeconds);
    lives.back()->close();
  }
  // The app dies: the files keep what the process wrote; optionally the power goes too.
  void kill(bool power_loss) {
    engine::Client& c = *lives.back();
    auto snapshot = files.snapshot(c.file_name());
    c.close();
    files.restore(c.file_name(), snapshot);
    if (power_loss) files.lose_unsynced_writes(c.file_name());
  }

  engine::Client& c() { return *lives.back(); }
  // `$local` as (last_op, last_applied_op, target_op); nullopt when there is no row.
  std::optional<std::vector<int64_t>> local() {
    if (c().core().migration_level >= 14) {  // no target_op column on v14
      auto n = raw_rows("SELECT count(*) FROM ps_buckets WHERE name = '$local'");
      EXPECT_EQ(n.at(0).at(0), "0") << "a `$local` row on a v14 database";
      return std::nullopt;
    }
    auto rows = raw_rows(
        "SELECT last_op, last_applied_op, target_op FROM ps_buckets WHERE name = '$local'");
    if (rows.empty()) return std::nullopt;
    return std::vector<int64_t>{std::stoll(*rows[0][0]), std::stoll(*rows[0][1]),
                                std::stoll(*rows[0][2])};
  }
  std::vector<std::vector<std::optional<std::string>>> raw_rows(const std::string& sql) {
    // Through a second connection on the same file (the client has no raw SQL API).
    engine::Database db(c().file_name(), c().core());
    return db.query_rows(sql);
  }

  ControlRecorder recorder;
  std::vector<std::unique_ptr<engine::Client>> lives;
};

bool has_instruction(const json& out, const std::string& name) {
  for (const auto& i : out) {
    if (i.contains(name)) return true;
  }
  return false;
}
bool logged(const json& out, const std::string& prefix) {
  for (const auto& i : out) {
    if (i.contains("LogLine") && i["LogLine"].value("line", "").rfind(prefix, 0) == 0) return true;
  }
  return false;
}
constexpr const char* kBlocked = "Could not apply checkpoint due to local data";

// docs/protocol.md §2.5 items 2 and 4: 0.5.3 (target 6, seen 5, ps_crud empty, a validated
// checkpoint not applied) -> 0.4.11 -> the old SDK sets a legacy target -> 0.5.3 again.
TEST(SdkMd5Golden, DowngradeKeepsThePendingTargetAndUpgradeBridgesIt) {
  App app;
  // --- 0.5.3, requests mode: the seed is answered with 5, so the next id is 6.
  app.server.request_answer = "5";
  app.life("0.5.3", engine::CheckpointMode::Requests);
  app.run_for(1 * sim::kSeconds);
  EXPECT_EQ(app.c().last_requested(), 5);
  app.server.hold_uploads = true;
  app.c().local_write({"todos", "l1", "local1"});
  app.run_for(2 * sim::kSeconds);
  ASSERT_EQ(app.server.held_uploads.size(), 1u) << app.tail();
  // The upload finishes: complete() -> MAX; updateLocalTarget allocates 6 and posts it.
  app.server.release_upload();
  app.run_for(1 * sim::kSeconds);
  EXPECT_EQ(app.c().target(), 6);
  EXPECT_EQ(app.c().last_requested(), 6);
  // A checkpoint carrying write checkpoint 5 is validated (seen = 5) but cannot apply.
  app.server.send(line_checkpoint("10", "5", 10, 1));
  app.server.send(line_data("10", "r1", "server1", 10));
  app.server.send(line_complete("10"));
  app.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(logged(app.recorder.last("line_text", line_complete("10").dump()), kBlocked));
  EXPECT_EQ(app.c().last_seen(), 5);
  EXPECT_EQ(app.c().last_applied(), std::nullopt);
  EXPECT_EQ(app.c().crud_count(), 0);
  EXPECT_EQ(app.c().read_row("todos", "r1"), std::nullopt);
  app.close();

  // --- 0.4.11 (js-legacy: powersync_init() migrates the file down to 12).
  engine::Client& old = app.life("0.4.11", engine::CheckpointMode::Legacy, false);
  EXPECT_EQ(old.sdk(), engine::SdkBehaviour::JsLegacy);
  EXPECT_EQ(app.local(), (std::vector<int64_t>{5, 0, 6}));  // item 2: $local = (5, 0, 6)
  // The ps_kv keys stay behind, stale and unused by 0.4.x.
  EXPECT_EQ(old.kv_int("last_requested_checkpoint_request_id"), 6);
  EXPECT_EQ(old.kv_int("last_seen_checkpoint_request_id"), 5);
  EXPECT_EQ(old.kv_int("target_checkpoint_request_id"), 6);
  // The accessors read `$local` now.
  EXPECT_EQ(old.target(), 6);
  EXPECT_EQ(old.last_seen(), 5);
  EXPECT_EQ(old.last_requested(), std::nullopt);
  old.connect();
  app.run_for(1 * sim::kSeconds);
  // The validated checkpoint was lost with the connection (the op itself is stored, so the
  // service sends no data again); write checkpoint 5 is blocked.
  app.server.send(line_checkpoint("10", "5", 10, 1));
  app.server.send(line_complete("10"));
  app.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(logged(app.recorder.last("line_text", line_complete("10").dump()), kBlocked))
      << app.recorder.last("line_text", line_complete("10").dump()).dump() << app.tail();
  EXPECT_EQ(old.read_row("todos", "r1"), std::nullopt);
  // Write checkpoint 6 applies: FlushFileSystem and DidCompleteSync{} without an id.
  app.server.send(line_checkpoint("11", "6", 10, 1));
  app.server.send(line_complete("11"));
  app.run_for(1 * sim::kSeconds);
  json applied = app.recorder.last("line_text", line_complete("11").dump());
  EXPECT_TRUE(has_instruction(applied, "FlushFileSystem")) << applied.dump();
  bool plain_did_complete = false;
  for (const auto& i : applied) {
    if (i.contains("DidCompleteSync")) plain_did_complete = i["DidCompleteSync"] == json::object();
  }
  EXPECT_TRUE(plain_did_complete) << applied.dump();
  EXPECT_EQ(app.local(), (std::vector<int64_t>{6, 6, 6}));
  EXPECT_EQ(old.last_applied(), 6);
  EXPECT_EQ(old.read_row("todos", "r1"), std::optional<std::optional<std::string>>("server1"));

  // The old SDK uploads a write and sets the legacy target with its own SQL (item 3).
  app.server.write_checkpoint = "41";
  app.server.hold_uploads = false;
  old.local_write({"todos", "l2", "local2"});
  EXPECT_EQ(old.target(), kMax);  // the 0.4.x trigger: $local target_op = MAX
  app.run_for(3 * sim::kSeconds);
  EXPECT_EQ(old.crud_count(), 0);
  EXPECT_EQ(old.target(), 41) << app.tail();
  EXPECT_EQ(old.stats().legacy_checkpoint_gets, 1u);
  EXPECT_EQ(old.stats().checkpoint_posts, 0u);
  // No target_checkpoint_request_id control op: 0.4.x does not know it (docs/protocol.md §2.4.1).
  for (const auto& call : app.recorder.calls) EXPECT_NE(call.op, "target_checkpoint_request_id");
  app.close();

  // --- back on 0.5.3 (item 4): migration 14 rebuilds the keys from `$local`.
  const std::size_t posts_before = app.server.posted.size();
  engine::Client& back = app.life("0.5.3", engine::CheckpointMode::Requests, false);
  EXPECT_EQ(app.local(), std::nullopt);
  EXPECT_EQ(back.target(), 41);
  EXPECT_EQ(back.last_requested(), 6);  // stale
  EXPECT_EQ(back.last_seen(), std::nullopt);
  EXPECT_EQ(back.last_applied(), std::nullopt);
  back.connect();
  app.run_for(1 * sim::kSeconds);
  // start(requests) asks to post 41 (the max rule), bridging legacy -> requests.
  ASSERT_GT(app.server.posted.size(), posts_before);
  EXPECT_EQ(app.server.posted[posts_before], "41");
  EXPECT_EQ(back.last_requested(), 41);
}

// docs/protocol.md §2.5 item 3: 0.5.3 with pending CRUD (target MAX) -> 0.4.11: `$local` = (0, 0,
// MAX); 0.4.11 blocks, completed_upload gives [] until the old SDK sets `$local.target_op`.
TEST(SdkMd5Golden, PendingCrudDowngradesToLocalMax) {
  App app;
  app.server.hold_uploads = true;
  app.life("0.5.3", engine::CheckpointMode::Requests);
  app.run_for(1 * sim::kSeconds);
  app.c().local_write({"todos", "l1", "local1"});
  app.run_for(2 * sim::kSeconds);
  EXPECT_EQ(app.c().target(), kMax);
  app.close();

  engine::Client& old = app.life("0.4.11", engine::CheckpointMode::Legacy);
  EXPECT_EQ(app.local(), (std::vector<int64_t>{0, 0, kMax}));
  app.run_for(2 * sim::kSeconds);  // the old SDK uploads the pending entry again (held)
  ASSERT_FALSE(app.server.held_uploads.empty()) << app.tail();
  app.server.send(line_checkpoint("10", "40", 10, 1));
  app.server.send(line_data("10", "l1", "local1", 10));
  app.server.send(line_complete("10"));
  app.run_for(1 * sim::kSeconds);
  EXPECT_TRUE(logged(app.recorder.last("line_text", line_complete("10").dump()), kBlocked));
  app.server.write_checkpoint = "40";
  app.server.hold_uploads = false;
  while (!app.server.held_uploads.empty()) app.server.release_upload();
  app.run_for(2 * sim::kSeconds);
  EXPECT_EQ(old.target(), 40) << app.tail();
  EXPECT_EQ(app.local(), (std::vector<int64_t>{40, 40, 40}));  // applied after the upload
}

// docs/architecture.md §2: committed transactions survive a kill and a power loss
// (synchronous=FULL); the transaction open when the app died never happened.
class KillTest : public ::testing::TestWithParam<bool> {};

TEST_P(KillTest, CommittedWritesSurviveTheOpenOneIsLost) {
  const bool power_loss = GetParam();
  App app;
  app.server.hold_uploads = true;  // keep everything in ps_crud
  app.life("0.5.3", engine::CheckpointMode::Requests);
  app.run_for(1 * sim::kSeconds);
  for (int i = 1; i <= 5; ++i) {
    app.c().local_write({"todos", "k" + std::to_string(i), "v" + std::to_string(i)});
  }
  bool died = false;
  app.c().arm_kill(engine::KillPoint::MidTransaction, [&] {
    died = true;
    app.kill(power_loss);
  });
  app.c().local_write({"todos", "k6", "v6"});
  ASSERT_TRUE(died);
  EXPECT_TRUE(app.c().closed());
  EXPECT_THROW(app.c().crud_count(), engine::ClientClosed);
  // The hot journal is what a dead process leaves behind.
  EXPECT_TRUE(app.files.exists(app.c().file_name() + "-journal"));

  engine::Client& next = app.life("0.5.3", engine::CheckpointMode::Requests, false);
  EXPECT_EQ(next.crud_count(), 5);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(next.read_row("todos", "k" + std::to_string(i)),
              std::optional<std::optional<std::string>>("v" + std::to_string(i)));
  }
  EXPECT_EQ(next.read_row("todos", "k6"), std::nullopt);
  EXPECT_EQ(next.target(), kMax);
}

INSTANTIATE_TEST_SUITE_P(KillAndPowerLoss, KillTest, ::testing::Values(false, true));

// Power loss really drops what was written after the last sync: a write made with
// synchronous=OFF (no xSync) does not survive, so the test above could fail.
TEST(PowerLoss, DropsUnsyncedWrites) {
  App app;
  app.life("0.5.3", engine::CheckpointMode::Requests, false);
  app.c().local_write({"todos", "k1", "synced"});
  {
    engine::Database raw(app.c().file_name(), app.c().core());
    raw.exec("PRAGMA synchronous = OFF");
    raw.exec("INSERT INTO ps_kv(key, value) VALUES ('unsynced', 1)");
  }
  app.kill(/*power_loss=*/true);
  engine::Client& next = app.life("0.5.3", engine::CheckpointMode::Requests, false);
  EXPECT_EQ(next.kv_int("unsynced"), std::nullopt);
  EXPECT_EQ(next.read_row("todos", "k1"), std::optional<std::optional<std::string>>("synced"));
}

}  // namespace
}  // namespace syncsim
