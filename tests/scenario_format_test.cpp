// Unit tests of the scenario format (scenarios/format/, docs/scenarios.md): loading a file,
// round trips through to_json, defaults, and errors that name the field, value and what is allowed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "scenarios/format/scenario.hpp"
#include "tests/support/scenario_format_helpers.hpp"

#ifndef SYNCSIM_SOURCE_DIR
#define SYNCSIM_SOURCE_DIR "/work/main"
#endif

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::Ctx;
using test_support::ErrorOf;
using test_support::WithFormat;

std::string BasicPath() {
  return std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
}

TEST(ScenarioFormat, BasicCatalogFileLoads) {
  const Scenario s = load_scenario_file(BasicPath(), Ctx());
  EXPECT_EQ(s.format, 1);
  EXPECT_EQ(s.name, "basic");
  EXPECT_HAS(s.description, "requests mode");
  EXPECT_EQ(s.clients.count, 3);
  EXPECT_EQ(s.clients.core, "0.5.3");
  EXPECT_EQ(s.clients.checkpoint_mode, "requests");
  EXPECT_EQ(s.service.flavour, "mongo");
  EXPECT_EQ(s.service.replication_lag_ms, 200);
  EXPECT_EQ(s.duration_s, 60);
  EXPECT_FALSE(s.quiesce_s.has_value());
  ASSERT_EQ(s.faults.size(), 4u);
  EXPECT_EQ(s.faults[0], (Fault{15000, FaultKind::Disconnect, 0, 2}));
  EXPECT_EQ(s.faults[1], (Fault{25000, FaultKind::Lag, 3000, 0}));
  EXPECT_EQ(s.faults[2], (Fault{40000, FaultKind::Lag, 200, 0}));
  EXPECT_EQ(s.faults[3], (Fault{45000, FaultKind::Disconnect, 0, 3}));
  EXPECT_TRUE(s.invariants.empty());
  EXPECT_TRUE(s.mutants.empty());
  EXPECT_TRUE(s.expect.pass);
}

TEST(ScenarioFormat, BasicRoundTripsThroughToJson) {
  const Scenario s = load_scenario_file(BasicPath(), Ctx());
  EXPECT_EQ(parse_scenario(to_json(s), Ctx(), "round-trip"), s);
}

TEST(ScenarioFormat, FullScenarioRoundTripsAndToJsonIsExplicit) {
  Scenario s;
  s.name = "full";
  s.description = "every optional thing set";
  s.clients.count = 5;
  s.service.flavour = "postgres";
  s.quiesce_s = 30;
  s.faults = {{100, FaultKind::Disconnect, 0, 5}, {200, FaultKind::Lag, 4000, 0}};
  s.invariants = {"converges", "barrier-holds"};
  s.mutants = {"replication-stall"};
  s.expect = {false, "converges"};
  const json j = to_json(s);
  EXPECT_EQ(j["quiesce_s"], 30);
  EXPECT_EQ(j["expect"], json({{"violates", "converges"}}));
  EXPECT_EQ(parse_scenario(j, Ctx(), "x"), s);

  // Absent values are still written out, so the full form documents every field.
  const json d = to_json(parse_scenario_text(R"({"format": 1})", Ctx(), "d"));
  EXPECT_TRUE(d.at("quiesce_s").is_null());
  EXPECT_EQ(d.at("clients").at("repost_delay_ms"), 10000);
  EXPECT_EQ(d.at("expect"), "pass");
  EXPECT_EQ(d.at("faults"), json::array());
}

