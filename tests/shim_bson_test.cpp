// Issue 16: the port asks for the sync stream's encoding as the SDK its core pairs with does
// and feeds lines to the core as that SDK does (docs/protocol.md §2.1.6 "Which SDKs ask for
// BSON"): BSON first and `line_binary` on 0.5.x (@powersync/common 2.3.0) and 0.4.12 (1.54.0);
// no accept, NDJSON and `line_text` on 0.4.11 (1.47.0) and 0.4.6 (1.43.1).  Counted from the
// powersync_control calls the port makes (the observer every checker sees) and from the model's
// own counters of what it served.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "scenarios/world/world.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

class LineOps : public engine::ClientObserver {
 public:
  void on_control(engine::Client&, const std::string& op, const std::optional<std::string>&,
                  const std::optional<std::string>& result) override {
    if (op == "line_text" || op == "line_binary") {
      ++calls[op];
      // The core applied something from these lines: they were not refused or ignored.
      if (result && result->find("DidCompleteSync") != std::string::npos) ++applied[op];
    }
  }
  std::map<std::string, int> calls;
  std::map<std::string, int> applied;
};

struct Ran {
  RunResult result;
  LineOps ops;
};

std::unique_ptr<Ran> run_on(const std::string& file, const std::string& core, uint64_t seed) {
  nlohmann::json j = test_support::catalog_json(file);
  j["clients"]["core"] = core;
  const Scenario s = test_support::load(j);
  auto out = std::make_unique<Ran>();
  RunOptions o;
  o.seed = seed;
  o.keep_trace_lines = 30;
  o.attach = [&out](World& w) { w.observers().add(&out->ops); };
  out->result = run_scenario(s, o);
  return out;
}

uint64_t metric(const RunResult& r, const char* name) {
  return r.metrics.count(name) ? r.metrics.at(name) : 0;
}

TEST(ShimBson, OnA05CoreThePortNegotiatesBsonAndCallsLineBinary) {
  for (const std::string core : {"0.5.3", "0.5.2"}) {
    const auto r = run_on("basic", core, 1);
    ASSERT_TRUE(r->result.passed) << core << test_support::describe(r->result);
    EXPECT_GT(r->ops.calls["line_binary"], 0) << core;
    EXPECT_GT(r->ops.applied["line_binary"], 0) << core << ": the core applied no BSON line";
    EXPECT_EQ(r->ops.calls["line_text"], 0) << core << ": a line went to the core as text";
    EXPECT_GT(metric(r->result, "streams_opened"), 0u);
    EXPECT_EQ(metric(r->result, "bson_streams"), metric(r->result, "streams_opened"))
        << core << ": a stream was served as NDJSON";
    // Every line the core got was one the model encoded (a cut stream may drop some).
    EXPECT_LE(static_cast<uint64_t>(r->ops.calls["line_binary"]), metric(r->result, "bson_lines"));
  }
}

TEST(ShimBson, On0412ThePortAsks1540sBsonFirstAccept) {
  const auto r = run_on("basic-legacy", "0.4.12", 1);
  ASSERT_TRUE(r->result.passed) << test_support::describe(r->result);
  EXPECT_GT(r->ops.applied["line_binary"], 0);
  EXPECT_EQ(r->ops.calls["line_text"], 0);
  EXPECT_EQ(metric(r->result, "bson_streams"), metric(r->result, "streams_opened"));
}

TEST(ShimBson, On0411And046ThePortSendsNoAcceptAndCallsLineText) {
  for (const std::string core : {"0.4.11", "0.4.6"}) {
    const auto r = run_on("basic-legacy", core, 1);
    ASSERT_TRUE(r->result.passed) << core << test_support::describe(r->result);
    EXPECT_GT(r->ops.applied["line_text"], 0) << core;
    EXPECT_EQ(r->ops.calls["line_binary"], 0) << core;
    EXPECT_EQ(metric(r->result, "bson_streams"), 0u) << core << ": the port asked for BSON";
  }
}

// A graceful close (restart) cancels the open stream's reader: the SDK's line source ends, so
// the core gets `connection end` before `stop` (docs/protocol.md §2.1.9; the published 2.3.0 and
// 1.54.0 do so in js-real traces).  Before, the port went straight to `stop`; on 0.4.12 that
// made a disconnected status the SDK never shows (docs/sdk-diff.md, the upgrade row).
class CallsAt : public engine::ClientObserver {
 public:
  explicit CallsAt(const sim::VirtualClock& clock) : clock_(clock) {}
  void on_control(engine::Client& c, const std::string& op, const std::optional<std::string>& p,
                  const std::optional<std::string>&) override {
    if (c.index() == 1) calls.push_back({clock_.elapsed(), op + " " + p.value_or("")});
  }
  std::vector<std::pair<sim::Micros, std::string>> calls;

 private:
  const sim::VirtualClock& clock_;
};

TEST(ShimClose, ARestartEndsTheOpenStreamWithConnectionEndBeforeStop) {
  for (const std::string core : {"0.5.3", "0.4.12"}) {
    nlohmann::json j = test_support::catalog_json("restart");
    j["clients"]["core"] = core;
    if (core == "0.4.12") j["clients"]["checkpoint_mode"] = "legacy";
    std::unique_ptr<CallsAt> calls;
    RunOptions o;
    o.seed = 1;
    o.attach = [&calls](World& w) {
      calls = std::make_unique<CallsAt>(w.loop().clock());
      w.observers().add(calls.get());
    };
    const RunResult r = run_scenario(test_support::load(j), o);
    ASSERT_TRUE(r.passed) << core << test_support::describe(r);
    ASSERT_TRUE(calls);
    // c1 restarts at 10 s (scenarios/catalog/restart.json) with its stream open.
    std::vector<std::string> at_fault;
    for (const auto& [t, call] : calls->calls) {
      if (t == 10 * sim::kSeconds) at_fault.push_back(call);
    }
    ASSERT_GE(at_fault.size(), 2u) << core;
    EXPECT_EQ(at_fault[at_fault.size() - 2], "connection end") << core;
    EXPECT_EQ(at_fault.back(), "stop ") << core;
  }
}

}  // namespace
}  // namespace syncsim::scenarios
