#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "scenarios/format/scenario.hpp"

#ifndef SYNCSIM_SOURCE_DIR
#define SYNCSIM_SOURCE_DIR "/work/main"
#endif

namespace syncsim::scenarios {
namespace {

using nlohmann::json;

ValidationContext Ctx() {
  return {{"0.5.3"},
          {"barrier-holds", "read-your-writes", "converges"},
          {"ack-before-replication", "replication-stall", "publish-while-blocked"},
          {{"0.5.3", "js-1.3.0"}},
          {"stale-seed-outcome", "repost-until-applied"},
          {"barrier-blocked", "duplicate-request", "seed-raised"}};
}

std::string BasicPath() {
  return std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
}

// Parses `text` expecting failure; returns the error, or an empty one (and fails) if it parsed.
ScenarioError ErrorOf(const std::string& text, const std::string& source = "t.json") {
  try {
    parse_scenario_text(text, Ctx(), source);
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ScenarioError for: " << text;
  return ScenarioError({});
}

// `text` is the body of a top-level object after "format": 1.
std::string WithFormat(const std::string& fields) { return R"({"format": 1, )" + fields + "}"; }

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find: " << (needle) << "\nin: " << (haystack)

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

// The SDK-API knobs: connector hook, fixed quirks, requestCheckpoint/waitForSync workload.
TEST(ScenarioFormat, ShimApiFieldsAcceptedValidatedAndRoundTrip) {
  const Scenario s =
      parse_scenario_text(WithFormat(R"("clients": {"post_checkpoint_request": "backend",
                                "fixed_quirks": ["repost-until-applied"]},
                    "workload": {"request_checkpoint_pct": 30, "wait_for_sync_pct": 50},
                    "faults": [{"at_ms": 5, "kind": "disconnect_and_clear", "client": 1},
                               {"at_ms": 6, "kind": "disconnect_client", "client": 2,
                                "down_ms": 0}])"),
                          Ctx(), "t");
  EXPECT_EQ(s.clients.post_checkpoint_request, "backend");
  EXPECT_EQ(s.clients.fixed_quirks, std::vector<std::string>{"repost-until-applied"});
  EXPECT_EQ(s.workload.request_checkpoint_pct, 30);
  EXPECT_EQ(s.workload.wait_for_sync_pct, 50);
  EXPECT_EQ(s.faults[0].down_ms, 1000);  // the default
  EXPECT_EQ(s.faults[1].down_ms, 0);
  EXPECT_EQ(parse_scenario(to_json(s), Ctx(), "round-trip"), s);
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"post_checkpoint_request": "rpc"})")).what(),
               "t.json: clients.post_checkpoint_request: \"rpc\" is not allowed; allowed: "
               "service, backend");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"fixed_quirks": ["no-such-quirk"]})")).what(),
               "t.json: clients.fixed_quirks[0]: \"no-such-quirk\" is not a known quirk; "
               "allowed: stale-seed-outcome, repost-until-applied");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"fixed_quirks": "stale-seed-outcome"})")).what(),
               "t.json: clients.fixed_quirks: \"stale-seed-outcome\" must be an array of quirk "
               "ids; allowed: stale-seed-outcome, repost-until-applied");
  EXPECT_STREQ(ErrorOf(WithFormat(R"("workload": {"wait_for_sync_pct": 101})")).what(),
               "t.json: workload.wait_for_sync_pct: 101 is out of range; allowed: 0..100");
  // The published SDK keeps its quirks: a fix switch with js-real is refused, not ignored,
  // whether every client or one fleet group runs it.
  const std::string refused =
      "t.json: clients.fixed_quirks: [\"stale-seed-outcome\"] is not allowed with sdk "
      "\"js-real\" (the published SDK keeps its quirks); allowed: [] with js-real, or the "
      "quirks with the port (sdk \"auto\", \"js-1.3.0\" or \"js-legacy\")";
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"sdk": "js-real",
                                "fixed_quirks": ["stale-seed-outcome"]})"))
                   .what(),
               refused.c_str());
  EXPECT_STREQ(ErrorOf(WithFormat(R"("clients": {"fleet": [{"count": 1}, {"count": 1,
                                "sdk": "js-real"}], "fixed_quirks": ["stale-seed-outcome"]})"))
                   .what(),
               refused.c_str());
  EXPECT_NO_THROW(parse_scenario_text(
      WithFormat(R"("clients": {"sdk": "js-real", "fixed_quirks": []}, "faults": [])"), Ctx(),
      "t"));
}