TEST(ScenarioFormat, OnlyFormatGivesDefaults) {
  const Scenario s = parse_scenario_text(R"({"format": 1})", Ctx(), "d");
  EXPECT_EQ(s.name, "scenario");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.clients.count, 3);
  EXPECT_EQ(s.clients.core, "0.5.3");
  EXPECT_EQ(s.clients.checkpoint_mode, "requests");
  EXPECT_EQ(s.clients.retry_delay_ms, 5000);
  EXPECT_EQ(s.clients.crud_upload_throttle_ms, 1000);
  EXPECT_EQ(s.clients.repost_delay_ms, 10000);
  EXPECT_EQ(s.clients.stream_encoding, "json");
  EXPECT_EQ(s.service.flavour, "mongo");
  EXPECT_EQ(s.service.replication_lag_ms, 200);
  EXPECT_EQ(s.service.heartbeat_ms, 60000);
  EXPECT_EQ(s.service.token_lifetime_s, 86400);
  EXPECT_EQ(s.service.write_checkpoint_mode, "managed");
  EXPECT_EQ(s.service.checkpoint_request_retention_minutes, 60);
  EXPECT_EQ(s.service.compact_interval_s, 0);
  EXPECT_EQ(s.service.batch_latency_max_ms, 20);
  EXPECT_EQ(s.service.todos_priority, 3);
  EXPECT_EQ(s.service.notes_priority, 3);
  EXPECT_EQ(s.network.latency_up_ms, 10);
  EXPECT_EQ(s.network.latency_down_ms, 10);
  EXPECT_EQ(s.workload.write_interval_min_ms, 500);
  EXPECT_EQ(s.workload.write_interval_max_ms, 3000);
  EXPECT_EQ(s.workload.keyspace, 16);
  EXPECT_EQ(s.workload.notes_pct, 20);
  EXPECT_EQ(s.workload.delete_pct, 10);
  EXPECT_EQ(s.duration_s, 60);
  EXPECT_FALSE(s.quiesce_s.has_value());
  EXPECT_TRUE(s.faults.empty());
  EXPECT_TRUE(s.invariants.empty());
  EXPECT_TRUE(s.mutants.empty());
  EXPECT_TRUE(s.expect.pass);
}

TEST(ScenarioFormat, NameDefaultsToFileStem) {
  const auto path = std::filesystem::temp_directory_path() / "syncsim_stem_test.json";
  std::ofstream(path) << R"({"format": 1, "quiesce_s": null})";
  const Scenario s = load_scenario_file(path.string(), Ctx());
  std::filesystem::remove(path);
  EXPECT_EQ(s.name, "syncsim_stem_test");
  EXPECT_FALSE(s.quiesce_s.has_value());
}

TEST(ScenarioFormat, UnreadableFileSaysWhy) {
  try {
    load_scenario_file("/nonexistent/nope.json", Ctx());
    FAIL() << "expected a ScenarioError";
  } catch (const ScenarioError& e) {
    EXPECT_STREQ(e.what(), "cannot read /nonexistent/nope.json: No such file or directory");
  }
}

TEST(ScenarioFormat, UnknownTopLevelField) {
  const auto e = ErrorOf(WithFormat(R"("nmae": "x")"));
  EXPECT_HAS(e.what(), "t.json: unknown field `nmae`; allowed: format, name, description,");
}

TEST(ScenarioFormat, UnknownNestedField) {
  const auto e = ErrorOf(WithFormat(R"("clients": {"cuont": 4})"));
  EXPECT_STREQ(e.what(),
               "t.json: unknown field `clients.cuont`; allowed: count, core, checkpoint_mode, "
               "retry_delay_ms, crud_upload_throttle_ms, repost_delay_ms, stream_encoding, sdk, "
               "sdk_package, sdk_package_force, fleet, post_checkpoint_request, fixed_quirks");
}

