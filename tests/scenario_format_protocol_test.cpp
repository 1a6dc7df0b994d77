// Unit tests of the scenario format's checkpoint-protocol knobs and fault kinds added to format 1,
// and the service topology fields (docs/scenarios.md): accepted, defaulted, bounded, rejected on
// other kinds, and round-tripped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "scenarios/format/scenario.hpp"
#include "tests/support/scenario_format_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::Ctx;
using test_support::ErrorOf;
using test_support::WithFormat;

// The single fault of `fault_json` (the body of one fault object).
Fault OnlyFault(const std::string& fault_json) {
  const Scenario s =
      parse_scenario_text(WithFormat(R"("faults": [{)" + fault_json + "}]"), Ctx(), "t");
  EXPECT_EQ(s.faults.size(), 1u);
  return s.faults.empty() ? Fault{} : s.faults[0];
}

TEST(ScenarioFormat, NewClientAndServiceFieldsAccepted) {
  const Scenario s = parse_scenario_text(WithFormat(R"(
      "clients": {"checkpoint_mode": "legacy", "stream_encoding": "bson"},
      "service": {"write_checkpoint_mode": "custom", "checkpoint_request_retention_minutes": 5,
                  "compact_interval_s": 300, "batch_latency_max_ms": 0,
                  "todos_priority": 0, "notes_priority": 2})"),
                                         Ctx(), "t");
  EXPECT_EQ(s.clients.checkpoint_mode, "legacy");
  EXPECT_EQ(s.clients.stream_encoding, "bson");
  EXPECT_EQ(s.service.write_checkpoint_mode, "custom");
  EXPECT_EQ(s.service.checkpoint_request_retention_minutes, 5);
  EXPECT_EQ(s.service.compact_interval_s, 300);
  EXPECT_EQ(s.service.batch_latency_max_ms, 0);
  EXPECT_EQ(s.service.todos_priority, 0);
  EXPECT_EQ(s.service.notes_priority, 2);
  // The explicit default values parse to the same as leaving them out.
  EXPECT_EQ(parse_scenario_text(WithFormat(R"(
      "clients": {"checkpoint_mode": "requests", "stream_encoding": "json"},
      "service": {"write_checkpoint_mode": "managed", "checkpoint_request_retention_minutes": 60,
                  "compact_interval_s": 0, "batch_latency_max_ms": 20,
                  "todos_priority": 3, "notes_priority": 3})"),
                                Ctx(), "t"),
            parse_scenario_text(R"({"format": 1})", Ctx(), "t"));
}

TEST(ScenarioFormat, NewFaultKindsTakeTheirDefaults) {
  const Fault lag = OnlyFault(R"("at_ms": 5, "kind": "lag", "lag_ms": 700)");
  EXPECT_EQ(lag, (Fault{5, FaultKind::Lag, 700, 0}));
  EXPECT_FALSE(lag.duration_ms.has_value());

  const Fault stall = OnlyFault(R"("at_ms": 5, "kind": "stall")");
  EXPECT_EQ(stall.kind, FaultKind::Stall);
  EXPECT_FALSE(stall.duration_ms.has_value());

  const Fault storm = OnlyFault(R"("at_ms": 5, "kind": "storm")");
  EXPECT_EQ(storm.kind, FaultKind::Storm);
  EXPECT_EQ(storm.fraction_pct, 100);

  const Fault lost = OnlyFault(R"("at_ms": 5, "kind": "request_lost", "client": 2,
                                  "lost": "response")");
  EXPECT_EQ(lost.kind, FaultKind::RequestLost);
  EXPECT_EQ(lost.client, 2);
  EXPECT_EQ(lost.lost, "response");
  EXPECT_EQ(lost.route, "checkpoint");
  EXPECT_EQ(lost.count, 1);

  const Fault del = OnlyFault(R"("at_ms": 5, "kind": "delete_request", "client": 3)");
  EXPECT_EQ(del.kind, FaultKind::DeleteRequest);
  EXPECT_EQ(del.client, 3);

  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "compact")").kind, FaultKind::Compact);

  const Fault restart = OnlyFault(R"("at_ms": 5, "kind": "service_restart")");
  EXPECT_EQ(restart.kind, FaultKind::ServiceRestart);
  EXPECT_EQ(restart.down_ms, 1000);

  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "sync_config_change")").kind,
            FaultKind::SyncConfigChange);

  // Every member a kind does not take keeps its default, so parsed faults compare cleanly.
  Fault expected;
  expected.at_ms = 5;
  expected.kind = FaultKind::Compact;
  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "compact")"), expected);
}

