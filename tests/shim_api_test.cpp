// The SDK shim's public API and connector behaviour with core 0.5.3: docs/protocol.md §2.4.2's
// requests-mode transcript replayed through the shim against the real core (the service
// side scripted), the engine mutants (each shown to change behaviour), credentials,
// requestCheckpoint()/waitForSync(), postCheckpointRequest through the backend,
// disconnect()/disconnectAndClear() and the switchable docs/protocol.md §2.7 quirks in full worlds.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core_registry.hpp"
#include "engine/sdk_shim.hpp"
#include "scenarios/world/runner.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/sync.hpp"
#include "sim/trace.hpp"
#include "sim/vfs.hpp"
#include "tests/support/scripted_server.hpp"

namespace syncsim {
namespace {

using nlohmann::json;

using test_support::kMaxOpId;
constexpr const char* kClientId = "requests-client-1";

using namespace test_support::sync_lines;  // NOLINT(google-build-using-namespace)

// The requests-mode client against a server answering max(posted, record).
struct Harness : test_support::ShimHarness {
  explicit Harness(std::vector<engine::EngineMutant> mutants = {})
      : ShimHarness(engine::CheckpointMode::Requests, kClientId, std::move(mutants)) {
    server.keep_record = true;
  }
};

json checkpoint_without_wc(const char* last_op, int checksum, int count) {
  json b = {{"bucket", "b1"}, {"checksum", checksum}, {"priority", 3}, {"count", count}};
  return {{"checkpoint", {{"last_op_id", last_op}, {"buckets", json::array({b})}}}};
}
json empty_diff(const char* last_op, std::optional<const char*> wc) {
  json d = {{"last_op_id", last_op},
            {"updated_buckets", json::array()},
            {"removed_buckets", json::array()}};
  if (wc) d["write_checkpoint"] = *wc;
  return {{"checkpoint_diff", d}};
}

const char* kBlocked =
    "Could not apply checkpoint due to local data. Will retry at completed upload or next "
    "checkpoint.";

// docs/protocol.md §2.4.2 (0.5.3, exp_requests.py), step by step through the shim; the service's
// record for this client starts at 5, so the seed POST of "1" is answered "5".
TEST(RequestsTranscript, MatchesSdkMd42ThroughTheShim) {
  Harness h;
  h.server.record = 5;
  h.client->open();
  h.client->connect();
  h.run_for(1 * sim::kSeconds);

  // start(requests) -> [UpdateSyncStatus(connecting), EstablishSyncStream{…,
  //   checkpoint_request{client_id, "1"}}]
  const auto& start = h.recorder.first("start");
  EXPECT_EQ(json::parse(*start.payload)["checkpoint_mode"], "requests");
  json start_out = json::parse(*start.result);
  ASSERT_EQ(start_out.size(), 2u) << start_out.dump();
  EXPECT_EQ(start_out[0]["UpdateSyncStatus"]["status"]["connecting"], true);
  EXPECT_EQ(start_out[1]["EstablishSyncStream"]["checkpoint_request"],
            json({{"client_id", kClientId}, {"checkpoint_request_id", "1"}}));
  // connection('established') -> connected:true
  json established = h.recorder.last("connection", std::string("established"));
  ASSERT_EQ(established.size(), 1u);
  EXPECT_EQ(established[0]["UpdateSyncStatus"]["status"], json({{"connected", true},
                                                                {"connecting", false},
                                                                {"priority_status", json::array()},
                                                                {"downloading", nullptr},
                                                                {"streams", json::array()}}));
  // seed_checkpoint_request_id('5') -> 5 (the service answered "5"); ps_kv last_requested=5
  ASSERT_EQ(h.server.posted, std::vector<std::string>({"1"}));
  const auto& seed = h.recorder.first("seed_checkpoint_request_id");
  EXPECT_EQ(seed.payload, std::optional<std::string>("5"));
  EXPECT_EQ(seed.result, std::optional<std::string>("5"));
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 5);

