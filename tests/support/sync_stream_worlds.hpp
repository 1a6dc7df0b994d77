// Test support (tests/support/): the sync stream's test worlds, shared by sync_stream_test,
// sync_stream_compaction_test and sync_stream_subscriptions_test: a recording fake stream, a
// bare SyncConnection over our own storage, the service's Service::open_stream, and a checker
// of the protocol as a client sees it.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "model/sync_stream.hpp"
#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::test_support {

// A copy of a bucket's ops (the pointers from ops() die with the next compact()).
inline std::vector<model::Op> all_ops(const model::BucketStorage& storage,
                                      const std::string& bucket) {
  std::vector<model::Op> out;
  for (const model::Op* op : storage.ops(bucket, 0, storage.last_op(), SIZE_MAX))
    out.push_back(*op);
  return out;
}

class RecordingStream : public sim::ServerStream {
 public:
  RecordingStream(sim::Loop& loop, bool bson) : loop_(loop), bson_(bson) {}
  [[nodiscard]] bool closed() const override { return closed_; }
  sim::Signal& closed_signal() override { return closed_signal_; }
  void send(std::string line) override {
    if (closed_) {
      ++sent_after_close;
      return;
    }
    raw.push_back(std::move(line));
    times.push_back(loop_.now());
  }
  void end() override {
    closed_ = true;
    ended = true;
  }
  void abort() override { close(); }
  void set_content_type(const std::string& type) override { content_type = type; }
  void close() {
    closed_ = true;
    closed_signal_.notify();
  }
  [[nodiscard]] nlohmann::json line(std::size_t i) const {
    if (!bson_) return nlohmann::json::parse(raw.at(i));
    return nlohmann::json::from_bson(std::vector<std::uint8_t>(raw.at(i).begin(), raw.at(i).end()));
  }
  [[nodiscard]] std::vector<nlohmann::json> lines() const {
    std::vector<nlohmann::json> out;
    for (std::size_t i = 0; i < raw.size(); ++i) out.push_back(line(i));
    return out;
  }

  std::vector<std::string> raw;
  std::vector<sim::Micros> times;
  std::string content_type;
  bool ended = false;
  int sent_after_close = 0;

 private:
  sim::Loop& loop_;
  bool bson_;
  bool closed_ = false;
  sim::Notifier closed_signal_;
};

inline std::string kind(const nlohmann::json& line) { return line.begin().key(); }

// "data:<bucket>", "partial:<priority>", "complete:<op>", "checkpoint:<op>", "diff:<op>",
// "token:<seconds>": a compact view of a line sequence.
inline std::string brief(const nlohmann::json& l) {
  const std::string k = kind(l);
  const nlohmann::json& v = l.at(k);
  if (k == "data") return "data:" + v.at("bucket").get<std::string>();
  if (k == "partial_checkpoint_complete")
    return "partial:" + std::to_string(v.at("priority").get<int>());
  if (k == "checkpoint_complete") return "complete:" + v.at("last_op_id").get<std::string>();
  if (k == "checkpoint") return "checkpoint:" + v.at("last_op_id").get<std::string>();
  if (k == "checkpoint_diff") return "diff:" + v.at("last_op_id").get<std::string>();
  if (k == "token_expires_in") return "token:" + std::to_string(v.get<int64_t>());
  return k;
}

inline std::vector<std::string> briefs(const std::vector<nlohmann::json>& lines,
                                       std::size_t from = 0) {
  std::vector<std::string> out;
  for (std::size_t i = from; i < lines.size(); ++i) out.push_back(brief(lines[i]));
  return out;
}

inline sim::Task<void> drive(std::shared_ptr<model::SyncConnection> conn) { co_await conn->run(); }

inline model::ConnectionRequest request(const std::vector<std::string>& buckets,
                                        const std::map<std::string, int>& priorities = {}) {
  model::ConnectionRequest r;
  r.user = "u";
  r.key = "u";
  r.buckets = buckets;
  r.priorities = priorities;
  r.token_expires_at = sim::kEpoch + 86400 * sim::kSeconds;
  return r;
}

// A bare connection over our own storage (no write checkpoints: the store stays empty).
struct StreamWorld {
  ~StreamWorld() { loop.shutdown(); }

