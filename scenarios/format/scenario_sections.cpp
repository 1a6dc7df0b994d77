// The sections of a scenario file: clients (uniform or fleet), service (with sync-stream
// definitions), network, workload and expect; each field checked against its range.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/js/js_host.hpp"
#include "scenarios/format/scenario_reader.hpp"

namespace syncsim::scenarios::reader {
namespace {

const std::vector<std::string>& sdk_names() {
  static const std::vector<std::string> names = {"auto", "js-1.3.0", "js-legacy", "js-real"};
  return names;
}

// The SDK/core/mode pairings the SDKs allow (docs/protocol.md §2.1.1 step 2, §2.5 item 7); `path`
// is the object holding the group's fields.  Skipped when one of the fields was already bad.
// Version skew (`sdk_package`): js-real only; the package's own version check must accept the
// core unless forced; a 1.x package (or an old core) has legacy mode only.
void check_sdk_package(const ClientGroup& g, const std::string& path, const ValidationContext& ctx,
                       Problems& p) {
  const std::string field = child_path(path, "sdk_package");
  if (g.sdk_package.empty()) {
    if (g.sdk_package_force) {
      p.add(child_path(path, "sdk_package_force"),
            "true is not allowed without sdk_package; allowed: false, or set sdk_package");
    }
    return;
  }
  if (g.sdk != "js-real") {
    p.add(field, "\"" + g.sdk_package + "\" is not allowed with sdk \"" + g.sdk +
                     "\"; allowed: only with sdk \"js-real\" (the published SDK runs it)");
    return;
  }
  if (const auto refused = engine::js::js_real_package_refuses(g.sdk_package, g.core);
      refused && !g.sdk_package_force) {
    std::string accepted;
    for (const auto& name : engine::js::js_real_packages()) {
      if (engine::js::js_real_package_refuses(name, g.core)) continue;
      accepted += (accepted.empty() ? "\"" : ", \"") + name + "\"";
    }
    p.add(field, "\"" + g.sdk_package + "\" cannot run core " + g.core + ": " + *refused +
                     "; allowed with core " + g.core + ": " +
                     (accepted.empty() ? "none" : accepted) +
                     ", or sdk_package_force: true to run it anyway");
  }
  const auto native = ctx.core_sdks.find(g.core);
  const bool old_core = native != ctx.core_sdks.end() && native->second == "js-legacy";
  if ((engine::js::js_real_package_is_1x(g.sdk_package) || old_core) &&
      g.checkpoint_mode != "legacy") {
    p.add(child_path(path, "checkpoint_mode"),
          "\"" + g.checkpoint_mode + "\" is not allowed with sdk_package \"" + g.sdk_package +
              "\" on core " + g.core +
              " (a 1.x SDK or a 0.4.x core has no checkpoint requests); allowed: \"legacy\"");
  }
}

void check_pairing(const ClientGroup& g, const std::string& path, const ValidationContext& ctx,
                   Problems& p) {
  for (const char* key : {"core", "checkpoint_mode", "sdk", "sdk_package", "sdk_package_force"}) {
    if (p.bad(child_path(path, key))) return;
  }
  if (!g.sdk_package.empty() || g.sdk_package_force) {
    check_sdk_package(g, path, ctx, p);
    if (!g.sdk_package.empty()) return;  // the package, not the core, decides what runs
  }
  const std::string sdk = resolved_sdk(g.sdk, g.core, ctx.core_sdks);
  const auto native = ctx.core_sdks.find(g.core);
  if (sdk == "js-legacy" && g.checkpoint_mode != "legacy") {
    p.add(
        child_path(path, "checkpoint_mode"),
        "\"" + g.checkpoint_mode + "\" is not allowed with the js-legacy SDK (core " + g.core +
            "); allowed: \"legacy\" (old SDKs have no checkpoint requests, docs/protocol.md §2.5)");
  }
  // js-real runs the published SDK that pairs with the core: 2.3.0 on 0.5.2+, the 1.x SDK
  // of an old core where one is driven (engine/js/js_host.cpp), legacy mode only there.
  const bool real_old_sdk = sdk == "js-real" && native != ctx.core_sdks.end() &&
                            native->second == "js-legacy" &&
                            engine::js::js_real_project_for_core(g.core).has_value();
  if (real_old_sdk && g.checkpoint_mode != "legacy") {
    p.add(child_path(path, "checkpoint_mode"),
          "\"" + g.checkpoint_mode + "\" is not allowed with js-real on core " + g.core +
              " (its 1.x SDK has no checkpoint requests); allowed: \"legacy\"");
  }
  if ((sdk == "js-1.3.0" || sdk == "js-real") && !real_old_sdk && native != ctx.core_sdks.end() &&
      native->second != "js-1.3.0") {
    p.add(child_path(path, "sdk"),
          "\"" + sdk + "\" cannot drive core " + g.core +
              " (SDK 1.3.0 refuses cores below 0.5.2, docs/protocol.md §2.1.1); "
              "allowed: \"auto\", \"js-legacy\"");
  }
}

void parse_boolean(const Fields& f, const std::string& key, bool& out) {
  const json* v = f.find(key);
  if (v == nullptr) return;
  if (v->is_boolean()) {
    out = v->get<bool>();
  } else {
    f.problems().add(f.path(key), show(*v) + " must be true or false");
  }
}

// sdk_package, sdk_package_force (version skew, engine/js/README.md "Version skew").
void parse_sdk_package(const Fields& f, std::string& package, bool& force) {
  f.choice("sdk_package", engine::js::js_real_packages(), package);
  parse_boolean(f, "sdk_package_force", force);
}

ClientGroup parse_group(const Fields& f, const ValidationContext& ctx) {
  f.reject_unknown({"count", "core", "checkpoint_mode", "sdk", "sdk_package", "sdk_package_force"});
  ClientGroup g;
  f.integer("count", {1, kMaxClients, ""}, g.count);
  f.choice("core", ctx.cores, g.core);
  f.choice("checkpoint_mode", {"requests", "legacy"}, g.checkpoint_mode);
  f.choice("sdk", sdk_names(), g.sdk);
  parse_sdk_package(f, g.sdk_package, g.sdk_package_force);
  return g;
}

std::vector<ClientGroup> parse_fleet(const Fields& f, const ValidationContext& ctx) {
  std::vector<ClientGroup> fleet;
  Problems& p = f.problems();
  const std::string path = f.path("fleet");
  const json* v = f.find("fleet");
  if (!v->is_array() || v->empty()) {
    p.add(path, show(*v) + " must be a non-empty array of {count, core, checkpoint_mode, sdk}");
    return fleet;
  }
  int total = 0;
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string item = element_path(path, i);
    if (!(*v)[i].is_object()) {
      p.add(item, show((*v)[i]) + " must be an object with count, core, checkpoint_mode, sdk");
      continue;
    }
    fleet.push_back(parse_group(Fields((*v)[i], item, p), ctx));
    check_pairing(fleet.back(), item, ctx, p);
    total += fleet.back().count;
  }
  if (total > kMaxClients) {
    p.add(path, "the groups have " + std::to_string(total) + " clients; allowed: at most " +
                    std::to_string(kMaxClients) + " in all");
  }
  return fleet;
}

// service.streams (issue 7): [{"name", "default", "priority", "parameterised"}, ...].
std::vector<StreamSpec> parse_streams(const Fields& f) {
  std::vector<StreamSpec> out;
  const json* v = f.find("streams");
  if (v == nullptr) return out;
  Problems& p = f.problems();
  const std::string path = f.path("streams");
  if (!v->is_array() || v->size() > 8) {
    p.add(path, show(*v) +
                    " must be an array of at most 8 {name, default, priority, "
                    "parameterised}");
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string item = element_path(path, i);
    if (!(*v)[i].is_object()) {
      p.add(item, show((*v)[i]) + " must be an object with name, default, priority, parameterised");
      continue;
    }
    Fields g((*v)[i], item, p);
    g.reject_unknown({"name", "default", "priority", "parameterised"});
    StreamSpec st;
    if (g.find("name") == nullptr) g.missing("name", "a stream name");
    g.string("name", st.name);
    const bool name_ok = !st.name.empty() && st.name.size() <= 40 &&
                         std::all_of(st.name.begin(), st.name.end(), [](char ch) {
                           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
                         });
    if (g.find("name") != nullptr && !name_ok) {
      p.add(g.path("name"), show(st.name) + " must be 1..40 characters of [a-z0-9_]");
    }
    if (st.name == "global" || st.name == "notes") {
      p.add(g.path("name"), show(st.name) + " is taken by a default stream of the world");
    }
    for (const auto& other : out) {
      if (other.name == st.name) p.add(g.path("name"), show(st.name) + " is defined twice");
    }
    for (const char* key : {"default", "parameterised"}) {
      if (const json* b = g.find(key)) {
        if (!b->is_boolean()) p.add(g.path(key), show(*b) + " must be true or false");
      }
    }
    if (const json* b = g.find("default"); b && b->is_boolean()) st.is_default = b->get<bool>();
    st.parameterised = !st.is_default;
    if (const json* b = g.find("parameterised"); b && b->is_boolean()) {
      st.parameterised = b->get<bool>();
    }
    if (st.is_default && st.parameterised) {
      p.add(g.path("parameterised"), "a default stream takes no parameters");
    }
    g.integer("priority", {0, 3, "lower number = higher priority"}, st.priority);
    out.push_back(std::move(st));
  }
  return out;
}

// Settings that describe mongo storage only (docs/protocol.md §3.1.5, §3.1.6, §3.3.4): on
// postgres storage the model would accept them and run as if they were not set, so a file
// would claim a behaviour its run never has.  Skipped when the flavour or the field was bad.
void check_storage_settings(const ServiceSpec& s, const Fields& f) {
  Problems& p = f.problems();
  if (s.flavour != "postgres" || p.bad(f.path("flavour"))) return;
  struct MongoOnly {
    const char* key;
    const std::string& value;
    const char* allowed;
    const char* why;
  };
  const MongoOnly settings[] = {
      {"read_back_step", s.read_back_step, "with-write",
       "postgres answers with the write's RETURNING, docs/protocol.md §3.1.5 \"Read-back round "
       "trip\""},
      {"read_back", s.read_back, "service",
       "postgres has no duplicate documents to read back, docs/protocol.md §3.1.6"},
      {"checksum_reads", s.checksum_reads, "atomic",
       "storage v3's checksum documents are mongo storage's (MongoChecksumsV3), "
       "docs/protocol.md §3.3.4"},
      {"duplicate_window", s.duplicate_window, "write",
       "write_checkpoints.user_id is postgres storage's primary key, so the upsert never "
       "inserts a duplicate, docs/protocol.md §3.1.6"},
      {"compaction_reads", s.compaction_reads, "atomic",
       "a postgres page read is one SELECT, which sees one snapshot, docs/protocol.md §3.3.4"},
  };
  for (const MongoOnly& m : settings) {
    if (m.value == m.allowed || p.bad(f.path(m.key))) continue;
    p.add(f.path(m.key), "\"" + m.value + "\" is not allowed with service.flavour \"postgres\"; " +
                             "allowed: \"" + m.allowed + "\" (" + m.why + ")");
  }
}

}  // namespace