TEST(ScenarioFormat, WrongTypes) {
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"count": "three"})")).what(),
               "t.json: clients.count: \"three\" must be an integer; allowed: 1..1000");
  EXPECT_HAS(ErrorOf(WithFormat(R"("duration_s": 1.5)")).what(),
             "duration_s: 1.5 must be an integer");
  EXPECT_HAS(ErrorOf(WithFormat(R"("workload": {"keyspace": true})")).what(),
             "workload.keyspace: true must be an integer");
  EXPECT_HAS(ErrorOf(WithFormat(R"("service": 3)")).what(), "service: 3 must be an object");
  EXPECT_HAS(ErrorOf(WithFormat(R"("name": 7)")).what(), "name: 7 must be a string");
  EXPECT_HAS(ErrorOf(WithFormat(R"("faults": {})")).what(), "faults: {} must be an array");
  EXPECT_HAS(ErrorOf("[1, 2]").what(), "t.json: the top level must be a JSON object; got [1,2]");
}

TEST(ScenarioFormat, OutOfRange) {
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"count": 1001})")).what(),
               "t.json: clients.count: 1001 is out of range; allowed: 1..1000");
  EXPECT_HAS(ErrorOf(WithFormat(R"("clients": {"repost_delay_ms": 5000})")).what(),
             "clients.repost_delay_ms: 5000 is out of range; allowed: 10000..600000");
  EXPECT_HAS(ErrorOf(WithFormat(R"("workload": {"notes_pct": -1})")).what(),
             "workload.notes_pct: -1 is out of range; allowed: 0..100");
  // Larger than int64: must not wrap around into range.
  EXPECT_HAS(ErrorOf(WithFormat(R"("duration_s": 18446744073709551615)")).what(),
             "duration_s: 18446744073709551615 is out of range; allowed: 1..86400");
  EXPECT_HAS(ErrorOf(WithFormat(R"("quiesce_s": 86401)")).what(),
             "quiesce_s: 86401 is out of range");
}

TEST(ScenarioFormat, IntervalMaxMustNotBeBelowMin) {
  const auto e = ErrorOf(
      WithFormat(R"("workload": {"write_interval_min_ms": 800, "write_interval_max_ms": 700})"));
  EXPECT_STREQ(e.what(),
               "t.json: workload.write_interval_max_ms: 700 is out of range; allowed: "
               "800..3600000 (at least workload.write_interval_min_ms)");
}

TEST(ScenarioFormat, BadEnumStrings) {
  EXPECT_STREQ(ErrorOf(WithFormat(R"("service": {"flavour": "mysql"})")).what(),
               "t.json: service.flavour: \"mysql\" is not allowed; allowed: mongo, postgres");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"checkpoint_mode": "v2"})")).what(),
               "t.json: clients.checkpoint_mode: \"v2\" is not allowed; allowed: requests, legacy");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"stream_encoding": "msgpack"})")).what(),
               "t.json: clients.stream_encoding: \"msgpack\" is not allowed; allowed: json, bson");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("service": {"write_checkpoint_mode": "Custom"})")).what(),
               "t.json: service.write_checkpoint_mode: \"Custom\" is not allowed; allowed: "
               "managed, custom");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"stream_encoding": 1})")).what(),
               "t.json: clients.stream_encoding: 1 must be a string; allowed: json, bson");
  EXPECT_HAS(ErrorOf(WithFormat(R"("clients": {"core": "0.4.0"})")).what(),
             "clients.core: \"0.4.0\" is not allowed; allowed: 0.5.3");
  EXPECT_HAS(ErrorOf(WithFormat(R"("expect": "fail")")).what(),
             R"(expect: "fail" is not allowed; allowed: "pass" or {"violates": )");
}

TEST(ScenarioFormat, BadFaultKind) {
  const auto e = ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "partition"}])"));
  EXPECT_STREQ(
      e.what(),
      "t.json: faults[0].kind: \"partition\" is not allowed; allowed: lag, disconnect, "
      "stall, storm, request_lost, delete_request, compact, service_restart, "
      "sync_config_change, restart, kill, power_loss, upgrade, downgrade, switch_mode, "
      "switch_user, disconnect_client, disconnect_and_clear, foreign_request, quiet, line_fault");
}