// --- the checkpoint-protocol knobs and fault kinds added to format 1 ----------------------------

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

// ---------------------------------------------------------------------------------
// Lifecycle faults, SDK behaviours and mixed fleets

ValidationContext FleetCtx() {
  ValidationContext ctx = Ctx();
  ctx.cores = {"0.5.3", "0.4.12"};
  ctx.core_sdks = {{"0.5.3", "js-1.3.0"}, {"0.4.12", "js-legacy"}};
  return ctx;
}

ScenarioError FleetErrorOf(const std::string& text) {
  try {
    parse_scenario_text(text, FleetCtx(), "t.json");
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ScenarioError for: " << text;
  return ScenarioError({});
}

TEST(ScenarioFormat, LifecycleFaultsTakeTheirFieldsAndRoundTrip) {
  const std::string text = WithFormat(R"(
      "clients": {"count": 3},
      "faults": [
        {"at_ms": 1000, "kind": "restart", "client": 1},
        {"at_ms": 2000, "kind": "kill", "client": 2, "when": "mid_transaction", "down_ms": 0},
        {"at_ms": 3000, "kind": "power_loss", "client": 3, "when": "mid_upload"},
        {"at_ms": 4000, "kind": "downgrade", "client": 1, "core": "0.4.12", "down_ms": 500},
        {"at_ms": 5000, "kind": "upgrade", "client": 1, "core": "0.5.3"},
        {"at_ms": 6000, "kind": "switch_mode", "client": 2},
        {"at_ms": 7000, "kind": "switch_user", "client": 3, "down_ms": 2000}])");
  const Scenario s = parse_scenario_text(text, FleetCtx(), "t");
  ASSERT_EQ(s.faults.size(), 7u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::Restart);
  EXPECT_EQ(s.faults[0].down_ms, 1000);  // default
  EXPECT_EQ(s.faults[1].when, "mid_transaction");
  EXPECT_EQ(s.faults[2].kind, FaultKind::PowerLoss);
  EXPECT_EQ(s.faults[2].when, "mid_upload");
  EXPECT_EQ(s.faults[3].core, "0.4.12");
  EXPECT_EQ(to_string(s.faults[4].kind), "upgrade");
  EXPECT_EQ(to_string(s.faults[5].kind), "switch_mode");
  EXPECT_EQ(to_string(s.faults[6].kind), "switch_user");
  const json j = to_json(s);
  EXPECT_EQ(j["faults"][0], json::parse(R"({"at_ms": 1000, "kind": "restart", "client": 1,
                                            "down_ms": 1000})"));
  EXPECT_EQ(j["faults"][1]["when"], "mid_transaction");
  EXPECT_EQ(j["faults"][0].count("when"), 0u);
  EXPECT_EQ(parse_scenario(j, FleetCtx(), "round-trip"), s);
  // Default `when` is "now".
  EXPECT_EQ(parse_scenario_text(WithFormat(R"("faults": [{"at_ms": 1, "kind": "kill",
                                              "client": 1}])"),
                                FleetCtx(), "t")
                .faults[0]
                .when,
            "now");
}

TEST(ScenarioFormat, LifecycleFaultErrorsNameFieldValueAndAllowed) {
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "kill", "client": 1,
                                          "when": "later"}])"))
                   .what(),
               "t.json: faults[0].when: \"later\" is not allowed; allowed: now, "
               "mid_transaction, mid_upload");
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "upgrade",
                                          "client": 1}])"))
                   .what(),
               "t.json: missing required field `faults[0].core`; allowed: 0.5.3, 0.4.12");
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "downgrade",
                                          "client": 1, "core": "0.3.0"}])"))
                   .what(),
               "t.json: faults[0].core: \"0.3.0\" is not allowed; allowed: 0.5.3, 0.4.12");
  EXPECT_HAS(FleetErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "restart"}])")).what(),
             "missing required field `faults[0].client`; allowed: 1..3 (clients.count)");
  EXPECT_HAS(FleetErrorOf(WithFormat(R"("faults": [{"at_ms": 1, "kind": "restart", "client": 1,
                                        "when": "mid_upload"}])"))
                 .what(),
             "field `faults[0].when` is not used by kind restart (only by kill, power_loss)");
}

