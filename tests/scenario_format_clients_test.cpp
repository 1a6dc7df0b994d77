// Unit tests of the scenario format's client side (docs/scenarios.md): the SDK-API knobs,
// lifecycle faults, SDK behaviours, mixed fleets and version skew (sdk_package).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"
#include "tests/support/scenario_format_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::Ctx;
using test_support::ErrorOf;
using test_support::WithFormat;

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

}  // namespace
}  // namespace syncsim::scenarios
