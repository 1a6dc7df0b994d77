// Swarm testing (scenario `swarm`, scenarios/explore/swarm.hpp): the loader, deterministic draws
// within their ranges, the trace header and results, :swarm repro strings, and through the
// CLI a swarm sweep listing a failing seed's parameters whose repro replays bit for bit.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "cli_helpers.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/results/repro.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using syncsim::testing::syncsim;
using syncsim::testing::write_temp;
using test_support::load;
using test_support::problems_of;

json swarm_scenario() {
  return json::parse(R"({
    "format": 1, "name": "swarmy", "duration_s": 10,
    "clients": {"count": 2},
    "faults": [{"at_ms": 1000, "kind": "disconnect", "client": 1}],
    "swarm": {
      "clients.count": [1, 4],
      "service.replication_lag_ms": [0, 5000],
      "network.latency_ms": [1, 200],
      "workload.keyspace": [2, 32],
      "faults": {"count": [0, 6], "triggered_pct": 50,
                 "kinds": ["disconnect", "lag", "storm", "request_lost", "delete_request",
                           "service_restart"]}
    }
  })");
}

json with_swarm(const char* swarm) {
  json j = swarm_scenario();
  j["swarm"] = json::parse(swarm);
  return j;
}

TEST(SwarmFormat, LoadsAndRoundTrips) {
  const Scenario s = load(swarm_scenario());
  ASSERT_TRUE(s.swarm.has_value());
  EXPECT_EQ(s.swarm->knobs.at("clients.count"), (SwarmRange{1, 4}));
  EXPECT_EQ(s.swarm->knobs.at("network.latency_ms"), (SwarmRange{1, 200}));
  ASSERT_TRUE(s.swarm->faults.has_value());
  EXPECT_EQ(s.swarm->faults->count, (SwarmRange{0, 6}));
  EXPECT_EQ(s.swarm->faults->kinds.size(), 6u);
  EXPECT_EQ(s.swarm->faults->triggered_pct, 50);
  EXPECT_EQ(load(to_json(s)), s);
  // Without a swarm section the full form has none.
  json plain = swarm_scenario();
  plain.erase("swarm");
  EXPECT_FALSE(to_json(load(plain)).contains("swarm"));
}

TEST(SwarmFormat, RejectsWithFieldValueAndAllowed) {
  std::string e = problems_of(with_swarm(R"({"service.lag": [0, 1]})"));
  EXPECT_NE(e.find("unknown field `swarm.service.lag`; allowed (swarm knobs): clients.count, "),
            std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"service.replication_lag_ms": [500, 100]})"));
  EXPECT_NE(e.find("swarm.service.replication_lag_ms: [500,100] has min > max"), std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"service.heartbeat_ms": [1000, 6000]})"));
  EXPECT_NE(e.find("swarm.service.heartbeat_ms[0]: 1000 is out of range; allowed: 5000..60000"),
            std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"workload.keyspace": 5})"));
  EXPECT_NE(e.find("swarm.workload.keyspace: 5 must be [min, max]; allowed: integers within "
                   "1..100000"),
            std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"faults": {"count": [0, 2], "kinds": ["upgrade"]}})"));
  EXPECT_NE(e.find("swarm.faults.kinds[0]: \"upgrade\" is not a known swarm fault kind; allowed: "
                   "lag, stall"),
            std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"faults": {"kinds": ["lag"]}})"));
  EXPECT_NE(e.find("missing required field `swarm.faults.count`"), std::string::npos) << e;
  e = problems_of(with_swarm(R"({"faults": {"count": [0, 101], "kinds": ["lag"]}})"));
  EXPECT_NE(e.find("swarm.faults.count[1]: 101 is out of range; allowed: 0..100"),
            std::string::npos)
      << e;
  e = problems_of(with_swarm(R"({"network.latency_ms": [0, 5], "network.latency_up_ms": [0, 5]})"));
  EXPECT_NE(e.find("swarm.network.latency_up_ms: is not allowed together with "
                   "swarm.network.latency_ms"),
            std::string::npos)
      << e;
  // The scenario's own fault names client 1, fine; one naming client 2 needs min >= 2.
  json j = with_swarm(R"({"clients.count": [1, 3]})");
  j["faults"].push_back(json::parse(R"({"at_ms": 0, "kind": "delete_request", "client": 2})"));
  e = problems_of(j);
  EXPECT_NE(e.find("swarm.clients.count: [1, 3] may draw fewer clients than the faults name "
                   "(client 2); allowed: min >= 2"),
            std::string::npos)
      << e;
  j = with_swarm(R"({"clients.count": [1, 3]})");
  j["clients"] = json::parse(R"({"fleet": [{"count": 2}]})");
  e = problems_of(j);
  EXPECT_NE(e.find("swarm.clients.count: is not allowed with clients.fleet"), std::string::npos)
      << e;
}