  // checkpoint 1 (no write_checkpoint) + data r1 + complete -> applied, DidCompleteSync{}
  h.server.send(checkpoint_without_wc("1", 11, 1));
  h.server.send(line_data("1", "r1", "server1", 11));
  h.server.send(line_complete("1"));
  h.run_for(1 * sim::kSeconds);
  json first = h.recorder.last("line_text", line_complete("1").dump());
  ASSERT_EQ(first.size(), 3u) << first.dump();
  EXPECT_EQ(first[0], log_line("DEBUG", "Validated and applied checkpoint"));
  EXPECT_EQ(first[1], json({{"DidCompleteSync", json::object()}}));
  EXPECT_FALSE(first[2]["UpdateSyncStatus"]["status"].contains(
      "internal_last_applied_checkpoint_request_id"));

  // local write l1 -> target MAX; the upload is held so checkpoint 2 arrives first
  h.client->local_write({"todos", "l1", "local1"});
  EXPECT_EQ(h.kv("target_checkpoint_request_id"), std::stoll(kMaxOpId));
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 5);
  h.run_for(2 * sim::kSeconds);
  ASSERT_EQ(h.server.held_uploads.size(), 1u) << h.tail();

  // checkpoint_diff{2, wc "5"} + data r2 + complete -> INFO blocked; seen=5, target MAX
  h.server.send(line_diff("2", "5", 33, 2));
  h.server.send(line_data("2", "r2", "server2", 22));
  h.server.send(line_complete("2"));
  h.run_for(1 * sim::kSeconds);
  EXPECT_EQ(h.recorder.last("line_text", line_complete("2").dump()),
            json::array({log_line("INFO", kBlocked)}));
  EXPECT_EQ(h.kv("last_seen_checkpoint_request_id"), 5);
  EXPECT_EQ(h.kv("target_checkpoint_request_id"), std::stoll(kMaxOpId));
  EXPECT_EQ(h.client->read_row("todos", "r2"), std::nullopt);
  EXPECT_EQ(h.client->read_row("todos", "l1"), std::optional<std::optional<std::string>>("local1"));