ClientsSpec parse_clients(const Fields& f, const ValidationContext& ctx) {
  f.reject_unknown({"count", "core", "checkpoint_mode", "retry_delay_ms", "crud_upload_throttle_ms",
                    "repost_delay_ms", "stream_encoding", "sdk", "sdk_package", "sdk_package_force",
                    "fleet", "post_checkpoint_request", "fixed_quirks"});
  ClientsSpec c;
  if (f.find("fleet") != nullptr) {
    for (const char* key :
         {"count", "core", "checkpoint_mode", "sdk", "sdk_package", "sdk_package_force"}) {
      if (f.find(key) != nullptr) {
        f.problems().add(f.path(key),
                         "is not allowed together with clients.fleet; set it per "
                         "group in clients.fleet");
      }
    }
    c.fleet = parse_fleet(f, ctx);
    if (!c.fleet.empty()) {
      c.count = 0;
      for (const auto& g : c.fleet) c.count += g.count;
      c.core = c.fleet.front().core;
      c.checkpoint_mode = c.fleet.front().checkpoint_mode;
      c.sdk = c.fleet.front().sdk;
      c.sdk_package = c.fleet.front().sdk_package;
      c.sdk_package_force = c.fleet.front().sdk_package_force;
    }
  } else {
    f.integer("count", {1, kMaxClients, ""}, c.count);
    f.choice("core", ctx.cores, c.core);
    f.choice("checkpoint_mode", {"requests", "legacy"}, c.checkpoint_mode);
    f.choice("sdk", sdk_names(), c.sdk);
    parse_sdk_package(f, c.sdk_package, c.sdk_package_force);
    check_pairing(client_groups(c).front(), "clients", ctx, f.problems());
  }
  f.integer("retry_delay_ms", {1, 600000, ""}, c.retry_delay_ms);
  f.integer("crud_upload_throttle_ms", {0, 600000, ""}, c.crud_upload_throttle_ms);
  f.integer("repost_delay_ms", {10000, 600000, "the SDK clamps it to at least 10 s"},
            c.repost_delay_ms);
  f.choice("stream_encoding", {"json", "bson"}, c.stream_encoding);
  f.choice("post_checkpoint_request", {"service", "backend"}, c.post_checkpoint_request);
  c.fixed_quirks = parse_id_list(f, "fixed_quirks", ctx.quirks, "quirk");
  // The switches fix quirks in the port (docs/protocol.md §2.7); the published SDK keeps them,
  // so with js-real they would be silently ignored (docs/sdk-diff.md, session js13).
  if (!c.fixed_quirks.empty()) {
    for (const auto& g : client_groups(c)) {
      if (g.sdk != "js-real") continue;
      f.problems().add(f.path("fixed_quirks"),
                       nlohmann::json(c.fixed_quirks).dump() +
                           " is not allowed with sdk \"js-real\" (the published SDK keeps its "
                           "quirks); allowed: [] with js-real, or the quirks with the port "
                           "(sdk \"auto\", \"js-1.3.0\" or \"js-legacy\")");
      break;
    }
  }
  return c;
}

