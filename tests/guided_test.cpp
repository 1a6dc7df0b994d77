// Coverage of the abstract protocol state, the coverage-guided world swarm and the world's
// newer draws (issue 14 §1, §5; scenarios/explore/abstract_state.hpp, guided.hpp):
// observed cells are cells of the table; guided weights follow novelty and keep a file's
// zero weights; a guided hunt writes the same batch files and coverage with --jobs 1 and 2;
// the world draws quiet phases, requests without writes, switch_user back and long
// absences; a quiet phase stops writes.  The 500-vs-500 comparison is GuidedLong (label long).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli_helpers.hpp"
#include "engine/js/js_host.hpp"
#include "scenarios/explore/abstract_state.hpp"
#include "scenarios/explore/guided.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using syncsim::testing::absent_temp_path;
using syncsim::testing::read_file;
using syncsim::testing::syncsim;
using syncsim::testing::temp_path;
using syncsim::testing::write_temp;

const std::string kWorld = syncsim::testing::catalog("world");

TEST(AbstractState, AWorldRunReachesCellsOfTheTableOnly) {
  const auto ctx = validation_context();
  const Scenario base = load_scenario_file(kWorld, ctx);
  std::set<std::string> all(abstract_state_cells().begin(), abstract_state_cells().end());
  EXPECT_EQ(all.size(), 2u * 3 * 4 * 6);
  std::set<std::string> reached;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    RunOptions o;
    o.seed = seed;
    o.swarm = true;
    const RunResult r = run_scenario(base, o);
    EXPECT_FALSE(r.abstract_states.empty()) << "seed " << seed;
    EXPECT_TRUE(std::is_sorted(r.abstract_states.begin(), r.abstract_states.end()));
    for (const auto& c : r.abstract_states) {
      EXPECT_TRUE(all.contains(c)) << c;
      reached.insert(c);
    }
    // The observer only reads: the same seed gives the same trace and the same cells.
    const RunResult again = run_scenario(base, o);
    EXPECT_EQ(again.trace_hash, r.trace_hash);
    EXPECT_EQ(again.abstract_states, r.abstract_states);
  }
  // Some client streams with its gate open.
  EXPECT_TRUE(std::any_of(reached.begin(), reached.end(), [](const std::string& c) {
    return c.find("|open|") != std::string::npos && c.ends_with("streaming");
  }));
}

// A js-real life keeps no port state: its cells' link comes from the published SDK's own
// stream (JsRealClient::stream_open), so its clients reach the streaming cells too (before,
// the port's connected() left every js-real client "connecting" in the guided hunt's table).
TEST(AbstractState, AJsRealClientStreamsInTheTable) {
  if (auto why = engine::js::js_real_unavailable("0.5.3")) GTEST_SKIP() << *why;
  Scenario s = load_scenario_file(syncsim::testing::catalog("basic"), validation_context());
  s.clients.sdk = "js-real";
  s.duration_s = 10;
  s.faults.clear();
  RunOptions o;
  o.seed = 1;
  const RunResult r = run_scenario(s, o);
  EXPECT_TRUE(r.passed);
  EXPECT_TRUE(std::any_of(r.abstract_states.begin(), r.abstract_states.end(),
                          [](const std::string& c) { return c.ends_with("first-streaming"); }))
      << ::testing::PrintToString(r.abstract_states);
}

