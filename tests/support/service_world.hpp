// Test support (tests/support/): one model Service in its own sim::Loop, for the tests that
// drive the service's routes directly (custom checkpoints, service topology).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "model/service.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"
#include "tests/support/capturing_stream.hpp"

namespace syncsim::test_support {

// The backend's upload of one todo row `t<i>` by client c1 of `user`.
inline sim::HttpRequest upload_request(const std::string& user, int i) {
  using nlohmann::json;
  return sim::HttpRequest{"POST", "/backend/upload",
                          json{{"client_id", "c1"},
                               {"crud", json::array({{{"op", "PUT"},
                                                      {"type", "todos"},
                                                      {"id", "t" + std::to_string(i)},
                                                      {"data", {{"i", i}}}}})}}
                              .dump(),
                          user};
}

// A started service; the loop is shut down before the service goes.
struct ServiceWorld {
  ServiceWorld(model::ServiceConfig config, uint64_t seed)
      : svc(loop, trace, sim::Prng(seed), std::move(config)) {
    svc.start();
  }
  ~ServiceWorld() { loop.shutdown(); }
  ServiceWorld(const ServiceWorld&) = delete;
  ServiceWorld& operator=(const ServiceWorld&) = delete;

  // Opens a sync stream of client c1 of `user`; the HTTP status goes to `status` if given.
  std::shared_ptr<CapturingStream> open(const std::string& user, int* status = nullptr) {
    auto stream = std::make_shared<CapturingStream>();
    sim::HttpRequest r{"POST", "/sync/stream", nlohmann::json{{"client_id", "c1"}}.dump(), user};
    const int s = svc.open_stream(r, stream).status;
    if (status) *status = s;
    return stream;
  }

  // Runs the loop for `d`; the run must not have stopped.
  void run_for(sim::Micros d) {
    loop.run_until(loop.now() + d);
    ASSERT_FALSE(loop.stopped()) << loop.stop_reason().message;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  model::Service svc;
};

}  // namespace syncsim::test_support