  // complete() -> target MAX; updateLocalTarget: next -> 6, POST 6 -> "6" -> target 6
  // (previous MAX); completed_upload -> [] (pending wc 5 < target 6)
  h.server.release_upload();
  h.run_for(1 * sim::kSeconds);
  EXPECT_EQ(h.server.posted, std::vector<std::string>({"1", "6"}));
  EXPECT_EQ(h.recorder.last("next_checkpoint_request_id"), json(6));
  bool saw_6 = false;
  for (const auto& c : h.recorder.calls) {
    if (c.op == "target_checkpoint_request_id" && c.payload == std::optional<std::string>("6")) {
      saw_6 = true;
      EXPECT_EQ(c.result, std::optional<std::string>(kMaxOpId));
    }
  }
  EXPECT_TRUE(saw_6);
  EXPECT_EQ(h.recorder.last("completed_upload"), json::array());
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 6);
  EXPECT_EQ(h.kv("last_seen_checkpoint_request_id"), 5);
  EXPECT_EQ(h.kv("target_checkpoint_request_id"), 6);

  // checkpoint_diff{3, wc "6"} -> []; complete -> applied with request id 6
  h.server.send(empty_diff("3", "6"));
  h.server.send(line_complete("3"));
  h.run_for(1 * sim::kSeconds);
  EXPECT_EQ(h.recorder.last("line_text", empty_diff("3", "6").dump()), json::array());
  json applied = h.recorder.last("line_text", line_complete("3").dump());
  ASSERT_EQ(applied.size(), 4u) << applied.dump();
  expect_applied_request(applied, "Validated and applied checkpoint", "6");
  EXPECT_EQ(h.kv("last_applied_checkpoint_request_id"), 6);
  EXPECT_EQ(h.kv("last_seen_checkpoint_request_id"), 6);
  EXPECT_EQ(h.kv("target_checkpoint_request_id"), 6);  // never cleared
  EXPECT_TRUE(h.client->is_checkpoint_request_applied(6));

  // requestCheckpoint(): next -> 7, POST 7; waitForSync(7) resolves at the apply
  std::optional<int64_t> requested;
  bool waited = false;
  h.loop.spawn(
      [](Harness& hh, std::optional<int64_t>& out, bool& done) -> sim::Task<void> {
        out = co_await hh.client->request_checkpoint();
        co_await hh.client->wait_for_sync(*out, nullptr);
        done = true;
      }(h, requested, waited),
      "app");
  h.run_for(1 * sim::kSeconds);
  ASSERT_EQ(requested, std::optional<int64_t>(7));
  EXPECT_EQ(h.server.posted.back(), "7");
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 7);
  EXPECT_FALSE(waited);
  h.server.send(empty_diff("4", "7"));
  h.server.send(line_complete("4"));
  h.run_for(1 * sim::kSeconds);
  json applied7 = h.recorder.last("line_text", line_complete("4").dump());
  expect_applied_request(applied7, nullptr, "7");
  EXPECT_TRUE(waited);

  // a checkpoint without write_checkpoint clears the live applied id (quirk §2.7.5)
  h.server.send(empty_diff("5", std::nullopt));
  h.server.send(line_complete("5"));
  h.run_for(1 * sim::kSeconds);
  json plain = h.recorder.last("line_text", line_complete("5").dump());
  ASSERT_GE(plain.size(), 2u) << plain.dump();
  EXPECT_EQ(plain[plain.size() - 2], json({{"DidCompleteSync", json::object()}}));
  EXPECT_FALSE(h.client->is_checkpoint_request_applied(7));

  // disconnect(): the cancelled stream ends first (docs/protocol.md §2.1.9), so
  // connection end -> [UpdateSyncStatus(disconnected), CloseSyncStream{false}], then stop -> [];
  // current stays 7; requestCheckpoint() now rejects with the disconnected error
  bool disconnected = false;
  h.loop.spawn(
      [](Harness& hh, bool& done) -> sim::Task<void> {
        co_await hh.client->disconnect();
        done = true;
      }(h, disconnected),
      "app.disconnect");
  h.run_for(1 * sim::kSeconds);
  ASSERT_TRUE(disconnected) << h.tail();
  json end = h.recorder.last("connection", std::string("end"));
  ASSERT_EQ(end.size(), 2u) << end.dump();
  EXPECT_EQ(end[0]["UpdateSyncStatus"]["status"]["connected"], false);
  EXPECT_EQ(end[1], json({{"CloseSyncStream", {{"hide_disconnect", false}}}}));
  EXPECT_EQ(h.recorder.last("stop"), json::array());
  std::vector<std::string> ends;  // the last connection call and stop, in call order
  for (const auto& c : h.recorder.calls) {
    if (c.op == "stop" || c.op == "connection") ends.push_back(c.op + " " + c.payload.value_or(""));
  }
  ASSERT_GE(ends.size(), 2u);
  EXPECT_EQ(ends[ends.size() - 2], "connection end");
  EXPECT_EQ(ends.back(), "stop ");
  EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), 7);
  std::string error;
  h.loop.spawn(
      [](Harness& hh, std::string& out) -> sim::Task<void> {
        try {
          co_await hh.client->request_checkpoint();
        } catch (const engine::SyncApiError& e) {
          out = e.what();
        }
      }(h, error),
      "app.after-disconnect");
  h.run_for(1 * sim::kSeconds);
  EXPECT_EQ(error, "Cannot request checkpoints, sync client is disconnected.");
}

