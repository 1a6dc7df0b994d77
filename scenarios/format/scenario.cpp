#include "scenarios/format/scenario.hpp"

// The scenario's derived views and its full form: fault kind names, client groups, the SDK a
// group resolves to, and to_json() (every field with its default filled in).  Reading and
// validating a file is in scenario_parse.cpp, scenario_sections.cpp and scenario_faults.cpp.
#include <stdexcept>

#include "scenarios/format/scenario_reader.hpp"

namespace syncsim::scenarios {

using nlohmann::json;

std::string to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::Lag:
      return "lag";
    case FaultKind::Disconnect:
      return "disconnect";
    case FaultKind::Stall:
      return "stall";
    case FaultKind::Storm:
      return "storm";
    case FaultKind::RequestLost:
      return "request_lost";
    case FaultKind::DeleteRequest:
      return "delete_request";
    case FaultKind::Compact:
      return "compact";
    case FaultKind::ServiceRestart:
      return "service_restart";
    case FaultKind::SyncConfigChange:
      return "sync_config_change";
    case FaultKind::Restart:
      return "restart";
    case FaultKind::Kill:
      return "kill";
    case FaultKind::PowerLoss:
      return "power_loss";
    case FaultKind::Upgrade:
      return "upgrade";
    case FaultKind::Downgrade:
      return "downgrade";
    case FaultKind::SwitchMode:
      return "switch_mode";
    case FaultKind::SwitchUser:
      return "switch_user";
    case FaultKind::DisconnectClient:
      return "disconnect_client";
    case FaultKind::DisconnectAndClear:
      return "disconnect_and_clear";
    case FaultKind::ForeignRequest:
      return "foreign_request";
    case FaultKind::Quiet:
      return "quiet";
    case FaultKind::LineFault:
      return "line_fault";
  }
  return "unknown";  // unreachable for valid enum values
}

std::vector<ClientGroup> client_groups(const ClientsSpec& c) {
  if (!c.fleet.empty()) return c.fleet;
  return {
      ClientGroup{c.count, c.core, c.checkpoint_mode, c.sdk, c.sdk_package, c.sdk_package_force}};
}

ClientGroup group_of(const ClientsSpec& c, int index) {
  int first = 1;
  for (const auto& g : client_groups(c)) {
    if (index < first + g.count) return g;
    first += g.count;
  }
  throw std::out_of_range("client " + std::to_string(index) + " is not in the fleet");
}

std::string resolved_sdk(const std::string& sdk, const std::string& core,
                         const std::map<std::string, std::string>& core_sdks) {
  if (sdk != "auto") return sdk;
  const auto it = core_sdks.find(core);
  return it == core_sdks.end() ? "js-1.3.0" : it->second;
}