TEST(ScenarioFormat, ForeignRequestKeepsItsIdVerbatim) {
  // Out-of-range and malformed ids are the point of the fault (the service must reject
  // them), so the loader keeps any JSON number or string and writes it back unchanged.
  const Scenario s = parse_scenario_text(
      WithFormat(
          R"("faults": [{"at_ms": 1, "kind": "foreign_request", "client": 1, "request_id": "9223372036854775808"},
                    {"at_ms": 2, "kind": "foreign_request", "client": 1, "request_id": -1}])"),
      Ctx(), "t.json");
  ASSERT_EQ(s.faults.size(), 2u);
  EXPECT_EQ(s.faults[0].request_id, "\"9223372036854775808\"");
  EXPECT_EQ(s.faults[1].request_id, "-1");
  EXPECT_EQ(to_json(s)["faults"][0]["request_id"], "9223372036854775808");
  EXPECT_HAS(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "foreign_request", "client": 1}])"))
          .what(),
      "missing required field `faults[0].request_id`");
  EXPECT_HAS(
      ErrorOf(
          WithFormat(
              R"("faults": [{"at_ms": 1, "kind": "foreign_request", "client": 1, "request_id": [1]}])"))
          .what(),
      "faults[0].request_id: expected a JSON number or string (sent verbatim), got [1]");
}

// Issue 17, docs/protocol.md §3.1.9 "Change feed": `devices` (0..5000) other installations of the
// client's user post with the clone; written back only when not 0, so older files keep their form.
TEST(ScenarioFormat, ForeignRequestDevicesRoundTripAndAreBounded) {
  const Scenario s = parse_scenario_text(
      WithFormat(
          R"("faults": [{"at_ms": 1, "kind": "foreign_request", "client": 1, "request_id": 1, "devices": 1200},
                    {"at_ms": 2, "kind": "foreign_request", "client": 1, "request_id": 1}])"),
      Ctx(), "t.json");
  ASSERT_EQ(s.faults.size(), 2u);
  EXPECT_EQ(s.faults[0].devices, 1200);
  EXPECT_EQ(s.faults[1].devices, 0);
  EXPECT_EQ(to_json(s)["faults"][0]["devices"], 1200);
  EXPECT_FALSE(to_json(s)["faults"][1].contains("devices"));
  EXPECT_HAS(
      ErrorOf(
          WithFormat(
              R"("faults": [{"at_ms": 1, "kind": "foreign_request", "client": 1, "request_id": 1, "devices": 5001}])"))
          .what(),
      "faults[0].devices: 5001");
  EXPECT_HAS(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "stall", "devices": 3}])")).what(),
      "devices");
}

TEST(ScenarioFormat, MissingAndMisplacedFaultFields) {
  EXPECT_STREQ(ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "lag"}])")).what(),
               "t.json: missing required field `faults[0].lag_ms`; allowed: 0..3600000000");
  EXPECT_HAS(ErrorOf(WithFormat(R"("faults": [{"kind": "disconnect", "client": 1}])")).what(),
             "missing required field `faults[0].at_ms`; allowed: 0..60000 (duration_s * 1000)");
  EXPECT_HAS(ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "lag_ms": 5}])")).what(),
             "missing required field `faults[0].kind`; allowed: lag, disconnect, stall,");
  // A field of another kind is rejected, not silently ignored.
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "lag", "lag_ms": 5, "client": 1}])"))
          .what(),
      "t.json: field `faults[0].client` is not used by kind lag (only by disconnect, "
      "request_lost, delete_request, restart, kill, power_loss, upgrade, downgrade, switch_mode, "
      "switch_user, disconnect_client, disconnect_and_clear, foreign_request, quiet, line_fault); "
      "allowed for kind "
      "lag: at_ms, kind, lag_ms, duration_ms, on");
  // A field no kind takes is plain unknown.
  EXPECT_STREQ(
      ErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "compact", "jobs": 2}])")).what(),
      "t.json: unknown field `faults[0].jobs`; allowed for kind compact: at_ms, kind, on");
}

