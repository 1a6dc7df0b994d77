// Sync streams with the real published JS SDK (issue 16, session js14): the app's
// subscribe/unsubscribe calls go through @powersync/common 2.3.0's own syncStream() API
// (engine/js/sdk_client.mjs stream()), validation accepts js-real with service.streams on
// 0.5.x and refuses it where the SDK has no such API, and `syncsim diff` keys address fleet
// groups (fleet[N].KEY).  The js-real runs skip (saying why) when node or the pinned SDK was
// not installed at configure time.  SYNCSIM_JS_REAL_STREAM_SEEDS: the last seed of the verdict
// check (quick 2, the long twin 5).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/js/js_host.hpp"
#include "scenarios/differential/differential.hpp"
#include "scenarios/format/overrides.hpp"
#include "tests/support/kept_js_hosts.hpp"
#include "tests/support/scenario_helpers.hpp"

#ifndef SYNCSIM_JS_REAL_STREAM_SEEDS
#define SYNCSIM_JS_REAL_STREAM_SEEDS 2
#endif

namespace syncsim::scenarios {
namespace {

using test_support::kept_hosts;

std::string catalog_path(const std::string& name) {
  return std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/" + name + ".json";
}

Scenario stream_churn(std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), "clients.sdk=js-real");
  return load_scenario_with_overrides(catalog_path("stream-churn"), sets, validation_context());
}

struct Traced {
  RunResult result;
  std::string trace;
};

Traced run_traced(const Scenario& s, uint64_t seed) {
  std::ostringstream trace;
  RunOptions o;
  o.seed = seed;
  o.trace_sink = &trace;
  o.keep_trace_lines = 30;
  o.js_processes = kept_hosts();
  Traced t{run_scenario(s, o), ""};
  t.trace = trace.str();
  return t;
}

// Lines of the trace matching `pattern`, by client ("c1").
std::map<std::string, int> count_by_client(const std::string& trace, const std::string& pattern) {
  std::map<std::string, int> out;
  const std::regex line("^\\d+ (c\\d+) " + pattern);
  std::istringstream in(trace);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) ++out[m[1]];
  }
  return out;
}

// update_subscriptions calls the SDK made between an iteration's `start` and its `connection
// established`, i.e. while its POST /sync/stream was in flight, by client.
std::map<std::string, int> updates_while_opening(const std::string& trace) {
  std::map<std::string, int> out;
  std::map<std::string, bool> opening;
  static const std::regex line(R"(^\d+ (c\d+) js control (\w+) )");
  std::istringstream in(trace);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_search(l, m, line)) continue;
    const std::string op = m[2];
    if (op == "start") opening[m[1]] = true;
    if (op == "connection" || op == "stop") opening[m[1]] = false;
    if (op == "update_subscriptions" && opening[m[1]]) ++out[m[1]];
  }
  return out;
}

// The trace's lines matching `pattern`, in order.
std::vector<std::string> lines_matching(const std::string& trace, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  std::istringstream in(trace);
  for (std::string l; std::getline(in, l);) {
    if (std::regex_search(l, re)) out.push_back(l);
  }
  return out;
}

std::string parse_error(const std::string& text) {
  try {
    parse_scenario_text(text, validation_context(), "t");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

class JsRealStreams : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = engine::js::js_real_unavailable("0.5.3")) {
      GTEST_SKIP() << "js-real unavailable: " << *why;
    }
  }
};