TEST(ScenarioFormat, SdkMustFitTheCoreAndMode) {
  // auto: 0.4.12 is driven by js-legacy, which has legacy mode only.
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("clients": {"core": "0.4.12"})")).what(),
               "t.json: clients.checkpoint_mode: \"requests\" is not allowed with the js-legacy "
               "SDK (core 0.4.12); allowed: \"legacy\" (old SDKs have no checkpoint requests, "
               "docs/protocol.md §2.5)");
  EXPECT_NO_THROW(parse_scenario_text(
      WithFormat(R"("clients": {"core": "0.4.12", "checkpoint_mode": "legacy"})"), FleetCtx(),
      "t"));
  EXPECT_STREQ(
      FleetErrorOf(
          WithFormat(
              R"("clients": {"core": "0.4.12", "checkpoint_mode": "legacy", "sdk": "js-1.3.0"})"))
          .what(),
      "t.json: clients.sdk: \"js-1.3.0\" cannot drive core 0.4.12 (SDK 1.3.0 refuses cores "
      "below 0.5.2, docs/protocol.md §2.1.1); allowed: \"auto\", \"js-legacy\"");
  EXPECT_STREQ(
      FleetErrorOf(WithFormat(R"("clients": {"sdk": "js-2"})")).what(),
      "t.json: clients.sdk: \"js-2\" is not allowed; allowed: auto, js-1.3.0, js-legacy, js-real");
  // An old SDK on a v14 database is allowed: it shows the docs/protocol.md §1.1.2 hazard.
  const Scenario s = parse_scenario_text(
      WithFormat(R"("clients": {"checkpoint_mode": "legacy", "sdk": "js-legacy"})"), FleetCtx(),
      "t");
  EXPECT_EQ(s.clients.sdk, "js-legacy");
  // switch_mode needs js-1.3.0 at the time it happens.
  EXPECT_HAS(FleetErrorOf(WithFormat(R"("clients": {"core": "0.4.12", "checkpoint_mode": "legacy"},
                                        "faults": [{"at_ms": 1, "kind": "switch_mode",
                                                    "client": 1}])"))
                 .what(),
             "switch_mode of client 1 at 1 ms (core 0.4.12, js-legacy SDK) is not allowed");
  EXPECT_NO_THROW(
      parse_scenario_text(WithFormat(R"("clients": {"core": "0.4.12", "checkpoint_mode": "legacy"},
                    "faults": [{"at_ms": 1, "kind": "upgrade", "client": 1, "core": "0.5.3"},
                               {"at_ms": 2, "kind": "switch_mode", "client": 1}])"),
                          FleetCtx(), "t"));
}

TEST(ScenarioFormat, FleetGroupsNumberClientsInOrder) {
  const Scenario s = parse_scenario_text(WithFormat(R"("clients": {"fleet": [
      {"count": 2, "core": "0.4.12", "checkpoint_mode": "legacy"},
      {"count": 1, "core": "0.5.3", "checkpoint_mode": "legacy"},
      {"count": 1}]},
      "faults": [{"at_ms": 1, "kind": "disconnect", "client": 4}])"),
                                         FleetCtx(), "t");
  EXPECT_EQ(s.clients.count, 4);
  ASSERT_EQ(s.clients.fleet.size(), 3u);
  EXPECT_EQ(group_of(s.clients, 1).core, "0.4.12");
  EXPECT_EQ(group_of(s.clients, 2).core, "0.4.12");
  EXPECT_EQ(group_of(s.clients, 3).checkpoint_mode, "legacy");
  EXPECT_EQ(group_of(s.clients, 4).core, "0.5.3");
  EXPECT_EQ(group_of(s.clients, 4).checkpoint_mode, "requests");
  EXPECT_EQ(resolved_sdk(group_of(s.clients, 1).sdk, "0.4.12", FleetCtx().core_sdks), "js-legacy");
  EXPECT_EQ(parse_scenario(to_json(s), FleetCtx(), "round-trip"), s);
  EXPECT_EQ(to_json(s)["clients"].count("count"), 0u);
  // The uniform form is one group.
  const Scenario u = parse_scenario_text(WithFormat(R"("clients": {"count": 2})"), FleetCtx(), "t");
  EXPECT_EQ(client_groups(u.clients), (std::vector<ClientGroup>{{2, "0.5.3", "requests", "auto"}}));
}