TEST(ScenarioFormat, NewFaultFieldsAccepted) {
  EXPECT_EQ(
      OnlyFault(R"("at_ms": 5, "kind": "lag", "lag_ms": 700, "duration_ms": 2000)").duration_ms,
      2000);
  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "stall", "duration_ms": 30000)").duration_ms, 30000);
  // null is the same as absent (to_json writes it that way).
  EXPECT_FALSE(
      OnlyFault(R"("at_ms": 5, "kind": "stall", "duration_ms": null)").duration_ms.has_value());
  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "storm", "fraction_pct": 40)").fraction_pct, 40);
  const Fault lost = OnlyFault(R"("at_ms": 5, "kind": "request_lost", "client": 1,
                                  "lost": "request", "route": "upload", "count": 7)");
  EXPECT_EQ(lost.lost, "request");
  EXPECT_EQ(lost.route, "upload");
  EXPECT_EQ(lost.count, 7);
  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "request_lost", "client": 1, "lost": "request",
                         "route": "any")")
                .route,
            "any");
  EXPECT_EQ(OnlyFault(R"("at_ms": 5, "kind": "service_restart", "down_ms": 0)").down_ms, 0);
}

// One integer field with its inclusive bounds; `make(v)` is the body of a scenario using v.
struct Bounded {
  std::string path;
  int64_t lo;
  int64_t hi;
  std::string allowed;  // the "allowed: ..." text of the error
  std::string (*make)(int64_t);
};

std::string N(int64_t v) { return std::to_string(v); }

TEST(ScenarioFormat, RangeBoundariesOfNewFields) {
  const std::vector<Bounded> fields = {
      {"service.checkpoint_request_retention_minutes", 1, 525600, "1..525600",
       [](int64_t v) {
         return R"("service": {"checkpoint_request_retention_minutes": )" + N(v) + "}";
       }},
      {"service.compact_interval_s", 0, 86400, "0..86400 (0 = no scheduled compact job)",
       [](int64_t v) { return R"("service": {"compact_interval_s": )" + N(v) + "}"; }},
      {"service.batch_latency_max_ms", 0, 60000, "0..60000",
       [](int64_t v) { return R"("service": {"batch_latency_max_ms": )" + N(v) + "}"; }},
      {"service.todos_priority", 0, 3, "0..3 (lower number = higher priority)",
       [](int64_t v) { return R"("service": {"todos_priority": )" + N(v) + "}"; }},
      {"service.notes_priority", 0, 3, "0..3 (lower number = higher priority)",
       [](int64_t v) { return R"("service": {"notes_priority": )" + N(v) + "}"; }},
      {"faults[0].duration_ms", 1, 86400000, "1..86400000 (or null: until the quiesce phase)",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "lag", "lag_ms": 1, "duration_ms": )" + N(v) +
                "}]";
       }},
      {"faults[0].duration_ms", 1, 86400000, "1..86400000 (or null: until the quiesce phase)",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "stall", "duration_ms": )" + N(v) + "}]";
       }},
      {"faults[0].fraction_pct", 1, 100, "1..100",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "storm", "fraction_pct": )" + N(v) + "}]";
       }},
      {"faults[0].client", 1, 3, "1..3 (clients.count)",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "request_lost", "lost": "request", "client": )" +
                N(v) + "}]";
       }},
      {"faults[0].count", 1, 1000, "1..1000",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "request_lost", "lost": "request",
                               "client": 1, "count": )" +
                N(v) + "}]";
       }},
      {"faults[0].client", 1, 3, "1..3 (clients.count)",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "delete_request", "client": )" + N(v) + "}]";
       }},
      {"faults[0].down_ms", 0, 600000, "0..600000",
       [](int64_t v) {
         return R"("faults": [{"at_ms": 0, "kind": "service_restart", "down_ms": )" + N(v) + "}]";
       }},
  };
  for (const Bounded& b : fields) {
    SCOPED_TRACE(b.make(b.lo));
    EXPECT_NO_THROW(parse_scenario_text(WithFormat(b.make(b.lo)), Ctx(), "t"));
    EXPECT_NO_THROW(parse_scenario_text(WithFormat(b.make(b.hi)), Ctx(), "t"));
    for (const int64_t bad : {b.lo - 1, b.hi + 1}) {
      EXPECT_STREQ(ErrorOf(WithFormat(b.make(bad))).what(),
                   ("t.json: " + b.path + ": " + N(bad) + " is out of range; allowed: " + b.allowed)
                       .c_str());
    }
  }
}