// The workload's churn reaches the core through the SDK: every client's SDK runs
// powersync_control('subscriptions') (rustSubscriptionsCommand) for its subscribes and
// unsubscribeAll()s, and while connected the SDK's updateSubscriptions injects
// update_subscriptions into the running iteration.  The service resolved requests naming
// parameterised subscriptions (stream-rows-covered checked rows of them).
TEST_F(JsRealStreams, StreamChurnSubscribesThroughTheSdk) {
  const auto t = run_traced(stream_churn(), 1);
  ASSERT_TRUE(t.result.passed && t.result.expectation_met) << test_support::describe(t.result);
  const auto subscribes = count_by_client(t.trace, "subscribe \\w+ .*\\(handle \\d+, js-real\\)");
  const auto commands = count_by_client(t.trace, "js control subscriptions ");
  const auto updates = count_by_client(t.trace, "js control update_subscriptions ");
  for (const char* c : {"c1", "c2", "c3"}) {
    EXPECT_GT(subscribes.count(c) ? subscribes.at(c) : 0, 0) << c;
    // One command per subscribe and per unsubscribeAll: at least as many as subscribes.
    EXPECT_GE(commands.count(c) ? commands.at(c) : 0, subscribes.count(c) ? subscribes.at(c) : 1)
        << c;
    EXPECT_GT(updates.count(c) ? updates.at(c) : 0, 0) << c;
  }
  EXPECT_GT(t.result.metrics.at("stream_subscribes"), 0u);
  EXPECT_GT(t.result.metrics.at("stream_releases"), 0u);
  EXPECT_GT(t.result.metrics.at("stream_rows_checked"), 0u);
  EXPECT_GT(t.result.metrics.at("streams_synced"), 0u);
  // No subscribe failed inside the SDK.
  EXPECT_EQ(t.trace.find("failed: "), std::string::npos);
  // The SDK serves injected events while the stream request is in flight: the first pull of
  // its injectable() opens the stream (AbstractStreamingSyncImplementation.js receiveSyncLines
  // openInner, stream_transform.js "Second priority: Dispatch injected events"), so a
  // subscription change during the open reaches the core before `connection established`
  // (seed 1: client 3 at 15 s).  The port waits for the response first (docs/sdk-diff.md,
  // "Session js14": the one first-divergence class of stream-churn).
  const auto early = updates_while_opening(t.trace);
  EXPECT_GT(early.count("c3") ? early.at("c3") : 0, 0);
  // A release and its unsubscribeAll() are app events of their own (engine/workload.cpp
  // run_stream_churn): the SDK serves the release's update_subscriptions before
  // unsubscribeAll's rustSubscriptionsCommand (seed 1: client 3 at 15 s; docs/sdk-diff.md
  // "Session js15").
  const auto at15 = lines_matching(t.trace,
                                   "^15000000 c3 (release|js control "
                                   "(update_subscriptions|subscriptions) |unsubscribe all)");
  ASSERT_GE(at15.size(), 3u);
  EXPECT_NE(at15[0].find("release inbox"), std::string::npos) << at15[0];
  EXPECT_NE(at15[1].find("js control update_subscriptions"), std::string::npos) << at15[1];
  EXPECT_NE(at15[2].find("unsubscribe all inbox"), std::string::npos) << at15[2];
}

#if SYNCSIM_JS_REAL_STREAM_SEEDS > 2  // 11 s: in js_real_streams_long_test (label long)
TEST_F(JsRealStreams, StreamChurnDoubleRunIsByteIdentical) {
  // The first 61 s: every fault (the storm at 60 s), navigation bursts at 15, 30 and 45 s.
  const Scenario s = stream_churn({"duration_s=61"});
  const auto a = run_traced(s, 3);
  const auto b = run_traced(s, 3);
  EXPECT_EQ(a.result.trace_hash, b.result.trace_hash);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_NE(run_traced(s, 4).result.trace_hash, a.result.trace_hash);
}

TEST_F(JsRealStreams, StreamChurnVerdictsPass) {
  const Scenario s = stream_churn();
  // Seed 1 passes in StreamChurnSubscribesThroughTheSdk.
  for (uint64_t seed = 2; seed <= SYNCSIM_JS_REAL_STREAM_SEEDS; ++seed) {
    RunOptions o;
    o.seed = seed;
    o.keep_trace_lines = 30;
    o.js_processes = kept_hosts();
    const auto r = run_scenario(s, o);
    EXPECT_TRUE(r.passed && r.expectation_met) << "seed " << seed << "\n"
                                               << test_support::describe(r);
  }
}
#endif

// The port's (shim's) trace of stream-churn at `seed`; the run must pass.  Callers wrap it in
// ASSERT_NO_FATAL_FAILURE.
void port_churn_trace(uint64_t seed, std::string& out) {
  std::ostringstream trace;
  RunOptions o;
  o.seed = seed;
  o.trace_sink = &trace;
  o.keep_trace_lines = 30;
  const auto r =
      run_scenario(load_scenario_file(catalog_path("stream-churn"), validation_context()), o);
  ASSERT_TRUE(r.passed) << test_support::describe(r);
  out = trace.str();
}