ServiceSpec parse_service(const Fields& f) {
  f.reject_unknown({"flavour",
                    "source",
                    "head",
                    "mysql_keepalive",
                    "custom_changes",
                    "replication_lag_ms",
                    "heartbeat_ms",
                    "token_lifetime_s",
                    "write_checkpoint_mode",
                    "checkpoint_request_retention_minutes",
                    "compact_interval_s",
                    "batch_latency_max_ms",
                    "todos_priority",
                    "notes_priority",
                    "streams",
                    "api_processes",
                    "duplicate_window",
                    "read_back",
                    "read_back_step",
                    "compaction_reads",
                    "checksum_reads",
                    "max_concurrent_streams",
                    "batch_failure_pct",
                    "batch_failure",
                    "compaction_invalidation",
                    "sync_config_change",
                    "snapshot_ms",
                    "fetch_latency_ms",
                    "fetch_per"});
  ServiceSpec s;
  f.choice("flavour", {"mongo", "postgres"}, s.flavour);
  f.choice("source", {"postgres", "mongodb", "mysql"}, s.source);
  f.choice("head", {"source", "last-commit"}, s.head);
  f.choice("mysql_keepalive", {"v1.24.0", "v1.25.0"}, s.mysql_keepalive);
  f.choice("custom_changes", {"all-configs", "own-config"}, s.custom_changes);
  f.integer("replication_lag_ms", {0, 3600000, ""}, s.replication_lag_ms);
  f.integer("heartbeat_ms", {5000, 60000, "the service accepts 5..60 s"}, s.heartbeat_ms);
  f.integer("token_lifetime_s", {60, 31536000, ""}, s.token_lifetime_s);
  f.choice("write_checkpoint_mode", {"managed", "custom"}, s.write_checkpoint_mode);
  f.integer("checkpoint_request_retention_minutes", {1, 525600, ""},
            s.checkpoint_request_retention_minutes);
  f.integer("compact_interval_s", {0, 86400, "0 = no scheduled compact job"}, s.compact_interval_s);
  f.integer("batch_latency_max_ms", {0, 60000, ""}, s.batch_latency_max_ms);
  f.integer("api_processes", {1, 16, ""}, s.api_processes);
  f.choice("duplicate_window", {"write", "head-read"}, s.duplicate_window);
  f.choice("read_back", {"service", "incremented"}, s.read_back);
  f.choice("read_back_step", {"with-write", "separate"}, s.read_back_step);
  f.choice("compaction_reads", {"atomic", "torn"}, s.compaction_reads);
  f.choice("checksum_reads", {"atomic", "v3-documents", "v3-idle-only"}, s.checksum_reads);
  f.integer("max_concurrent_streams", {0, 100000, "0 = unlimited"}, s.max_concurrent_streams);
  f.integer("batch_failure_pct", {0, 100, ""}, s.batch_failure_pct);
  f.choice("batch_failure", {"head_read", "marker", "partial_write", "no_sync_config", "any"},
           s.batch_failure);
  f.choice("compaction_invalidation", {"page", "sticky"}, s.compaction_invalidation);
  f.choice("sync_config_change", {"reprocess", "end-streams"}, s.sync_config_change);
  f.integer("snapshot_ms", {0, 600000, ""}, s.snapshot_ms);
  f.integer("fetch_latency_ms", {0, 60000, "0 = instantaneous page fetches"}, s.fetch_latency_ms);
  f.choice("fetch_per", {"page", "chunk"}, s.fetch_per);
  const Range priority{0, 3, "lower number = higher priority"};
  f.integer("todos_priority", priority, s.todos_priority);
  f.integer("notes_priority", priority, s.notes_priority);
  s.streams = parse_streams(f);
  check_storage_settings(s, f);
  return s;
}