TEST(ScenarioFormat, NewFaultFieldErrorsNameFieldValueAndAllowed) {
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "request_lost", "client": 1}])"))
          .what(),
      "t.json: missing required field `faults[0].lost`; allowed: request, response");
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "request_lost", "lost": "both"}])"))
          .what(),
      "t.json: missing required field `faults[0].client`; allowed: 1..3 (clients.count)\n"
      "t.json: faults[0].lost: \"both\" is not allowed; allowed: request, response");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "request_lost", "client": 1,
                                                "lost": "request", "route": "stream"}])"))
                   .what(),
               "t.json: faults[0].route: \"stream\" is not allowed; allowed: checkpoint, upload, "
               "any");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "delete_request"}])")).what(),
               "t.json: missing required field `faults[0].client`; allowed: 1..3 (clients.count)");
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "stall", "duration_ms": "5s"}])"))
          .what(),
      "t.json: faults[0].duration_ms: \"5s\" must be an integer; allowed: 1..86400000 (or null: "
      "until the quiesce phase)");
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "storm", "fraction_pct": 0.5}])"))
          .what(),
      "t.json: faults[0].fraction_pct: 0.5 must be an integer; allowed: 1..100");
  // Without a valid kind every field any kind takes is still checked.
  const auto e = ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "outage", "down_ms": -1,
                                                   "lost": "maybe", "bogus": 1}])"));
  ASSERT_EQ(e.problems().size(), 4u) << e.what();
  EXPECT_HAS(e.what(), "faults[0].kind: \"outage\" is not allowed");
  EXPECT_HAS(e.what(),
             "unknown field `faults[0].bogus`; allowed: at_ms, kind, lag_ms, client, "
             "duration_ms, fraction_pct, lost, route, count, down_ms, role, when, core, "
             "request_id, devices, line, user, on");
  EXPECT_HAS(e.what(), "faults[0].down_ms: -1 is out of range; allowed: 0..600000");
  EXPECT_HAS(e.what(), "faults[0].lost: \"maybe\" is not allowed; allowed: request, response");
}

