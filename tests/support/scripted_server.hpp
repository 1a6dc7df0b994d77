// Test support (tests/support/): one SDK shim client against a service stand-in the test
// drives by hand, in virtual time.  Shared by the shim, legacy-mode and lifecycle tests so
// that each scripts the protocol, not its own copy of the server.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/core_registry.hpp"
#include "engine/sdk_shim.hpp"
#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/trace.hpp"
#include "sim/vfs.hpp"

namespace syncsim::test_support {

// The largest op id (i64 max), the target the SDK stores while uploads are pending.
inline constexpr const char* kMaxOpId = "9223372036854775807";

// A service stand-in driven by the test: the sync stream's lines are sent by hand, uploads
// are held until released (unless `hold_uploads` is off), /write-checkpoint2.json answers
// `write_checkpoint`, and a checkpoint request is answered with `request_answer` once when
// set, else with max(posted, record) when `keep_record` (the service's answer,
// docs/protocol.md §2.2.6, with `record` scripted), else with the id posted.
class ScriptedServer : public sim::HttpServer {
 public:
  void handle(const sim::HttpRequest& request,
              std::function<void(sim::HttpResponse)> respond) override {
    using nlohmann::json;
    requests.push_back(request.method + " " + request.path);
    if (request.method == "POST" && request.path == "/backend/upload") {
      if (hold_uploads) return held_uploads.push_back(std::move(respond));
      return respond(sim::HttpResponse{200, R"({"data":{}})"});
    }
    if (request.method == "GET" && request.path.rfind("/write-checkpoint2.json", 0) == 0) {
      json body = {{"data", {{"write_checkpoint", write_checkpoint}}}};
      return respond(sim::HttpResponse{200, body.dump()});
    }
    if (request.method == "POST" && request.path == "/sync/checkpoint-request") {
      posted.push_back(json::parse(request.body)["checkpoint_request_id"].get<std::string>());
      std::string answer = posted.back();
      if (!request_answer.empty()) {
        answer = request_answer;
        request_answer.clear();
      } else if (keep_record) {
        record = std::max<int64_t>(std::stoll(posted.back()), record);
        answer = std::to_string(record);
      }
      json body = {{"data", {{"checkpoint_request_id", answer}}}};
      return respond(sim::HttpResponse{200, body.dump()});
    }
    respond(sim::HttpResponse{404, "not scripted: " + request.path});
  }

  sim::HttpResponse open_stream(const sim::HttpRequest& request,
                                std::shared_ptr<sim::ServerStream> s) override {
    stream_requests.push_back(nlohmann::json::parse(request.body));
    stream = std::move(s);
    return sim::HttpResponse{200, ""};
  }

  void send(const nlohmann::json& line) { stream->send(line.dump()); }

  void release_upload() {
    auto respond = std::move(held_uploads.front());
    held_uploads.erase(held_uploads.begin());
    respond(sim::HttpResponse{200, R"({"data":{}})"});
  }

  [[nodiscard]] int count(const std::string& prefix) const {
    int n = 0;
    for (const auto& r : requests) n += r.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }

  bool hold_uploads = true;
  std::string write_checkpoint = "41";
  std::string request_answer;  // the next checkpoint request's answer, once
  bool keep_record = false;
  int64_t record = 0;
  std::vector<std::string> posted;  // checkpoint request ids, in order
  std::vector<std::string> requests;
  std::vector<nlohmann::json> stream_requests;
  std::vector<std::function<void(sim::HttpResponse)>> held_uploads;
  std::shared_ptr<sim::ServerStream> stream;
};

struct ControlCall {
  std::string op;
  std::optional<std::string> payload;
  std::optional<std::string> result;
};

// Records every powersync_control call the shim makes.
class ControlRecorder : public engine::ClientObserver {
 public:
  void on_control(engine::Client&, const std::string& op, const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override {
    calls.push_back({op, payload, result});
  }
  // The instructions of the last call of `op` (optionally with `payload`).
  nlohmann::json last(const std::string& op,
                      const std::optional<std::string>& payload = std::nullopt) {
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it->op == op && (!payload || it->payload == payload)) {
        return it->result ? nlohmann::json::parse(*it->result) : nlohmann::json();
      }
    }
    ADD_FAILURE() << "no control call " << op << (payload ? " " + *payload : "");
    return nlohmann::json();
  }
  const ControlCall& first(const std::string& op) {
    for (const auto& c : calls) {
      if (c.op == op) return c;
    }
    throw std::runtime_error("no control call " + op);
  }
  [[nodiscard]] int count(const std::string& op) const {
    int n = 0;
    for (const auto& c : calls) n += c.op == op ? 1 : 0;
    return n;
  }
  std::vector<ControlCall> calls;
};

// The virtual-time world around scripted clients: loop, trace, SQLite VFS, the scripted
// server and the link to it.  A subclass must call loop.shutdown() first in its destructor,
// while the clients it owns still exist.
struct ScriptedWorld {
  explicit ScriptedWorld(bool track_durability = false)
      : trace(loop.clock()),
        sqlite_rng(7),
        files(track_durability),
        vfs(loop.clock(), sqlite_rng, files),
        link(loop, server, 10 * sim::kMillis, 10 * sim::kMillis) {
    trace.keep_last(200);
  }
  ScriptedWorld(const ScriptedWorld&) = delete;
  ScriptedWorld& operator=(const ScriptedWorld&) = delete;