  void open(model::ConnectionRequest req, sim::Micros batch_delay = sim::kMillis, uint64_t seed = 1,
            bool torn_reads = false) {
    stream = std::make_shared<RecordingStream>(loop, req.encoding == model::StreamEncoding::Bson);
    model::ConnectionContext ctx{loop,  trace, storage, checkpoints, stats, sim::kMillis,
                                 false, false, false,   false,       {}};
    ctx.batch_delay = batch_delay;
    ctx.torn_reads = torn_reads;
    ctx.mutant_torn_read_skips_op = mutant_torn_read_skips_op;
    ctx.v3_checksum_documents = v3_checksum_documents;
    ctx.mutant_straddled_checksum_served = mutant_straddled_checksum_served;
    ctx.v3_superseding_skip = v3_superseding_skip;
    auto conn =
        std::make_shared<model::SyncConnection>(ctx, std::move(req), stream, sim::Prng(seed));
    loop.spawn(drive(conn), "sync-connection");
  }
  void fill(const std::string& bucket, int n) {
    for (int i = 0; i < n; ++i) {
      storage.append(bucket, model::put_op("todos", bucket + std::to_string(i), "{}"));
    }
  }
  void checkpoint() { storage.checkpoint(++lsn); }
  void run_for(sim::Micros d) {
    loop.run_until(loop.now() + d);
    ASSERT_FALSE(loop.stopped()) << loop.stop_reason().message;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  model::BucketStorage storage;
  model::CheckpointStore checkpoints;
  model::StreamStats stats;
  std::shared_ptr<RecordingStream> stream;
  model::Lsn lsn = 0;
  bool mutant_torn_read_skips_op = false;
  bool v3_checksum_documents = false;
  bool mutant_straddled_checksum_served = false;
  bool v3_superseding_skip = true;
};

// The protocol as a client sees it (I8, §3.3.2): checks every line in order, keeps each
// bucket's checksum the way the client does (a CLEAR replaces it), and compares at every
// (partial) complete when `check_checksums`.  Returns the first problem, "" if none.
struct ProtocolChecker {
  std::map<std::string, int> priority;  // bucket -> priority as announced
  bool check_checksums = true;

  std::string check(const std::vector<nlohmann::json>& lines) {
    std::optional<std::string> current;  // last_op_id of the last checkpoint line
    bool completed = false;
    int last_partial = -1;
    int data_priority = -1;
    std::map<std::string, uint32_t> have;  // the client's sums
    std::map<std::string, std::string> next_after;
    std::map<std::string, std::string> subkeys;  // the subkey each row was sent with
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const nlohmann::json& l = lines[i];
      const std::string k = kind(l);
      const nlohmann::json& v = l.at(k);
      const std::string at = " at line " + std::to_string(i) + ": " + l.dump().substr(0, 200);
      if (k == "checkpoint" || k == "checkpoint_diff") {
        if (current && !completed) ++incomplete;
        if (current && std::stoll(v.at("last_op_id").get<std::string>()) < std::stoll(*current)) {
          return "last_op_id went backwards" + at;
        }
        current = v.at("last_op_id").get<std::string>();
        completed = false;
        last_partial = -1;
        data_priority = -1;
        if (k == "checkpoint") target.clear();
        for (const auto& b : v.at(k == "checkpoint" ? "buckets" : "updated_buckets")) {
          const std::string name = b.at("bucket");
          target[name] = b.at("checksum").get<int32_t>();
          priority[name] = b.at("priority").get<int>();
          if (priority[name] < 0 || priority[name] > 3) return "priority out of range" + at;
        }
        if (k == "checkpoint_diff") {
          for (const auto& b : v.at("removed_buckets")) {  // the client drops the bucket
            target.erase(b.get<std::string>());
            have.erase(b.get<std::string>());
            next_after.erase(b.get<std::string>());
          }
        }
        ++checkpoint_lines;
      } else if (k == "data") {
        if (!current || completed) return "data outside a checkpoint download" + at;
        const std::string bucket = v.at("bucket");
        if (!target.contains(bucket)) return "data for a bucket not in the checkpoint" + at;
        const int p = priority.at(bucket);
        if (p <= last_partial) return "data for an already completed priority" + at;
        if (p < data_priority) return "priorities out of order" + at;
        data_priority = p;
        if (next_after.contains(bucket) && next_after[bucket] != v.at("after")) {
          return "data does not continue where the bucket left off" + at;
        }
        next_after[bucket] = v.at("next_after");
        for (const auto& op : v.at("data")) {
          if (std::stoll(op.at("op_id").get<std::string>()) > std::stoll(*current)) {
            return "op beyond the checkpoint" + at;
          }
          const std::string type = op.at("op");
          if (type == "CLEAR") {
            have[bucket] = op.at("checksum").get<uint32_t>();
          } else {
            have[bucket] += op.at("checksum").get<uint32_t>();
          }
          if ((type == "PUT") != op.contains("data")) return "data field mismatch" + at;
          if ((type == "PUT" || type == "REMOVE") != op.contains("object_id")) {
            return "object_id field mismatch" + at;
          }
          // docs/protocol.md §3.3.2 op entries: the service always sends a string subkey, the
          // same for every op of a row (a 1.x JS client's keys depend on it).
          if (type == "PUT" || type == "REMOVE") {
            if (!op.contains("subkey") || !op.at("subkey").is_string()) return "no subkey" + at;
            const std::string row = op.at("object_type").get<std::string>() + "/" +
                                    op.at("object_id").get<std::string>();
            auto [it, fresh] = subkeys.try_emplace(row, op.at("subkey").get<std::string>());
            if (!fresh && it->second != op.at("subkey")) return "subkey changed for " + row + at;
          } else if (op.contains("subkey")) {
            return "subkey on a " + type + at;
          }
        }
        ops += v.at("data").size();
      } else if (k == "partial_checkpoint_complete" || k == "checkpoint_complete") {
        if (!current || completed) return "complete without a pending checkpoint" + at;
        if (v.at("last_op_id") != *current) return "last_op_id does not match (I8)" + at;
        std::optional<int> upto;
        if (k == "partial_checkpoint_complete") {
          const int p = v.at("priority");
          if (p <= last_partial) return "partial priorities not ascending" + at;
          last_partial = p;
          upto = p;
          ++partials;
        } else {
          completed = true;
          ++completes;
        }
        if (check_checksums) {
          for (const auto& [bucket, checksum] : target) {
            if (upto && priority.at(bucket) > *upto) continue;
            if (static_cast<int32_t>(have[bucket]) != checksum) {
              return "checksum mismatch for " + bucket + at;
            }
          }
        }
      } else if (k != "token_expires_in") {
        return "unknown line" + at;
      }
    }
    if (current && !completed) ++incomplete;
    return "";
  }