TEST(ScenarioFormat, BadFleets) {
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("clients": {"fleet": []})")).what(),
               "t.json: clients.fleet: [] must be a non-empty array of {count, core, "
               "checkpoint_mode, sdk}");
  EXPECT_STREQ(
      FleetErrorOf(WithFormat(R"("clients": {"count": 2, "fleet": [{"count": 1}]})")).what(),
      "t.json: clients.count: is not allowed together with clients.fleet; set it per "
      "group in clients.fleet");
  EXPECT_STREQ(
      FleetErrorOf(WithFormat(R"("clients": {"fleet": [{"count": 1, "colour": 1}]})")).what(),
      "t.json: unknown field `clients.fleet[0].colour`; allowed: count, core, "
      "checkpoint_mode, sdk, sdk_package, sdk_package_force");
  EXPECT_STREQ(FleetErrorOf(WithFormat(R"("clients": {"fleet": [{"count": 1},
                                          {"count": 1, "core": "0.4.12"}]})"))
                   .what(),
               "t.json: clients.fleet[1].checkpoint_mode: \"requests\" is not allowed with the "
               "js-legacy SDK (core 0.4.12); allowed: \"legacy\" (old SDKs have no checkpoint "
               "requests, docs/protocol.md §2.5)");
  EXPECT_STREQ(
      FleetErrorOf(WithFormat(R"("clients": {"fleet": [{"count": 600}, {"count": 500}]})")).what(),
      "t.json: clients.fleet: the groups have 1100 clients; allowed: at most 1000 in all");
  // A fault's client is bounded by the fleet's total.
  EXPECT_HAS(FleetErrorOf(WithFormat(R"("clients": {"fleet": [{"count": 2}]},
                                        "faults": [{"at_ms": 1, "kind": "kill", "client": 3}])"))
                 .what(),
             "faults[0].client: 3 is out of range; allowed: 1..2 (clients.count)");
}

}  // namespace
}  // namespace syncsim::scenarios

namespace syncsim::scenarios {
namespace {
// Issue 17's service fields and the replication-only restart: read, written only when not the
// default, read back equal; bad values exit 2 naming field, value and what is allowed.
// Version skew (engine/js/README.md "Version skew"): sdk_package and sdk_package_force, uniform
// and per fleet group, round-trip and appear in the full form only when set.
TEST(ScenarioFormat, SdkPackageOverridesRoundTripUniformAndPerGroup) {
  const Scenario u =
      parse_scenario_text(WithFormat(R"("clients": {"sdk": "js-real", "checkpoint_mode": "legacy",
                                "sdk_package": "sdk-1.54.0"}, "faults": [])"),
                          Ctx(), "u");
  EXPECT_EQ(u.clients.sdk_package, "sdk-1.54.0");
  EXPECT_FALSE(u.clients.sdk_package_force);
  EXPECT_EQ(group_of(u.clients, 1).sdk_package, "sdk-1.54.0");
  EXPECT_EQ(to_json(u)["clients"]["sdk_package"], "sdk-1.54.0");
  EXPECT_FALSE(to_json(u)["clients"].contains("sdk_package_force"));
  EXPECT_EQ(parse_scenario(to_json(u), Ctx(), "x"), u);
  const Scenario f = parse_scenario_text(WithFormat(R"("clients": {"fleet": [{"count": 1},
                   {"count": 2, "sdk": "js-real", "checkpoint_mode": "legacy",
                    "sdk_package": "sdk-1.43.1", "sdk_package_force": true}]}, "faults": [])"),
                                         Ctx(), "f");
  EXPECT_EQ(group_of(f.clients, 1).sdk_package, "");
  EXPECT_EQ(group_of(f.clients, 2).sdk_package, "sdk-1.43.1");
  EXPECT_TRUE(group_of(f.clients, 3).sdk_package_force);
  const json j = to_json(f);
  EXPECT_FALSE(j["clients"]["fleet"][0].contains("sdk_package"));
  EXPECT_EQ(j["clients"]["fleet"][1]["sdk_package_force"], true);
  EXPECT_EQ(parse_scenario(j, Ctx(), "x"), f);
  EXPECT_FALSE(
      to_json(parse_scenario_text(WithFormat(R"("faults": [])"), Ctx(), "d"))["clients"].contains(
          "sdk_package"));
}

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
}  // namespace
}  // namespace syncsim::scenarios