// Runs the §2.4.2 prefix up to a completed upload whose checkpoint request the service
// answers above the posted id (its record was raised to 100 meanwhile, e.g. by the shared
// managed sequence, docs/protocol.md §2.2.6); returns the target updateLocalTarget stored.
std::optional<int64_t> target_after_raised_record(std::vector<engine::EngineMutant> mutants) {
  Harness h(std::move(mutants));
  h.client->open();
  h.client->connect();
  h.run_for(1 * sim::kSeconds);
  h.server.record = 100;
  h.client->local_write({"todos", "l1", "local1"});
  h.run_for(2 * sim::kSeconds);
  if (h.server.held_uploads.size() != 1) {
    ADD_FAILURE() << h.tail();
    return std::nullopt;
  }
  h.server.release_upload();
  h.run_for(1 * sim::kSeconds);
  EXPECT_EQ(h.server.posted.back(), "2");  // seed "1", then the allocated 2
  return h.kv("target_checkpoint_request_id");
}

// Mutant target-posted-id (engine/sdk_shim_upload.cpp write_checkpoint_for_upload): the target is
// the allocated id, not the service's answer (quirk §2.7.6).
TEST(EngineMutants, TargetPostedIdStoresTheAllocatedIdNotTheAnswer) {
  EXPECT_EQ(target_after_raised_record({}), 100);
  EXPECT_EQ(target_after_raised_record({engine::EngineMutant::TargetPostedId}), 2);
}

// Mutant seed-local-counter (engine/sdk_shim_download.cpp seed): the posted id is seeded, so the
// local counter stays below the service's record.
TEST(EngineMutants, SeedLocalCounterSeedsThePostedId) {
  for (bool mutant : {false, true}) {
    std::vector<engine::EngineMutant> m;
    if (mutant) m.push_back(engine::EngineMutant::SeedLocalCounter);
    Harness h(m);
    h.server.record = 5;
    h.client->open();
    h.client->connect();
    h.run_for(1 * sim::kSeconds);
    EXPECT_EQ(h.kv("last_requested_checkpoint_request_id"), mutant ? 1 : 5);
  }
}

// Mutant drop-completed-upload (engine/sdk_shim_upload.cpp notify_completed_uploads): the blocked
// checkpoint of docs/protocol.md §2.4.3's race is not retried after the upload, so it stays
// unapplied.
TEST(EngineMutants, DropCompletedUploadLeavesTheRaceCheckpointPending) {
  for (bool mutant : {false, true}) {
    std::vector<engine::EngineMutant> m;
    if (mutant) m.push_back(engine::EngineMutant::DropCompletedUpload);
    Harness h(m);
    ASSERT_NO_FATAL_FAILURE(h.connected_with_held_upload());
    // The service's checkpoint with the upload's future id 2 arrives before the target.
    h.server.send(line_checkpoint("1", "2", 11, 1));
    h.server.send(line_data("1", "l1", "local1", 11));
    h.server.send(line_complete("1"));
    h.run_for(1 * sim::kSeconds);
    h.server.release_upload();
    h.run_for(1 * sim::kSeconds);
    EXPECT_EQ(h.kv("target_checkpoint_request_id"), 2);
    EXPECT_EQ(h.recorder.count("completed_upload"), mutant ? 0 : 1);
    EXPECT_EQ(h.kv("last_applied_checkpoint_request_id"),
              mutant ? std::nullopt : std::optional<int64_t>(2));
  }
}
// The SDK's injectable() (@powersync/shared-internals 1.3.0 lib/utils/stream_transform.js,
// fidelity review item 4): an injected event that reaches a waiting pull is handed to it
// (consumeWaiter) and the pull stays in flight; the line it then fetches is served next.
// NOTE: this reachable case orders the same under the old port; the case that differs (a
// fetched line and a second injected event ready at one call) has no test yet.
TEST(EventPump, AnInjectedEventAnswersTheWaitingPullAndTheLineFollows) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(h.connected_with_held_upload());
  // Released now: the upload's answer arrives in 10 ms, the checkpoint request's answer 20 ms
  // later, and completed_upload is injected then (t+30 ms); the line sent at t+20 ms arrives
  // at t+30 ms too, while the pump's pull is waiting.
  h.server.release_upload();
  h.run_for(20 * sim::kMillis);
  h.server.send(line_checkpoint("1", "2", 11, 1));
  h.run_for(1 * sim::kSeconds);
  int line = -1, completed = -1;
  for (int i = 0; i < int(h.recorder.calls.size()); ++i) {
    const auto& op = h.recorder.calls[std::size_t(i)].op;
    if (op == "line_text" && line < 0) line = i;
    if (op == "completed_upload" && completed < 0) completed = i;
  }
  ASSERT_GE(line, 0) << h.tail();
  ASSERT_GE(completed, 0) << h.tail();
  EXPECT_EQ(line, completed + 1) << "completed_upload answered the waiting pull; the line it "
                                    "fetched comes next";
}