TEST(Guided, WeightsFollowNoveltyAndKeepZeroWeights) {
  const auto ctx = validation_context();
  json world = load_scenario_file(kWorld, ctx).swarm->world.value();
  world["weights"]["fleet.mode"] = {{"requests", 1}, {"legacy", 1}};
  world["weights"]["service.flavour"] = {{"mongo", 1}, {"postgres", 0}};
  // Without runs: the file's weights, every dimension and class spelled out.
  const json base = guided_weights(world, {}, ctx);
  EXPECT_EQ(base, world_weights(world, ctx));
  EXPECT_EQ(base["service.flavour"]["postgres"], 0);
  // Legacy runs reach a cell nobody else does; requests runs share one cell.
  std::vector<GuidedRun> runs;
  for (int i = 0; i < 6; ++i) {
    GuidedRun r;
    const bool legacy = i % 3 == 0;
    r.picks = {{"fleet.mode", legacy ? "legacy" : "requests"}, {"service.flavour", "mongo"}};
    r.cells = {"requests|open|absent|first-streaming"};
    if (legacy)
      r.cells.push_back(i == 0 ? "legacy|open|absent|first-streaming" : "x" + std::to_string(i));
    runs.push_back(r);
  }
  const json w = guided_weights(world, runs, ctx);
  EXPECT_GT(w["fleet.mode"]["legacy"].get<int>(), w["fleet.mode"]["requests"].get<int>()) << w;
  EXPECT_EQ(w["service.flavour"]["postgres"], 0);  // a zero weight stays zero (a focus)
  // A class no run picked is explored: factor 2 over the dimension's picked ones at par.
  EXPECT_GT(w["fleet.groups"]["3"].get<int>(), 0);
  // The same runs give the same weights (no hidden state).
  EXPECT_EQ(guided_weights(world, runs, ctx), w);
  // The weights are a valid world section.
  json again = world;
  again["weights"] = w;
  EXPECT_TRUE(world_spec_problems(again, ctx).empty());
}

// A guided child keeps its parent's picks: pinned with every pick of a parent seed, another
// seed redraws the same classes and fault counts (only numbers differ); pins that leave a
// dimension out let it be drawn afresh; bad pins are refused by the loader's check.
TEST(Guided, PinnedChildrenRedrawTheirParentsClasses) {
  const auto ctx = validation_context();
  json world = load_scenario_file(kWorld, ctx).swarm->world.value();
  int differ_without_pins = 0;
  for (uint64_t parent = 1; parent <= 20; ++parent) {
    Scenario base = load_scenario_file(kWorld, ctx);
    const WorldPicks picks = world_picks(base, parent, ctx);
    json keep = json::object();
    for (const auto& [key, cls] : picks) {
      if (key.starts_with("count.")) {
        keep[key].push_back(std::stoll(cls));
      } else {
        keep[key].push_back(cls);
      }
    }
    const uint64_t child = 1000 + parent;
    json w = world;
    w["pins"][std::to_string(child)] = keep;
    ASSERT_TRUE(world_spec_problems(w, ctx).empty()) << world_spec_problems(w, ctx)[0].second;
    if (world_picks(base, child, ctx) != picks) ++differ_without_pins;
    base.swarm->world = w;
    const WorldPicks again = world_picks(base, child, ctx);
    // Fleet, service and workload classes, and every fault count, are the parent's.
    auto fixed = [](const WorldPicks& p) {
      WorldPicks out;
      for (const auto& kv : p) {
        if (!kv.first.starts_with("faults.") || kv.first == "faults.kind") out.push_back(kv);
      }
      return out;
    };
    EXPECT_EQ(fixed(again), fixed(picks)) << "parent " << parent;
    const SwarmDraw d = draw_swarm(base, child, ctx);
    EXPECT_TRUE(d.params.contains("guided.pinned"));
  }
  EXPECT_GT(differ_without_pins, 15);  // the pins, not chance, made them equal
  json bad = world;
  bad["pins"] = {{"12", {{"fleet.mode", {"sideways"}}}}};
  ASSERT_FALSE(world_spec_problems(bad, ctx).empty());
  EXPECT_NE(world_spec_problems(bad, ctx)[0].second.find("not a class of fleet.mode"),
            std::string::npos);
  bad["pins"] = {{"x", json::object()}};
  EXPECT_EQ(world_spec_problems(bad, ctx)[0].first, "pins.x");
}