TEST(SwarmDraw, DeterministicPerSeedAndDifferentAcrossSeeds) {
  const Scenario s = load(swarm_scenario());
  const auto ctx = validation_context();
  const SwarmDraw a = draw_swarm(s, 7, ctx);
  const SwarmDraw b = draw_swarm(s, 7, ctx);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.scenario, b.scenario);
  std::set<std::string> distinct;
  for (uint64_t seed = 1; seed <= 10; ++seed)
    distinct.insert(draw_swarm(s, seed, ctx).params.dump());
  EXPECT_GE(distinct.size(), 9u);
}

TEST(SwarmDraw, EveryParameterWithinItsRange) {
  const Scenario s = load(swarm_scenario());
  const auto ctx = validation_context();
  const std::set<std::string> kinds(s.swarm->faults->kinds.begin(), s.swarm->faults->kinds.end());
  std::set<int64_t> counts, fault_counts;
  bool any_trigger = false;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const SwarmDraw d = draw_swarm(s, seed, ctx);
    const Scenario& c = d.scenario;
    EXPECT_FALSE(c.swarm.has_value());
    for (const auto& [key, range] : s.swarm->knobs) {
      const int64_t v = d.params.at(key).get<int64_t>();
      EXPECT_GE(v, range.lo) << key;
      EXPECT_LE(v, range.hi) << key;
    }
    EXPECT_EQ(c.clients.count, d.params["clients.count"].get<int>());
    EXPECT_EQ(c.service.replication_lag_ms, d.params["service.replication_lag_ms"].get<int64_t>());
    EXPECT_EQ(c.network.latency_up_ms, d.params["network.latency_ms"].get<int64_t>());
    EXPECT_EQ(c.network.latency_down_ms, d.params["network.latency_ms"].get<int64_t>());
    EXPECT_EQ(c.workload.keyspace, d.params["workload.keyspace"].get<int>());
    counts.insert(c.clients.count);
    const auto& added = d.params["faults"];
    fault_counts.insert(static_cast<int64_t>(added.size()));
    EXPECT_LE(added.size(), 6u);
    EXPECT_EQ(c.faults.size(), added.size() + 1);  // the scenario's own disconnect stays
    for (const auto& f : added) {
      EXPECT_TRUE(kinds.contains(f["kind"].get<std::string>())) << f.dump();
      EXPECT_LE(f["at_ms"].get<int64_t>(), c.duration_s * 1000);
      if (f.contains("client")) {
        EXPECT_LE(f["client"].get<int>(), c.clients.count);
      }
      any_trigger = any_trigger || f.contains("on");
    }
    EXPECT_TRUE(std::is_sorted(c.faults.begin(), c.faults.end(),
                               [](const Fault& x, const Fault& y) { return x.at_ms < y.at_ms; }));
  }
  EXPECT_EQ(counts, (std::set<int64_t>{1, 2, 3, 4}));  // the whole range gets drawn
  EXPECT_EQ(fault_counts, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(any_trigger);
}

