// Test support (tests/support/): what the model service's unit tests share (model_*_test.cpp):
// supplied requests and records of the checkpoint store, a service reached through handle(),
// and a waiter on bucket storage's checkpoints.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/sync.hpp"
#include "sim/trace.hpp"

namespace syncsim::test_support {

inline constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();

// One supplied request as its own batch (the tests of the transitions of docs/protocol.md §0.1).
struct SupplyResult {
  int64_t stored_id = 0;
  bool should_advance = false;
};
inline SupplyResult supply(model::CheckpointStore& store, const std::string& key, int64_t r,
                           model::Lsn head, sim::Micros now) {
  model::BatchWrite w = store.create_managed({model::ManagedEntry{key, r}}, head, now);
  return {w.ids.at(key), w.should_advance};
}

// The first (for postgres: the only) record of a key, or nullptr.
inline const model::CheckpointRecord* first(const model::CheckpointStore& store,
                                            const std::string& key) {
  const auto* docs = store.find(key);
  return docs && !docs->empty() ? &docs->front() : nullptr;
}

// Batches take no time here unless a test says so, so timestamps are exact.
inline model::ServiceConfig instant(model::ServiceConfig c = {}) {
  c.batch_latency_max = 0;
  return c;
}

// The service, reached through handle().
struct ServiceWorld {
  explicit ServiceWorld(model::ServiceConfig config = instant())
      : svc(loop, trace, sim::Prng(1), std::move(config)) {}
  ~ServiceWorld() { loop.shutdown(); }

  sim::HttpResponse call(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& subject = "alice") {
    sim::HttpRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.subject = subject;
    std::optional<sim::HttpResponse> out;
    int calls = 0;
    svc.handle(request, [&](sim::HttpResponse r) {
      ++calls;
      out = std::move(r);
    });
    // Managed checkpoint routes answer once their batch ran (one turn later).
    for (int i = 0; i < 100 && calls == 0; ++i) loop.run_until(loop.now() + sim::kMillis);
    EXPECT_EQ(calls, 1) << "respond must be called exactly once";
    return out.value_or(sim::HttpResponse{-1, ""});
  }
  sim::HttpResponse checkpoint_request(const std::string& body,
                                       const std::string& subject = "alice") {
    return call("POST", "/sync/checkpoint-request", body, subject);
  }
  sim::HttpResponse upload(const std::string& user, const nlohmann::json& crud) {
    const nlohmann::json body{{"client_id", user + "-client"}, {"crud", crud}};
    return call("POST", "/backend/upload", body.dump(), user);
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  model::Service svc;
};

// Records (time, latest checkpoint) each time `storage` creates a checkpoint, `n` times.
inline sim::Task<void> wait_checkpoints(
    sim::Loop* loop, model::BucketStorage* storage, int n,
    std::vector<std::pair<sim::Micros, model::StorageCheckpoint>>* out) {
  for (int i = 0; i < n; ++i) {
    const std::optional<sim::Micros> none;
    co_await sim::wait_for(*loop, none, &storage->checkpoint_created());
    out->emplace_back(loop->now(), storage->latest());
  }
}

}  // namespace syncsim::test_support
