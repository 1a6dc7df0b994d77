// Protocol-event triggers of faults (scenario `on`, scenarios/explore/fault_triggers.hpp): the
// loader, each event firing its fault at the right protocol moment, nth, any client,
// every fault kind, and triggers that never fire.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/runner.hpp"
#include "scenarios/world/world.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::load;
using test_support::problems_of;

json base_scenario() {
  return json::parse(R"({
    "format": 1, "name": "triggers", "duration_s": 12,
    "clients": {"count": 2},
    "workload": {"write_interval_min_ms": 300, "write_interval_max_ms": 800},
    "faults": []
  })");
}

json with_fault(json fault) {
  json j = base_scenario();
  j["faults"].push_back(std::move(fault));
  return j;
}

TEST(TriggerFormat, LoadsAndRoundTrips) {
  const Scenario s = load(with_fault(json::parse(
      R"({"at_ms": 2000, "kind": "disconnect", "client": 2,
          "on": {"event": "upload_in_flight", "client": 1, "nth": 3}})")));
  ASSERT_EQ(s.faults.size(), 1u);
  ASSERT_TRUE(s.faults[0].on.has_value());
  EXPECT_EQ(s.faults[0].on->event, "upload_in_flight");
  EXPECT_EQ(s.faults[0].on->client, 1);
  EXPECT_EQ(s.faults[0].on->nth, 3);
  EXPECT_EQ(load(to_json(s)), s);
  // Defaults: any client, first occurrence; null client is the same as absent.
  const Scenario any = load(with_fault(json::parse(
      R"({"at_ms": 0, "kind": "compact", "on": {"event": "checkpoint_applied", "client": null}})")));
  EXPECT_EQ(any.faults[0].on->client, 0);
  EXPECT_EQ(any.faults[0].on->nth, 1);
  EXPECT_TRUE(to_json(any)["faults"][0]["on"]["client"].is_null());
  EXPECT_EQ(load(to_json(any)), any);
  // Faults without a trigger keep the old full form (no "on").
  const Scenario plain = load(with_fault(json::parse(R"({"at_ms": 0, "kind": "compact"})")));
  EXPECT_FALSE(to_json(plain)["faults"][0].contains("on"));
}

TEST(TriggerFormat, RejectsWithFieldValueAndAllowed) {
  auto fault_with_on = [](const char* on) {
    json f = json::parse(R"({"at_ms": 1000, "kind": "disconnect", "client": 1})");
    f["on"] = json::parse(on);
    return with_fault(f);
  };
  std::string e = problems_of(fault_with_on(R"({"event": "teleport"})"));
  EXPECT_NE(e.find("faults[0].on.event: \"teleport\" is not allowed; allowed: upload_in_flight, "
                   "mapping_stored, checkpoint_blocked, request_posted, checkpoint_applied"),
            std::string::npos)
      << e;
  e = problems_of(fault_with_on(R"({"client": 1})"));
  EXPECT_NE(e.find("missing required field `faults[0].on.event`"), std::string::npos) << e;
  e = problems_of(fault_with_on(R"({"event": "request_posted", "client": 3})"));
  EXPECT_NE(e.find("faults[0].on.client: 3 is out of range; allowed: 1..2 (clients.count"),
            std::string::npos)
      << e;
  e = problems_of(fault_with_on(R"({"event": "request_posted", "nth": 0})"));
  EXPECT_NE(e.find("faults[0].on.nth: 0 is out of range; allowed: 1..1000"), std::string::npos)
      << e;
  e = problems_of(fault_with_on(R"({"event": "request_posted", "at": 5})"));
  EXPECT_NE(e.find("unknown field `faults[0].on.at`; allowed: event, client, nth"),
            std::string::npos)
      << e;
  e = problems_of(fault_with_on(R"("upload_in_flight")"));
  EXPECT_NE(e.find("faults[0].on: \"upload_in_flight\" must be an object"), std::string::npos) << e;
  // `when` is a trigger of its own: not both.
  e = problems_of(with_fault(json::parse(
      R"({"at_ms": 0, "kind": "kill", "client": 1, "when": "mid_upload",
          "on": {"event": "upload_in_flight"}})")));
  EXPECT_NE(e.find("faults[0].when: \"mid_upload\" cannot be combined with `on`"),
            std::string::npos)
      << e;
  // ... but when "now" with a trigger is fine.
  EXPECT_EQ(problems_of(with_fault(json::parse(
                R"({"at_ms": 0, "kind": "kill", "client": 1, "when": "now",
                    "on": {"event": "upload_in_flight"}})"))),
            "");
}

// One trace line: microseconds since the start, and the rest.
struct Line {
  int64_t at_us;
  std::string text;
};

std::vector<Line> lines_of(const std::string& trace) {
  std::vector<Line> out;
  std::istringstream in(trace);
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    out.push_back({std::stoll(line.substr(0, space)), line.substr(space + 1)});
  }
  return out;
}

// What the test sees at the client observer hooks, with times (µs since the start).
class EventLog : public engine::ClientObserver {
 public:
  struct Event {
    int64_t at_us;
    std::string event;
    int client;
  };
  void attach(World& w) {
    loop_ = &w.loop();
    w.observers().add(this);
  }
  void on_upload_sent(engine::Client& c) override { add("upload_in_flight", c); }
  void on_checkpoint_request_sent(engine::Client& c) override { add("request_posted", c); }
  void on_checkpoint_blocked(engine::Client& c) override { add("checkpoint_blocked", c); }
  void on_sync_applied(engine::Client& c, std::optional<int64_t>) override {
    add("checkpoint_applied", c);
  }
  void on_uploaded(engine::Client& c, const json&) override { add("uploaded", c); }
  // The times of `event` of `client` at or after `from_us`.
  [[nodiscard]] std::vector<int64_t> times(const std::string& event, int client,
                                           int64_t from_us) const {
    std::vector<int64_t> out;
    for (const auto& e : events_) {
      if (e.event == event && e.client == client && e.at_us >= from_us) out.push_back(e.at_us);
    }
    return out;
  }

 private:
  void add(const std::string& event, engine::Client& c) {
    events_.push_back({loop_->now() - sim::kEpoch, event, c.index()});
  }
  sim::Loop* loop_ = nullptr;
  std::vector<Event> events_;
};

struct TracedRun {
  RunResult result;
  std::vector<Line> lines;
};

TracedRun run_traced(const Scenario& s, EventLog* log, uint64_t seed = 1) {
  std::ostringstream trace;
  RunOptions o;
  o.seed = seed;
  o.trace_sink = &trace;
  if (log) o.attach = [log](World& w) { log->attach(w); };
  TracedRun r{run_scenario(s, o), {}};
  r.lines = lines_of(trace.str());
  return r;
}

std::vector<Line> matching(const std::vector<Line>& lines, const std::string& text) {
  std::vector<Line> out;
  for (const auto& l : lines) {
    if (l.text.find(text) != std::string::npos) out.push_back(l);
  }
  return out;
}

constexpr int64_t kArmAtUs = 3000 * 1000;

Scenario disconnect_on(const std::string& event, int nth = 1) {
  json f = {{"at_ms", 3000},
            {"kind", "disconnect"},
            {"client", 1},
            {"on", {{"event", event}, {"client", 1}, {"nth", nth}}}};
  return load(with_fault(f));
}

// The fault's trace line: exactly one, naming the event.
Line fault_line(const TracedRun& r, const std::string& event) {
  const auto found = matching(r.lines, "fault disconnect client 1 (on " + event + " of client 1)");
  EXPECT_EQ(found.size(), 1u) << event;
  return found.empty() ? Line{-1, ""} : found.front();
}

TEST(TriggerFires, ClientEventsAtTheirFirstOccurrenceAfterArming) {
  for (const char* name :
       {"upload_in_flight", "checkpoint_blocked", "request_posted", "checkpoint_applied"}) {
    const std::string event = name;
    SCOPED_TRACE(event);
    EventLog log;
    const auto r = run_traced(disconnect_on(event), &log);
    EXPECT_TRUE(r.result.passed) << r.result.stop.message;
    EXPECT_TRUE(r.result.faults_unfired.empty());
    EXPECT_EQ(
        matching(r.lines, "fault disconnect client 1 armed: fires on " + event + " of client 1")
            .at(0)
            .at_us,
        kArmAtUs);
    const auto occurrences = log.times(event, 1, kArmAtUs);
    ASSERT_FALSE(occurrences.empty());
    EXPECT_EQ(fault_line(r, event).at_us, occurrences.front());
  }
}

TEST(TriggerFires, DisconnectOnUploadInFlightCutsTheStreamWhileTheUploadIsOnTheWire) {
  EventLog log;
  const auto r = run_traced(disconnect_on("upload_in_flight"), &log);
  const Line fault = fault_line(r, "upload_in_flight");
  // The upload sent at that instant completes only later: it was in flight when the cut came.
  const auto done = log.times("uploaded", 1, fault.at_us);
  ASSERT_FALSE(done.empty());
  EXPECT_GT(done.front(), fault.at_us);
  EXPECT_EQ(log.times("upload_in_flight", 1, kArmAtUs).front(), fault.at_us);
  // The cut reached the client's sync stream right away (the SDK reconnects).
  bool cut_seen = false;
  for (const auto& l : r.lines) {
    if (l.at_us >= fault.at_us && l.at_us < done.front() && l.text.starts_with("c1 ") &&
        l.text.find("stream") != std::string::npos) {
      cut_seen = true;
    }
  }
  EXPECT_TRUE(cut_seen);
}

TEST(TriggerFires, MappingStoredRightAfterTheServiceStoredTheClientsMapping) {
  const auto r = run_traced(disconnect_on("mapping_stored"), nullptr);
  const Line fault = fault_line(r, "mapping_stored");
  // The batch's storage write is traced in that same instant, before the fault ...
  std::optional<Line> batch, answer;
  for (const auto& l : r.lines) {
    if (l.text == fault.text) break;
    if (l.text.starts_with("svc batch of ")) batch = l;
  }
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->at_us, fault.at_us);
  // ... and the first answer to client 1 after arming follows (after the marker step, at most
  // service.batch_latency_max_ms = 20 ms later): the mapping was stored for u1's request.
  for (const auto& l : r.lines) {
    if (l.at_us >= kArmAtUs && l.text.starts_with("svc request u1/")) {
      answer = l;
      break;
    }
  }
  ASSERT_TRUE(answer.has_value());
  EXPECT_GE(answer->at_us, fault.at_us);
  EXPECT_LE(answer->at_us, fault.at_us + 20 * 1000);
}

TEST(TriggerFires, OnTheNthOccurrence) {
  EventLog log;
  const auto r = run_traced(disconnect_on("checkpoint_applied", 3), &log);
  const auto found =
      matching(r.lines, "fault disconnect client 1 (on checkpoint_applied #3 of client 1)");
  ASSERT_EQ(found.size(), 1u);
  const auto applied = log.times("checkpoint_applied", 1, kArmAtUs);
  ASSERT_GE(applied.size(), 3u);
  EXPECT_EQ(found[0].at_us, applied[2]);
  EXPECT_NE(found[0].at_us, applied[0]);
}

TEST(TriggerFires, AnyClientNamesTheClientWhoseEventItWas) {
  json f = json::parse(R"({"at_ms": 3000, "kind": "compact", "on": {"event": "request_posted"}})");
  EventLog log;
  const auto r = run_traced(load(with_fault(f)), &log);
  const auto found = matching(r.lines, "fault compact job (on request_posted of client ");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].text.find(", any client)"), std::string::npos);
  const auto c1 = log.times("request_posted", 1, kArmAtUs);
  const auto c2 = log.times("request_posted", 2, kArmAtUs);
  int64_t first = c1.empty() ? c2.front() : c1.front();
  if (!c2.empty()) first = std::min(first, c2.front());
  EXPECT_EQ(found[0].at_us, first);
}