TEST(SwarmRun, ParametersInTheTraceHeaderAndResults) {
  const Scenario s = load(swarm_scenario());
  std::ostringstream trace;
  RunOptions o;
  o.seed = 3;
  o.swarm = true;
  o.trace_sink = &trace;
  const RunResult r = run_scenario(s, o);
  const SwarmDraw d = draw_swarm(s, 3, validation_context());
  EXPECT_EQ(r.swarm, d.params);
  const std::string first = trace.str().substr(0, trace.str().find('\n'));
  EXPECT_EQ(first, "0 swarm " + swarm_params_text(d.params));
  EXPECT_NE(first.find("clients.count="), std::string::npos);
  EXPECT_EQ(result_json(r, "x")["swarm"], d.params);
  // Without --swarm the base values run: no draw, another trace.
  RunOptions base;
  base.seed = 3;
  const RunResult plain = run_scenario(s, base);
  EXPECT_TRUE(plain.swarm.is_null());
  EXPECT_FALSE(result_json(plain, "x").contains("swarm"));
  EXPECT_NE(plain.trace_hash, r.trace_hash);
}

TEST(SwarmRepro, CarriesTheSwarmFlagCompatibly) {
  Repro r{"basic", "a:b.json", 5, "0.1.0+abc", std::string("0123456789abcdef"), true};
  EXPECT_EQ(format_repro(r),
            "syncsim:basic:a:b.json:seed=5:build=0.1.0+abc:hash=0123456789abcdef"
            ":swarm");
  EXPECT_EQ(parse_repro(format_repro(r)), r);
  r.hash.reset();
  EXPECT_EQ(parse_repro(format_repro(r)), r);
  EXPECT_FALSE(parse_repro("syncsim:basic:x.json:seed=5:build=b").swarm);
  EXPECT_THROW(parse_repro("syncsim:basic:x.json:seed=5:build=b:swarm:hash=0123456789abcdef"),
               ReproError);
}

// A swarm scenario that fails on every seed (a mutant), small enough for the quick suite.
// `file`: each test its own (ctest -j runs tests of one binary in parallel processes).
std::string failing_swarm_file(const std::string& file) {
  json j = swarm_scenario();
  j["name"] = "swarm-mutant";
  j["mutants"] = {"complete-without-upload"};
  return write_temp(file, j.dump(2));
}

TEST(SwarmCli, SweepListsFailingSeedsParametersAndTheirReprosReplayBitForBit) {
  const std::string file = failing_swarm_file("swarm-mutant-sweep.json");
  const std::string report = syncsim::testing::absent_temp_path("swarm-report.md");
  const auto out = syncsim("sweep " + file + " --seeds 1..3 --jobs 2 --swarm --report " + report);
  EXPECT_EQ(out.exit_code, 1) << out.output;
  EXPECT_NE(out.output.find("swarm: 3 runs drew their parameters"), std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("swarm parameters of failing seeds:"), std::string::npos);
  const Scenario s = load_scenario_file(file, validation_context());
  const auto ctx = validation_context();
  for (uint64_t seed : {1, 2, 3}) {
    const std::string expected = fmt::format("  swarm-mutant seed={}: {}\n", seed,
                                             swarm_params_text(draw_swarm(s, seed, ctx).params));
    EXPECT_NE(out.output.find(expected), std::string::npos) << expected << out.output;
  }
  // The report names the diagram's (first failing) seed's draw.
  EXPECT_NE(syncsim::testing::read_file(report).find("| swarm draw (seed 1) | `clients.count="),
            std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out.output, m, std::regex(R"(repro: (syncsim:\S+:swarm))")))
      << out.output;
  const std::string repro = m[1];
  const auto replay = syncsim("replay '" + repro + "'");
  EXPECT_EQ(replay.exit_code, 1) << replay.output;
  EXPECT_NE(replay.output.find("bit-for-bit identical to the recorded run"), std::string::npos)
      << replay.output;
  EXPECT_NE(replay.output.find("  swarm: clients.count="), std::string::npos) << replay.output;
  // The same repro without :swarm runs the base values: another run.
  const std::string without = repro.substr(0, repro.size() - std::string(":swarm").size());
  const auto base = syncsim("replay '" + without + "'");
  EXPECT_NE(base.output.find("DIVERGED from the recorded run"), std::string::npos) << base.output;
}