TEST(ScenarioFormat, FaultBoundsFollowOtherFields) {
  const std::string faults = R"("faults": [{"at_ms": 1, "kind": "lag", "lag_ms": 1},
                                           {"at_ms": 2, "kind": "disconnect", "client": 7}])";
  EXPECT_STREQ(ErrorOf(WithFormat(faults), "basic.json").what(),
               "basic.json: faults[1].client: 7 is out of range; allowed: 1..3 (clients.count)");
  // clients.count raises the bound.
  EXPECT_EQ(parse_scenario_text(WithFormat(R"("clients": {"count": 8}, )" + faults), Ctx(), "t")
                .faults[1]
                .client,
            7);
  EXPECT_HAS(ErrorOf(WithFormat(R"("duration_s": 10, "faults": [{"at_ms": 10001, "kind": "lag",
                                    "lag_ms": 1}])"))
                 .what(),
             "faults[0].at_ms: 10001 is out of range; allowed: 0..10000 (duration_s * 1000)");
  // A bad clients.count is reported once, not again through every fault.
  const auto e = ErrorOf(WithFormat(R"("clients": {"count": 0}, )" + faults));
  EXPECT_EQ(e.problems().size(), 1u) << e.what();
}

TEST(ScenarioFormat, UnknownInvariantAndMutant) {
  EXPECT_STREQ(ErrorOf(WithFormat(R"("invariants": ["converges", "eventually-nice"])")).what(),
               "t.json: invariants[1]: \"eventually-nice\" is not a known invariant; allowed: "
               "barrier-holds, read-your-writes, converges");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("mutants": ["off-by-one"])")).what(),
               "t.json: mutants[0]: \"off-by-one\" is not a known mutant; allowed: "
               "ack-before-replication, replication-stall, publish-while-blocked");
  EXPECT_HAS(ErrorOf(WithFormat(R"("mutants": ["replication-stall", "replication-stall"])")).what(),
             "mutants[1]: \"replication-stall\" is listed twice");
}

TEST(ScenarioFormat, ExpectViolatesMustBeACheckedInvariant) {
  EXPECT_HAS(ErrorOf(WithFormat(R"("expect": {"violates": "nope"})")).what(),
             "expect.violates: \"nope\" is not allowed; allowed: barrier-holds,");
  EXPECT_HAS(ErrorOf(WithFormat(R"("expect": {})")).what(),
             "missing required field `expect.violates`");
  EXPECT_HAS(ErrorOf(WithFormat(R"("invariants": ["barrier-holds"],
                                   "expect": {"violates": "converges"})"))
                 .what(),
             "expect.violates: \"converges\" is not among the checked invariants; allowed: "
             "barrier-holds (invariants)");
  const Scenario s = parse_scenario_text(
      WithFormat(
          R"("mutants": ["ack-before-replication"], "expect": {"violates": "barrier-holds"})"),
      Ctx(), "t");
  EXPECT_EQ(s.expect, (Expectation{false, "barrier-holds"}));
}

TEST(ScenarioFormat, InvalidJsonMentionsLine) {
  const auto e = ErrorOf("{\n  \"format\": 1,\n}\n");
  ASSERT_EQ(e.problems().size(), 1u);
  EXPECT_HAS(e.what(), "t.json: invalid JSON: parse error at line 3, column 1");
}

TEST(ScenarioFormat, DuplicateKeysAreRejected) {
  const auto e = ErrorOf(R"({"format": 1, "faults": [{"at_ms": 1, "kind": "lag", "lag_ms": 1},
                                                     {"at_ms": 2, "at_ms": 3, "kind": "lag", "lag_ms": 1}]})");
  EXPECT_STREQ(e.what(),
               "t.json: duplicate field `faults[1].at_ms`; allowed: each field once per object");
}

