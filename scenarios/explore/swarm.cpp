#include "scenarios/explore/swarm.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/explore/world_swarm.hpp"
#include "sim/prng.hpp"

namespace syncsim::scenarios {

const std::vector<SwarmKnob>& swarm_knobs() {
  // The ranges are the scenario format's own (scenario.hpp), so a drawn value is always a
  // value the file could have said.
  static const std::vector<SwarmKnob> knobs = {
      {"clients.count", 1, 64, "number of clients (uniform form only, not with clients.fleet)",
       [](Scenario& s, int64_t v) { s.clients.count = static_cast<int>(v); }},
      {"clients.crud_upload_throttle_ms", 0, 600000, "clients.crud_upload_throttle_ms",
       [](Scenario& s, int64_t v) { s.clients.crud_upload_throttle_ms = v; }},
      {"clients.retry_delay_ms", 1, 600000, "clients.retry_delay_ms",
       [](Scenario& s, int64_t v) { s.clients.retry_delay_ms = v; }},
      {"network.jitter_ms", 0, 60000, "network.jitter_ms",
       [](Scenario& s, int64_t v) { s.network.jitter_ms = v; }},
      {"network.latency_down_ms", 0, 60000, "network.latency_down_ms",
       [](Scenario& s, int64_t v) { s.network.latency_down_ms = v; }},
      {"network.latency_ms", 0, 60000, "both network latencies, one draw",
       [](Scenario& s, int64_t v) {
         s.network.latency_up_ms = v;
         s.network.latency_down_ms = v;
       }},
      {"network.latency_up_ms", 0, 60000, "network.latency_up_ms",
       [](Scenario& s, int64_t v) { s.network.latency_up_ms = v; }},
      {"service.batch_latency_max_ms", 0, 60000, "service.batch_latency_max_ms",
       [](Scenario& s, int64_t v) { s.service.batch_latency_max_ms = v; }},
      {"service.heartbeat_ms", 5000, 60000, "service.heartbeat_ms",
       [](Scenario& s, int64_t v) { s.service.heartbeat_ms = v; }},
      {"service.replication_lag_ms", 0, 3600000, "service.replication_lag_ms",
       [](Scenario& s, int64_t v) { s.service.replication_lag_ms = v; }},
      {"workload.delete_pct", 0, 100, "workload.delete_pct",
       [](Scenario& s, int64_t v) { s.workload.delete_pct = static_cast<int>(v); }},
      {"workload.keyspace", 1, 100000, "workload.keyspace",
       [](Scenario& s, int64_t v) { s.workload.keyspace = static_cast<int>(v); }},
      {"workload.notes_pct", 0, 100, "workload.notes_pct",
       [](Scenario& s, int64_t v) { s.workload.notes_pct = static_cast<int>(v); }},
      {"workload.request_checkpoint_pct", 0, 100, "workload.request_checkpoint_pct",
       [](Scenario& s, int64_t v) { s.workload.request_checkpoint_pct = static_cast<int>(v); }},
  };
  return knobs;
}

const SwarmKnob* find_swarm_knob(const std::string& key) {
  for (const SwarmKnob& k : swarm_knobs()) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

const std::vector<std::string>& swarm_fault_kinds() {
  static const std::vector<std::string> kinds = {"lag",
                                                 "stall",
                                                 "disconnect",
                                                 "storm",
                                                 "request_lost",
                                                 "delete_request",
                                                 "compact",
                                                 "service_restart",
                                                 "sync_config_change",
                                                 "restart",
                                                 "kill",
                                                 "power_loss",
                                                 "switch_user",
                                                 "disconnect_client",
                                                 "disconnect_and_clear"};
  return kinds;
}

const std::vector<std::string>& trigger_events() {
  static const std::vector<std::string> events = {"upload_in_flight", "mapping_stored",
                                                  "checkpoint_blocked", "request_posted",
                                                  "checkpoint_applied"};
  return events;
}

namespace {

template <typename T>
const T& pick(sim::Prng& rng, const std::vector<T>& items) {
  return items.at(rng.uniform(items.size()));
}

// The fault's fields, drawn from fixed modest ranges (documented in the README): long
// enough to matter, short enough that quiesce heals them.
nlohmann::json draw_fault(sim::Prng& rng, const Scenario& s, const SwarmFaults& spec) {
  const std::string kind = pick(rng, spec.kinds);
  const int64_t clients = s.clients.count;
  nlohmann::json f = {{"at_ms", rng.range(0, s.duration_s * 1000)}, {"kind", kind}};
  auto client = [&] { f["client"] = rng.range(1, clients); };
  auto down = [&] { f["down_ms"] = rng.range(0, 5000); };
  if (kind == "lag") {
    f["lag_ms"] = rng.range(0, 5000);
    f["duration_ms"] = rng.range(1, 10000);
  } else if (kind == "stall") {
    f["duration_ms"] = rng.range(1, 10000);
  } else if (kind == "storm") {
    f["fraction_pct"] = rng.range(1, 100);
  } else if (kind == "request_lost") {
    client();
    f["lost"] = rng.percent(50) ? "request" : "response";
    f["route"] = pick(rng, std::vector<std::string>{"checkpoint", "upload", "any"});
    f["count"] = rng.range(1, 3);
  } else if (kind == "service_restart") {
    down();
  } else if (kind == "disconnect" || kind == "delete_request") {
    client();
  } else if (kind != "compact" && kind != "sync_config_change") {
    client();  // the lifecycle kinds and disconnect_client / disconnect_and_clear
    down();
  }
  if (rng.percent(static_cast<uint64_t>(spec.triggered_pct))) {
    f["on"] = {
        {"event", pick(rng, trigger_events())}, {"client", rng.range(1, clients)}, {"nth", 1}};
  }
  return f;
}

}  // namespace

SwarmDraw draw_swarm(const Scenario& base, uint64_t seed, const ValidationContext& ctx) {
  if (!base.swarm) throw std::invalid_argument("scenario " + base.name + " has no swarm section");
  sim::Prng rng = sim::Prng(seed).split("swarm");
  SwarmDraw d{base, nlohmann::json::object()};
  d.scenario.swarm.reset();
  if (base.swarm->world) {
    // The whole world (world_swarm.hpp); the loader forbids knobs and faults beside it.
    nlohmann::json faults = nlohmann::json::array();
    draw_world(d.scenario, faults, d.params, *base.swarm->world, seed, rng, ctx);
    nlohmann::json j = to_json(d.scenario);
    j["faults"] = faults;
    d.scenario =
        parse_scenario(j, ctx, base.name + " (world draw of seed " + std::to_string(seed) + ")");
    return d;
  }
  for (const auto& [key, range] : base.swarm->knobs) {  // name order
    const int64_t v = rng.range(range.lo, range.hi);
    find_swarm_knob(key)->apply(d.scenario, v);
    d.params[key] = v;
  }
  nlohmann::json j = to_json(d.scenario);
  if (const auto& spec = base.swarm->faults) {
    const int64_t n = rng.range(spec->count.lo, spec->count.hi);
    nlohmann::json added = nlohmann::json::array();
    for (int64_t i = 0; i < n; ++i) added.push_back(draw_fault(rng, d.scenario, *spec));
    for (const auto& f : added) j["faults"].push_back(f);
    d.params["faults"] = std::move(added);
  }
  // Through the loader: faults sorted by at_ms (stable) and every cross-field rule checked.
  d.scenario =
      parse_scenario(j, ctx, base.name + " (swarm draw of seed " + std::to_string(seed) + ")");
  return d;
}

namespace {

std::string fault_text(const nlohmann::json& f) {
  std::string out = f.value("kind", "?");
  if (f.contains("client")) out += fmt::format(" client {}", f["client"].get<int64_t>());
  out += fmt::format(" @{}ms", f.value("at_ms", int64_t{0}));
  if (f.contains("on")) {
    const auto& on = f["on"];
    out += " on " + on.value("event", std::string("?"));
    if (on.contains("client") && on["client"].is_number_integer()) {
      out += fmt::format(" of client {}", on["client"].get<int64_t>());
    }
  }
  return out;
}

}  // namespace

std::string swarm_params_text(const nlohmann::json& params) {
  std::string out;
  for (const auto& [key, value] : params.items()) {
    if (key == "faults") continue;
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, value.dump());
  }
  if (params.contains("faults")) {
    std::string faults;
    for (const auto& f : params["faults"]) faults += (faults.empty() ? "" : "; ") + fault_text(f);
    out += fmt::format("{}faults={} [{}]", out.empty() ? "" : " ", params["faults"].size(), faults);
  }
  return out.empty() ? "(nothing drawn)" : out;
}

}  // namespace syncsim::scenarios