TEST(Guided, ChildrenDescendFromRunsThatReachedRareCells) {
  std::vector<GuidedRun> runs;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    GuidedRun r;
    r.seed = seed;
    r.picks = {{"fleet.mode", seed == 7 ? "legacy" : "requests"}, {"count.service", "1"}};
    r.cells = {"requests|open|processed|first-streaming"};
    if (seed == 7) r.cells.push_back("legacy|open|deleted|first-streaming");  // rare
    runs.push_back(r);
  }
  std::vector<uint64_t> seeds;
  for (uint64_t s = 41; s <= 80; ++s) seeds.push_back(s);
  std::map<uint64_t, uint64_t> parents;
  const json pins = guided_pins(runs, seeds, 1, parents);
  EXPECT_EQ(pins.size(), seeds.size() / 4 * kChildrenPerFour);
  EXPECT_EQ(parents.size(), pins.size());
  uint64_t from_rare = 0;
  for (const auto& [child, parent] : parents) from_rare += parent == 7 ? 1 : 0;
  EXPECT_GT(from_rare, parents.size() / 3) << pins.dump();
  // The same runs give the same pins.
  std::map<uint64_t, uint64_t> again;
  EXPECT_EQ(guided_pins(runs, seeds, 1, again), pins);
  EXPECT_EQ(again, parents);
  std::map<uint64_t, uint64_t> none;
  EXPECT_TRUE(guided_pins({}, seeds, 1, none).empty());
}

// A small, fast world: short runs, one group, few faults.
std::string small_world() {
  json j = json::parse(read_file(kWorld));
  auto& w = j["swarm"]["world"]["weights"];
  w["duration"] = {{"short", 1}, {"medium", 0}, {"long", 0}};
  w["fleet.groups"] = {{"1", 1}, {"2", 0}, {"3", 0}};
  w["workload.write_rate"] = {{"fast", 0}, {"normal", 1}, {"slow", 1}};
  return write_temp("guided-small-world.json", j.dump(2));
}

TEST(GuidedCli, GuidedBatchesAreTheSameWhateverJobs) {
  const std::string world = small_world();
  const std::string known = write_temp("guided-no-known.json", R"({"format": 1, "known": []})");
  json coverage[2];
  std::string batch2[2];
  for (int jobs = 1; jobs <= 2; ++jobs) {
    const std::string dir = absent_temp_path("guided-" + std::to_string(jobs));
    const auto o =
        syncsim("hunt " + world + " --seeds 1..6 --guided --batch 2 --max-shrink 0 --jobs " +
                std::to_string(jobs) + " --known " + known + " --findings " + dir);
    ASSERT_TRUE(o.exit_code == 0 || o.exit_code == 1) << o.output;
    ASSERT_TRUE(std::filesystem::exists(dir + "/guided/guided-small-world-batch-2.json"))
        << o.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/guided/guided-small-world-batch-3.json"));
    batch2[jobs - 1] = read_file(dir + "/guided/guided-small-world-batch-2.json");
    coverage[jobs - 1] = json::parse(read_file(dir + "/findings.json"))["coverage"];
    EXPECT_NE(read_file(dir + "/findings.md").find("Abstract protocol state reached"),
              std::string::npos);
  }
  EXPECT_EQ(batch2[0], batch2[1]);
  EXPECT_EQ(coverage[0]["abstract_states"], coverage[1]["abstract_states"]);
  EXPECT_GT(coverage[0]["abstract_states"]["reached"].get<int>(), 0);
  // The batch file is a world swarm the loader takes, and redraws a guided seed: the run of
  // seed 5 from it is a valid run (its repro names this file).
  const std::string dir = temp_path("guided-1");
  const auto r = syncsim("run " + dir + "/guided/guided-small-world-batch-2.json --swarm --seed 5");
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  EXPECT_NE(r.output.find("swarm:"), std::string::npos) << r.output;
  // --guided needs a world swarm.
  const auto bad =
      syncsim("hunt " + std::string(SYNCSIM_SOURCE_DIR) +
              "/scenarios/catalog/swarm-faults.json --seeds 1..2 --guided --findings " +
              absent_temp_path("guided-bad"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("swarm.world"), std::string::npos) << bad.output;
}

TEST(WorldDraws, QuietPhasesRequestsWithoutWritesSwitchUserBackAndLongAbsences) {
  const auto ctx = validation_context();
  const Scenario base = load_scenario_file(kWorld, ctx);
  bool quiet_short = false, quiet_for_good = false, interval = false, back_first = false,
       back_previous = false, absence = false;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const SwarmDraw d = draw_swarm(base, seed, ctx);
    const Scenario& s = d.scenario;
    interval = interval || s.workload.request_interval_ms > 0;
    const int64_t retention_ms = s.service.checkpoint_request_retention_minutes * 60000;
    for (std::size_t i = 0; i < s.faults.size(); ++i) {
      const Fault& f = s.faults[i];
      if (f.kind == FaultKind::Quiet) {
        (f.duration_ms ? quiet_short : quiet_for_good) = true;
      }
      if (f.kind == FaultKind::SwitchUser && f.user == "first") back_first = true;
      if (f.kind == FaultKind::SwitchUser && f.user == "previous") back_previous = true;
      if ((f.kind == FaultKind::DisconnectClient || f.kind == FaultKind::Restart) &&
          f.down_ms > retention_ms) {
        absence = true;
      }
    }
    // The picks recorded for guidance are those of the draw: redrawing gives the same.
    EXPECT_EQ(world_picks(base, seed, ctx), world_picks(base, seed, ctx));
  }
  EXPECT_TRUE(quiet_short);
  EXPECT_TRUE(quiet_for_good);
  EXPECT_TRUE(interval);
  EXPECT_TRUE(back_first);
  EXPECT_TRUE(back_previous);
  EXPECT_TRUE(absence);
}