// requestNextCheckpointFromService(signal) passes the upload loop's signal to the POST
// (@powersync/shared-internals 1.3.0 AbstractStreamingSyncImplementation.js, fidelity review
// item 5): a disconnect while an upload's checkpoint request is on the wire aborts it, so the
// answer is never stored as the target.  The port used to post without a signal.
TEST(AbortAroundDisconnect, AnUploadsCheckpointRequestIsAbortedAndNoTargetIsStored) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(h.connected_with_held_upload());
  // The upload's answer arrives at t+10 ms and its checkpoint request goes out then; its
  // answer would arrive at t+30 ms.  disconnect() begins at t+20 ms.
  h.server.release_upload();
  h.run_for(20 * sim::kMillis);
  ASSERT_EQ(h.server.count("POST /sync/checkpoint-request"), 2) << "seed and the upload's";
  bool disconnected = false;
  h.loop.spawn(
      [](Harness& hh, bool& done) -> sim::Task<void> {
        co_await hh.client->disconnect();
        done = true;
      }(h, disconnected),
      "app.disconnect");
  h.run_for(1 * sim::kSeconds);
  ASSERT_TRUE(disconnected) << h.tail();
  EXPECT_EQ(h.kv("target_checkpoint_request_id"), std::stoll(kMaxOpId))
      << "the aborted request's answer was stored as the target";
  EXPECT_EQ(h.recorder.count("completed_upload"), 0);
}

}  // namespace
}  // namespace syncsim

// ---------------------------------------------------------------------------------------
// Full worlds: the shim's API and connector behaviour against the model service.
namespace syncsim::scenarios {
namespace {

Scenario with(const std::string& file, const std::function<void(json&)>& edit) {
  std::ifstream in(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + file);
  json j = json::parse(in);
  edit(j);
  return parse_scenario(j, validation_context(), file);
}

RunResult run_seed(const Scenario& s, uint64_t seed, std::ostream* trace = nullptr) {
  RunOptions o;
  o.seed = seed;
  o.keep_trace_lines = 40;
  o.trace_sink = trace;
  return run_scenario(s, o);
}

std::string describe(const RunResult& r) {
  std::string out = r.stop.message + "\n" + r.pending;
  if (r.violation) out += r.violation->invariant + ": " + r.violation->message + "\n";
  for (const auto& l : r.trace_tail) out += "  | " + l + "\n";
  return out;
}

uint64_t metric(const RunResult& r, const std::string& key) {
  auto it = r.metrics.find(key);
  return it == r.metrics.end() ? 0 : it->second;
}

}  // namespace
}  // namespace syncsim::scenarios