json to_json(const Scenario& s) {
  json faults = json::array();
  for (const Fault& f : s.faults) faults.push_back(reader::fault_to_json(f));
  const ClientsSpec& c = s.clients;
  const ServiceSpec& sv = s.service;
  const WorkloadSpec& w = s.workload;
  json clients = {{"retry_delay_ms", c.retry_delay_ms},
                  {"crud_upload_throttle_ms", c.crud_upload_throttle_ms},
                  {"repost_delay_ms", c.repost_delay_ms},
                  {"stream_encoding", c.stream_encoding},
                  {"post_checkpoint_request", c.post_checkpoint_request},
                  {"fixed_quirks", c.fixed_quirks}};
  if (c.fleet.empty()) {
    clients["count"] = c.count;
    clients["core"] = c.core;
    clients["checkpoint_mode"] = c.checkpoint_mode;
    clients["sdk"] = c.sdk;
    // Only when set, so the full form of every scenario without version skew keeps its shape.
    if (!c.sdk_package.empty()) clients["sdk_package"] = c.sdk_package;
    if (c.sdk_package_force) clients["sdk_package_force"] = true;
  } else {
    json fleet = json::array();
    for (const auto& g : c.fleet) {
      json group = {{"count", g.count},
                    {"core", g.core},
                    {"checkpoint_mode", g.checkpoint_mode},
                    {"sdk", g.sdk}};
      if (!g.sdk_package.empty()) group["sdk_package"] = g.sdk_package;
      if (g.sdk_package_force) group["sdk_package_force"] = true;
      fleet.push_back(std::move(group));
    }
    clients["fleet"] = std::move(fleet);
  }
  json out = json{
      {"format", s.format},
      {"name", s.name},
      {"description", s.description},
      {"clients", std::move(clients)},
      {"service",
       {{"flavour", sv.flavour},
        {"replication_lag_ms", sv.replication_lag_ms},
        {"heartbeat_ms", sv.heartbeat_ms},
        {"token_lifetime_s", sv.token_lifetime_s},
        {"write_checkpoint_mode", sv.write_checkpoint_mode},
        {"checkpoint_request_retention_minutes", sv.checkpoint_request_retention_minutes},
        {"compact_interval_s", sv.compact_interval_s},
        {"batch_latency_max_ms", sv.batch_latency_max_ms},
        {"todos_priority", sv.todos_priority},
        {"notes_priority", sv.notes_priority}}},
      {"network",
       {{"latency_up_ms", s.network.latency_up_ms},
        {"latency_down_ms", s.network.latency_down_ms}}},
      {"workload",
       {{"write_interval_min_ms", w.write_interval_min_ms},
        {"write_interval_max_ms", w.write_interval_max_ms},
        {"keyspace", w.keyspace},
        {"notes_pct", w.notes_pct},
        {"delete_pct", w.delete_pct},
        {"insert_only_pct", w.insert_only_pct},
        {"request_checkpoint_pct", w.request_checkpoint_pct},
        {"wait_for_sync_pct", w.wait_for_sync_pct}}},
      {"duration_s", s.duration_s},
      {"quiesce_s", s.quiesce_s ? json(*s.quiesce_s) : json(nullptr)},
      {"faults", std::move(faults)},
      {"invariants", s.invariants},
      {"mutants", s.mutants},
      {"expect", s.expect.pass ? json("pass") : json{{"violates", s.expect.violates}}},
      {"sometimes", s.sometimes},
  };
  // Written only when present, so the full form of other scenarios is unchanged.
  if (!s.headline.empty()) out["headline"] = s.headline;
  if (!s.exempt_invariants.empty()) out["exempt_invariants"] = s.exempt_invariants;
  if (s.workload.request_interval_ms > 0) {
    out["workload"]["request_interval_ms"] = s.workload.request_interval_ms;
  }
  if (s.swarm) {
    json swarm = json::object();
    for (const auto& [key, r] : s.swarm->knobs) swarm[key] = {r.lo, r.hi};
    if (const auto& sf = s.swarm->faults) {
      swarm["faults"] = {{"count", {sf->count.lo, sf->count.hi}},
                         {"kinds", sf->kinds},
                         {"triggered_pct", sf->triggered_pct}};
    }
    if (s.swarm->world) swarm["world"] = *s.swarm->world;
    out["swarm"] = std::move(swarm);
  }
  // Issue 17's service fields: written only when not the default, so the full form (and
  // every report) of other scenarios is unchanged.
  if (sv.source != ServiceSpec{}.source) out["service"]["source"] = sv.source;
  if (sv.head != ServiceSpec{}.head) out["service"]["head"] = sv.head;
  if (sv.mysql_keepalive != ServiceSpec{}.mysql_keepalive) {
    out["service"]["mysql_keepalive"] = sv.mysql_keepalive;
  }
  if (sv.custom_changes != ServiceSpec{}.custom_changes) {
    out["service"]["custom_changes"] = sv.custom_changes;
  }
  const ServiceSpec d;
  if (sv.api_processes != d.api_processes) out["service"]["api_processes"] = sv.api_processes;
  if (sv.duplicate_window != d.duplicate_window) {
    out["service"]["duplicate_window"] = sv.duplicate_window;
  }
  if (sv.read_back != d.read_back) out["service"]["read_back"] = sv.read_back;
  if (sv.read_back_step != d.read_back_step) out["service"]["read_back_step"] = sv.read_back_step;
  if (sv.compaction_reads != d.compaction_reads) {
    out["service"]["compaction_reads"] = sv.compaction_reads;
  }
  if (sv.checksum_reads != d.checksum_reads) out["service"]["checksum_reads"] = sv.checksum_reads;
  if (sv.max_concurrent_streams != d.max_concurrent_streams) {
    out["service"]["max_concurrent_streams"] = sv.max_concurrent_streams;
  }
  if (sv.batch_failure_pct != d.batch_failure_pct) {
    out["service"]["batch_failure_pct"] = sv.batch_failure_pct;
    out["service"]["batch_failure"] = sv.batch_failure;
  }
  if (sv.compaction_invalidation != d.compaction_invalidation) {
    out["service"]["compaction_invalidation"] = sv.compaction_invalidation;
  }
  if (sv.fetch_per != d.fetch_per) out["service"]["fetch_per"] = sv.fetch_per;
  if (s.network.jitter_ms != NetworkSpec{}.jitter_ms) {
    out["network"]["jitter_ms"] = s.network.jitter_ms;
  }
  if (sv.sync_config_change != d.sync_config_change) {
    out["service"]["sync_config_change"] = sv.sync_config_change;
  }
  if (sv.snapshot_ms != d.snapshot_ms) out["service"]["snapshot_ms"] = sv.snapshot_ms;
  if (sv.fetch_latency_ms != d.fetch_latency_ms) {
    out["service"]["fetch_latency_ms"] = sv.fetch_latency_ms;
  }
  // Sync streams (issue 7): written only when used, so the full form (and every report) of
  // a scenario without streams stays as it was.
  if (!sv.streams.empty()) {
    json streams = json::array();
    for (const auto& st : sv.streams) {
      streams.push_back({{"name", st.name},
                         {"default", st.is_default},
                         {"priority", st.priority},
                         {"parameterised", st.parameterised}});
    }
    out["service"]["streams"] = std::move(streams);
  }
  if (!(w.streams == StreamWorkloadSpec{})) {
    const StreamWorkloadSpec& st = w.streams;
    out["workload"]["streams"] = {{"interval_min_ms", st.interval_min_ms},
                                  {"interval_max_ms", st.interval_max_ms},
                                  {"subscribe_pct", st.subscribe_pct},
                                  {"unsubscribe_all_pct", st.unsubscribe_all_pct},
                                  {"max_held", st.max_held},
                                  {"param_values", st.param_values},
                                  {"ttl_s", st.ttl_s},
                                  {"priority_override_pct", st.priority_override_pct},
                                  {"burst_interval_ms", st.burst_interval_ms},
                                  {"burst_size", st.burst_size},
                                  {"item_write_pct", st.item_write_pct},
                                  {"item_keyspace", st.item_keyspace}};
  }
  return out;
}

}  // namespace syncsim::scenarios