NetworkSpec parse_network(const Fields& f) {
  f.reject_unknown({"latency_up_ms", "latency_down_ms", "jitter_ms"});
  NetworkSpec n;
  f.integer("latency_up_ms", {0, 60000, ""}, n.latency_up_ms);
  f.integer("latency_down_ms", {0, 60000, ""}, n.latency_down_ms);
  f.integer("jitter_ms", {0, 60000, ""}, n.jitter_ms);
  return n;
}

WorkloadSpec parse_workload(const Fields& f) {
  f.reject_unknown({"write_interval_min_ms", "write_interval_max_ms", "keyspace", "notes_pct",
                    "delete_pct", "insert_only_pct", "request_checkpoint_pct", "wait_for_sync_pct",
                    "request_interval_ms", "streams"});
  WorkloadSpec w;
  constexpr int64_t kMaxIntervalMs = 3600000;
  f.integer("write_interval_min_ms", {1, kMaxIntervalMs, ""}, w.write_interval_min_ms);
  // Compare with min only when min itself is good, to avoid a follow-on error.
  const Range max_range = f.problems().bad(f.path("write_interval_min_ms"))
                              ? Range{1, kMaxIntervalMs, ""}
                              : Range{w.write_interval_min_ms, kMaxIntervalMs,
                                      "at least workload.write_interval_min_ms"};
  f.integer("write_interval_max_ms", max_range, w.write_interval_max_ms);
  f.integer("keyspace", {1, 100000, ""}, w.keyspace);
  f.integer("notes_pct", {0, 100, ""}, w.notes_pct);
  f.integer("delete_pct", {0, 100, ""}, w.delete_pct);
  f.integer("insert_only_pct", {0, 100, ""}, w.insert_only_pct);
  f.integer("request_checkpoint_pct", {0, 100, ""}, w.request_checkpoint_pct);
  f.integer("wait_for_sync_pct", {0, 100, ""}, w.wait_for_sync_pct);
  f.integer("request_interval_ms", {0, kMaxIntervalMs, "0 = never"}, w.request_interval_ms);
  if (const json* v = f.find("streams")) {
    if (!v->is_object()) {
      f.problems().add(f.path("streams"), show(*v) + " must be an object");
    } else {
      Fields g(*v, f.path("streams"), f.problems());
      g.reject_unknown({"interval_min_ms", "interval_max_ms", "subscribe_pct",
                        "unsubscribe_all_pct", "max_held", "param_values", "ttl_s",
                        "priority_override_pct", "burst_interval_ms", "burst_size",
                        "item_write_pct", "item_keyspace"});
      StreamWorkloadSpec& st = w.streams;
      g.integer("interval_min_ms", {1, kMaxIntervalMs, ""}, st.interval_min_ms);
      const Range smax = g.problems().bad(g.path("interval_min_ms"))
                             ? Range{1, kMaxIntervalMs, ""}
                             : Range{st.interval_min_ms, kMaxIntervalMs,
                                     "at least workload.streams.interval_min_ms"};
      g.integer("interval_max_ms", smax, st.interval_max_ms);
      g.integer("subscribe_pct", {0, 100, ""}, st.subscribe_pct);
      g.integer("unsubscribe_all_pct", {0, 100, ""}, st.unsubscribe_all_pct);
      g.integer("max_held", {1, 100, ""}, st.max_held);
      g.integer("param_values", {1, 1000, ""}, st.param_values);
      g.integer("ttl_s", {0, 31536000, "0 = the core's default"}, st.ttl_s);
      g.integer("priority_override_pct", {0, 100, ""}, st.priority_override_pct);
      g.integer("burst_interval_ms", {0, kMaxIntervalMs, "0 = no bursts"}, st.burst_interval_ms);
      g.integer("burst_size", {1, 100, ""}, st.burst_size);
      g.integer("item_write_pct", {0, 100, ""}, st.item_write_pct);
      g.integer("item_keyspace", {1, 1000, ""}, st.item_keyspace);
    }
  }
  return w;
}

// `checked` is the scenario's invariant list (empty = all).
Expectation parse_expect(const Fields& top, const ValidationContext& ctx,
                         const std::vector<std::string>& checked) {
  const std::string kAllowed = "\"pass\" or {\"violates\": \"<invariant id>\"}";
  Problems& p = top.problems();
  const json* v = top.find("expect");
  if (v == nullptr || *v == "pass") return {};
  if (!v->is_object()) {
    p.add("expect", show(*v) + " is not allowed; allowed: " + kAllowed);
    return {};
  }
  const Fields f(*v, "expect", p);
  f.reject_unknown({"violates"});
  Expectation e{false, ""};
  if (f.find("violates") == nullptr) {
    p.add_line("expect.violates",
               "missing required field `expect.violates`; allowed: " + join(ctx.invariants));
    return e;
  }
  f.choice("violates", ctx.invariants, e.violates);
  // An unchecked invariant can never be reported violated, so the expectation could not hold.
  if (!e.violates.empty() && !checked.empty() && !contains(checked, e.violates)) {
    p.add("expect.violates", "\"" + e.violates + "\" is not among the checked invariants; " +
                                 "allowed: " + join(checked) + " (invariants)");
  }
  return e;
}

}  // namespace syncsim::scenarios::reader