TEST(ScenarioFormat, EachFaultKindRejectsTheFieldsOfOtherKinds) {
  // Minimal valid body of each kind, and the fields it takes.
  struct Kind {
    std::string name;
    std::string body;
    std::vector<std::string> takes;
  };
  const std::vector<Kind> kinds = {
      {"lag", R"("lag_ms": 1)", {"lag_ms", "duration_ms"}},
      {"disconnect", R"("client": 1)", {"client"}},
      {"stall", "", {"duration_ms"}},
      {"storm", "", {"fraction_pct"}},
      {"request_lost", R"("client": 1, "lost": "request")", {"client", "lost", "route", "count"}},
      {"delete_request", R"("client": 1)", {"client"}},
      {"compact", "", {}},
      {"service_restart", "", {"down_ms", "role"}},
      {"sync_config_change", "", {}},
      {"restart", R"("client": 1)", {"client", "down_ms"}},
      {"kill", R"("client": 1)", {"client", "down_ms", "when"}},
      {"power_loss", R"("client": 1)", {"client", "down_ms", "when"}},
      {"upgrade", R"("client": 1, "core": "0.5.3")", {"client", "core", "down_ms"}},
      {"downgrade", R"("client": 1, "core": "0.5.3")", {"client", "core", "down_ms"}},
      {"switch_mode", R"("client": 1)", {"client", "down_ms"}},
      {"switch_user", R"("client": 1)", {"client", "down_ms", "user"}},
      {"disconnect_client", R"("client": 1)", {"client", "down_ms"}},
      {"disconnect_and_clear", R"("client": 1)", {"client", "down_ms"}},
      {"foreign_request", R"("client": 1, "request_id": 5)", {"client", "request_id", "devices"}},
      {"quiet", R"("client": 1)", {"client", "duration_ms"}},
      {"line_fault", R"("client": 1, "line": "duplicate_line")", {"client", "line"}},
  };
  // A valid value of every kind-specific field, and the kinds that take it.
  const std::vector<std::tuple<std::string, std::string, std::string>> fields = {
      {"lag_ms", "1", "lag"},
      {"client", "1",
       "disconnect, request_lost, delete_request, restart, kill, power_loss, upgrade, downgrade, "
       "switch_mode, switch_user, disconnect_client, disconnect_and_clear, foreign_request, "
       "quiet, line_fault"},
      {"duration_ms", "1", "lag, stall, quiet"},
      {"fraction_pct", "50", "storm"},
      {"lost", R"("response")", "request_lost"},
      {"route", R"("any")", "request_lost"},
      {"count", "2", "request_lost"},
      {"down_ms", "5",
       "service_restart, restart, kill, power_loss, upgrade, downgrade, switch_mode, "
       "switch_user, disconnect_client, disconnect_and_clear"},
      {"when", R"("mid_upload")", "kill, power_loss"},
      {"role", R"("replication")", "service_restart"},
      {"request_id", R"("-1")", "foreign_request"},
      {"devices", "3", "foreign_request"},
      {"core", R"("0.5.3")", "upgrade, downgrade"},
      {"user", R"("first")", "switch_user"},
      {"line", R"("out_of_order")", "line_fault"},
  };
  for (const Kind& k : kinds) {
    std::string fault = R"({"at_ms": 1, "kind": ")" + k.name + R"(")";
    if (!k.body.empty()) fault += ", " + k.body;
    EXPECT_NO_THROW(parse_scenario_text(WithFormat(R"("faults": [)" + fault + "}]"), Ctx(), "t"))
        << k.name;
    std::string allowed = "at_ms, kind";
    for (const std::string& f : k.takes) allowed += ", " + f;
    allowed += ", on";  // every kind takes a trigger
    for (const auto& [field, value, owners] : fields) {
      if (std::find(k.takes.begin(), k.takes.end(), field) != k.takes.end()) continue;
      const auto e =
          ErrorOf(WithFormat(R"("faults": [)" + fault + ", \"" + field + "\": " + value + "}]"));
      EXPECT_STREQ(e.what(),
                   ("t.json: field `faults[0]." + field + "` is not used by kind " + k.name +
                    " (only by " + owners + "); allowed for kind " + k.name + ": " + allowed)
                       .c_str());
    }
  }
}