namespace syncsim::scenarios {
namespace {

bool trace_has(const std::string& trace, const std::string& needle) {
  return trace.find(needle) != std::string::npos;
}

// docs/protocol.md §2.1.7, quirk §2.7.4: each FetchCredentials{did_expire:false} prefetches and
// throws the token away, so the restart fetches again; the fix caches the prefetched token.
TEST(Credentials, PrefetchFetchesTwiceUnlessFixed) {
  auto edit = [](bool fixed) {
    return [fixed](json& j) {
      j["service"]["token_lifetime_s"] = 60;
      j["duration_s"] = 100;
      if (fixed) j["clients"]["fixed_quirks"] = json::array({"prefetch-double-fetch"});
    };
  };
  const RunResult quirk = run_seed(with("basic.json", edit(false)), 1);
  const RunResult fixed = run_seed(with("basic.json", edit(true)), 1);
  ASSERT_TRUE(quirk.passed) << describe(quirk);
  ASSERT_TRUE(fixed.passed) << describe(fixed);
  const uint64_t prefetches = metric(quirk, "credential_prefetches");
  EXPECT_GE(prefetches, 3u) << "every client's token reaches exp - 20 s at least once";
  EXPECT_GE(metric(quirk, "credential_fetches"), 3 + 2 * prefetches);
  EXPECT_LT(metric(fixed, "credential_fetches"), metric(quirk, "credential_fetches"));
}

// docs/protocol.md §2.1.6, §2.6 item 12: a client whose stream is down longer than its token
// lifetime retries with its expired cached token; the service answers 401, the shim invalidates
// and recovers.  (Not a disconnect()/connect(): every connect fetches anew, §2.1.7.)
TEST(Credentials, ExpiredTokenIsRejectedWith401AndRefetched) {
  const Scenario s = with("basic.json", [](json& j) {
    j["service"]["token_lifetime_s"] = 60;
    j["duration_s"] = 100;
    j["faults"] = json::array({{{"at_ms", 5000}, {"kind", "service_restart"}, {"down_ms", 70000}}});
  });
  std::ostringstream trace;
  const RunResult r = run_seed(s, 1, &trace);
  ASSERT_TRUE(r.passed) << describe(r);
  EXPECT_GE(metric(r, "unauthorized"), 1u);
  EXPECT_TRUE(trace_has(trace.str(), "credentials invalidated: HTTP 401"));
}

// docs/protocol.md §2.3.1: requestCheckpoint() and waitForSync() from the workload.
TEST(CheckpointApi, RequestCheckpointAndWaitForSyncResolve) {
  const Scenario s = with("basic.json", [](json& j) {
    j["workload"]["request_checkpoint_pct"] = 50;
    j["workload"]["wait_for_sync_pct"] = 100;
  });
  uint64_t ok = 0, waited = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const RunResult r = run_seed(s, seed);
    ASSERT_TRUE(r.passed) << "seed " << seed << "\n" << describe(r);
    ok += metric(r, "checkpoint_requests_ok");
    waited += metric(r, "waits_for_sync_ok");
  }
  EXPECT_GT(ok, 10u);
  EXPECT_GT(waited, 5u);
}

TEST(CheckpointApi, LegacyModeRejectsRequestCheckpoint) {
  const Scenario s =
      with("basic-legacy.json", [](json& j) { j["workload"]["request_checkpoint_pct"] = 100; });
  std::ostringstream trace;
  const RunResult r = run_seed(s, 1, &trace);
  ASSERT_TRUE(r.passed) << describe(r);
  EXPECT_EQ(metric(r, "checkpoint_requests_ok"), 0u);
  EXPECT_GT(metric(r, "checkpoint_requests_failed"), 0u);
  EXPECT_TRUE(trace_has(trace.str(),
                        "requestCheckpoint() rejected: Connected with legacy checkpoint mode, "
                        "cannot request checkpoints."));
}

// docs/protocol.md §2.2.6: postCheckpointRequest through the app backend, never aborted (quirk
// §2.7.3).
TEST(Connector, PostCheckpointRequestThroughTheBackend) {
  const Scenario s =
      with("basic.json", [](json& j) { j["clients"]["post_checkpoint_request"] = "backend"; });
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::ostringstream trace;
    const RunResult r = run_seed(s, seed, &trace);
    ASSERT_TRUE(r.passed) << "seed " << seed << "\n" << describe(r);
    EXPECT_TRUE(trace_has(trace.str(), "backend forwards checkpoint request of u1"));
    EXPECT_FALSE(trace_has(trace.str(), "POST /sync/checkpoint-request lost"));
  }
}