json one_client(const json& faults) {
  return {{"format", 1},
          {"name", "quiet"},
          {"duration_s", 30},
          {"clients", {{"count", 1}}},
          {"workload", {{"write_interval_min_ms", 500}, {"write_interval_max_ms", 1000}}},
          {"faults", faults}};
}

TEST(WorldDraws, AQuietPhaseStopsWritesAndSwitchUserGoesBack) {
  const auto ctx = validation_context();
  RunOptions o;
  o.seed = 3;
  const RunResult busy = run_scenario(parse_scenario(one_client(json::array()), ctx, "a"), o);
  const RunResult quiet = run_scenario(
      parse_scenario(one_client({{{"at_ms", 0}, {"kind", "quiet"}, {"client", 1}}}), ctx, "b"), o);
  const RunResult pause = run_scenario(
      parse_scenario(
          one_client({{{"at_ms", 5000}, {"kind", "quiet"}, {"client", 1}, {"duration_ms", 10000}}}),
          ctx, "c"),
      o);
  EXPECT_GT(busy.metrics.at("local_writes"), 20u);
  EXPECT_EQ(quiet.metrics.at("local_writes"), 0u);
  EXPECT_GT(pause.metrics.at("local_writes"), 0u);
  EXPECT_LT(pause.metrics.at("local_writes"), busy.metrics.at("local_writes"));
  EXPECT_TRUE(quiet.expectation_met) << quiet.stop.message;
  // switch_user back to the first user: parses, round-trips, and runs.
  const json back =
      one_client({{{"at_ms", 5000}, {"kind", "switch_user"}, {"client", 1}},
                  {{"at_ms", 15000}, {"kind", "switch_user"}, {"client", 1}, {"user", "first"}}});
  const Scenario s = parse_scenario(back, ctx, "back");
  EXPECT_EQ(s.faults.at(0).user, "new");
  EXPECT_EQ(s.faults.at(1).user, "first");
  EXPECT_FALSE(to_json(s)["faults"][0].contains("user"));  // the default is not written
  EXPECT_EQ(to_json(s)["faults"][1]["user"], "first");
  EXPECT_EQ(parse_scenario(to_json(s), ctx, "again"), s);
  const RunResult r = run_scenario(s, o);
  EXPECT_NE(r.stop.kind, sim::StopKind::Crash) << r.stop.message;
  // A bad value names the field, the value and what is allowed.
  json bad = back;
  bad["faults"][1]["user"] = "bob";
  try {
    parse_scenario(bad, ctx, "bad");
    ADD_FAILURE() << "accepted user \"bob\"";
  } catch (const ScenarioError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("user"), std::string::npos) << m;
    EXPECT_NE(m.find("previous"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace syncsim::scenarios