// The port serves injected events while its stream request is in flight, as the SDK does
// (the test above): at seed 1's burst (15 s) client 3's unsubscribeAll() restarts the
// iteration and the next step's subscribe() restarts the new one before its POST
// /sync/stream was answered -- two restarts at one instant.  Before, the port served the
// second only when the response came, 20 ms later (docs/sdk-diff.md "Session js14").
TEST(PortStreams, ServesASubscriptionChangeWhileItsStreamRequestIsInFlight) {
  std::string trace;
  ASSERT_NO_FATAL_FAILURE(port_churn_trace(1, trace));
  std::map<std::string, int> restarts;  // "<µs> <client>" -> restarts at that instant
  const std::regex line(R"(^(\d+) (c\d+) subscriptions changed: restarting the iteration)");
  std::istringstream in(trace);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) ++restarts[std::string(m[1]) + " " + std::string(m[2])];
  }
  EXPECT_EQ(restarts["15000000 c3"], 2);
}

// The port, too, serves a release's update_subscriptions before the unsubscribeAll() that
// follows it (the workload makes them app events of their own, as the js-real host delivers
// them): at seed 19 client 2 releases its last inbox handle at 76.98 s, the core restarts the
// iteration for the release, and again for the unsubscribe, as the SDK does.  Before, the
// port handed the core the unsubscribe first and restarted not at all (docs/sdk-diff.md
// "Session js15": stream-churn's last first-divergence class, seeds 15, 16, 19).
TEST(PortStreams, ServesAReleaseBeforeItsUnsubscribeAll) {
  std::string trace;
  ASSERT_NO_FATAL_FAILURE(port_churn_trace(19, trace));
  const auto at = lines_matching(
      trace,
      "^76975740 c2 (release|unsubscribe all|subscriptions changed: restarting the iteration)");
  ASSERT_EQ(at.size(), 4u) << ::testing::PrintToString(at);
  EXPECT_NE(at[0].find("release inbox|null"), std::string::npos) << at[0];
  EXPECT_NE(at[1].find("restarting the iteration"), std::string::npos) << at[1];
  EXPECT_NE(at[2].find("unsubscribe all inbox"), std::string::npos) << at[2];
  EXPECT_NE(at[3].find("restarting the iteration"), std::string::npos) << at[3];
}

// service.streams needs an SDK with the subscription API: js-real on 0.5.x (2.3.0) is
// accepted, js-real on 0.4.12 (1.54.0) and a 1.x sdk_package are refused, naming the field
// and what is allowed.
TEST(JsRealStreamsValidation, RefusedOnlyWhereTheSdkHasNoStreamsApi) {
  const std::string streams = R"("service":{"streams":[{"name":"x"}]})";
  EXPECT_EQ(
      parse_error(R"({"format":1,"clients":{"core":"0.5.3","sdk":"js-real"},)" + streams + "}"),
      "");
  const std::string old = parse_error(
      R"({"format":1,"clients":{"core":"0.4.12","checkpoint_mode":"legacy","sdk":"js-real"},)" +
      streams + "}");
  EXPECT_NE(old.find("service.streams"), std::string::npos) << old;
  EXPECT_NE(old.find("js-real on core 0.5.2+"), std::string::npos) << old;
  EXPECT_NE(old.find("core 0.4.12 runs as js-real (sdk-1.54.0)"), std::string::npos) << old;
  const std::string skew = parse_error(
      R"({"format":1,"clients":{"core":"0.5.3","checkpoint_mode":"legacy","sdk":"js-real",
          "sdk_package":"sdk-1.54.0","sdk_package_force":true},)" +
      streams + "}");
  EXPECT_NE(skew.find("runs as js-real (sdk-1.54.0)"), std::string::npos) << skew;
  const std::string legacy = parse_error(
      R"({"format":1,"clients":{"core":"0.4.12","checkpoint_mode":"legacy"},)" + streams + "}");
  EXPECT_NE(legacy.find("runs as js-legacy"), std::string::npos) << legacy;
}