TEST(ScenarioFormat, MissingFormat) {
  EXPECT_STREQ(ErrorOf(R"({"name": "x"})").what(),
               "t.json: missing required field `format` (current: 1)");
}

TEST(ScenarioFormat, FutureFormatIsTheOnlyProblemReported) {
  const auto e = ErrorOf(R"({"format": 2, "brand_new_field": true})");
  EXPECT_STREQ(e.what(),
               "t.json: format: 2 is not supported; allowed: 1 (the only format this build reads)");
  EXPECT_HAS(ErrorOf(R"({"format": "1"})").what(), "format: \"1\" must be an integer; allowed: 1");
}

TEST(ScenarioFormat, AllErrorsAreCollected) {
  const auto e = ErrorOf(R"({"clients": {"count": 0, "cuont": 1},
                             "service": {"flavour": "mysql"},
                             "faults": [{"at_ms": -5, "kind": "lag", "lag_ms": 1}],
                             "invariants": ["nope"]})");
  ASSERT_EQ(e.problems().size(), 6u) << e.what();
  std::string expected;
  for (const std::string& line : e.problems()) {
    EXPECT_TRUE(line.starts_with("t.json: ")) << line;
    expected += (expected.empty() ? "" : "\n") + line;
  }
  EXPECT_EQ(e.what(), expected);
  EXPECT_HAS(e.what(), "missing required field `format`");
  EXPECT_HAS(e.what(), "clients.count: 0 is out of range");
  EXPECT_HAS(e.what(), "unknown field `clients.cuont`");
  EXPECT_HAS(e.what(), "service.flavour: \"mysql\"");
  EXPECT_HAS(e.what(), "faults[0].at_ms: -5 is out of range");
  EXPECT_HAS(e.what(), "invariants[0]: \"nope\"");
}

TEST(ScenarioFormat, FaultsAreSortedStablyByTime) {
  const Scenario s = parse_scenario_text(WithFormat(R"("faults": [
      {"at_ms": 3000, "kind": "lag", "lag_ms": 1},
      {"at_ms": 1000, "kind": "disconnect", "client": 2},
      {"at_ms": 3000, "kind": "lag", "lag_ms": 2},
      {"at_ms": 1000, "kind": "disconnect", "client": 1}])"),
                                         Ctx(), "t");
  ASSERT_EQ(s.faults.size(), 4u);
  EXPECT_EQ(s.faults[0], (Fault{1000, FaultKind::Disconnect, 0, 2}));
  EXPECT_EQ(s.faults[1], (Fault{1000, FaultKind::Disconnect, 0, 1}));
  EXPECT_EQ(s.faults[2], (Fault{3000, FaultKind::Lag, 1, 0}));
  EXPECT_EQ(s.faults[3], (Fault{3000, FaultKind::Lag, 2, 0}));
}

TEST(ScenarioFormat, FaultKindNames) {
  EXPECT_EQ(to_string(FaultKind::Lag), "lag");
  EXPECT_EQ(to_string(FaultKind::Disconnect), "disconnect");
  EXPECT_EQ(to_string(FaultKind::Stall), "stall");
  EXPECT_EQ(to_string(FaultKind::Storm), "storm");
  EXPECT_EQ(to_string(FaultKind::RequestLost), "request_lost");
  EXPECT_EQ(to_string(FaultKind::DeleteRequest), "delete_request");
  EXPECT_EQ(to_string(FaultKind::Compact), "compact");
  EXPECT_EQ(to_string(FaultKind::ServiceRestart), "service_restart");
  EXPECT_EQ(to_string(FaultKind::SyncConfigChange), "sync_config_change");
  EXPECT_EQ(to_string(FaultKind::DisconnectClient), "disconnect_client");
  EXPECT_EQ(to_string(FaultKind::DisconnectAndClear), "disconnect_and_clear");
}

}  // namespace
}  // namespace syncsim::scenarios