TEST(TriggerFires, EveryFaultKindCanBeTriggered) {
  json j = base_scenario();
  j["duration_s"] = 30;
  const char* faults[] = {
      R"({"kind": "lag", "lag_ms": 1000, "duration_ms": 500})",
      R"({"kind": "stall", "duration_ms": 500})",
      R"({"kind": "disconnect", "client": 1})",
      R"({"kind": "storm"})",
      R"({"kind": "request_lost", "client": 2, "lost": "response"})",
      R"({"kind": "delete_request", "client": 2})",
      R"({"kind": "compact"})",
      R"({"kind": "service_restart", "down_ms": 300})",
      R"({"kind": "sync_config_change"})",
      R"({"kind": "restart", "client": 2, "down_ms": 300})",
      R"({"kind": "kill", "client": 2, "down_ms": 300})",
      R"({"kind": "power_loss", "client": 2, "down_ms": 300})",
      R"({"kind": "switch_user", "client": 2, "down_ms": 300})",
      R"({"kind": "switch_mode", "client": 2, "down_ms": 300})",
      R"({"kind": "upgrade", "client": 1, "core": "0.5.3", "down_ms": 300})",
      R"({"kind": "disconnect_client", "client": 1, "down_ms": 300})",
      R"({"kind": "disconnect_and_clear", "client": 1, "down_ms": 300})",
  };
  // Spaced out so that each finds its app up; all wait for client 1's applied checkpoints.
  int64_t at = 1000;
  for (const char* text : faults) {
    json f = json::parse(text);
    f["at_ms"] = at;
    f["on"] = {{"event", "checkpoint_applied"}, {"client", 1}};
    j["faults"].push_back(f);
    at += 1500;
  }
  j["clients"]["core"] = "0.5.2";  // so that upgrade has another core to go to
  const auto r = run_traced(load(j), nullptr);
  EXPECT_TRUE(r.result.faults_unfired.empty());
  EXPECT_EQ(r.result.faults_triggered, std::size(faults));
  EXPECT_EQ(matching(r.lines, " (on checkpoint_applied of client 1)").size(), std::size(faults));
}