// docs/protocol.md §2.1.9, §2.3.4: disconnect() and disconnectAndClear() then connect() again; the
// cleared client re-seeds from "1" and the service's record re-hydrates its counter.
TEST(Lifecycle, DisconnectAndClearThenReconnect) {
  const Scenario s = with("basic.json", [](json& j) {
    j["faults"] = json::array(
        {{{"at_ms", 10000}, {"kind", "disconnect_client"}, {"client", 1}, {"down_ms", 3000}},
         {{"at_ms", 20000}, {"kind", "disconnect_and_clear"}, {"client", 2}, {"down_ms", 2000}}});
  });
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::ostringstream trace;
    const RunResult r = run_seed(s, seed, &trace);
    ASSERT_TRUE(r.passed) << "seed " << seed << "\n" << describe(r);
    EXPECT_EQ(metric(r, "client_clears"), 1u);
    EXPECT_EQ(metric(r, "client_disconnects"), 2u);
    const std::string t = trace.str();
    // The reconnected iteration runs on a fresh nested signal, not the aborted one.
    EXPECT_FALSE(trace_has(t, "download error: Disconnect has been requested"));
    EXPECT_FALSE(trace_has(t, "seed failed: Disconnect has been requested"));
    const auto cleared = t.find("c2 cleared local state");
    ASSERT_NE(cleared, std::string::npos);
    // After the clear the seed posts "1" and the service answers its stored maximum.
    const auto reseed = t.find("c2 seeded ", cleared);
    ASSERT_NE(reseed, std::string::npos);
    EXPECT_TRUE(t.compare(t.find("(posted ", reseed), 10, "(posted 1,") == 0)
        << t.substr(reseed, 80);
  }
}

// docs/protocol.md §2.7: every switchable quirk fixed at once still passes.
TEST(Quirks, AllFixedQuirksStillPass) {
  const Scenario fixed = with("basic.json", [](json& j) {
    j["clients"]["fixed_quirks"] = engine::quirk_names();
    j["clients"]["post_checkpoint_request"] = "backend";
  });
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const RunResult f = run_seed(fixed, seed);
    ASSERT_TRUE(f.passed) << "seed " << seed << "\n" << describe(f);
  }
}

// Each fix changes what it names: summed over seeds, the quirky run does more of it.
uint64_t sum_metric(const std::string& quirk, bool fixed, const std::string& key,
                    const json& faults = nullptr) {
  const Scenario s = with("basic.json", [&](json& j) {
    if (fixed) j["clients"]["fixed_quirks"] = json::array({quirk});
    if (!faults.is_null()) {
      j["faults"] = faults;
      // Rare writes, so the current id stays put for the 10 s repost period.
      j["workload"]["write_interval_min_ms"] = 15000;
      j["workload"]["write_interval_max_ms"] = 20000;
    }
  });
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    const RunResult r = run_seed(s, seed);
    EXPECT_TRUE(r.passed) << quirk << " fixed=" << fixed << " seed " << seed << "\n" << describe(r);
    total += metric(r, key);
  }
  return total;
}

// A 30 s replication stall holds every acknowledgement back: the SDK re-POSTs accepted ids.
TEST(Quirks, RepostUntilAppliedFixRepostsLess) {
  const json stall = json::array({{{"at_ms", 10000}, {"kind", "stall"}, {"duration_ms", 30000}}});
  const uint64_t quirky = sum_metric("repost-until-applied", false, "reposts", stall);
  EXPECT_GT(quirky, 0u);
  EXPECT_LT(sum_metric("repost-until-applied", true, "reposts", stall), quirky);
}