TEST(SwarmCli, ShrinkWorksOnTheDrawnConcreteScenario) {
  const std::string file = failing_swarm_file("swarm-mutant-shrink.json");
  const Scenario s = load_scenario_file(file, validation_context());
  const auto run = run_scenario(s, [] {
    RunOptions o;
    o.seed = 2;
    o.swarm = true;
    return o;
  }());
  ASSERT_TRUE(run.violation.has_value());
  const std::string repro = format_repro({s.name, file, 2, build_id(), run.trace_hash, true});
  const std::string out = syncsim::testing::absent_temp_path("swarm-shrunk.json");
  const auto shrunk = syncsim("shrink '" + repro + "' --max-attempts 4 --out " + out);
  EXPECT_EQ(shrunk.exit_code, 0) << shrunk.output;
  EXPECT_NE(shrunk.output.find("shrink: swarm draw of seed 2: " +
                               swarm_params_text(draw_swarm(s, 2, validation_context()).params)),
            std::string::npos)
      << shrunk.output;
  // The shrunk file is concrete: no swarm section, and it still fails the same way.
  const Scenario small = load_scenario_file(out, validation_context());
  EXPECT_FALSE(small.swarm.has_value());
  RunOptions o;
  o.seed = 2;
  ASSERT_TRUE(run_scenario(small, o).violation.has_value());
  EXPECT_EQ(run_scenario(small, o).violation->invariant, run.violation->invariant);
}

TEST(SwarmCli, RunPrintsTheDrawPerSeedAndWithoutSwarmNothing) {
  const std::string file = failing_swarm_file("swarm-mutant-run.json");
  const auto with = syncsim("run " + file + " --seeds 1..2 --swarm");
  EXPECT_EQ(with.exit_code, 1);
  const Scenario s = load_scenario_file(file, validation_context());
  EXPECT_NE(with.output.find("  swarm: " +
                             swarm_params_text(draw_swarm(s, 2, validation_context()).params)),
            std::string::npos)
      << with.output;
  EXPECT_NE(with.output.find(":swarm\n"), std::string::npos);
  EXPECT_NE(with.output.find("--swarm\n"), std::string::npos);  // the replay command
  const auto without = syncsim("run " + file + " --seed 1");
  EXPECT_EQ(without.output.find("swarm:"), std::string::npos) << without.output;
}

TEST(SwarmCli, ValidateAcceptsTheCatalogScenarioAndRejectsBadRanges) {
  const auto ok = syncsim("validate " + syncsim::testing::catalog("swarm-faults"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("5 faults, 5 on protocol events; swarm: 4 knobs + 0..6 faults"),
            std::string::npos)
      << ok.output;
  const std::string bad = write_temp(
      "swarm-bad.json", with_swarm(R"({"clients.count": [3, 2]})").dump() /* min > max */);
  const auto rejected = syncsim("validate " + bad);
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_NE(rejected.output.find("swarm.clients.count: [3,2] has min > max"), std::string::npos)
      << rejected.output;
  json trig = swarm_scenario();
  trig["faults"][0]["on"] = {{"event", "upload"}};
  const auto bad_trigger = syncsim("validate " + write_temp("trigger-bad.json", trig.dump()));
  EXPECT_EQ(bad_trigger.exit_code, 2);
  EXPECT_NE(bad_trigger.output.find("faults[0].on.event: \"upload\" is not allowed; allowed: "),
            std::string::npos)
      << bad_trigger.output;
}

}  // namespace
}  // namespace syncsim::scenarios