  uint64_t checkpoint_lines = 0, completes = 0, partials = 0, incomplete = 0, ops = 0;
  std::map<std::string, int32_t> target;  // the last announced bucket checksums
};

// The app through the service: uploads, checkpoint requests and Service::open_stream.
struct ServiceStreamWorld {
  explicit ServiceStreamWorld(model::ServiceConfig config)
      : svc(loop, trace, sim::Prng(11), std::move(config)) {
    svc.start();
  }
  ~ServiceStreamWorld() { loop.shutdown(); }

  sim::HttpResponse call(const std::string& path, const std::string& body) {
    sim::HttpRequest r;
    r.method = "POST";
    r.path = path;
    r.body = body;
    r.subject = "alice";
    sim::HttpResponse out{-1, ""};
    svc.handle(r, [&out](sim::HttpResponse response) { out = std::move(response); });
    // A route may answer a turn later (batched checkpoint requests): let it.
    for (int i = 0; i < 100 && out.status == -1; ++i) {
      loop.run_until(loop.now() + (i == 0 ? 0 : sim::kMillis));
    }
    return out;
  }
  void upload_todos(int n) {
    nlohmann::json crud = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
      crud.push_back(
          {{"op", "PUT"}, {"type", "todos"}, {"id", fmt::format("t{}", i)}, {"data", {{"i", i}}}});
    }
    const nlohmann::json body{{"client_id", "c1"}, {"crud", crud}};
    ASSERT_EQ(call("/backend/upload", body.dump()).status, 200);
  }
  void request_checkpoint(int64_t id) {
    const nlohmann::json body{{"client_id", "c1"}, {"checkpoint_request_id", id}};
    ASSERT_EQ(call("/sync/checkpoint-request", body.dump()).status, 200);
  }
  // `accept`: the request's Accept header (empty: none).
  std::shared_ptr<RecordingStream> open(bool bson, const std::string& accept = "") {
    auto stream = std::make_shared<RecordingStream>(loop, bson);
    sim::HttpRequest r;
    r.accept = accept;
    r.method = "POST";
    r.path = "/sync/stream";
    r.subject = "alice";
    r.body = nlohmann::json{{"client_id", "c1"}}.dump();
    EXPECT_EQ(svc.open_stream(r, stream).status, 200);
    return stream;
  }
  void run_until(sim::Micros t) {
    loop.run_until(t);
    ASSERT_FALSE(loop.stopped()) << loop.stop_reason().message;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  model::Service svc;
};

inline std::vector<std::string> names(const nlohmann::json& list) {
  std::vector<std::string> out;
  for (const auto& b : list)
    out.push_back(b.is_string() ? b.get<std::string>() : b.at("bucket").get<std::string>());
  return out;
}

using Briefs = std::vector<std::string>;

}  // namespace syncsim::test_support