TEST(Quirks, ExtraUploadRoundFixRunsFewerRounds) {
  EXPECT_LT(sum_metric("extra-upload-round", true, "upload_rounds"),
            sum_metric("extra-upload-round", false, "upload_rounds"));
}

// The two scenario-level engine mutants change the run (the lead's invariants judge them).
TEST(EngineMutants, SkipSequenceCheckStoresRacedTargets) {
  const Scenario s = with("basic.json", [](json& j) {
    j["workload"]["write_interval_min_ms"] = 20;
    j["workload"]["write_interval_max_ms"] = 200;
    j["duration_s"] = 20;
    j["faults"] = json::array();
    j["mutants"] = json::array({"skip-sequence-check"});
    j["invariants"] = json::array({"barrier-holds"});
  });
  bool seen = false;
  for (uint64_t seed = 1; seed <= 5 && !seen; ++seed) {
    std::ostringstream trace;
    run_seed(s, seed, &trace);
    seen = trace_has(trace.str(), "stored despite new local writes");
  }
  EXPECT_TRUE(seen);
}

TEST(EngineMutants, SeedLocalCounterAfterAClearSeedsOne) {
  const Scenario s = with("basic.json", [](json& j) {
    j["faults"] = json::array(
        {{{"at_ms", 20000}, {"kind", "disconnect_and_clear"}, {"client", 2}, {"down_ms", 2000}}});
    j["mutants"] = json::array({"seed-local-counter"});
    j["invariants"] = json::array({"barrier-holds"});
  });
  std::ostringstream trace;
  run_seed(s, 1, &trace);
  const std::string t = trace.str();
  const auto cleared = t.find("c2 cleared local state");
  ASSERT_NE(cleared, std::string::npos);
  const auto reseed = t.find("c2 seeded 1 (posted 1, service answered ", cleared);
  ASSERT_NE(reseed, std::string::npos) << "the mutant seeds the posted 1";
  EXPECT_EQ(t.find("c2 seeded 1 (posted 1, service answered 1)", cleared), std::string::npos)
      << "the service's record is above 1 after 20 s of uploads";
}

}  // namespace
}  // namespace syncsim::scenarios

namespace syncsim::scenarios {
namespace {

// Custom write checkpoints (docs/protocol.md §3.1.10, §2.2.3): the connector hands the backend's
// answer to complete(writeCheckpoint).  shared-internals 1.3.0 handleCrudCheckpoint sets the
// target only when ps_crud is non-empty after the delete (quirk §2.7.1).
Scenario custom_mode(bool fixed) {
  return with("custom-write-checkpoints.json", [fixed](json& j) {
    if (!fixed) j["clients"]["fixed_quirks"] = json::array();
    j["duration_s"] = 20;
    j["faults"] = json::array();
  });
}

TEST(CustomCheckpoints, TheFixedConditionTargetsTheBackendsAnswerAndPasses) {
  std::ostringstream trace;
  const RunResult r = run_seed(custom_mode(true), 1, &trace);
  EXPECT_TRUE(r.passed) << describe(r);
  EXPECT_TRUE(trace_has(trace.str(), "): target set")) << "no complete(writeCheckpoint) stored it";
  EXPECT_FALSE(trace_has(trace.str(), "write checkpoint mode"))
      << "the managed route was called in custom mode";
}

// With the released condition the last batch of a round leaves the target at MAX, so
// updateLocalTarget asks the managed route, which custom mode rejects: the gate stays shut.
TEST(CustomCheckpoints, TheReleasedInvertedConditionCallsTheRejectedManagedRoute) {
  std::ostringstream trace;
  const RunResult r = run_seed(custom_mode(false), 1, &trace);
  EXPECT_TRUE(trace_has(trace.str(), "): target unchanged"));
  EXPECT_TRUE(trace_has(trace.str(), "managed checkpoint rejected: custom write checkpoint mode"));
  EXPECT_FALSE(r.passed) << "the gate opened although no target was ever stored";
}

}  // namespace
}  // namespace syncsim::scenarios