TEST(ScenarioFormat, AllFaultKindsRoundTrip) {
  const std::string text = WithFormat(R"(
      "name": "all-kinds",
      "clients": {"count": 4, "checkpoint_mode": "legacy", "stream_encoding": "bson"},
      "service": {"flavour": "postgres", "write_checkpoint_mode": "custom",
                  "checkpoint_request_retention_minutes": 1, "compact_interval_s": 600,
                  "batch_latency_max_ms": 250, "todos_priority": 1, "notes_priority": 0},
      "duration_s": 120,
      "faults": [
        {"at_ms": 90000, "kind": "sync_config_change"},
        {"at_ms": 1000, "kind": "lag", "lag_ms": 3000, "duration_ms": 5000},
        {"at_ms": 2000, "kind": "lag", "lag_ms": 100},
        {"at_ms": 3000, "kind": "disconnect", "client": 4},
        {"at_ms": 4000, "kind": "stall", "duration_ms": 8000},
        {"at_ms": 5000, "kind": "stall"},
        {"at_ms": 6000, "kind": "storm", "fraction_pct": 25},
        {"at_ms": 7000, "kind": "request_lost", "client": 2, "lost": "response",
         "route": "any", "count": 3},
        {"at_ms": 8000, "kind": "request_lost", "client": 3, "lost": "request"},
        {"at_ms": 9000, "kind": "delete_request", "client": 1},
        {"at_ms": 10000, "kind": "compact"},
        {"at_ms": 11000, "kind": "service_restart", "down_ms": 2500}])");
  const Scenario s = parse_scenario_text(text, Ctx(), "t");
  ASSERT_EQ(s.faults.size(), 12u);
  EXPECT_EQ(s.faults.back().kind, FaultKind::SyncConfigChange);  // sorted by at_ms
  const json j = to_json(s);
  EXPECT_EQ(parse_scenario(j, Ctx(), "round-trip"), s);
  // Text -> struct -> JSON -> text -> struct as well.
  EXPECT_EQ(parse_scenario_text(j.dump(2), Ctx(), "round-trip"), s);

  // Each fault is written with exactly the fields its kind takes, defaults and nulls explicit.
  EXPECT_EQ(j["faults"][0], json::parse(R"({"at_ms": 1000, "kind": "lag", "lag_ms": 3000,
                                            "duration_ms": 5000})"));
  EXPECT_EQ(j["faults"][1], json::parse(R"({"at_ms": 2000, "kind": "lag", "lag_ms": 100,
                                            "duration_ms": null})"));
  EXPECT_EQ(j["faults"][4],
            json::parse(R"({"at_ms": 5000, "kind": "stall", "duration_ms": null})"));
  EXPECT_EQ(j["faults"][7], json::parse(R"({"at_ms": 8000, "kind": "request_lost", "client": 3,
                                            "lost": "request", "route": "checkpoint",
                                            "count": 1})"));
  EXPECT_EQ(j["faults"][9], json::parse(R"({"at_ms": 10000, "kind": "compact"})"));
  EXPECT_EQ(j["faults"][10],
            json::parse(R"({"at_ms": 11000, "kind": "service_restart", "down_ms": 2500})"));
  EXPECT_EQ(j["faults"][11], json::parse(R"({"at_ms": 90000, "kind": "sync_config_change"})"));
  EXPECT_EQ(j["clients"]["stream_encoding"], "bson");
  EXPECT_EQ(j["service"]["write_checkpoint_mode"], "custom");
  EXPECT_EQ(j["service"]["checkpoint_request_retention_minutes"], 1);
  EXPECT_EQ(j["service"]["compact_interval_s"], 600);
  EXPECT_EQ(j["service"]["batch_latency_max_ms"], 250);
  EXPECT_EQ(j["service"]["todos_priority"], 1);
  EXPECT_EQ(j["service"]["notes_priority"], 0);

  // The defaults are written out too.
  const json d = to_json(parse_scenario_text(R"({"format": 1})", Ctx(), "d"));
  EXPECT_EQ(d.at("clients").at("stream_encoding"), "json");
  EXPECT_EQ(d.at("service").at("write_checkpoint_mode"), "managed");
  EXPECT_EQ(d.at("service").at("checkpoint_request_retention_minutes"), 60);
  EXPECT_EQ(d.at("service").at("compact_interval_s"), 0);
  EXPECT_EQ(d.at("service").at("batch_latency_max_ms"), 20);
  EXPECT_EQ(d.at("service").at("todos_priority"), 3);
  EXPECT_EQ(d.at("service").at("notes_priority"), 3);
}