  void run_for(sim::Micros d) { ASSERT_TRUE(loop.run_until(loop.now() + d)) << tail(); }
  std::string tail() {
    std::string out = loop.stop_reason().message + "\n";
    for (const auto& l : trace.recent()) out += "  | " + l;
    return out;
  }

  sim::Loop loop;
  sim::Trace trace;
  sim::Prng sqlite_rng;
  sim::FileStore files;
  sim::VfsBinding vfs;
  ScriptedServer server;
  sim::Link link;
};

// One shim client (core 0.5.3) against the scripted server.
struct ShimHarness : ScriptedWorld {
  ShimHarness(engine::CheckpointMode mode, const std::string& client_id,
              std::vector<engine::EngineMutant> mutants = {})
      : verdicts({"barrier-holds"}) {
    const engine::CoreVersion* core = engine::find_core("0.5.3");
    if (!core) throw std::runtime_error("core 0.5.3 not registered");
    engine::ClientOptions o;
    o.index = 1;
    o.user = "u1";
    o.client_id = client_id;
    o.checkpoint_mode = mode;
    o.mutants = std::move(mutants);
    client = std::make_unique<engine::Client>(loop, trace, sim::Prng(11), link, *core, o, &recorder,
                                              &verdicts);
  }
  ~ShimHarness() { loop.shutdown(); }
  ShimHarness(const ShimHarness&) = delete;
  ShimHarness& operator=(const ShimHarness&) = delete;

  std::optional<int64_t> kv(const std::string& key) { return client->kv_int(key); }

  // open, connect (seeded within 1 s), then local write l1 whose upload the server holds (2 s
  // later): the upload loop stays busy until server.release_upload().  Callers wrap it in
  // ASSERT_NO_FATAL_FAILURE.
  void connected_with_held_upload() {
    client->open();
    client->connect();
    run_for(1 * sim::kSeconds);
    client->local_write({"todos", "l1", "local1"});
    run_for(2 * sim::kSeconds);
    ASSERT_EQ(server.held_uploads.size(), 1u) << tail();
  }

  sim::Verdicts verdicts;
  ControlRecorder recorder;
  std::unique_ptr<engine::Client> client;
};

// Sync lines for bucket b1 (priority 3) of the `todos` table; `using namespace
// test_support::sync_lines;` brings them in.
namespace sync_lines {

inline nlohmann::json line_checkpoint(const char* last_op, const char* wc, int checksum,
                                      int count) {
  nlohmann::json b = {{"bucket", "b1"}, {"checksum", checksum}, {"priority", 3}, {"count", count}};
  return {{"checkpoint",
           {{"last_op_id", last_op},
            {"write_checkpoint", wc},
            {"buckets", nlohmann::json::array({b})}}}};
}
inline nlohmann::json line_diff(const char* last_op, const char* wc, int checksum, int count) {
  nlohmann::json b = {{"bucket", "b1"}, {"checksum", checksum}, {"priority", 3}, {"count", count}};
  return {{"checkpoint_diff",
           {{"last_op_id", last_op},
            {"updated_buckets", nlohmann::json::array({b})},
            {"removed_buckets", nlohmann::json::array()},
            {"write_checkpoint", wc}}}};
}
inline nlohmann::json line_data(const char* op_id, const char* id, const char* description,
                                int checksum) {
  nlohmann::json op = {
      {"op_id", op_id},         {"op", "PUT"},
      {"object_type", "todos"}, {"object_id", id},
      {"checksum", checksum},   {"data", nlohmann::json({{"description", description}}).dump()}};
  return {{"data", {{"bucket", "b1"}, {"data", nlohmann::json::array({op})}}}};
}
inline nlohmann::json line_complete(const char* last_op) {
  return {{"checkpoint_complete", {{"last_op_id", last_op}}}};
}
inline nlohmann::json log_line(const char* severity, const char* line) {
  return {{"LogLine", {{"severity", severity}, {"line", line}}}};
}

// The core's instructions when a checkpoint carrying request id `id` is applied: the log line
// naming it, DidCompleteSync with it, and the status reporting it (docs/protocol.md §1.5.4).
// `first_log` is the line before those (which path applied it); nullptr skips that check.
inline void expect_applied_request(const nlohmann::json& instructions, const char* first_log,
                                   const std::string& id) {
  ASSERT_GE(instructions.size(), first_log ? 4u : 3u) << instructions.dump();
  if (first_log) {
    EXPECT_EQ(instructions[0], log_line("DEBUG", first_log));
  }
  EXPECT_EQ(instructions[1], log_line("DEBUG", ("Applied checkpoint request id " + id).c_str()));
  EXPECT_EQ(instructions[2],
            nlohmann::json({{"DidCompleteSync", {{"applied_checkpoint_request_id", id}}}}));
  if (first_log) {
    EXPECT_EQ(instructions[3]["UpdateSyncStatus"]["status"]
                          ["internal_last_applied_checkpoint_request_id"],
              id);
  }
}

}  // namespace sync_lines

}  // namespace syncsim::test_support