TEST(TriggerUnfired, ListedInTheTraceAndTheResult) {
  json f = json::parse(
      R"({"at_ms": 2000, "kind": "disconnect", "client": 2,
          "on": {"event": "checkpoint_applied", "client": 1, "nth": 1000}})");
  const auto r = run_traced(load(with_fault(f)), nullptr);
  ASSERT_EQ(r.result.faults_unfired.size(), 1u);
  EXPECT_NE(r.result.faults_unfired[0].find("disconnect client 2 @2000ms on checkpoint_applied "
                                            "#1000 of client 1 (seen "),
            std::string::npos)
      << r.result.faults_unfired[0];
  const auto never = matching(r.lines, "fault never fired: disconnect client 2");
  ASSERT_EQ(never.size(), 1u);
  EXPECT_EQ(never[0].at_us, 12 * 1000 * 1000);  // at quiesce
  EXPECT_TRUE(matching(r.lines, "fault disconnect client 2 (on").empty());
  const json j = result_json(r.result, "repro");
  ASSERT_TRUE(j.contains("faults_unfired"));
  EXPECT_EQ(j["faults_unfired"].size(), 1u);
  // A kill `when` moment is a trigger too: armed in the last millisecond, it is never reached.
  const auto late = run_traced(
      load(with_fault(json::parse(
          R"({"at_ms": 11999, "kind": "kill", "client": 1, "when": "mid_transaction"})"))),
      nullptr);
  EXPECT_EQ(late.result.faults_triggered, 1u);
  ASSERT_EQ(late.result.faults_unfired.size(), 1u);
  EXPECT_EQ(late.result.faults_unfired[0], "kill client 1 @11999ms when mid_transaction");
  EXPECT_EQ(matching(late.lines, "fault never fired: kill client 1 @11999ms").size(), 1u);
  // A run without triggers keeps its results document as before.
  const auto plain = run_traced(load(base_scenario()), nullptr);
  EXPECT_FALSE(result_json(plain.result, "repro").contains("faults_unfired"));
}

}  // namespace
}  // namespace syncsim::scenarios