// `syncsim diff` keys on a fleet: KEY=VALUE sets every group, fleet[N].KEY (or fleet.N.KEY)
// one group; a group the scenario lacks, or a group key on a scenario without a fleet, is bad
// input naming the key and what is allowed.
TEST(DiffFleetKeys, AddressOneGroupOrEvery) {
  const Scenario base = load_scenario_file(catalog_path("mixed-fleet"), validation_context());
  const auto ctx = validation_context();
  const Scenario one = configure_side(base, {"fleet[1].core=0.5.2"}, ctx, "--b");
  ASSERT_EQ(one.clients.fleet.size(), 3u);
  EXPECT_EQ(one.clients.fleet[0].core, "0.4.12");
  EXPECT_EQ(one.clients.fleet[1].core, "0.5.2");
  EXPECT_EQ(one.clients.fleet[2].core, "0.5.3");
  const Scenario dotted = configure_side(base, {"fleet.2.core=0.5.2"}, ctx, "--b");
  EXPECT_EQ(dotted.clients.fleet[1].core, "0.5.3");
  EXPECT_EQ(dotted.clients.fleet[2].core, "0.5.2");
  // A group key wins over a plain one, whatever the order.
  const Scenario both = configure_side(
      base, {"fleet[0].checkpoint_mode=legacy", "checkpoint_mode=requests", "fleet[0].core=0.5.3"},
      ctx, "--b");
  EXPECT_EQ(both.clients.fleet[0].checkpoint_mode, "legacy");
  EXPECT_EQ(both.clients.fleet[1].checkpoint_mode, "requests");
  EXPECT_EQ(settings_text(one),
            "fleet[0]: core=0.4.12 checkpoint_mode=legacy sdk=auto; fleet[1]: core=0.5.2 "
            "checkpoint_mode=legacy sdk=auto; fleet[2]: core=0.5.3 checkpoint_mode=requests "
            "sdk=auto");
  auto error = [&](const Scenario& s, const std::string& setting) {
    try {
      configure_side(s, {setting}, ctx, "--b");
    } catch (const DiffInputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error(base, "fleet[3].sdk=shim"),
            "--b: 'fleet[3].sdk=shim': no fleet group '3'; allowed: 0..2 (clients.fleet has 3 "
            "groups)");
  EXPECT_NE(error(base, "fleet[x].sdk=shim").find("no fleet group 'x'"), std::string::npos);
  EXPECT_NE(error(base, "fleet[1].flavour=x")
                .find("is not KEY=VALUE with KEY one of: core, checkpoint_mode, sdk (or "
                      "fleet[N].KEY=VALUE"),
            std::string::npos);
  // The validator judges the result and names the group's field.
  const std::string requests = error(base, "fleet[0].checkpoint_mode=requests");
  EXPECT_NE(requests.find("clients.fleet[0].checkpoint_mode"), std::string::npos) << requests;
  const Scenario plain = load_scenario_file(catalog_path("basic"), validation_context());
  EXPECT_EQ(error(plain, "fleet[0].sdk=shim"),
            "--b: 'fleet[0].sdk=shim' names a fleet group, but the scenario has no "
            "clients.fleet; use sdk=VALUE");
  EXPECT_EQ(error(base, "fleet[1].sdk=shim"), "");
  // One group's key given twice, in either spelling.
  std::string twice;
  try {
    configure_side(base, {"fleet[1].sdk=shim", "fleet.1.sdk=shim"}, ctx, "--b");
  } catch (const DiffInputError& e) {
    twice = e.what();
  }
  EXPECT_NE(twice.find("given twice"), std::string::npos) << twice;
}

// Every group of mixed-fleet can run js-real (1.54.0 on 0.4.12 legacy, 2.3.0 on 0.5.3).
TEST_F(JsRealStreams, DiffKeysPutEveryMixedFleetGroupOnJsReal) {
  const Scenario base = load_scenario_file(catalog_path("mixed-fleet"), validation_context());
  const Scenario b = configure_side(base, {"sdk=js-real"}, validation_context(), "--b");
  for (const auto& g : b.clients.fleet) EXPECT_EQ(g.sdk, "js-real");
  const Scenario one = configure_side(base, {"fleet[2].sdk=js-real"}, validation_context(), "--b");
  EXPECT_EQ(one.clients.fleet[0].sdk, "auto");
  EXPECT_EQ(one.clients.fleet[2].sdk, "js-real");
}

}  // namespace
}  // namespace syncsim::scenarios