// Issue 17's service fields and the replication-only restart: read, written only when not the
// default, read back equal; bad values exit 2 naming field, value and what is allowed.
TEST(ScenarioFormat, ServiceTopologyFieldsRoundTripAndAreCheckedOnLoad) {
  const Scenario s = parse_scenario_text(
      WithFormat(R"("service": {"api_processes": 3, "duplicate_window": "head-read",
                     "max_concurrent_streams": 0, "batch_failure_pct": 10,
                     "batch_failure": "marker", "compaction_invalidation": "sticky"},
                    "faults": [{"at_ms": 5, "kind": "service_restart", "role": "replication"}])"),
      Ctx(), "t");
  EXPECT_EQ(s.service.api_processes, 3);
  EXPECT_EQ(s.service.duplicate_window, "head-read");
  EXPECT_EQ(s.service.max_concurrent_streams, 0);
  EXPECT_EQ(s.service.batch_failure, "marker");
  EXPECT_EQ(s.faults.at(0).role, "replication");
  const json j = to_json(s);
  EXPECT_EQ(j["faults"][0]["role"], "replication");
  EXPECT_EQ(parse_scenario(j, Ctx(), "x"), s);
  const json d = to_json(parse_scenario_text(
      WithFormat(R"("faults": [{"at_ms": 5, "kind": "service_restart"}])"), Ctx(), "d"));
  EXPECT_FALSE(d["service"].contains("api_processes"));
  EXPECT_FALSE(d["service"].contains("max_concurrent_streams"));
  EXPECT_FALSE(d["faults"][0].contains("role"));
  EXPECT_HAS(ErrorOf(WithFormat(R"("service": {"api_processes": 0})")).what(),
             "service.api_processes: 0 is out of range; allowed: 1..16");
  EXPECT_HAS(ErrorOf(WithFormat(R"("service": {"batch_failure": "disk"})")).what(),
             "allowed: head_read, marker, partial_write, no_sync_config, any");
  EXPECT_HAS(ErrorOf(WithFormat(R"("faults": [{"at_ms": 5, "kind": "service_restart",
                                                "role": "api"}])"))
                 .what(),
             "faults[0].role: \"api\" is not allowed; allowed: all, replication");
}

// service.mysql_keepalive (docs/protocol.md §3.1.4 "MySQL keepalives"): read, written only when
// not the default "v1.24.0" (so no existing file's full form changes), read back equal; a bad
// value exits 2 naming field, value and what is allowed.
TEST(ScenarioFormat, MysqlKeepaliveRoundTripsAndIsCheckedOnLoad) {
  const Scenario s = parse_scenario_text(
      WithFormat(R"("service": {"source": "mysql", "mysql_keepalive": "v1.25.0"})"), Ctx(), "t");
  EXPECT_EQ(s.service.mysql_keepalive, "v1.25.0");
  const json j = to_json(s);
  EXPECT_EQ(j["service"]["mysql_keepalive"], "v1.25.0");
  EXPECT_EQ(parse_scenario(j, Ctx(), "x"), s);
  const Scenario d = parse_scenario_text(R"({"format": 1})", Ctx(), "d");
  EXPECT_EQ(d.service.mysql_keepalive, "v1.24.0");
  EXPECT_FALSE(to_json(d)["service"].contains("mysql_keepalive"));
  EXPECT_HAS(ErrorOf(WithFormat(R"("service": {"mysql_keepalive": "v1.26.0"})")).what(),
             "service.mysql_keepalive: \"v1.26.0\" is not allowed; allowed: v1.24.0, v1.25.0");
}

TEST(ScenarioFormat, CustomChangesRoundTripsAndIsCheckedOnLoad) {
  const Scenario s = parse_scenario_text(
      WithFormat(
          R"("service": {"write_checkpoint_mode": "custom", "custom_changes": "own-config"})"),
      Ctx(), "t");
  EXPECT_EQ(s.service.custom_changes, "own-config");
  EXPECT_EQ(to_json(s)["service"]["custom_changes"], "own-config");
  EXPECT_EQ(parse_scenario(to_json(s), Ctx(), "x"), s);
  const Scenario d = parse_scenario_text(R"({"format": 1})", Ctx(), "d");
  EXPECT_EQ(d.service.custom_changes, "all-configs");
  EXPECT_FALSE(to_json(d)["service"].contains("custom_changes"));
  EXPECT_HAS(ErrorOf(WithFormat(R"("service": {"custom_changes": "some"})")).what(),
             "service.custom_changes: \"some\" is not allowed; allowed: all-configs, own-config");
}

}  // namespace
}  // namespace syncsim::scenarios
